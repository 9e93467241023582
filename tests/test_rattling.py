"""Rattling: exact cases (doubly stochastic jump chains, the jump decomposition, the driftless
ring), the blowtorch counter-example, the fit's statistics, gradients, vmap, jit, float32."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _stats import N_SE, central_difference, unit_roundoff

import jaxneq as jn

rattling = jn.rattling


def _random_spd(rng, batch, d):
    a = rng.normal(size=(*batch, d, d))
    return a @ np.swapaxes(a, -1, -2) + d * np.eye(d)


def _doubly_stochastic_chain(rng, n, n_terms=4):
    """Rates lambda_i P_ij with P a random doubly stochastic matrix with zero diagonal: a
    convex combination of conjugated n-cycles (each a derangement permutation matrix)."""
    cycle = np.roll(np.eye(n), 1, axis=1)
    weights = rng.dirichlet(np.ones(n_terms))
    jump = np.zeros((n, n))
    for c in weights:
        perm = np.eye(n)[rng.permutation(n)]
        jump += c * perm @ cycle @ perm.T
    exit_rates = np.exp(rng.normal(size=n))
    return exit_rates[:, None] * jump, exit_rates


def _gamma_rounding_bound(R, log_p_error):
    """|gamma - exact| <= sqrt(sum dy^2 / S_RR) (Cauchy–Schwarz on the regression slope) for
    errors |dy_i| <= log_p_error in log p."""
    R = np.asarray(R, np.float64)
    s_rr = np.sum((R - R.mean()) ** 2)
    return np.sqrt(R.size * log_p_error**2 / s_rr)


# --------------------------------------------------------------------------- from_diffusion


def test_from_diffusion_full_is_half_log_det():
    rng = np.random.default_rng(0)
    D = _random_spd(rng, (5, 3), 3)
    expected = 0.5 * np.linalg.slogdet(D)[1]
    got = rattling.from_diffusion(jnp.asarray(D), kind="full")
    assert got.shape == (5, 3)
    np.testing.assert_allclose(got, expected, rtol=0, atol=64 * unit_roundoff(np.float64))


def test_from_diffusion_scalar_and_diagonal_agree_with_the_full_tensor():
    rng = np.random.default_rng(1)
    diag = np.exp(rng.normal(size=(7, 2)))
    full = np.einsum("ni,ij->nij", diag, np.eye(2))
    np.testing.assert_allclose(
        rattling.from_diffusion(diag, kind="diagonal"),
        rattling.from_diffusion(full, kind="full"),
        atol=16 * unit_roundoff(np.float64),
    )
    scalar = diag[:, 0]
    np.testing.assert_allclose(
        rattling.from_diffusion(scalar, kind="scalar", dim=3), 1.5 * np.log(scalar), rtol=1e-15
    )
    assert float(rattling.from_diffusion(2.0)) == pytest.approx(0.5 * np.log(2.0), rel=1e-15)


def test_from_diffusion_refuses_to_guess_the_layout_of_an_array():
    with pytest.raises(ValueError, match="kind="):
        rattling.from_diffusion(jnp.ones((4, 2)))
    with pytest.raises(ValueError, match=r"\[..., d, d\]"):
        rattling.from_diffusion(jnp.ones((4, 2)), kind="full")


def test_from_diffusion_rejects_non_positive_values_eagerly_and_under_jit():
    with pytest.raises(ValueError, match="> 0"):
        rattling.from_diffusion(jnp.array([1.0, -1.0]), kind="scalar")
    with pytest.raises(ValueError, match="positive definite"):
        rattling.from_diffusion(jnp.array([[1.0, 2.0], [2.0, 1.0]]), kind="full")
    with pytest.raises(Exception, match="> 0"):
        # block: on a GPU the check runs asynchronously and raises when the result is used
        jax.block_until_ready(
            jax.jit(lambda d: rattling.from_diffusion(d, kind="diagonal"))(jnp.array([1.0, 0.0]))
        )


# ------------------------------------------------------------------------------- from_rates


def test_from_rates_is_log_exit_rate_dense_and_sparse():
    rng = np.random.default_rng(2)
    rates = rng.uniform(size=(6, 6))
    expected = np.log(rates.sum(1) - np.diag(rates))
    np.testing.assert_allclose(rattling.from_rates(rates), expected, rtol=1e-14)
    edges = jn.markov.EdgeRates.from_dense(rates * (1 - np.eye(6)))
    np.testing.assert_allclose(rattling.from_rates(edges), expected, rtol=1e-14)


def test_from_rates_under_jit_ignores_a_finite_diagonal_and_rejects_bad_rates():
    rng = np.random.default_rng(6)
    rates = rng.uniform(size=(5, 5))
    np.fill_diagonal(rates, 0.0)
    generator = np.asarray(jn.markov.generator(rates))  # diagonal -exit rate
    jitted = jax.jit(rattling.from_rates)
    expected = np.log(rates.sum(1))
    # row sum minus the diagonal: a few roundings of the exit rate
    np.testing.assert_allclose(jitted(generator), expected, rtol=0, atol=16 * unit_roundoff(float))
    bad = rates.copy()
    bad[1, 2] = -0.5
    with pytest.raises(Exception, match="negative, NaN or infinite off-diagonal"):
        jax.block_until_ready(jitted(bad))


def test_from_rates_rejects_a_state_without_exit():
    rates = np.ones((3, 3))
    rates[1] = 0.0
    with pytest.raises(ValueError, match="exit rate 0"):
        rattling.from_rates(rates)


@pytest.mark.parametrize("n", [5, 12])
def test_doubly_stochastic_jump_chain_has_pi_proportional_to_inverse_exit_rate_gamma_one(n):
    rng = np.random.default_rng(n)
    rates, exit_rates = _doubly_stochastic_chain(rng, n)
    p = jn.markov.stationary(jnp.asarray(rates))
    # GTH: entrywise relative accuracy O(n u) (allowing a factor 16 for the log and the sums)
    log_p_error = 16 * n * unit_roundoff(np.float64)
    expected = (1 / exit_rates) / np.sum(1 / exit_rates)
    np.testing.assert_allclose(np.log(p), np.log(expected), rtol=0, atol=log_p_error)
    R = rattling.from_rates(jnp.asarray(rates))
    fit = rattling.fit_gamma(p, R)
    assert abs(float(fit.gamma) - 1.0) <= _gamma_rounding_bound(R, log_p_error)
    assert 1 - float(fit.r_squared) <= 1e3 * n * unit_roundoff(np.float64)
    assert abs(float(fit.kl)) <= 1e3 * n * unit_roundoff(np.float64)
    dec = rattling.jump_decomposition(jnp.asarray(rates))
    np.testing.assert_allclose(dec.log_embedded_stationary, -np.log(n), atol=log_p_error)


@pytest.mark.parametrize("sparse", [False, True])
def test_jump_decomposition_reproduces_the_stationary_distribution_of_random_chains(sparse):
    rng = np.random.default_rng(3)
    n = 9
    rates = rng.exponential(size=(n, n)) * (rng.uniform(size=(n, n)) < 0.6)
    rates += np.roll(np.eye(n), 1, axis=1)  # a ring keeps it irreducible
    np.fill_diagonal(rates, 0.0)
    r = jn.markov.EdgeRates.from_dense(rates) if sparse else jnp.asarray(rates)
    dec = rattling.jump_decomposition(r)
    pi = jn.markov.stationary(jnp.asarray(rates), method="gth")
    tol = 16 * n * unit_roundoff(np.float64)
    np.testing.assert_allclose(dec.log_stationary, np.log(pi), rtol=0, atol=tol)
    np.testing.assert_allclose(dec.stationary, pi, rtol=tol, atol=0)
    # nu is the stationary law of the embedded jump chain: nu P = nu (numpy, independently)
    exit_rates = rates.sum(1)
    jump = rates / exit_rates[:, None]
    nu = np.exp(np.asarray(dec.log_embedded_stationary))
    np.testing.assert_allclose(nu @ jump, nu, rtol=0, atol=tol)
    np.testing.assert_allclose(dec.rattling, np.log(exit_rates), rtol=1e-14)
    identity = -dec.rattling + dec.log_embedded_stationary - dec.log_normaliser
    np.testing.assert_allclose(identity, np.log(pi), rtol=0, atol=tol)


# ------------------------------------------------------------- driftless ring, three conventions


@pytest.mark.parametrize(
    ("convention", "alpha"), [("ito", 0.0), ("stratonovich", 0.5), ("isothermal", 1.0)]
)
def test_driftless_ring_with_position_dependent_noise_has_gamma_two_times_one_minus_alpha(
    convention, alpha
):
    # p ∝ T^(alpha - 1) and R = 1/2 log(mu T), so log p = -2 (1 - alpha) R + const; the
    # Scharfetter–Gummel cells reproduce the T^(alpha - 1) factor exactly (no drift: z = 0).
    temperature = lambda x: 1.0 + 0.5 * jnp.sin(2 * jnp.pi * x[0])  # noqa: E731
    mobility = 0.7
    system = jn.langevin.Overdamped(
        temperature=temperature, mobility=mobility, convention=convention
    )
    n = 48
    grid = jn.fokker_planck.Grid(0.0, 1.0, n, periodic=True)
    p = jn.fokker_planck.stationary_density(system, grid)
    D = mobility * jax.vmap(temperature)(grid.centres)
    R = rattling.from_diffusion(D, kind="scalar")
    fit = rattling.fit_gamma(p, R)
    log_p_error = 16 * n * unit_roundoff(np.float64)
    assert abs(float(fit.gamma) - 2 * (1 - alpha)) <= _gamma_rounding_bound(R, log_p_error)
    assert abs(float(fit.kl)) <= 1e3 * n * unit_roundoff(np.float64)
    if alpha < 1:  # isothermal: log p is flat, R^2 carries no information
        assert 1 - float(fit.r_squared) <= 1e3 * n * unit_roundoff(np.float64)


# --------------------------------------------------------------------- blowtorch counter-example


def test_blowtorch_four_state_chain_defeats_rattling_and_the_goodness_of_fit_says_so():
    # States 1, 2 have the same exit rate (2) for every r34, yet p1/p2 = 2(r+1)/(r+3): no law
    # exp(-gamma R) can tell them apart, so the fit must misplace probability.
    r34 = 10.0
    rates = jn.models.four_state_chain(r34)
    p = jn.markov.stationary(rates)
    R = rattling.from_rates(rates)
    fit = rattling.fit_gamma(p, R)
    # closed-form stationary law (Markov chain tree theorem) and an independent regression
    exact = np.array([2 * (r34 + 1), r34 + 3, 4.0, 3 * r34 + 1])
    exact /= exact.sum()
    lam = np.array([2.0, 2.0, 1 + r34, 2.0])
    slope, intercept = np.polyfit(np.log(lam), np.log(exact), 1)
    resid = np.log(exact) - (slope * np.log(lam) + intercept)
    r2 = 1 - np.sum(resid**2) / np.sum((np.log(exact) - np.log(exact).mean()) ** 2)
    np.testing.assert_allclose(float(fit.gamma), -slope, rtol=1e-12)
    np.testing.assert_allclose(float(fit.r_squared), r2, rtol=1e-12)
    # KL chain rule: q1 = q2, so KL(p||q) >= (p1 + p2) KL((p1, p2)/(p1 + p2) || (1/2, 1/2))
    a = exact[0] / (exact[0] + exact[1])
    bound = (exact[0] + exact[1]) * (a * np.log(2 * a) + (1 - a) * np.log(2 * (1 - a)))
    assert float(fit.kl) >= bound > 1e-2
    assert float(fit.r_squared) < 0.9
    # the same check on an exact gamma = 1 chain gives R^2 = 1 and KL = 0 (see above):
    # the goodness of fit separates the two cases by orders of magnitude.


# ---------------------------------------------------------------------- fit_gamma statistics


def test_fit_gamma_recovers_a_planted_exponent_and_its_stderr_covers_at_the_nominal_rate():
    rng = np.random.default_rng(4)
    m, n_samples, n_replicas, gamma = 16, 20_000, 200, 1.7
    R = np.linspace(-1.0, 1.0, m) + 0.05 * rng.normal(size=m)
    p = np.exp(-gamma * R)
    p /= p.sum()
    counts = rng.multinomial(n_samples, p, size=n_replicas).astype(np.float64)
    assert counts.min() > 0  # every entry observed: the log-linear model applies
    fits = jax.jit(jax.vmap(lambda c: rattling.fit_gamma(c / n_samples, R, counts=c)))(
        jnp.asarray(counts)
    )
    z = (np.asarray(fits.gamma) - gamma) / np.asarray(fits.stderr)
    covered = np.mean(np.abs(z) <= 1.959964)
    binomial_se = np.sqrt(0.95 * 0.05 / n_replicas)
    assert abs(covered - 0.95) <= N_SE * binomial_se, covered
    # no bias beyond the sampling error of the replica mean
    se = np.asarray(fits.stderr).mean() / np.sqrt(n_replicas)
    assert abs(np.asarray(fits.gamma).mean() - gamma) <= N_SE * se
    # the standard error matches the replica scatter (chi-square band on the variance ratio)
    ratio = np.var(np.asarray(fits.gamma), ddof=1) / np.mean(np.asarray(fits.stderr) ** 2)
    assert abs(ratio - 1) <= N_SE * np.sqrt(2 / (n_replicas - 1))


def test_fit_gamma_ignores_zero_weight_entries_and_matches_numpy_weighted_least_squares():
    rng = np.random.default_rng(5)
    R = rng.normal(size=10)
    p = np.exp(-0.8 * R + 0.1 * rng.normal(size=10))
    w = rng.uniform(size=10)
    w[3] = 0.0
    p[3] = 0.0  # log 0 would poison the fit if the entry were not skipped
    fit = rattling.fit_gamma(p, R, weights=w)
    keep = w > 0
    coef, cov = np.polyfit(R[keep], np.log(p[keep]), 1, w=np.sqrt(w[keep]), cov=True)
    np.testing.assert_allclose(float(fit.gamma), -coef[0], rtol=1e-12)
    np.testing.assert_allclose(float(fit.log_z), -coef[1], rtol=1e-12)
    # numpy scales the covariance by the weighted residuals over m - 2 degrees of freedom
    np.testing.assert_allclose(float(fit.stderr), np.sqrt(cov[0, 0]), rtol=1e-10)
    y, yhat = np.log(p[keep]), np.polyval(coef, R[keep])
    ybar = np.average(y, weights=w[keep])
    r2 = 1 - np.sum(w[keep] * (y - yhat) ** 2) / np.sum(w[keep] * (y - ybar) ** 2)
    np.testing.assert_allclose(float(fit.r_squared), r2, rtol=1e-12)
    q = np.exp(-float(fit.gamma) * R[keep])
    q /= q.sum()
    pk = p[keep] / p[keep].sum()
    np.testing.assert_allclose(float(fit.kl), np.sum(pk * np.log(pk / q)), rtol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p": [1.0, 0.0, 0.5], "R": [0.0, 1.0, 2.0]}, "`p` must be finite and > 0"),
        ({"p": [1.0, 0.5], "R": [0.0, 1.0, 2.0]}, "shape of `p`"),
        ({"p": [1.0, 0.5, 0.2], "R": [1.0, 1.0, 1.0]}, "single value"),
        ({"p": [1.0, 0.5], "R": [0.0, 1.0], "weights": [1.0, -1.0]}, "`weights`"),
    ],
)
def test_fit_gamma_bad_input_raises_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rattling.fit_gamma(**kwargs)


def test_fit_gamma_bad_input_raises_under_jit():
    with pytest.raises(Exception, match="`p` must be finite and > 0"):
        jax.block_until_ready(
            jax.jit(rattling.fit_gamma)(jnp.array([1.0, -1.0, 0.5]), jnp.array([0.0, 1.0, 2.0]))
        )


# --------------------------------------------------------------- grad, vmap, jit, float32


def _random_rates(theta, n=6):
    """A dense chain whose log-rates depend smoothly on theta."""
    base = jax.random.normal(jax.random.key(7), (n, n))
    slope = jax.random.normal(jax.random.key(8), (n, n))
    return jnp.exp(base + theta * slope) * (1 - jnp.eye(n))


def _fit_quality(theta):
    rates = _random_rates(theta)
    fit = rattling.fit_gamma(jn.markov.stationary(rates), rattling.from_rates(rates))
    return fit.gamma + fit.kl + fit.r_squared


def test_grad_of_gamma_and_fit_quality_matches_central_differences():
    theta = 0.3
    grad = float(jax.jit(jax.grad(_fit_quality))(theta))
    value = jax.jit(_fit_quality)
    # Richardson: the difference of two step sizes bounds the truncation error of the larger
    h = 1e-4
    fd_h = float(central_difference(value, theta, h=h))
    fd_h2 = float(central_difference(value, theta, h=h / 2))
    rounding = 64 * unit_roundoff(np.float64) * 8 / (h / 2)  # |f| of a few units, 8 terms
    tol = 2 * abs(fd_h - fd_h2) + rounding
    assert abs(grad - fd_h2) <= tol, (grad, fd_h2, tol)


def test_vmap_over_a_batch_of_chains_equals_a_loop_and_jit_equals_eager():
    thetas = jnp.linspace(-0.5, 0.5, 5)

    def fit(theta):
        rates = _random_rates(theta)
        return rattling.fit_gamma(jn.markov.stationary(rates), rattling.from_rates(rates))

    batched = jax.jit(jax.vmap(fit))(thetas)
    single = jax.jit(fit)
    looped = [single(theta) for theta in thetas]
    eager = fit(thetas[1])
    names = ("gamma", "log_z", "stderr", "r_squared", "kl")
    for i, one in enumerate(looped):
        for name in names:
            np.testing.assert_allclose(
                getattr(batched, name)[i], getattr(one, name), rtol=1e-10, atol=1e-13
            )
    for name in names:
        np.testing.assert_allclose(
            getattr(eager, name), getattr(looped[1], name), rtol=1e-10, atol=1e-13
        )
    assert float(eager) == float(eager.gamma) == float(eager.value)


def test_float32_smoke_of_every_public_function():
    f32 = jnp.float32
    rates = _random_rates(0.1).astype(f32)
    R = rattling.from_rates(rates)
    assert R.dtype == f32
    dec = rattling.jump_decomposition(rates)
    assert dec.log_stationary.dtype == f32
    fit = rattling.fit_gamma(jn.markov.stationary(rates), R)
    assert fit.gamma.dtype == f32 and np.isfinite(float(fit.gamma))
    assert rattling.from_diffusion(jnp.ones((3, 2), f32), kind="diagonal").dtype == f32
    x = jax.random.normal(jax.random.key(0), (40, 3, 2), f32).cumsum(0)
    field = rattling.from_trajectories(x, 0.1, 5, edges=[jnp.linspace(-10, 10, 5)] * 2)
    assert field.rattling.dtype == f32 and field.density.dtype == f32

"""jaxneq.thermo entropy-production estimators: the TUR bound, the short-time TUR estimator
(exact for linear systems) and the plug-in estimator of jump processes, against closed forms
and exact Markov results."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from _stats import N_SE, assert_within_stderr, central_difference
from jax.scipy.linalg import expm

import jaxneq as jn

# ------------------------------------------------------------------------ tur_bound


def test_tur_bound_recovers_the_population_ratio_of_skewed_currents():
    # J = t * Exp(1) - 0.3 t: mean 0.7 t, variance t^2, so 2 <J>^2 / (t Var J) = 0.98 / t
    t = 2.0
    samples = t * (jax.random.exponential(jax.random.key(0), (50_000,)) - 0.3)
    result = jn.thermo.tur_bound(samples, t)
    assert_within_stderr(result.value, result.stderr, 0.98 / t)


def test_tur_bound_stderr_covers_at_the_nominal_rate():
    # skewed samples exercise the third- and fourth-moment terms of the delta method
    n_rep, t = 1000, 0.5
    keys = jax.random.split(jax.random.key(1), n_rep)

    def one(key):
        r = jn.thermo.tur_bound(t * (jax.random.exponential(key, (2000,)) - 0.3), t)
        return r.value, r.stderr

    values, stderrs = jax.jit(jax.vmap(one))(keys)
    covered = np.abs(np.asarray(values) - 0.98 / t) <= np.asarray(stderrs)
    p = 0.6827
    assert abs(covered.mean() - p) <= N_SE * np.sqrt(p * (1 - p) / n_rep), covered.mean()


def _ring_rates(forward=2.0, backward=0.5, n=3):
    i = np.arange(n)
    rates = np.zeros((n, n))
    rates[i, (i + 1) % n] = forward
    rates[(i + 1) % n, i] = backward
    return jnp.asarray(rates)


@pytest.fixture(scope="module")
def ring_statistics():
    rates = _ring_rates()
    x0 = jax.random.randint(jax.random.key(2), (2000,), 0, 3)  # uniform = stationary
    stats = jn.markov.gillespie_statistics(rates, x0, key=jax.random.key(3), t_max=5.0)
    return rates, stats


def test_tur_bound_of_edge_current_lies_below_the_schnakenberg_rate(ring_statistics):
    rates, stats = ring_statistics
    net_jumps = stats.jump_counts[:, 0, 1] - stats.jump_counts[:, 1, 0]
    bound = jn.thermo.tur_bound(net_jumps, 5.0)
    sigma = float(jn.markov.entropy_production_rate(rates))
    assert float(bound.value) - N_SE * float(bound.stderr) <= sigma
    assert float(bound.value) > 0.2 * sigma  # informative, not trivially zero


def test_plug_in_entropy_production_converges_to_the_schnakenberg_rate(ring_statistics):
    rates, stats = ring_statistics
    result = jn.thermo.plug_in_entropy_production(stats, rates)
    assert_within_stderr(result.value, result.stderr, jn.markov.entropy_production_rate(rates))


def test_plug_in_entropy_production_without_rates_pools_the_count_formula_over_runs(
    ring_statistics,
):
    # the counts-only estimate of each run, recomputed here from the jump counts with NumPy:
    # sigma_r = (1 / 2 T_r) sum_{i != j, N_ij N_ji > 0} (N_ij - N_ji) ln(N_ij / N_ji), pooled
    # with weights T_r; the standard error of the ratio estimator over independent runs
    _, stats = ring_statistics
    counts, durations = np.asarray(stats.jump_counts), np.asarray(stats.total_time)
    reverse = np.swapaxes(counts, 1, 2)
    seen = (counts > 0) & (reverse > 0)
    ratio = np.log(np.where(seen, counts, 1.0) / np.where(seen, reverse, 1.0))
    per_run = 0.5 * np.sum(np.where(seen, (counts - reverse) * ratio, 0.0), axis=(1, 2))
    per_run /= durations
    value = np.sum(durations * per_run) / np.sum(durations)
    b = len(per_run)
    residual = durations * (per_run - value)
    stderr = np.sqrt(b / (b - 1) * np.sum(residual**2)) / np.sum(durations)
    result = jn.thermo.plug_in_entropy_production(stats)
    np.testing.assert_allclose(result.value, value, rtol=1e-12)
    np.testing.assert_allclose(result.stderr, stderr, rtol=1e-12)
    np.testing.assert_allclose(stats.entropy_production_rate(), per_run, rtol=1e-12, atol=1e-15)


def test_plug_in_entropy_production_is_zero_for_a_detailed_balance_chain():
    # same shapes as the ring (3 states, 2000 runs): the compiled simulation is reused
    energy = jnp.array([0.0, 1.0, 0.5])
    rates = jnp.exp(-0.5 * (energy[None, :] - energy[:, None])) * (1 - jnp.eye(3))
    p = jnp.exp(-energy) / jnp.sum(jnp.exp(-energy))
    x0 = jax.random.choice(jax.random.key(4), 3, (2000,), p=p)
    stats = jn.markov.gillespie_statistics(rates, x0, key=jax.random.key(5), t_max=5.0)
    result = jn.thermo.plug_in_entropy_production(stats, rates)
    assert_within_stderr(result.value, result.stderr, 0.0)


# ------------------------------------------------------------------- short-time TUR


SYSTEM_PARAMETERS = dict(k=1.0, lam=1.0, T1=10.0, T2=1.0)


@functools.cache
def _pair_coefficients():
    system = jn.models.two_temperature_pair(**SYSTEM_PARAMETERS)
    return jn.models.linear_coefficients(system, jnp.zeros((2, 1)))


def _exact_pairs(key, n, dt, coefficients=None):
    """Exact (x_0, x_dt) pairs of a linear system (default: the two-temperature pair) in its
    steady state, shape [2, n, d, 1]."""
    A, D = _pair_coefficients() if coefficients is None else coefficients
    d = A.shape[0]
    C = jn.models.linear_stationary_covariance(A, D)
    phi = expm(-A * dt)
    Q = C - phi @ C @ phi.T
    k0, k1 = jax.random.split(key)
    x0 = jax.random.normal(k0, (n, d)) @ jnp.linalg.cholesky(C).T
    x1 = x0 @ phi.T + jax.random.normal(k1, (n, d)) @ jnp.linalg.cholesky(Q).T
    return jnp.stack([x0, x1]).reshape(2, n, d, 1)


def _exact_short_time_tur(dt, coefficients=None):
    """Population value of the estimator with the linear basis at step dt, in closed form:
    z = (x_0, x_dt) is Gaussian with covariance S, every basis current is a quadratic form
    z^T M z, so <j> = tr(M S) and Cov(j, j') = 2 tr(M S M' S). Default: the pair."""
    A, D = (np.asarray(a) for a in (coefficients or _pair_coefficients()))
    C = scipy.linalg.solve_continuous_lyapunov(A, 2 * np.diag(D))  # A C + C A^T = 2 D
    phi = scipy.linalg.expm(-A * dt)
    S = np.block([[C, C @ phi.T], [phi @ C, C]])
    n = A.shape[0]
    eye = np.eye(n)
    forms = []
    for a in range(n):
        for c in range(n):
            mid = np.concatenate([eye[c], eye[c]]) / 2  # picks (x_0 + x_dt)_c / 2
            inc = np.concatenate([-eye[a], eye[a]])  # picks (x_dt - x_0)_a
            forms.append(0.5 * (np.outer(mid, inc) + np.outer(inc, mid)))
    mean = np.array([np.trace(M @ S) for M in forms])
    cov = np.array([[2 * np.trace(M @ S @ N @ S) for N in forms] for M in forms])
    return 2 * mean @ np.linalg.solve(cov, mean) / dt


def test_short_time_tur_closed_form_tends_to_the_exact_entropy_production_rate():
    k, lam, T1, T2 = SYSTEM_PARAMETERS.values()
    sigma = k**2 * (T1 - T2) ** 2 / (2 * T1 * T2 * (k + lam))  # closed form, mobility 1
    library = float(jn.models.linear_entropy_production_rate(*_pair_coefficients()))
    assert library == pytest.approx(sigma, rel=1e-12)
    errors = [abs(_exact_short_time_tur(dt) - sigma) for dt in (1e-2, 1e-3, 1e-4)]
    assert errors[2] < 1e-3 * sigma
    assert errors[1] / errors[2] == pytest.approx(10, rel=0.2)  # O(dt) convergence


def test_short_time_tur_recovers_the_exact_value_of_linear_systems_from_samples():
    dt = 0.01
    traj = _exact_pairs(jax.random.key(6), 200_000, dt)
    result = jn.thermo.short_time_tur(traj, dt)
    assert_within_stderr(result.value, result.stderr, _exact_short_time_tur(dt))
    assert float(result.stderr) < 0.05 * float(result.value)
    # the optimal current is the total entropy production, dx . D^-1 v(x) with the mean local
    # velocity v = J / p = (-A + D C^-1) x: weights of x_c dx_a ~ (-D^-1 A + C^-1)_ac
    A, D = _pair_coefficients()
    C = jn.models.linear_stationary_covariance(A, D)
    expected = (-A / D[:, None] + jnp.linalg.inv(C)).reshape(-1)
    w = result.weights * (expected @ result.weights) / (result.weights @ result.weights)
    # the weights carry the relative sampling error of the value (stderr / value ~ 1 %):
    # 5 % of the largest weight is about five of those errors
    np.testing.assert_allclose(w, expected, atol=0.05 * float(jnp.max(jnp.abs(expected))))


def test_short_time_tur_with_a_custom_basis_spanning_the_force_matches_the_default():
    dt = 0.01
    traj = _exact_pairs(jax.random.key(7), 20_000, dt)

    def basis(x):  # the same span as linear_basis, listed differently
        return jnp.stack(
            [
                jnp.array([x[0], 0.0]),
                jnp.array([x[1], 0.0]),
                jnp.array([0.0, x[0] + x[1]]),
                jnp.array([0.0, x[1]]),
            ]
        )

    default = jn.thermo.short_time_tur(traj, dt)
    custom = jn.thermo.short_time_tur(traj, dt, basis=basis)
    np.testing.assert_allclose(custom.value, default.value, rtol=1e-8)


# ----------------------------------------------------------------------- bead chains

# a chain of five beads with one hot end, and one with a temperature gradient along it
BEAD_CHAINS = {"hot_end": (4.0, 1.0, 1.0, 1.0, 1.0), "gradient": (1.0, 2.0, 3.0, 4.0, 5.0)}


def _bead_chain(name):
    system = jn.models.bead_chain(np.array(BEAD_CHAINS[name]), k=1.0, lam=0.5)
    A, D = jn.models.linear_coefficients(system, jnp.zeros((5, 1)))
    return system, (A, D), float(jn.thermo.linear_entropy_production_rate(A, D))


def test_bead_chain_tur_bound_of_the_hot_end_heat_current_lies_below_the_exact_rate():
    system, (A, D), sigma = _bead_chain("hot_end")
    b, dt, n_steps = 1000, 0.01, 1000
    x0 = jn.models.linear_stationary_samples(system, jnp.zeros((5, 1)), key=jax.random.key(12), n=b)
    res = jn.langevin.simulate(
        system,
        x0,
        key=jax.random.key(13),
        dt=dt,
        n_steps=n_steps,
        observables={"heat": jn.observables.Heat(per_dof=True)},
    )
    heat_from_hot_end = -np.asarray(res.observables["heat"]).reshape(b, 5)[:, 0]
    bound = jn.thermo.tur_bound(heat_from_hot_end, dt * n_steps)
    # the Euler-Maruyama chain at this dt produces entropy at sigma_dt, not sigma: the bound
    # holds for the process simulated, so it is checked against the larger of the two
    sigma_dt = float(
        jn.thermo.linear_euler_maruyama_stationary(A, D, dt)["entropy_production_rate"]
    )
    assert float(bound.value) - N_SE * float(bound.stderr) <= max(sigma, sigma_dt)
    assert float(bound.value) > 0.25 * sigma  # informative: measured 0.56 sigma
    assert float(bound.stderr) < 0.1 * float(bound.value)


@pytest.mark.parametrize("name", list(BEAD_CHAINS))
def test_bead_chain_short_time_tur_with_the_linear_basis_recovers_the_exact_rate(name):
    _, coefficients, sigma = _bead_chain(name)
    dt, n = 0.01, 400_000
    traj = _exact_pairs(jax.random.key(14), n, dt, coefficients)
    result = jn.thermo.short_time_tur(traj, dt)
    # one explicit, derived allowance: the O(dt) bias of the estimator's population value
    # (closed form at this dt, `_exact_short_time_tur`); the bias of fitting the weights on
    # the sample is removed by the estimator (debias=True)
    population = _exact_short_time_tur(dt, coefficients)
    assert abs(population - sigma) <= 0.05 * sigma  # O(dt): it closes as dt -> 0
    assert_within_stderr(result.value, result.stderr, sigma, bias=abs(population - sigma))
    assert float(result.stderr) < 0.1 * sigma


def test_short_time_tur_debiasing_removes_the_bias_of_fitting_the_weights():
    # 5-bead hot-end chain, m = 25 currents, only N = 2000 steps per replica: fitting the
    # weights on the sample adds ~ 2 m / (N dt) = 2.5 to a rate of ~0.6. Over 64 replicas
    # the debiased mean must match the population value within its standard error, the
    # plain one must not.
    _, coefficients, _ = _bead_chain("hot_end")
    dt, n, replicas = 0.01, 2000, 64
    population = _exact_short_time_tur(dt, coefficients)
    keys = jax.random.split(jax.random.key(15), replicas)
    trajs = jax.vmap(lambda k: _exact_pairs(k, n, dt, coefficients))(keys)

    def estimate(debias):
        values = jax.vmap(lambda t: jn.thermo.short_time_tur(t, dt, debias=debias).value)(trajs)
        values = np.asarray(values, dtype=float)
        return values.mean(), values.std(ddof=1) / np.sqrt(replicas)

    mean, se = estimate(True)
    assert abs(mean - population) < N_SE * se
    raw_mean, raw_se = estimate(False)
    expected_bias = 2 * 25 / (n * dt)
    assert raw_mean - population > 0.5 * expected_bias
    assert abs(raw_mean - population - expected_bias) < 0.25 * expected_bias + N_SE * raw_se


# ------------------------------------------------------------- jit, vmap, grad, dtypes


def test_tur_bound_gradient_wrt_currents_matches_central_differences():
    samples = 1.0 + jax.random.normal(jax.random.key(8), (10,))

    def value(j):
        return jn.thermo.tur_bound(j, 0.5).value

    np.testing.assert_allclose(
        jax.grad(value)(samples), central_difference(value, samples, jit=True), rtol=1e-6
    )


def test_float32_smoke_for_entropy_production_estimators():
    traj = _exact_pairs(jax.random.key(9), 5000, 0.01).astype(jnp.float32)
    r = jn.thermo.short_time_tur(traj, jnp.float32(0.01))
    assert r.value.dtype == jnp.float32 and np.isfinite(float(r.value))
    r64 = jn.thermo.short_time_tur(traj.astype(jnp.float64), 0.01)
    np.testing.assert_allclose(r.value, r64.value, rtol=1e-3)
    b = jn.thermo.tur_bound(traj[1, :, 0, 0] - traj[0, :, 0, 0], jnp.float32(0.01))
    assert b.value.dtype == jnp.float32 and b.stderr.dtype == jnp.float32


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: jn.thermo.short_time_tur(jnp.zeros((5, 2)), 0.1), "must have shape"),
        (lambda: jn.thermo.short_time_tur(jnp.zeros((1, 3, 2)), 0.1), "at least 2 times"),
        (
            lambda: jn.thermo.short_time_tur(jnp.zeros((3, 3, 2)), 0.1, basis=lambda x: x),
            "`basis` must map",
        ),
        (lambda: jn.thermo.tur_bound(jnp.ones((3, 2)), 1.0), "`currents` must be a 1-D"),
        (lambda: jn.thermo.plug_in_entropy_production(jnp.ones(3)), "JumpStatistics"),
    ],
)
def test_bad_shapes_raise_errors_naming_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


BAD_VALUES = [
    (jn.thermo.tur_bound, (jnp.ones(3), 0.0), "`t` must be > 0"),
    (jn.thermo.tur_bound, (jnp.array([1.0, jnp.nan]), 1.0), "`currents` has a NaN"),
    (jn.thermo.short_time_tur, (jnp.ones((3, 2, 2)), -0.1), "`dt` must be > 0"),
]


@pytest.mark.parametrize("fn, args, match", BAD_VALUES)
def test_bad_values_raise_value_errors_naming_the_argument(fn, args, match):
    with pytest.raises(ValueError, match=match):
        fn(*args)


@pytest.mark.parametrize("fn, args, match", BAD_VALUES[:2])
def test_bad_values_raise_under_jit_naming_the_argument(fn, args, match):
    with pytest.raises(Exception, match=match):
        jax.block_until_ready(jax.jit(fn)(*args))


def _exact_short_time_tur_euler_maruyama(h, every):
    """Population value of the linear-basis estimator on Euler-Maruyama data (step h, frames
    every `every` steps) of the pair in the chain's own steady state: the chain is linear,
    x' = (I - A h) x + sqrt(2 D h) xi, with stationary covariance C = B C B^T + 2 D h and
    frame propagator B^every; then as in `_exact_short_time_tur`."""
    A, D = (np.asarray(a) for a in _pair_coefficients())
    B = np.eye(2) - A * h
    C = scipy.linalg.solve_discrete_lyapunov(B, 2 * h * np.diag(D))
    phi = np.linalg.matrix_power(B, every)
    S = np.block([[C, C @ phi.T], [phi @ C, C]])
    eye = np.eye(2)
    forms = []
    for a in range(2):
        for c in range(2):
            mid = np.concatenate([eye[c], eye[c]]) / 2
            inc = np.concatenate([-eye[a], eye[a]])
            forms.append(0.5 * (np.outer(mid, inc) + np.outer(inc, mid)))
    mean = np.array([np.trace(M @ S) for M in forms])
    cov = np.array([[2 * np.trace(M @ S @ N @ S) for N in forms] for M in forms])
    return 2 * mean @ np.linalg.solve(cov, mean) / (h * every)


@pytest.mark.slow
def test_short_time_tur_takes_simulate_trajectories_of_the_two_temperature_pair():
    h, every, b = 1e-3, 10, 1000
    system = jn.models.two_temperature_pair(**SYSTEM_PARAMETERS)
    x0 = jn.models.linear_stationary_samples(system, jnp.zeros((2, 1)), key=jax.random.key(10), n=b)
    out = jn.langevin.simulate(
        system, x0, key=jax.random.key(11), dt=h, n_steps=20_000, save_every=every
    )
    result = jn.thermo.short_time_tur(out.trajectory, h * every)
    # x0 is the continuous steady state, the chain's differs by O(h): its transient adds
    # O(h / t) ~ 1e-4 relative, far below the stderr (~1 %); allowed explicitly
    exact = _exact_short_time_tur_euler_maruyama(h, every)
    assert_within_stderr(result.value, result.stderr, exact, bias=1e-3 * exact)

"""Two-temperature phenomenology: run and chase, ratchet currents, hot/cold demixing."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.integrate
from _stats import N_SE, assert_within_stderr, central_difference, mean_and_stderr

import jaxneq as jn

M = jn.models
Z_ONE_SIDED = 3.0  # one-sided Gaussian tail 1.3e-3


def _chase_run(T_hot, T_cold, b=400, n=8000):
    system = M.hot_cold_pair(T_hot, T_cold, k=10.0, sigma=1.0, box_size=3.0)
    x0 = jr.uniform(jr.key(0), (b, 2, 2)) * 3.0
    res = jn.langevin.simulate(
        system, x0, key=jr.key(1), dt=2e-3, n_steps=n, observables={"c": M.RunAndChase(500)}
    )
    return res.observables["c"]


def test_exact_chase_statistics_match_scipy_quadrature():
    T_hot, T_cold, k, sigma, box = 2.0, 0.1, 10.0, 1.0, 3.0
    w = lambda r: 2 * np.pi * r * np.exp(-k * (1 - r / sigma) ** 2 / (T_hot + T_cold))
    f = lambda r: k / sigma * (1 - r / sigma)
    norm = scipy.integrate.quad(w, 0, sigma)[0] + box**2 - np.pi * sigma**2
    f2 = scipy.integrate.quad(lambda r: w(r) * f(r) ** 2, 0, sigma)[0] / norm
    exact = M.hot_cold_pair_chase_speed(T_hot, T_cold, k, sigma, box_size=box)
    # Tolerance: the trapezoidal rule's O(h^2) error, estimated by Richardson from a run at
    # twice the points (err(n) ~ 4/3 |f(n) - f(2n)|), doubled; plus scipy.quad's requested
    # relative accuracy (1.5e-8 per integral) with a margin of three.
    finer = M.hot_cold_pair_chase_speed(T_hot, T_cold, k, sigma, box_size=box, n_quad=4001)
    for name, reference in [
        ("force_squared", f2),
        ("velocity", (T_hot - T_cold) / (T_hot + T_cold) * f2),
    ]:
        trapezoid = 4 / 3 * abs(float(exact[name]) - float(finer[name]))
        tol = 2 * trapezoid + 1e-7 * abs(reference)
        assert abs(float(exact[name]) - reference) <= tol, (name, exact[name], reference, tol)


def test_hot_cold_pair_centre_of_mass_drifts_from_hot_to_cold_particle():
    chase = _chase_run(2.0, 0.1)
    v, se = mean_and_stderr(chase.velocity)
    exact = M.hot_cold_pair_chase_speed(2.0, 0.1, 10.0, 1.0, box_size=3.0)
    # sign and nonzero speed far beyond statistical error
    assert v > N_SE * se and float(chase.speed) > N_SE * float(chase.stderr)
    # magnitude: the exact stationary values within their standard errors
    assert_within_stderr(v, se, exact["velocity"])
    assert_within_stderr(chase.speed, chase.stderr, exact["speed"])


def test_hot_cold_pair_has_no_chase_at_equal_temperatures():
    chase = _chase_run(1.0, 1.0)
    assert_within_stderr(chase.speed, chase.stderr, 0.0)


def test_hot_cold_pair_chase_speed_gradient_matches_finite_difference():
    fn = lambda th: M.hot_cold_pair_chase_speed(th, 0.1)["speed"]
    g = jax.grad(fn)(2.0)
    # rounding of the quadrature (~1e-15 relative) over h = 1e-5 is ~1e-10 relative, the
    # truncation h^2/6 times a third derivative of order one smaller still: rtol 1e-6 sits
    # far above both and far below the error of a wrong derivative.
    np.testing.assert_allclose(g, central_difference(fn, 2.0, h=1e-5), rtol=1e-6)


def _ratchet_current(T_hot, T_cold, asymmetry=0.2, b=500, n=12000, dt=2e-3):
    system = M.sawtooth_ratchet_pair(T_hot, T_cold, asymmetry=asymmetry)
    x0 = jr.uniform(jr.key(2), (b, 2, 1)) * 2.0
    res = jn.langevin.simulate(system, x0, key=jr.key(3), dt=dt, n_steps=n, save_every=n // 4)
    # current after a burn-in of n/4 steps: centre-of-mass velocity of each member
    v = np.asarray(jnp.mean(res.trajectory[-1] - res.trajectory[1], axis=(1, 2)))
    return mean_and_stderr(v / (0.75 * n * dt))


# No closed form is known for the current of this ratchet (a two-particle, two-temperature
# Fokker–Planck problem), so its magnitude is not checked; what is exact: it vanishes at
# equal temperatures (Boltzmann), and the mirror x -> -x maps the sawtooth of asymmetry a
# onto the one of asymmetry 1 - a, so the current changes sign with the same magnitude.


def test_two_temperature_sawtooth_ratchet_current_runs_towards_the_nearer_barrier_top():
    # asymmetry 0.2: from a minimum the barrier top is 0.2 periods away in +x and 0.8 in -x;
    # the hot particle's kicks carry the cold one over the nearer top, so the current is > 0.
    v, se = _ratchet_current(2.0, 0.1)
    assert v > N_SE * se, (v, se)


def test_mirrored_sawtooth_reverses_the_ratchet_current():
    v, se = _ratchet_current(2.0, 0.1, asymmetry=0.2)
    v_mirror, se_mirror = _ratchet_current(2.0, 0.1, asymmetry=0.8)
    assert v_mirror < -N_SE * se_mirror
    assert_within_stderr(v_mirror, np.hypot(se, se_mirror), -v)


def test_sawtooth_ratchet_current_vanishes_at_equal_temperatures():
    v, se = _ratchet_current(1.0, 1.0)
    assert_within_stderr(v, se, 0.0)


def test_sawtooth_potential_shape():
    V = M.SawtoothPotential(jnp.asarray(2.0), jnp.asarray(1.0), jnp.asarray(0.25))
    np.testing.assert_allclose(V(jnp.array([0.125])), 1.0)
    np.testing.assert_allclose(V(jnp.array([1.25])), 2.0)
    np.testing.assert_allclose(V(jnp.array([-0.5])), 4.0 / 3.0)
    np.testing.assert_allclose(jax.grad(V)(jnp.array([0.6])), [-2.0 / 0.75])
    with pytest.raises(ValueError, match="asymmetry"):
        M.sawtooth_ratchet_pair(asymmetry=1.5)


def test_demixing_order_parameter_of_separated_and_random_configurations():
    # cold particles on a lattice in the left half, hot ones in the right half: psi ~ 1/2
    g = jnp.stack(jnp.meshgrid(jnp.arange(10.0), jnp.arange(10.0)), -1).reshape(-1, 2) + 0.5
    x = jnp.concatenate([g[g[:, 0] < 5], g[g[:, 0] >= 5]])  # 50 cold then 50 hot
    is_hot = jnp.arange(100) >= 50
    cells = jn.langevin.CellList(jn.langevin.Box((10.0, 10.0)), 1.1, 8)
    order = jax.jit(lambda x, labels: M.demixing_order_parameter(x, labels, cells))
    psi = order(x, is_hot)
    # by hand: each particle has 4 lattice neighbours; border columns (x=4.5, 5.5, and the
    # periodic seam at 0.5/9.5) have 3 like of 4; the other 6 columns 4 of 4.
    expected = (6 * 1.0 + 4 * 0.75) / 10 - 49 / 99
    np.testing.assert_allclose(psi, expected, rtol=1e-12)
    # random labels of the same configuration: exactly zero on average (exchangeability)
    psis = jax.jit(jax.vmap(lambda k: order(x, jr.permutation(k, is_hot))))(
        jr.split(jr.key(4), 400)
    )
    assert_within_stderr(*mean_and_stderr(psis), 0.0)


def _mixture_psi(T_hot, n=1500, n_particles=64, b=16):
    """Demixing order parameter [len(T_hot), b] (T_cold = 0.05), averaged over the last
    two of four snapshots."""
    box = float(np.sqrt(n_particles / 0.9))  # number density 0.9
    half = n_particles // 2
    is_hot = jnp.arange(n_particles) < half

    def run(th):
        system = M.hot_cold_mixture(half, half, th, 0.05, box, k=50.0)
        x0 = jr.uniform(jr.key(5), (b, n_particles, 2)) * box
        res = jn.langevin.simulate(system, x0, key=jr.key(6), dt=5e-3, n_steps=n, save_every=n // 4)
        cells = system.potential.neighbours
        psi = jax.vmap(jax.vmap(lambda x: M.demixing_order_parameter(x, is_hot, cells)))
        return psi(res.trajectory[2:]).mean(0)

    return np.asarray(jax.jit(jax.vmap(run))(jnp.asarray(T_hot)))


def test_hot_cold_mixture_demixes_at_a_temperature_ratio_of_thirty():
    # At T_hot / T_cold = 1 the labels are exchangeable, so psi = 0 exactly in expectation
    # (checked by relabelling in the test above; simulated in the slow test below).
    psi, se = mean_and_stderr(_mixture_psi([1.5])[0])
    assert psi > N_SE * se, (psi, se)


@pytest.mark.slow
def test_hot_cold_mixture_demixing_grows_with_temperature_ratio():
    # T_hot / T_cold = 1, 10, 30: psi = 0 (exchangeable labels), then increasing. The three
    # runs share their initial states and noise (common random numbers), so each increase is
    # tested member by member (paired differences, whose errors are smaller). (At ratio 100
    # and these short times the soft repulsion lets hot particles through each other and psi
    # is lower again.)
    psi = _mixture_psi([0.05, 0.5, 1.5], b=48)
    mean, se = mean_and_stderr(psi[0])
    assert_within_stderr(mean, se, 0.0)
    steps, steps_se = mean_and_stderr(np.diff(psi, axis=0).T)
    # One-sided test of each increase at Z_ONE_SIDED standard errors: a true increase of
    # this size (~0.03 from ratio 10 to 30) fails it with probability ~1e-3; the usual N_SE
    # would need ~3x the members (several minutes).
    assert np.all(steps > Z_ONE_SIDED * steps_se), (steps, steps_se)


def test_phenomenology_models_run_in_float32():
    system = M.hot_cold_pair(jnp.float32(2.0), jnp.float32(0.1))
    x0 = jr.uniform(jr.key(7), (16, 2, 2), jnp.float32) * 3.0
    res = jn.langevin.simulate(
        system, x0, key=jr.key(8), dt=2e-3, n_steps=50, observables={"c": M.RunAndChase()}
    )
    assert res.x.dtype == jnp.float32 and res.observables["c"].velocity.dtype == jnp.float32
    ratchet = M.sawtooth_ratchet_pair(jnp.float32(2.0), jnp.float32(0.1))
    x0 = jnp.zeros((8, 2, 1), jnp.float32)
    assert jn.langevin.simulate(ratchet, x0, key=jr.key(9), dt=2e-3, n_steps=20).x.dtype == (
        jnp.float32
    )


def test_phenomenology_arguments_are_validated():
    with pytest.raises(ValueError, match="n_hot"):
        M.hot_cold_mixture(-1, 3, 1.0, 1.0, 10.0)
    with pytest.raises(ValueError, match="T_hot"):
        M.hot_cold_pair(jnp.ones(2), 1.0)
    with pytest.raises(ValueError, match="is_hot"):
        cells = jn.langevin.CellList(jn.langevin.Box((5.0, 5.0)), 1.0, 8)
        M.demixing_order_parameter(jnp.zeros((4, 2)), jnp.ones(3, bool), cells)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: M.hot_cold_pair(T_hot=-1.0), r"`T_hot` must be finite and > 0, got -1.0"),
        (lambda: M.hot_cold_pair(T_cold=0.0), r"`T_cold` must be finite and > 0, got 0.0"),
        (lambda: M.hot_cold_pair(k=-1.0), r"`k` must be finite and >= 0"),
        (lambda: M.hot_cold_pair(sigma=0.0), r"`sigma` must be finite and > 0"),
        (lambda: M.hot_cold_pair(box_size=1.5), r"`box_size` must be finite and >= 2 sigma"),
        (lambda: M.hot_cold_pair(dim=0), r"`dim` must be a positive int"),
        (lambda: M.hot_cold_pair_chase_speed(1.0, np.nan), r"`T_cold` must be finite"),
        (lambda: M.hot_cold_pair_chase_speed(1.0, 1.0, n_quad=1), r"`n_quad` must be an int"),
        (
            lambda: M.sawtooth_ratchet_pair(asymmetry=1.5),
            r"`asymmetry` must be finite and > 0 and < 1",
        ),
        (lambda: M.sawtooth_ratchet_pair(asymmetry=0.0), r"`asymmetry` must be finite and > 0"),
        (lambda: M.sawtooth_ratchet_pair(period=-1.0), r"`period` must be finite and > 0"),
        (lambda: M.sawtooth_ratchet_pair(barrier=-1.0), r"`barrier` must be finite and >= 0"),
        (lambda: M.sawtooth_ratchet_pair(sigma=1.5), r"`sigma` must be at most half the ring"),
        (lambda: M.sawtooth_ratchet_pair(ring_periods=0), r"`ring_periods` must be an int >= 1"),
        (lambda: M.hot_cold_mixture(2, 2, 1.0, -1.0, 10.0), r"`T_cold` must be finite and > 0"),
        (lambda: M.hot_cold_mixture(2, 2, 1.0, 1.0, 1.0), r"`box_size` must be finite and >= 2"),
        (lambda: M.hot_cold_mixture(2, 2, 1.0, 1.0, 10.0, capacity=0), r"`capacity` must be"),
        (lambda: M.RunAndChase(burn_in=-1), r"`burn_in` must be an int >= 0"),
    ],
)
def test_out_of_range_arguments_raise_naming_the_argument_and_the_range(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_traced_temperatures_are_checked_under_jit():
    build = jax.jit(lambda t: M.hot_cold_pair(t, 0.1).temperature)
    np.testing.assert_allclose(build(2.0), [[2.0], [0.1]])
    with pytest.raises(Exception, match="`T_hot` must be finite and > 0"):
        jax.block_until_ready(build(-2.0))
    speed = jax.jit(lambda a: M.hot_cold_pair_chase_speed(2.0, 0.1, k=a)["speed"])
    with pytest.raises(Exception, match="`k` must be finite and >= 0"):
        jax.block_until_ready(speed(-1.0))

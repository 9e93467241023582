"""Two-temperature phenomenology: run and chase, ratchet currents, hot/cold demixing."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.integrate

import jaxneq as jn

M = jn.models


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
    np.testing.assert_allclose(exact["force_squared"], f2, rtol=1e-5)
    np.testing.assert_allclose(exact["velocity"], (T_hot - T_cold) / (T_hot + T_cold) * f2, 1e-5)


def test_hot_cold_pair_centre_of_mass_drifts_from_hot_to_cold_particle():
    chase = _chase_run(2.0, 0.1)
    v, se = float(jnp.mean(chase.velocity)), float(jnp.std(chase.velocity) / np.sqrt(400))
    exact = M.hot_cold_pair_chase_speed(2.0, 0.1, 10.0, 1.0, box_size=3.0)
    # sign and nonzero speed far beyond statistical error
    assert v > 10 * se and float(chase.speed) > 10 * float(chase.stderr)
    # magnitude: exact within 5 SE plus 3 % for the time step (stiff repulsion, dt k = 0.02)
    assert abs(v - float(exact["velocity"])) < 5 * se + 0.03 * float(exact["velocity"])
    assert abs(float(chase.speed - exact["speed"])) < 5 * chase.stderr + 0.03 * exact["speed"]


def test_hot_cold_pair_has_no_chase_at_equal_temperatures():
    chase = _chase_run(1.0, 1.0)
    assert abs(float(chase.speed)) < 5 * float(chase.stderr)


def test_hot_cold_pair_chase_speed_gradient_matches_finite_difference():
    fn = lambda th: M.hot_cold_pair_chase_speed(th, 0.1)["speed"]
    g = jax.grad(fn)(2.0)
    h = 1e-5
    np.testing.assert_allclose(g, (fn(2.0 + h) - fn(2.0 - h)) / (2 * h), rtol=1e-6)


def _ratchet_current(T_hot, T_cold, b=500, n=12000, dt=2e-3):
    system = M.sawtooth_ratchet_pair(T_hot, T_cold)
    x0 = jr.uniform(jr.key(2), (b, 2, 1)) * 2.0
    res = jn.langevin.simulate(system, x0, key=jr.key(3), dt=dt, n_steps=n, save_every=n // 4)
    # current after a burn-in of n/4 steps: centre-of-mass velocity of each member
    v = np.asarray(jnp.mean(res.trajectory[-1] - res.trajectory[1], axis=(1, 2)))
    v = v / (0.75 * n * dt)
    return v.mean(), v.std() / np.sqrt(b)


def test_two_temperature_sawtooth_ratchet_carries_a_current():
    v, se = _ratchet_current(2.0, 0.1)
    assert abs(v) > 5 * se


def test_sawtooth_ratchet_current_vanishes_at_equal_temperatures():
    v, se = _ratchet_current(1.0, 1.0)
    assert abs(v) < 5 * se


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
    assert abs(float(psis.mean())) < 5 * float(psis.std()) / 20


def _mixture_psi(T_hot, n=3000, n_particles=128, b=16):
    """Demixing order parameter [len(T_hot), b], averaged over the last 3 quarters' ends."""
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

    return jax.jit(jax.vmap(run))(jnp.asarray(T_hot))


def test_hot_cold_mixture_demixing_grows_with_temperature_ratio():
    # T_hot / T_cold = 1: the labels are exchangeable, so psi = 0 exactly in expectation
    # (checked by relabelling in the test above; simulated in the slow test below).
    # T_hot / T_cold = 100: the order parameter is positive far beyond its error.
    psi = np.asarray(_mixture_psi([5.0], n=2000, b=8))[0]
    assert psi.mean() > 5 * psi.std(ddof=1) / np.sqrt(psi.size), psi


@pytest.mark.slow
def test_large_hot_cold_mixture_demixes_only_with_two_temperatures():
    psi = np.asarray(_mixture_psi([0.05, 5.0], n=6000, n_particles=2000, b=1))[:, 0]
    assert abs(psi[0]) < 0.04  # equal temperatures: psi = 0 up to ~0.01 noise (N = 2000)
    assert psi[1] > 0.05 and psi[1] > psi[0] + 0.04


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

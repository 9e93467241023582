"""Active Brownian and active Ornstein–Uhlenbeck particles against exact results."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import jaxneq as jn

L = jn.langevin


def _abp_msd(t, v0, d_r, d_t):
    return 4 * d_t * t + 2 * v0**2 / d_r**2 * (d_r * t - 1 + np.exp(-d_r * t))


def _aoup_msd_per_dim(t, tau, d_a, d_t):
    return 2 * d_t * t + 2 * d_a * (t - tau * (1 - np.exp(-t / tau)))


def _assert_within(estimate, stderr, exact, n_se=5.0, rel_bias=0.0):
    """|estimate - exact| < n_se standard errors (+ an allowance for time-step bias)."""
    estimate, stderr, exact = map(np.asarray, (estimate, stderr, exact))
    assert np.all(np.abs(estimate - exact) < n_se * stderr + rel_bias * np.abs(exact)), (
        estimate,
        exact,
        stderr,
    )


def test_active_brownian_msd_matches_exact_formula():
    v0, d_r, temperature = 2.0, 1.0, 0.1
    b, dt, n, every = 4000, 0.01, 400, 100
    system = L.ActiveBrownian(speed=v0, rotational_diffusion=d_r, temperature=temperature)
    res = L.simulate(system, jnp.zeros((b, 2)), key=jr.key(0), dt=dt, n_steps=n, save_every=every)
    r2 = np.sum(np.asarray(res.trajectory[1:]) ** 2, axis=-1)  # [n_saved - 1, b]
    t = dt * every * np.arange(1, n // every + 1)
    # Euler-Maruyama freezes the orientation over a step: relative bias ~ D_r dt / 2
    _assert_within(r2.mean(1), r2.std(1) / np.sqrt(b), _abp_msd(t, v0, d_r, temperature), 5, 0.01)


def test_active_brownian_orientation_diffuses_with_rotational_diffusivity():
    b, d_r, t = 4000, 0.7, 2.0
    system = L.ActiveBrownian(speed=1.0, rotational_diffusion=d_r)
    x0 = jnp.zeros((b, 2))
    start = system.init(x0, key=jr.fold_in(jr.key(1), 2**32 - 1)).orientation
    res = L.simulate(system, x0, key=jr.key(1), dt=0.02, n_steps=100)
    dtheta = np.asarray(res.state.orientation - start)
    # initial angles are uniform in [0, 2 pi)
    assert 0 <= float(start.min()) and float(start.max()) < 2 * np.pi
    d2 = dtheta**2
    _assert_within(d2.mean(), d2.std() / np.sqrt(b), 2 * d_r * t)


def test_active_brownian_drift_is_self_propulsion_plus_mobility_times_force():
    system = L.ActiveBrownian(
        potential=lambda x: 0.5 * 3.0 * jnp.sum(x**2), speed=1.5, mobility=2.0, temperature=0.3
    )
    state = L.ActiveBrownianState(jnp.array([0.4, -1.0]), jnp.array(np.pi / 3))
    drift = system.drift(state, 0.0)
    expected = 1.5 * np.array([0.5, np.sqrt(3) / 2]) - 2.0 * 3.0 * np.array([0.4, -1.0])
    np.testing.assert_allclose(drift.x, expected, rtol=1e-12)
    assert float(drift.orientation) == 0.0
    amp = system.diffusion(state, 0.0)
    np.testing.assert_allclose(amp.x, np.sqrt(2 * 2.0 * 0.3))
    np.testing.assert_allclose(amp.orientation, np.sqrt(2.0))


def test_active_ou_msd_matches_exact_formula():
    tau, d_a, temperature = 0.5, 2.0, 0.2
    b, dt, n, every = 4000, 0.005, 400, 100
    system = L.ActiveOU(persistence_time=tau, active_diffusion=d_a, temperature=temperature)
    res = L.simulate(system, jnp.zeros((b, 2)), key=jr.key(2), dt=dt, n_steps=n, save_every=every)
    r2 = np.sum(np.asarray(res.trajectory[1:]) ** 2, axis=-1)
    t = dt * every * np.arange(1, n // every + 1)
    exact = 2 * _aoup_msd_per_dim(t, tau, d_a, temperature)
    # Euler-Maruyama propulsion variance is D_a/tau / (1 - dt/(2 tau)): bias ~ dt/(2 tau)
    _assert_within(r2.mean(1), r2.std(1) / np.sqrt(b), exact, 5, 0.01)


def test_active_ou_in_harmonic_trap_has_exact_stationary_variance():
    k, tau, d_a, temperature = 2.0, 0.5, 1.0, 0.3
    b = 4000
    system = L.ActiveOU(
        lambda x: 0.5 * k * jnp.sum(x**2),
        persistence_time=tau,
        active_diffusion=d_a,
        temperature=temperature,
    )
    res = L.simulate(system, jnp.zeros((b, 1)), key=jr.key(3), dt=0.005, n_steps=1200)
    x2 = np.asarray(res.x[:, 0]) ** 2
    exact = temperature / k + d_a / (k * (1 + k * tau))
    _assert_within(x2.mean(), x2.std() / np.sqrt(b), exact, 5, 0.01)


def test_active_ou_initial_propulsion_is_stationary():
    system = L.ActiveOU(persistence_time=jnp.array([0.5, 2.0]), active_diffusion=3.0)
    u = system.init(jnp.zeros((20000, 2, 3)), key=jr.key(4)).propulsion
    var = np.asarray(u).var(axis=(0, 2))
    np.testing.assert_allclose(var, [6.0, 1.5], rtol=0.05)


def test_active_systems_run_in_float32():
    x0 = jnp.zeros((64, 2), jnp.float32)
    for system in (L.ActiveBrownian(speed=1.0), L.ActiveOU()):
        res = L.simulate(system, x0, key=jr.key(5), dt=0.01, n_steps=20)
        assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(res.state))
        assert np.all(np.isfinite(res.x))


def test_active_brownian_gradient_with_respect_to_speed_is_pathwise_exact():
    # free ABP: x(t) = x0 + v0 * integral of e(theta) + noise, linear in v0 at a fixed key
    x0 = jnp.zeros((256, 2))

    def final_sum(v0):
        system = L.ActiveBrownian(speed=v0, rotational_diffusion=1.0, temperature=0.5)
        res = L.simulate(system, x0, key=jr.key(6), dt=0.01, n_steps=50)
        return jnp.sum(res.x[:, 0])

    grad = jax.jit(jax.grad(final_sum))(1.3)
    np.testing.assert_allclose(grad, (final_sum(1.3) - final_sum(0.0)) / 1.3, rtol=1e-8)


def test_active_brownian_speed_sweep_under_vmap_matches_single_runs():
    x0 = jnp.zeros((32, 2))

    def run(v0):
        system = L.ActiveBrownian(speed=v0, temperature=0.1)
        return L.simulate(system, x0, key=jr.key(7), dt=0.01, n_steps=30).x

    speeds = jnp.array([0.5, 2.0])
    swept = jax.jit(jax.vmap(run))(speeds)
    np.testing.assert_allclose(swept[1], run(2.0), rtol=1e-10, atol=1e-12)


def test_interacting_active_brownian_particles_with_per_particle_speed():
    box = L.Box((6.0, 6.0))
    energy = L.PairEnergy(L.SoftRepulsion(10.0, 1.0), L.CellList(box, 1.0, 16))
    speeds = jnp.linspace(0.0, 2.0, 16)
    system = L.ActiveBrownian(potential=energy, speed=speeds, temperature=0.1)
    x0 = jr.uniform(jr.key(8), (4, 16, 2)) * 6.0
    res = L.simulate(system, x0, key=jr.key(9), dt=0.01, n_steps=20)
    assert res.x.shape == (4, 16, 2) and res.state.orientation.shape == (4, 16)
    assert np.all(np.isfinite(res.x))


def test_active_parameters_are_validated():
    with pytest.raises(ValueError, match=r"\[b, \.\.\., 2\]"):
        L.simulate(L.ActiveBrownian(), jnp.zeros((4, 3)), key=jr.key(0), dt=0.1, n_steps=1)
    with pytest.raises(ValueError, match="speed"):
        L.ActiveBrownian(speed=-1.0)
    with pytest.raises(ValueError, match="rotational_diffusion"):
        L.ActiveBrownian(rotational_diffusion=0.0)
    with pytest.raises(ValueError, match="callable"):
        L.ActiveOU(temperature=lambda x: 1.0)
    with pytest.raises(ValueError, match="persistence_time"):
        L.ActiveOU(persistence_time=jnp.nan)
    with pytest.raises(ValueError, match="speed"):
        L.simulate(
            L.ActiveBrownian(speed=jnp.ones(3)),
            jnp.zeros((2, 4, 2)),
            key=jr.key(0),
            dt=0.1,
            n_steps=1,
        )


def test_traced_negative_active_diffusion_raises_under_jit():
    def run(d_a):
        system = L.ActiveOU(active_diffusion=d_a)
        return L.simulate(system, jnp.zeros((4, 1)), key=jr.key(0), dt=0.1, n_steps=2).x

    with pytest.raises(Exception, match="active_diffusion"):
        eqx.filter_jit(run)(jnp.asarray(-1.0)).block_until_ready()


def test_leimkuhler_matthews_gives_the_exact_stationary_propulsion_variance_of_aoup():
    # The propulsion u is an OU process with relaxation rate 1/tau and stationary variance
    # D_a/tau; Leimkuhler–Matthews keeps it exact at dt = 0.2 tau (the noise is additive),
    # where Euler–Maruyama gives D_a / (tau (1 - dt / (2 tau))), 11 % too wide.
    tau, d_a, dt, b = 1.0, 0.8, 0.2, 20_000
    system = jn.langevin.ActiveOU(persistence_time=tau, active_diffusion=d_a)
    x0 = jnp.zeros((b, 1))
    res = jn.langevin.simulate(
        system, x0, key=jr.key(50), dt=dt, n_steps=100, method="leimkuhler_matthews"
    )
    var = float(jnp.var(res.state.propulsion))
    exact = d_a / tau
    se = exact * np.sqrt(2 / (b - 1))
    assert abs(var - exact) < 5 * se, (var, exact, se)
    assert d_a / (tau * (1 - dt / (2 * tau))) - exact > 10 * se  # EM's value is excluded

"""Active Brownian and active Ornstein–Uhlenbeck particles against exact results."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from _stats import N_SE, assert_samples_match, assert_within_stderr, mean_and_stderr

import jaxneq as jn

L = jn.langevin


def _abp_msd(t, v0, d_r, d_t):
    return 4 * d_t * t + 2 * v0**2 / d_r**2 * (d_r * t - 1 + np.exp(-d_r * t))


def _abp_euler_maruyama_msd(n, dt, v0, d_r, d_t):
    """Exact MSD after n Euler–Maruyama steps of a free ABP in 2D.

    x_n = sum_{i<n} v0 e(theta_i) dt + thermal noise, with theta_i exact Brownian motion (the
    orientation noise is additive), so <e(theta_i).e(theta_j)> = exp(-D_r |i - j| dt).
    """
    lag = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    return 4 * d_t * n * dt + (v0 * dt) ** 2 * np.exp(-d_r * dt * lag).sum()


def _aoup_msd_per_dim(t, tau, d_a, d_t):
    return 2 * d_t * t + 2 * d_a * (t - tau * (1 - np.exp(-t / tau)))


def _aoup_euler_maruyama_msd_per_dim(n, dt, tau, d_a, d_t):
    """Exact MSD per dimension after n Euler–Maruyama steps of a free AOUP.

    u' = a u + s xi with a = 1 - dt/tau, s^2 = 2 D_a dt / tau^2, u_0 ~ N(0, D_a/tau) (the
    continuous stationary law that `init` draws), and x_n = sum_{i<n} u_i dt + thermal noise:
    Var u_i = a^{2i} V_0 + (1 - a^{2i}) V with V = s^2/(1 - a^2), and
    Cov(u_i, u_j) = a^{|i-j|} Var u_{min(i,j)}.
    """
    a, s2 = 1 - dt / tau, 2 * d_a * dt / tau**2
    v0, v = d_a / tau, s2 / (1 - a * a)
    i = np.arange(n)
    var = a ** (2 * i) * v0 + (1 - a ** (2 * i)) * v
    lo = np.minimum(i[:, None], i[None, :])
    cov = a ** np.abs(i[:, None] - i[None, :]) * var[lo]
    return 2 * d_t * n * dt + dt**2 * cov.sum()


def test_active_brownian_msd_matches_the_exact_euler_maruyama_value():
    v0, d_r, temperature = 2.0, 1.0, 0.1
    b, dt, n, every = 4000, 0.01, 400, 100
    system = L.ActiveBrownian(speed=v0, rotational_diffusion=d_r, temperature=temperature)
    res = L.simulate(system, jnp.zeros((b, 2)), key=jr.key(0), dt=dt, n_steps=n, save_every=every)
    r2 = np.sum(np.asarray(res.trajectory[1:]) ** 2, axis=-1).T  # [b, n_saved - 1]
    steps = every * np.arange(1, n // every + 1)
    exact = np.array([_abp_euler_maruyama_msd(k, dt, v0, d_r, temperature) for k in steps])
    assert_samples_match(r2, exact)
    # and the continuous closed form, allowing the scheme's exact time-step bias
    mean, se = mean_and_stderr(r2)
    continuous = _abp_msd(dt * steps, v0, d_r, temperature)
    assert_within_stderr(mean, se, continuous, bias=exact - continuous)


def test_active_brownian_orientation_diffuses_with_rotational_diffusivity():
    b, d_r, t = 4000, 0.7, 2.0
    system = L.ActiveBrownian(speed=1.0, rotational_diffusion=d_r)
    x0 = jnp.zeros((b, 2))
    start = system.init(x0, key=jr.fold_in(jr.key(1), 2**32 - 1)).orientation
    res = L.simulate(system, x0, key=jr.key(1), dt=0.02, n_steps=100)
    dtheta = np.asarray(res.state.orientation - start)
    # initial angles are uniform in [0, 2 pi)
    assert 0 <= float(start.min()) and float(start.max()) < 2 * np.pi
    # the orientation noise is additive: the increment is exactly N(0, 2 D_r t)
    assert_samples_match(dtheta**2, 2 * d_r * t)


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


def test_active_ou_msd_matches_the_exact_euler_maruyama_value():
    tau, d_a, temperature = 0.5, 2.0, 0.2
    b, dt, n, every = 4000, 0.005, 400, 100
    system = L.ActiveOU(persistence_time=tau, active_diffusion=d_a, temperature=temperature)
    res = L.simulate(system, jnp.zeros((b, 2)), key=jr.key(2), dt=dt, n_steps=n, save_every=every)
    r2 = np.sum(np.asarray(res.trajectory[1:]) ** 2, axis=-1).T  # [b, n_saved - 1]
    steps = every * np.arange(1, n // every + 1)
    exact = np.array(
        [2 * _aoup_euler_maruyama_msd_per_dim(k, dt, tau, d_a, temperature) for k in steps]
    )
    assert_samples_match(r2, exact)
    # and the continuous closed form, allowing the scheme's exact time-step bias
    mean, se = mean_and_stderr(r2)
    continuous = 2 * _aoup_msd_per_dim(dt * steps, tau, d_a, temperature)
    assert_within_stderr(mean, se, continuous, bias=exact - continuous)


def test_active_ou_in_harmonic_trap_has_exact_stationary_variance():
    k, tau, d_a, temperature = 2.0, 0.5, 1.0, 0.3
    b = 4000
    system = L.ActiveOU(
        lambda x: 0.5 * k * jnp.sum(x**2),
        persistence_time=tau,
        active_diffusion=d_a,
        temperature=temperature,
    )
    dt = 0.005
    res = L.simulate(system, jnp.zeros((b, 1)), key=jr.key(3), dt=dt, n_steps=1200)
    x2 = np.asarray(res.x[:, 0]) ** 2
    # (x, u) is linear: dx = -k x + u + noise, du = -u/tau + noise, D = (T, D_a/tau^2). The
    # exact Euler–Maruyama stationary variance; the memory of x0 = 0 and of the continuous
    # u-law of `init` decays as exp(-2 k t) = exp(-24) by t = 6, far below the error bar.
    A = jnp.array([[k, -1.0], [0.0, 1 / tau]])
    em = jn.models.linear_euler_maruyama_stationary(A, jnp.array([temperature, d_a / tau**2]), dt)
    assert_samples_match(x2, em["covariance"][0, 0])
    # and the continuous value T/k + D_a/(k (1 + k tau)), allowing that time-step bias
    exact = temperature / k + d_a / (k * (1 + k * tau))
    assert_within_stderr(*mean_and_stderr(x2), exact, bias=float(em["covariance"][0, 0]) - exact)


def test_active_ou_initial_propulsion_is_stationary():
    system = L.ActiveOU(persistence_time=jnp.array([0.5, 2.0]), active_diffusion=3.0)
    u = np.asarray(system.init(jnp.zeros((20000, 2, 3)), key=jr.key(4)).propulsion)
    samples = u.transpose(0, 2, 1).reshape(-1, 2) ** 2  # [60000, 2]: u^2 per particle
    assert_samples_match(samples, [6.0, 1.5])  # D_a / tau


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
    var, se = mean_and_stderr(np.asarray(res.state.propulsion[:, 0]) ** 2)  # the mean is 0
    exact = d_a / tau
    assert_within_stderr(var, se, exact)
    # the test resolves the effect: Euler–Maruyama's value lies outside twice the band
    assert d_a / (tau * (1 - dt / (2 * tau))) - exact > 2 * N_SE * se

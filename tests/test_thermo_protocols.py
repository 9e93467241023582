"""Protocols of `jaxneq.models` run through `simulate`, checked against exact results: the
dragged trap (mean and variance of the work, exact for the discretised chain too), the
stiffness change (Delta F from Jarzynski, BAR and MBAR), Landauer erasure and the Szilard
stroke (bounds T ln 2), the integral fluctuation theorem, gradients of the mean work and of
free-energy estimates through simulate against central differences, and the theory move
(the linear closed forms in `jn.thermo`, same objects as the `jn.models` aliases)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
from _stats import N_SE, assert_within_stderr, central_difference, mean_and_stderr

import jaxneq as jn

T = 1.0


def _work(system, x0, key, dt, n_steps):
    res = jn.langevin.simulate(
        system, x0, key=key, dt=dt, n_steps=n_steps, observables={"w": jn.observables.Work()}
    )
    return res.observables["w"], res.x


# ----------------------------------------------------------------- dragged trap


def _dragged_trap_discrete_work(k, v, mu, temperature, dt, n_steps, start=0.0):
    """Exact mean and variance of the work measured by `Work` (trapezoid in time) along the
    Euler–Maruyama chain x' = x + mu k (c + v t - x) dt + sqrt(2 mu T dt) xi of the dragged
    trap, from x0 ~ N(c, T/k). The work of step n is -k v dt ((x_n + x_{n+1})/2 - c - v t_mid),
    a linear functional of the Gaussian chain: W = const + sum_n w_n x_n."""
    r = 1 - mu * k * dt
    t = np.arange(n_steps + 1) * dt
    m = np.empty(n_steps + 1)
    m[0] = start
    for n in range(n_steps):
        m[n + 1] = r * m[n] + mu * k * dt * (start + v * t[n])
    t_mid = t[:-1] + dt / 2
    mean = np.sum(-k * v * dt * (0.5 * (m[:-1] + m[1:]) - start - v * t_mid))
    w = np.zeros(n_steps + 1)
    w[:-1] += -k * v * dt / 2
    w[1:] += -k * v * dt / 2
    # G_n: total derivative of W with respect to x_n (through all later x_m = r^(m-n) x_n + ...)
    g = np.zeros(n_steps + 1)
    acc = 0.0
    for n in range(n_steps, -1, -1):
        acc = w[n] + r * acc
        g[n] = acc
    var = g[0] ** 2 * temperature / k + np.sum(g[1:] ** 2) * 2 * mu * temperature * dt
    return mean, var


def _dragged_trap_ensemble(key, b, k=2.0, v=1.0, mu=0.5, dt=1e-2, n_steps=200, reverse=False):
    t_f = dt * n_steps
    start = v * t_f if reverse else 0.0
    system = jn.models.dragged_trap(k, -v if reverse else v, T, mu, start=start)
    k0, k1 = jax.random.split(key)
    x0 = start + jnp.sqrt(T / k) * jax.random.normal(k0, (b, 1))
    w, _ = _work(system, x0, k1, dt, n_steps)
    return np.asarray(w)


def test_dragged_trap_mean_and_variance_of_work_match_the_discrete_chain_and_closed_form():
    k, v, mu, dt, n_steps, b = 2.0, 1.0, 0.5, 1e-2, 200, 3000
    w = _dragged_trap_ensemble(jax.random.key(0), b, k, v, mu, dt, n_steps)
    mean_dt, var_dt = _dragged_trap_discrete_work(k, v, mu, T, dt, n_steps)
    m, se = mean_and_stderr(w)
    assert_within_stderr(m, se, mean_dt)
    var = w.var(ddof=1)
    assert_within_stderr(var, var_dt * np.sqrt(2 / (b - 1)), var_dt)
    # continuous time: <W> = gamma v^2 [t - tau (1 - e^(-t/tau))], Var W = 2 T <W>; the
    # discrete chain differs by O(dt): relative bias below mu k dt = 1 %.
    t, tau, gamma = dt * n_steps, 1 / (mu * k), 1 / mu
    exact = gamma * v**2 * (t - tau * (1 - np.exp(-t / tau)))
    assert abs(mean_dt - exact) <= mu * k * dt * exact
    assert abs(var_dt - 2 * T * exact) <= 2 * mu * k * dt * 2 * T * exact
    assert_within_stderr(m, se, exact, bias=mu * k * dt * exact)


def test_jarzynski_and_bar_recover_zero_free_energy_of_the_dragged_trap():
    w_f = _dragged_trap_ensemble(jax.random.key(1), 3000)
    w_r = _dragged_trap_ensemble(jax.random.key(2), 3000, reverse=True)
    exp = jn.thermo.jarzynski(w_f, T)
    assert_within_stderr(exp.value, exp.stderr, 0.0, bias=exp.bias)
    ba = jn.thermo.bar(w_f, w_r, T)
    assert_within_stderr(ba.value, ba.stderr, 0.0)


# ----------------------------------------------------------------- stiffness change


def _stiffness_ramp_mean_work(k0, k1, duration, mu, temperature):
    """<W> = int k'(t) <x^2>/2 dt with d<x^2>/dt = -2 mu k(t) <x^2> + 2 mu T (scipy)."""
    slope = (k1 - k0) / duration

    def rhs(t, y):
        s, _ = y
        return [-2 * mu * (k0 + slope * t) * s + 2 * mu * temperature, 0.5 * slope * s]

    sol = scipy.integrate.solve_ivp(
        rhs, (0, duration), [temperature / k0, 0.0], rtol=1e-10, atol=1e-12
    )
    return sol.y[1, -1]


def _stiffness_work(key, b, k0, k1, duration=1.0, mu=1.0, dt=2e-3):
    system = jn.models.stiffness_change(k0, k1, duration, T, mu)
    ka, kb = jax.random.split(key)
    x0 = jnp.sqrt(T / k0) * jax.random.normal(ka, (b, 1))
    w, _ = _work(system, x0, kb, dt, round(duration / dt))
    return np.asarray(w)


def test_stiffness_change_free_energy_from_jarzynski_bar_and_mbar():
    k0, k1, b = 1.0, 4.0, 2000
    exact = 0.5 * T * np.log(k1 / k0)
    w_f = _stiffness_work(jax.random.key(3), b, k0, k1)
    w_r = _stiffness_work(jax.random.key(4), b, k1, k0)
    # the mean work against the exact variance equation (time-step bias O(mu k dt) ~ 1 %)
    m, se = mean_and_stderr(w_f)
    mean_exact = _stiffness_ramp_mean_work(k0, k1, 1.0, 1.0, T)
    assert_within_stderr(m, se, mean_exact, bias=k1 * 2e-3 * mean_exact)
    assert m > exact  # second law
    exp = jn.thermo.jarzynski(w_f, T)
    assert_within_stderr(exp.value, exp.stderr, exact, bias=exp.bias)
    ba = jn.thermo.bar(w_f, w_r, T)
    assert_within_stderr(ba.value, ba.stderr, exact)
    # MBAR over the two path ensembles: reduced potentials differ by W/T along each path
    zeros = np.zeros(b)
    u_kn = np.stack([np.concatenate([zeros, w_r / T]), np.concatenate([w_f / T, zeros])])
    mb = jn.thermo.mbar(u_kn, np.array([b, b]))
    assert_within_stderr(T * mb.value[1], T * mb.stderr[1], exact)


def test_stiffness_change_accepts_a_schedule_and_keeps_its_end_points():
    def quadratic(u):
        return u**2

    system = jn.models.stiffness_change(1.0, 3.0, 2.0, schedule=quadratic)
    ramp = system.potential.fn
    np.testing.assert_allclose([ramp.stiffness(0.0), ramp.stiffness(1.0)], [1.0, 1.5])
    np.testing.assert_allclose([ramp.stiffness(2.0), ramp.stiffness(5.0)], [3.0, 3.0])


# ----------------------------------------------------------------- erasure and Szilard


def _double_well_equilibrium(key, b, barrier, dt, n_steps=500):
    """Equilibrium in the symmetric double well h (x^2 - 1)^2 (= h (x^4 - 2x^2) + h): one
    half of the members relaxed in each well (exact by symmetry; the barrier h >= 8 T keeps
    them there, Kramers time ~ e^8)."""
    ka, kb = jax.random.split(key)
    x0 = jnp.where(jax.random.bernoulli(ka, 0.5, (b, 1)), 1.0, -1.0)
    return jn.langevin.simulate(
        jn.models.double_well(barrier, temperature=T), x0, key=kb, dt=dt, n_steps=n_steps
    ).x


def _binary_entropy(p):
    p = np.clip(p, 1e-300, 1 - 1e-16)
    return -(p * np.log(p) + (1 - p) * np.log1p(-p))


def _erasure_works(durations, b, n_steps, key, reverse=False):
    """(mean work, stderr, final fraction in the left well) per duration; a fixed number of
    steps (dt = duration / n_steps) so that one compiled simulation serves every duration."""
    barrier, tilt = 8.0, 4.0
    factory = jn.models.szilard_engine if reverse else jn.models.bit_erasure
    out = []
    for i, duration in enumerate(durations):
        ka, kb = jax.random.split(jax.random.fold_in(key, i))
        x0 = _double_well_equilibrium(ka, b, barrier, 2e-3)
        if reverse:
            x0 = jnp.abs(x0)  # measured: the particle is in the right well
        dt = jnp.asarray(duration / n_steps)
        w, x = _work(factory(duration, barrier, tilt, T), x0, kb, dt, n_steps)
        out.append((*mean_and_stderr(w), float(np.mean(np.asarray(x) < 0))))
    return out


def _check_landauer(results):
    """<W> >= T [ln 2 - H(p_left)] (the generalised Landauer bound for a final occupation
    p_left of the erased state) and <W> decreases with the duration, within errors."""
    for mean, se, p_left in results:
        assert mean >= T * (np.log(2) - _binary_entropy(p_left)) - N_SE * se
    for (m1, s1, _), (m2, s2, _) in zip(results, results[1:], strict=False):
        assert m2 <= m1 + N_SE * np.hypot(s1, s2)


def test_bit_erasure_costs_at_least_T_ln_2_and_less_as_it_slows():
    results = _erasure_works((1.0, 3.0, 9.0), 500, 3000, jax.random.key(5))
    _check_landauer(results)
    assert results[-1][0] < results[0][0] - N_SE * np.hypot(results[-1][1], results[0][1])
    assert results[-1][2] < 0.05  # the slowest protocol erases the bit


@pytest.mark.slow
def test_bit_erasure_approaches_T_ln_2_for_slow_protocols():
    results = _erasure_works((8.0, 32.0, 128.0), 2000, 64_000, jax.random.key(6))
    _check_landauer(results)
    mean, se, _ = results[-1]
    # at duration 128 the mean work is within 0.05 T of T ln 2 (measured: 0.692 +- 0.009)
    assert abs(mean - T * np.log(2)) <= 0.05 * T + N_SE * se


def test_szilard_stroke_extracts_at_most_T_ln_2():
    # the work ON the particle is >= -T ln 2 and falls towards it as the stroke slows
    results = _erasure_works((1.0, 3.0, 9.0), 500, 3000, jax.random.key(7), reverse=True)
    for mean, se, _ in results:
        assert mean >= -T * np.log(2) - N_SE * se
    for (m1, s1, _), (m2, s2, _) in zip(results, results[1:], strict=False):
        assert m2 <= m1 + N_SE * np.hypot(s1, s2)
    assert results[-1][0] < 0  # net work extracted
    assert abs(results[-1][2] - 0.5) < 0.1  # the particle ends spread over both wells


# ----------------------------------------------------------------- integral fluctuation theorem


def test_integral_fluctuation_theorem_for_a_relaxing_trap():
    """<exp(-Sigma_tot)> = 1 with Sigma_tot = ln p_0(x_0) - ln p_t(x_t) + Sigma_medium,
    p_t the exact Gaussian density of the Euler–Maruyama chain from x_0 ~ N(m0, s0^2)."""
    k, mu, dt, n_steps, b = 1.0, 1.0, 1e-3, 1000, 4000
    m0, s0 = 0.5, 0.8
    ka, kb = jax.random.split(jax.random.key(8))
    x0 = m0 + s0 * jax.random.normal(ka, (b, 1))
    res = jn.langevin.simulate(
        jn.models.ornstein_uhlenbeck(k, T, mu),
        x0,
        key=kb,
        dt=dt,
        n_steps=n_steps,
        observables={"s": jn.observables.EntropyProduction()},
    )
    r = 1 - mu * k * dt
    m_t = m0 * r**n_steps
    var_t = s0**2 * r ** (2 * n_steps) + 2 * mu * T * dt * (1 - r ** (2 * n_steps)) / (1 - r**2)

    def log_gauss(x, m, v):
        return -0.5 * (x - m) ** 2 / v - 0.5 * np.log(2 * np.pi * v)

    x0n, xtn = np.asarray(x0)[:, 0], np.asarray(res.x)[:, 0]
    medium = np.asarray(res.observables["s"])
    sigma = log_gauss(x0n, m0, s0**2) - log_gauss(xtn, m_t, var_t) + medium
    mean, se = mean_and_stderr(np.exp(-sigma))
    assert_within_stderr(mean, se, 1.0)
    assert sigma.mean() > 0  # second law


# ----------------------------------------------------------------- gradients through simulate


def test_mean_work_gradient_wrt_protocol_values_matches_central_differences():
    """d<W>/d(values) through simulate's checkpointed adjoint (jumps at both ends included),
    against central differences with the same key (the same noise)."""
    times = jnp.linspace(0.0, 1.0, 5)
    key, b, dt, n_steps = jax.random.key(9), 32, 2e-2, 50
    x0 = jnp.sqrt(T) * jax.random.normal(jax.random.key(10), (b, 1))

    def mean_work(values):
        system = jn.models.trap_protocol(times, values, 1.0, T, initial=0.0, final=1.0)
        w, x = _work(system, x0, key, dt, n_steps)
        return jnp.mean(w + system.potential.fn.boundary_work(x0, x))

    values = jnp.array([0.2, 0.4, 0.5, 0.6, 0.8])
    grad = jax.grad(mean_work)(values)
    fd = central_difference(jax.jit(mean_work), values, h=1e-5)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_free_energy_estimate_gradient_wrt_stiffness_matches_central_differences():
    key, b, dt, n_steps = jax.random.key(11), 32, 2e-2, 50
    x0 = jax.random.normal(jax.random.key(12), (b, 1))

    def free_energy(k1):
        w, _ = _work(jn.models.stiffness_change(1.0, k1, 1.0, T), x0, key, dt, n_steps)
        return jn.thermo.jarzynski(w, T).value

    grad = jax.grad(free_energy)(2.0)
    fd = central_difference(jax.jit(free_energy), 2.0, h=1e-5)
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


# ----------------------------------------------------------------- theory


def test_optimal_trap_work_is_the_minimum_of_the_exact_mean_work_functional():
    import scipy.optimize

    lf, tf, k, mu = 1.5, 2.0, 2.0, 0.5
    times = np.linspace(0, tf, 41)

    @jax.jit
    def work_and_grad(values):
        def work(v):
            return jn.thermo.harmonic_trap_mean_work(times, v, k, mu, initial=0.0, final=lf)

        return jax.value_and_grad(work)(values)

    def fun(values):
        w, g = work_and_grad(jnp.asarray(values))
        return float(w), np.asarray(g)

    opt = scipy.optimize.minimize(fun, times / tf * lf, jac=True, method="BFGS", tol=1e-12)
    w_star = float(jn.thermo.optimal_trap_work(lf, tf, k, mu))
    assert abs(opt.fun - w_star) <= 1e-8 * w_star
    # the optimum protocol, jumps included (the grid values are the interior limits)
    inner = lf * (1 + mu * k * times) / (2 + mu * k * tf)
    np.testing.assert_allclose(opt.x, inner, atol=1e-5)
    interior = jn.thermo.optimal_trap_protocol(times[1:-1], lf, tf, k, mu)
    np.testing.assert_allclose(interior, inner[1:-1], rtol=1e-12)
    ends = jn.thermo.optimal_trap_protocol(np.array([0.0, tf]), lf, tf, k, mu)
    np.testing.assert_allclose(ends, [0.0, lf])
    # the optimum beats the linear protocol without jumps
    assert w_star < fun(times / tf * lf)[0]


def test_harmonic_trap_mean_work_of_a_constant_speed_protocol_is_the_dragged_trap_formula():
    v, tf, k, mu = 0.7, 3.0, 2.0, 0.5
    times = np.linspace(0, tf, 7)
    w = float(jn.thermo.harmonic_trap_mean_work(times, v * times, k, mu))
    tau = 1 / (mu * k)
    np.testing.assert_allclose(w, v**2 / mu * (tf - tau * (1 - np.exp(-tf / tau))), rtol=1e-12)


def test_theory_functions_work_under_jit_and_vmap():
    durations = jnp.array([0.5, 1.0, 4.0])
    batched = jax.jit(jax.vmap(jn.thermo.optimal_trap_work, in_axes=(None, 0)))(1.0, durations)
    looped = [jn.thermo.optimal_trap_work(1.0, d) for d in durations]
    np.testing.assert_allclose(batched, looped, rtol=1e-14)
    times = jnp.linspace(0.0, 1.0, 6)
    values = jnp.stack([times, times**2, jnp.sqrt(times)])
    batched = jax.jit(jax.vmap(jn.thermo.harmonic_trap_mean_work, in_axes=(None, 0)))(times, values)
    looped = [jn.thermo.harmonic_trap_mean_work(times, v) for v in values]
    np.testing.assert_allclose(batched, looped, rtol=1e-13)


def test_optimal_trap_work_limits():
    # instantaneous jump: k lf^2 / 2; slow: lf^2 / (mu tf)
    np.testing.assert_allclose(jn.thermo.optimal_trap_work(2.0, 1e-12, 3.0, 0.5), 6.0)
    np.testing.assert_allclose(
        jn.thermo.optimal_trap_work(2.0, 1e8, 3.0, 0.5), 4 / (0.5 * 1e8), rtol=1e-7
    )


def test_float32_smoke_for_protocols_and_theory():
    w = jn.thermo.optimal_trap_work(jnp.float32(1.0), jnp.float32(1.0))
    assert w.dtype == jnp.float32
    lam = jn.thermo.optimal_trap_protocol(jnp.linspace(0, 1, 5, dtype=jnp.float32), 1.0, 1.0)
    assert lam.dtype == jnp.float32
    times = jnp.linspace(0, 1, 5, dtype=jnp.float32)
    assert jn.thermo.harmonic_trap_mean_work(times, times).dtype == jnp.float32
    x = jnp.zeros((1,), jnp.float32)
    for system in (
        jn.models.trap_protocol(times, times),
        jn.models.stiffness_change(jnp.float32(1.0), jnp.float32(2.0)),
        jn.models.bit_erasure(jnp.float32(4.0)),
    ):
        assert system.potential_at(x, jnp.float32(0.5)).dtype == jnp.float32


def test_protocol_factories_name_bad_arguments():
    with pytest.raises(ValueError, match="`k1`"):
        jn.models.stiffness_change(1.0, -1.0)
    with pytest.raises(ValueError, match="`duration`"):
        jn.models.bit_erasure(duration=0.0)
    with pytest.raises(ValueError, match="`values`"):
        jn.models.trap_protocol(jnp.linspace(0, 1, 3), jnp.zeros(4))
    with pytest.raises(ValueError, match="`times`"):
        jn.models.trap_protocol(jnp.zeros(1), jnp.zeros(1))


def test_linear_theory_lives_in_thermo_and_models_keeps_the_same_objects():
    for name in (
        "linear_coefficients",
        "linear_entropy_production_rate",
        "linear_heat_rates",
        "linear_stationary_covariance",
        "linear_stationary_samples",
        "linear_current_circulation",
        "linear_euler_maruyama_stationary",
        "linear_stationary_current",
        "linear_stationary_density",
    ):
        assert getattr(jn.models, name) is getattr(jn.thermo, name), name

"""simulate() against exact results: Ornstein–Uhlenbeck moments, equipartition, stationary
densities in a temperature field; and its engineering: bitwise chunk/checkpoint invariance,
trajectories, divergence reports, validation, jit/vmap/grad, float32.

Statistical tests: fixed keys, independent ensemble members, tolerance N_SE standard errors
(plus, where stated, the known discretisation bias).
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from _stats import N_SE, assert_pytrees_bitwise_equal, central_difference, mean_and_stderr
from scipy import integrate

import jaxneq as jn
from jaxneq.langevin import _driver


def harmonic(x):
    return 0.5 * jnp.sum(x**2)


@functools.lru_cache
def _quadratic(k):
    return lambda x: 0.5 * k * jnp.sum(x**2)


def _ou(k=1.0, T=0.5):
    # one potential function per k: compiled chunks are reused across tests and temperatures
    return jn.langevin.Overdamped(_quadratic(k), temperature=T)


def _em_ou_moments(x0, k, T, dt, n):
    """Exact mean and variance of Euler–Maruyama for dx = -k x dt + sqrt(2T) dW after n
    steps from x0 (the transient: `jn.models.linear_euler_maruyama_stationary` gives only
    the n -> infinity limit, so it does not replace this)."""
    a = 1.0 - k * dt
    mean = x0 * a**n
    var = 2.0 * T * dt * sum(a ** (2 * j) for j in range(n))
    return mean, var


# --------------------------------------------------------------------------------------
# physics


def test_ornstein_uhlenbeck_mean_and_variance_relax_as_the_exact_euler_maruyama_moments():
    k, T, dt, n, b, x0 = 2.0, 0.7, 0.01, 60, 40_000, 1.5
    res = jn.langevin.simulate(_ou(k, T), jnp.full((b, 1), x0), key=jr.key(0), dt=dt, n_steps=n)
    x = np.asarray(res.x[:, 0])
    mean, var = _em_ou_moments(x0, k, T, dt, n)
    assert abs(x.mean() - mean) < N_SE * np.sqrt(var / b)
    assert abs(x.var(ddof=1) - var) < N_SE * var * np.sqrt(2.0 / (b - 1))
    # and the continuous-time formula, up to the O(dt) bias of the scheme
    t = n * dt
    exact_mean, exact_var = x0 * np.exp(-k * t), T / k * (1 - np.exp(-2 * k * t))
    assert abs(mean - exact_mean) < 2 * k * dt * abs(exact_mean)
    assert abs(var - exact_var) < 2 * k * dt * exact_var


def test_heun_ornstein_uhlenbeck_variance_matches_its_exact_discrete_recursion():
    k, T, dt, n, b = 1.0, 1.0, 0.05, 40, 40_000
    res = jn.langevin.simulate(
        _ou(k, T), jnp.zeros((b, 1)), key=jr.key(1), dt=dt, n_steps=n, method="heun"
    )
    # Heun on a linear SDE: x' = a x + c xi with a = 1 - k dt + (k dt)^2 / 2,
    # c = sqrt(2 T dt) (1 - k dt / 2)
    a = 1 - k * dt + (k * dt) ** 2 / 2
    c2 = 2 * T * dt * (1 - k * dt / 2) ** 2
    var = c2 * sum(a ** (2 * j) for j in range(n))
    x = np.asarray(res.x[:, 0])
    assert abs(x.var(ddof=1) - var) < N_SE * var * np.sqrt(2.0 / (b - 1))


def test_underdamped_harmonic_trap_has_maxwell_boltzmann_velocities_and_boltzmann_positions():
    kappa, T, m, b = 2.0, 1.5, 2.0, 40_000
    system = jn.langevin.Underdamped(
        lambda x: 0.5 * kappa * jnp.sum(x**2), temperature=T, mass=m, friction=1.0
    )
    x0 = jnp.sqrt(T / kappa) * jr.normal(jr.key(2), (b, 1))
    res = jn.langevin.simulate(system, x0, key=jr.key(3), dt=0.05, n_steps=200)
    x, v = np.asarray(res.state.x[:, 0]), np.asarray(res.state.v[:, 0])
    var_x, var_v = T / kappa, T / m
    se = np.sqrt(2.0 / (b - 1))
    # BAOAB samples harmonic positions exactly; full-step velocities carry an O(dt^2) bias
    # (relative kappa dt^2 / (4 m) = 6e-4 here)
    assert abs(x.var(ddof=1) - var_x) < N_SE * var_x * se
    assert abs(v.var(ddof=1) - var_v) < N_SE * var_v * se + var_v * kappa * 0.05**2 / (4 * m)
    assert abs(np.mean(x * v)) < N_SE * np.sqrt(var_x * var_v / b)


def _field_density(edges, alpha):
    """p ∝ T^(alpha-1) exp(-∫ U'/T) for U = x^2/2, T = 1 + tanh(x)/2, by quadrature,
    restricted to the range of `edges` and normalised there."""
    grid = np.linspace(-8, 8, 20001)
    T = 1 + 0.5 * np.tanh(grid)
    phi = integrate.cumulative_trapezoid(grid / T, grid, initial=0)
    weight = T ** (alpha - 1) * np.exp(-(phi - phi.min()))
    cdf = integrate.cumulative_trapezoid(weight, grid, initial=0)
    mass = np.diff(np.interp(edges, grid, cdf))
    return mass / mass.sum() / np.diff(edges)


@pytest.mark.parametrize(
    "convention,alpha", [("ito", 0.0), ("stratonovich", 0.5), ("isothermal", 1.0)]
)
def test_temperature_field_histogram_matches_the_stationary_density_of_the_convention(
    convention, alpha
):
    system = jn.langevin.Overdamped(
        harmonic, temperature=lambda x: 1.0 + 0.5 * jnp.tanh(x[0]), convention=convention
    )
    edges = np.linspace(-3.0, 3.0, 25)
    groups, b, dt, n_steps, burn_in = 8, 500, 0.01, 1500, 500
    x0 = jr.normal(jr.key(4), (groups, b, 1))
    keys = jr.split(jr.key(5), groups)

    # independent sub-ensembles (vmap over x0 and key) give the spread of the estimate
    @jax.jit
    @jax.vmap
    def histograms(x0, key):
        obs = {"p": jn.observables.Histogram(edges, burn_in=burn_in)}
        res = jn.langevin.simulate(system, x0, key=key, dt=dt, n_steps=n_steps, observables=obs)
        return res.observables["p"]

    h = np.asarray(histograms(x0, keys))
    mean, se = mean_and_stderr(h)
    exact = _field_density(edges, alpha)
    # N_SE standard errors plus an allowance of 1 % of the peak for the O(dt) bias of
    # Euler–Maruyama (measured ~0.4 % at dt = 0.01)
    tol = N_SE * se + 0.01 * exact.max()
    assert np.all(np.abs(mean - exact) < tol), np.max(np.abs(mean - exact) / tol)
    # the conventions are distinguishable at this accuracy
    for other in (0.0, 0.5, 1.0):
        if other != alpha:
            assert np.max(np.abs(mean - _field_density(edges, other)) - tol) > 0


# --------------------------------------------------------------------------------------
# engineering: invariances and outputs


_UNDERDAMPED = jn.langevin.Underdamped(
    lambda x: jnp.sum((x**2 - 1) ** 2), temperature=lambda x: 1 + 0.2 * jnp.sin(x[0])
)
_UNDERDAMPED_OBSERVABLES = {
    "x2": jn.observables.Mean(lambda x: x**2, burn_in=7),
    "p": jn.observables.Histogram(jnp.linspace(-2, 2, 9)),
}


def _underdamped_run(**kwargs):
    x0 = jr.normal(jr.key(6), (16, 1))
    return jn.langevin.simulate(
        _UNDERDAMPED,
        x0,
        key=jr.key(7),
        dt=0.02,
        n_steps=60,
        observables=_UNDERDAMPED_OBSERVABLES,
        save_every=5,
        **kwargs,
    )


def test_results_are_bitwise_independent_of_chunk_size():
    whole = _underdamped_run()
    for chunk_size in (15, 35):  # 35: chunks of 7 blocks, the last one shorter
        assert_pytrees_bitwise_equal(whole, _underdamped_run(chunk_size=chunk_size))


def test_trajectory_holds_the_initial_positions_then_every_save_every_steps():
    system = _ou()
    x0 = jr.normal(jr.key(8), (6, 2, 1))
    fine = jn.langevin.simulate(system, x0, key=jr.key(9), dt=0.01, n_steps=30, save_every=1)
    coarse = jn.langevin.simulate(system, x0, key=jr.key(9), dt=0.01, n_steps=30, save_every=10)
    none = jn.langevin.simulate(system, x0, key=jr.key(9), dt=0.01, n_steps=30)
    assert none.trajectory is None
    assert fine.trajectory.shape == (31, 6, 2, 1)
    assert coarse.trajectory.shape == (4, 6, 2, 1)
    np.testing.assert_array_equal(coarse.trajectory[0], x0)
    np.testing.assert_array_equal(coarse.trajectory[-1], coarse.x)
    np.testing.assert_allclose(coarse.trajectory, fine.trajectory[::10], rtol=1e-14, atol=0)
    np.testing.assert_allclose(none.x, coarse.x, rtol=1e-14, atol=0)


def test_zero_steps_return_the_initial_state():
    x0 = jnp.ones((3, 1))
    res = jn.langevin.simulate(_ou(), x0, key=jr.key(0), dt=0.1, n_steps=0, save_every=1)
    np.testing.assert_array_equal(res.x, x0)
    assert res.trajectory.shape == (1, 3, 1)


def test_time_dependent_force_sees_t0_plus_step_times_dt():
    # deterministic drift f(x, t) = t (T tiny): x_n = sum_k (t0 + k dt) dt
    system = jn.langevin.Overdamped(
        force=jn.langevin.TimeDependent(lambda x, t: jnp.full_like(x, t)), temperature=1e-30
    )
    t0, dt, n = 2.0, 0.1, 7
    res = jn.langevin.simulate(system, jnp.zeros((2, 1)), key=jr.key(0), dt=dt, n_steps=n, t0=t0)
    expected = sum((t0 + k * dt) * dt for k in range(n))
    np.testing.assert_allclose(res.x, expected, rtol=1e-12)


def test_progress_prints_rate_and_eta_to_stderr(capsys):
    jn.langevin.simulate(
        _ou(), jnp.zeros((4, 1)), key=jr.key(0), dt=0.01, n_steps=40, chunk_size=10, progress=True
    )
    err = capsys.readouterr().err
    assert "40/40" in err and "steps/s" in err and "ETA" in err


# --------------------------------------------------------------------------------------
# checkpoints


def test_interrupted_run_resumes_from_its_checkpoint_bitwise(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    reference = _underdamped_run()

    real_save = _driver.save_checkpoint
    calls = []

    def crash_after_two(p, tree, meta):
        real_save(p, tree, meta)
        calls.append(meta["step"])
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated interruption")

    monkeypatch.setattr(_driver, "save_checkpoint", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        _underdamped_run(chunk_size=10, checkpoint=path)
    monkeypatch.setattr(_driver, "save_checkpoint", real_save)
    assert calls == [10, 20]

    starts = []
    real_chunk = _driver.run_chunk

    def spy(problem, carry, *args):
        starts.append(int(carry.k))
        return real_chunk(problem, carry, *args)

    monkeypatch.setattr(_driver, "run_chunk", spy)
    resumed = _underdamped_run(chunk_size=25, checkpoint=path)
    assert starts[0] == 20  # picked up where it stopped
    assert_pytrees_bitwise_equal(reference, resumed)

    starts.clear()
    finished = _underdamped_run(checkpoint=path)  # a finished checkpoint: no steps at all
    assert starts == []
    assert_pytrees_bitwise_equal(reference, finished)


def test_checkpoint_of_another_run_raises_naming_the_difference(tmp_path):
    path = tmp_path / "run.npz"
    system = _ou()
    x0 = jnp.zeros((4, 1))
    jn.langevin.simulate(system, x0, key=jr.key(0), dt=0.01, n_steps=20, checkpoint=path)
    with pytest.raises(ValueError, match="dt=0.01"):
        jn.langevin.simulate(system, x0, key=jr.key(0), dt=0.02, n_steps=20, checkpoint=path)
    with pytest.raises(ValueError, match="key"):
        jn.langevin.simulate(system, x0, key=jr.key(1), dt=0.01, n_steps=20, checkpoint=path)
    with pytest.raises(ValueError, match="fingerprint"):
        jn.langevin.simulate(_ou(T=0.6), x0, key=jr.key(0), dt=0.01, n_steps=20, checkpoint=path)


def test_checkpoint_under_jit_raises():
    with pytest.raises(ValueError, match="checkpoint.*eager"):
        jax.jit(
            lambda x0: (
                jn.langevin.simulate(
                    _ou(), x0, key=jr.key(0), dt=0.01, n_steps=2, checkpoint="never.npz"
                ).x
            )
        )(jnp.zeros((2, 1)))


# --------------------------------------------------------------------------------------
# divergence and validation


def _exploding_system():
    # member 3 starts at 45.05 and moves by +1 per step (dt = 1, negligible noise); the
    # force is NaN beyond x = 50, first reached after step 4, so step 5 produces NaN.
    return jn.langevin.Overdamped(
        force=lambda x: jnp.where(x > 50.0, jnp.nan, 1.0), temperature=1e-30
    )


def _exploding_x0():
    return jnp.zeros((6, 1)).at[3, 0].set(45.05)


def test_divergence_raises_floating_point_error_naming_member_and_step():
    with pytest.raises(FloatingPointError) as info:
        jn.langevin.simulate(
            _exploding_system(), _exploding_x0(), key=jr.key(0), dt=1.0, n_steps=20, chunk_size=3
        )
    message = str(info.value)
    assert "member 3" in message and "step 5" in message and "smaller dt" in message


def test_divergence_under_jit_raises():
    run = jax.jit(
        lambda x0: (
            jn.langevin.simulate(_exploding_system(), x0, key=jr.key(0), dt=1.0, n_steps=20).x
        )
    )
    with pytest.raises(Exception, match="non-finite"):
        jax.block_until_ready(run(_exploding_x0()))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(x0=jnp.zeros(4)), "x0.*\\[b, \\*event\\].*x0\\[:, None\\]"),
        (dict(x0=jnp.zeros((2, 1)).at[1, 0].set(jnp.nan)), "x0.*member 1"),
        (dict(dt=0.0), "dt.*> 0"),
        (dict(dt=-0.1), "dt.*> 0"),
        (dict(n_steps=-1), "n_steps"),
        (dict(n_steps=10.0), "n_steps"),
        (dict(save_every=3), "save_every.*divide"),
        (dict(save_every=0), "save_every"),
        (dict(chunk_size=0), "chunk_size"),
        (dict(method="rk4"), "method.*euler_maruyama"),
        (dict(method="baoab"), "baoab.*Underdamped"),
        (dict(key=jr.split(jr.key(0), 4)), "key.*ONE key"),
        (dict(observables={"m": jn.observables.Mean(burn_in=10)}), "burn_in=10 >= n_steps"),
        (dict(observables=[jn.observables.Mean()]), "observables.*dict"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, match):
    args = dict(x0=jnp.zeros((2, 1)), key=jr.key(0), dt=0.01, n_steps=10)
    args.update(kwargs)
    x0 = args.pop("x0")
    with pytest.raises(ValueError, match=match):
        jn.langevin.simulate(_ou(), x0, **args)


def test_temperature_that_does_not_broadcast_to_the_event_shape_raises():
    system = jn.langevin.Overdamped(harmonic, temperature=jnp.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="temperature.*broadcast"):
        jn.langevin.simulate(system, jnp.zeros((4, 2)), key=jr.key(0), dt=0.01, n_steps=1)


# --------------------------------------------------------------------------------------
# transformations and dtypes


def test_jit_gives_the_eager_numbers():
    system, x0 = _ou(), jr.normal(jr.key(10), (8, 1))
    kwargs = dict(key=jr.key(11), dt=0.01, n_steps=50, save_every=10)
    eager = jn.langevin.simulate(system, x0, **kwargs)
    jitted = jax.jit(lambda x0: jn.langevin.simulate(system, x0, **kwargs))(x0)
    np.testing.assert_allclose(jitted.x, eager.x, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(jitted.trajectory, eager.trajectory, rtol=1e-12, atol=1e-14)


def test_vmap_over_a_batched_temperature_matches_separate_runs():
    x0 = jnp.zeros((64, 1))
    temperatures = jnp.array([0.5, 1.0, 2.0])

    def final_x(T):
        return jn.langevin.simulate(_ou(T=T), x0, key=jr.key(12), dt=0.01, n_steps=40).x

    swept = jax.vmap(final_x)(temperatures)
    for i, T in enumerate(temperatures):
        np.testing.assert_allclose(swept[i], final_x(float(T)), rtol=1e-12, atol=1e-14)
    # common random numbers: x scales as sqrt(T)
    np.testing.assert_allclose(swept[2], swept[0] * 2.0, rtol=1e-12)


def test_pathwise_gradient_of_mean_square_displacement_matches_ou_formula():
    k, T, dt, n, b = 1.0, 0.8, 0.01, 100, 20_000

    def msd(T):
        res = jn.langevin.simulate(_ou(k, T), jnp.zeros((b, 1)), key=jr.key(13), dt=dt, n_steps=n)
        return jnp.mean(res.x**2)

    value, grad = jax.value_and_grad(msd)(T)
    # x is linear in sqrt(T) for common noise: d<x^2>/dT = <x^2>/T exactly, path by path
    np.testing.assert_allclose(grad, value / T, rtol=1e-10)
    # and its expectation is Var/T of Euler–Maruyama
    _, var = _em_ou_moments(0.0, k, T, dt, n)
    assert abs(grad - var / T) < N_SE * (var / T) * np.sqrt(2.0 / b)


def test_float32_smoke():
    system = jn.langevin.Underdamped(harmonic, temperature=1.0)
    x0 = jnp.zeros((256, 2), jnp.float32)
    obs = {
        "x2": jn.observables.Mean(lambda x: x**2),
        "p": jn.observables.Histogram((jnp.linspace(-3, 3, 7, dtype=jnp.float32),) * 2),
    }
    res = jn.langevin.simulate(
        system,
        x0,
        key=jr.key(14),
        dt=jnp.float32(0.05),
        n_steps=100,
        observables=obs,
        save_every=50,
    )
    for leaf in (res.x, res.state.v, res.trajectory, res.observables["x2"], res.observables["p"]):
        assert leaf.dtype == jnp.float32
        assert np.all(np.isfinite(np.asarray(leaf)))
    assert res.trajectory.shape == (3, 256, 2)
    assert res.observables["p"].shape == (6, 6)
    over = jn.langevin.simulate(_ou(), x0, key=jr.key(15), dt=0.01, n_steps=20, method="heun")
    assert over.x.dtype == jnp.float32


# --------------------------------------------------------------------------------------
# traced or eager: decided from the arguments, public JAX only


def test_simulate_inside_jit_vmap_and_grad_gives_the_eager_numbers():
    x0 = jr.normal(jr.key(20), (8, 1))
    kwargs = dict(key=jr.key(21), dt=0.01, n_steps=30)

    def final_x(k):  # the system closes over k: traced under vmap/grad, concrete eagerly
        system = jn.langevin.Overdamped(lambda x: 0.5 * k * jnp.sum(x**2), temperature=0.5)
        return jn.langevin.simulate(system, x0, **kwargs).x

    # (not bitwise: eagerly k is a compile-time constant that XLA may fold)
    ks = jnp.array([0.5, 2.0])
    eager = [final_x(float(k)) for k in ks]
    close = dict(rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(jax.jit(final_x)(ks[1]), eager[1], **close)
    swept = jax.vmap(final_x)(ks)
    for i in range(2):
        np.testing.assert_allclose(swept[i], eager[i], **close)
    # under grad the closed-over k is a tracer hidden in a closure: found, traced path taken
    grad = jax.grad(lambda k: jnp.sum(final_x(k)))(1.0)
    reference = central_difference(lambda k: jnp.sum(final_x(k[0])), np.array([1.0]))[0]
    np.testing.assert_allclose(grad, reference, rtol=1e-6)


def test_tracer_hidden_in_a_partial_or_default_argument_selects_the_traced_path():
    import functools as ft

    def potential(x, k):
        return 0.5 * k * jnp.sum(x**2)

    def run(k, how):
        fn = ft.partial(potential, k=k) if how == "partial" else (lambda x, k=k: potential(x, k))
        system = jn.langevin.Overdamped(fn)
        x0 = jnp.ones((2, 1))
        return jnp.sum(jn.langevin.simulate(system, x0, key=jr.key(0), dt=0.01, n_steps=5).x)

    for how in ("partial", "default"):
        assert np.isfinite(jax.grad(run)(1.0, how))


# --------------------------------------------------------------------------------------
# integrators with auxiliary state


class _PreviousNoiseScheme(jn.langevin.AbstractIntegrator):
    """Test-local integrator with aux: the Leimkuhler–Matthews overdamped step
    x' = x + a dt + b sqrt(dt) (xi_prev + xi) / 2, carrying xi to the next step."""

    def init(self, system, state, key):
        del system
        return jr.normal(key, state.shape, state.dtype)

    def step(self, system, state, aux, t, dt, key):
        xi = jr.normal(key, state.shape, state.dtype)
        a = jax.vmap(system.drift, in_axes=(0, None))(state, t)
        b = jax.vmap(system.diffusion, in_axes=(0, None))(state, t)
        return state + a * dt + b * jnp.sqrt(dt) * 0.5 * (aux + xi), xi


class _SeesOnlyPositions(eqx.Module):
    """A user observable that records the shape and type of what it is given."""

    def init(self, state, system):
        assert isinstance(state, jax.Array) and isinstance(system, jn.langevin.AbstractSystem)
        return jnp.zeros(state.shape, state.dtype)

    def update(self, acc, before, after, system, t, dt):
        assert isinstance(after, jax.Array) and after.shape == before.shape == acc.shape
        return acc + after

    def finalise(self, acc, n_steps, dt):
        return acc / n_steps


def test_integrator_with_aux_state_takes_its_first_noise_from_the_aux_stream():
    system, key, dt = _ou(k=1.0, T=0.5), jr.key(30), 0.01
    x0 = jr.normal(jr.key(31), (5, 1))
    res = jn.langevin.simulate(system, x0, key=key, dt=dt, n_steps=1, method=_PreviousNoiseScheme())
    xi0 = jr.normal(jr.fold_in(key, 2**32 - 2), x0.shape)
    xi1 = jr.normal(jr.fold_in(key, 0), x0.shape)
    expected = x0 - x0 * dt + np.sqrt(2 * 0.5) * np.sqrt(dt) * 0.5 * (xi0 + xi1)
    np.testing.assert_allclose(res.x, expected, rtol=1e-13, atol=1e-15)


def test_integrator_aux_is_carried_checkpointed_and_hidden_from_observables(tmp_path, monkeypatch):
    x0 = jr.normal(jr.key(32), (6, 1))
    kwargs = dict(
        key=jr.key(33),
        dt=0.01,
        n_steps=40,
        method=_PreviousNoiseScheme(),
        observables={"m": _SeesOnlyPositions()},
    )
    reference = jn.langevin.simulate(_ou(), x0, **kwargs)
    jitted = jax.jit(lambda x0: jn.langevin.simulate(_ou(), x0, **kwargs))(x0)
    if jax.default_backend() == "cpu":
        assert_pytrees_bitwise_equal(
            (reference.x, reference.observables), (jitted.x, jitted.observables)
        )
    else:  # two compiled programs: XLA:GPU may contract a * b + c differently (1 ulp seen)
        for a, b in zip(
            jax.tree.leaves((reference.x, reference.observables)),
            jax.tree.leaves((jitted.x, jitted.observables)),
            strict=True,
        ):
            np.testing.assert_allclose(a, b, rtol=8 * np.finfo(a.dtype).eps, atol=0)

    path = tmp_path / "aux.npz"
    real_save, calls = _driver.save_checkpoint, []

    def crash_after_two(p, tree, meta):
        real_save(p, tree, meta)
        calls.append(meta["step"])
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated interruption")

    monkeypatch.setattr(_driver, "save_checkpoint", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        jn.langevin.simulate(_ou(), x0, chunk_size=10, checkpoint=path, **kwargs)
    monkeypatch.setattr(_driver, "save_checkpoint", real_save)
    resumed = jn.langevin.simulate(_ou(), x0, chunk_size=10, checkpoint=path, **kwargs)
    assert_pytrees_bitwise_equal(
        (reference.x, reference.observables), (resumed.x, resumed.observables)
    )


# --------------------------------------------------------------------------------------
# a diverging member of a vmapped batch of systems


def _final_x_with_threshold(threshold):
    # member 3 walks +1 per step from 45.05; the force is NaN beyond `threshold`
    system = jn.langevin.Overdamped(
        force=lambda x: jnp.where(x > threshold, jnp.nan, 1.0), temperature=1e-30
    )
    return jn.langevin.simulate(system, _exploding_x0(), key=jr.key(0), dt=1.0, n_steps=20).x


def test_diverging_member_of_a_vmapped_batch_raises_naming_the_ensemble_member():
    thresholds = jnp.array([1e3, 50.0, 1e3])
    with pytest.raises(Exception, match="member 3 \\(of 6\\) became non-finite"):
        jax.block_until_ready(jax.vmap(_final_x_with_threshold)(thresholds))


def test_with_eqx_on_error_nan_only_the_diverged_batch_element_becomes_nan(monkeypatch):
    monkeypatch.setenv("EQX_ON_ERROR", "nan")
    thresholds = jnp.array([1e3, 50.0, 1e3])
    out = np.asarray(jax.jit(jax.vmap(_final_x_with_threshold))(thresholds))
    assert np.all(np.isnan(out[1]))
    assert np.all(np.isfinite(out[[0, 2]]))

"""Systems and integrator steps against closed forms and hand-written updates."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import jaxneq as jn
from jaxneq.langevin import INTEGRATORS, baoab, euler_maruyama, heun


def harmonic(x):
    return 0.5 * jnp.sum(x**2)


def T_field(x):
    return 1.0 + 0.5 * jnp.tanh(x[0])


@pytest.mark.parametrize(
    "convention,alpha", [("ito", 0.0), ("stratonovich", 0.5), ("isothermal", 1.0)]
)
def test_overdamped_drift_is_mobility_force_plus_alpha_mobility_grad_temperature(convention, alpha):
    mu = 0.7
    system = jn.langevin.Overdamped(
        harmonic, temperature=T_field, mobility=mu, convention=convention
    )
    x = jnp.array([0.3])
    grad_T = 0.5 * (1 - np.tanh(0.3) ** 2)
    np.testing.assert_allclose(system.drift(x, 0.0), mu * (-0.3) + alpha * mu * grad_T)
    np.testing.assert_allclose(
        system.stratonovich_drift(x, 0.0), mu * (-0.3) + (alpha - 0.5) * mu * grad_T
    )
    np.testing.assert_allclose(system.diffusion(x, 0.0), np.sqrt(2 * mu * T_field(x)))


def test_overdamped_drift_of_a_vector_field_uses_the_diagonal_of_its_jacobian():
    # T_i(x) = 1 + x_0^2 + 2 x_1^2 (same for both dofs): d_i T_i = (2 x_0, 4 x_1)
    system = jn.langevin.Overdamped(
        temperature=lambda x: jnp.full(2, 1 + x[0] ** 2 + 2 * x[1] ** 2), convention="isothermal"
    )
    x = jnp.array([0.5, -0.25])
    np.testing.assert_allclose(system.drift(x, 0.0), [1.0, -1.0])


def test_plain_callables_are_static_and_time_dependent_ones_see_the_time():
    x = jnp.array([1.0, 2.0])
    static = jn.langevin.Overdamped(harmonic, force=lambda x: 2 * x)
    moving = jn.langevin.Overdamped(
        jn.langevin.TimeDependent(lambda x, t: 0.5 * jnp.sum((x - t) ** 2)),
        force=jn.langevin.TimeDependent(lambda x, t: t),
    )
    np.testing.assert_allclose(static.total_force(x, 5.0), -x + 2 * x)
    np.testing.assert_allclose(moving.total_force(x, 3.0), -(x - 3.0) + 3.0)
    np.testing.assert_allclose(jn.langevin.Overdamped().total_force(x), 0.0)


def test_per_particle_temperatures_broadcast_over_the_event_shape():
    system = jn.langevin.Overdamped(temperature=jnp.array([[1.0], [4.0]]))
    x = jnp.zeros((2, 3))
    np.testing.assert_allclose(system.temperature_at(x), [[1.0] * 3, [4.0] * 3])
    np.testing.assert_allclose(system.diffusion(x, 0.0), [[np.sqrt(2)] * 3, [np.sqrt(8)] * 3])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(temperature=-1.0), "temperature.*> 0"),
        (dict(temperature=jnp.array([1.0, jnp.nan])), "temperature.*finite"),
        (dict(mobility=0.0), "mobility.*> 0"),
        (dict(convention="ito-ish"), "convention.*stratonovich"),
        (dict(potential=3.0), "potential.*callable"),
    ],
)
def test_bad_overdamped_parameters_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jn.langevin.Overdamped(**kwargs)


def test_bad_underdamped_parameters_raise_value_error():
    with pytest.raises(ValueError, match="mass.*> 0"):
        jn.langevin.Underdamped(mass=0.0)
    with pytest.raises(ValueError, match="friction.*callable"):
        jn.langevin.Underdamped(friction=lambda x: 1.0)


def test_traced_negative_temperature_is_caught_under_jit():
    def run(T):
        system = jn.langevin.Overdamped(harmonic, temperature=T)
        return jn.langevin.simulate(system, jnp.zeros((2, 1)), key=jr.key(0), dt=0.1, n_steps=2).x

    assert np.all(np.isfinite(jax.jit(run)(1.0)))
    with pytest.raises(Exception, match="temperature"):
        jax.block_until_ready(jax.jit(run)(-1.0))


def test_underdamped_init_draws_maxwell_boltzmann_velocities_at_the_local_temperature():
    b, m = 40_000, 2.0
    system = jn.langevin.Underdamped(temperature=lambda x: 1.0 + x[0] ** 2, mass=m)
    x0 = jnp.concatenate([jnp.zeros((b, 1)), jnp.ones((b, 1))])
    state = system.init(x0, key=jr.key(0))
    assert isinstance(state, jn.langevin.UnderdampedState)
    np.testing.assert_array_equal(system.position(state), x0)
    for half, T in ((state.v[:b], 1.0), (state.v[b:], 2.0)):
        var = T / m
        assert abs(float(jnp.var(half)) - var) < 5 * var * np.sqrt(2 / b)


def test_euler_maruyama_step_is_drift_dt_plus_amplitude_sqrt_dt_noise():
    system = jn.langevin.Overdamped(harmonic, temperature=T_field, convention="stratonovich")
    x = jr.normal(jr.key(1), (5, 1))
    key, t, dt = jr.key(2), 0.0, 0.01
    xi = jr.normal(key, x.shape)
    drift = jax.vmap(system.drift, (0, None))(x, t)
    amp = jnp.sqrt(2 * jax.vmap(T_field)(x))[:, None]
    expected = x + drift * dt + amp * jnp.sqrt(dt) * xi
    np.testing.assert_allclose(euler_maruyama(system, x, t, dt, key), expected, rtol=1e-14)


def test_heun_step_is_the_trapezoidal_predictor_corrector_for_additive_noise():
    system = jn.langevin.Overdamped(harmonic, temperature=0.5)
    x = jr.normal(jr.key(3), (5, 1))
    key, dt = jr.key(4), 0.1
    dw = jnp.sqrt(dt) * jr.normal(key, x.shape)
    pred = x - x * dt + 1.0 * dw
    expected = x + 0.5 * (-x - pred) * dt + 1.0 * dw
    np.testing.assert_allclose(heun(system, x, 0.0, dt, key), expected, rtol=1e-14)


def test_baoab_step_matches_the_hand_written_splitting():
    m, zeta, T, dt = 2.0, 0.5, 1.5, 0.1
    system = jn.langevin.Underdamped(harmonic, temperature=T, mass=m, friction=zeta)
    x, v = jr.normal(jr.key(5), (4, 1)), jr.normal(jr.key(6), (4, 1))
    key = jr.key(7)
    c = np.exp(-zeta * dt / m)
    v1 = v - 0.5 * dt * x / m
    x1 = x + 0.5 * dt * v1
    v2 = c * v1 + np.sqrt((1 - c**2) * T / m) * jr.normal(key, v.shape)
    x2 = x1 + 0.5 * dt * v2
    v3 = v2 - 0.5 * dt * x2 / m
    out = baoab(system, jn.langevin.UnderdampedState(x, v), 0.0, dt, key)
    np.testing.assert_allclose(out.x, x2, rtol=1e-14)
    np.testing.assert_allclose(out.v, v3, rtol=1e-14)


def test_integrators_are_registered_by_name_and_defaults_follow_the_system():
    assert set(INTEGRATORS) >= {"euler_maruyama", "heun", "baoab"}
    assert jn.langevin.Overdamped.default_method == "euler_maruyama"
    assert jn.langevin.Underdamped.default_method == "baoab"


def test_a_step_callable_can_be_passed_as_method():
    calls = []

    def my_step(system, state, t, dt, key):
        calls.append(True)
        return euler_maruyama(system, state, t, dt, key)

    system = jn.langevin.Overdamped(harmonic)
    x0 = jnp.zeros((3, 1))
    a = jn.langevin.simulate(system, x0, key=jr.key(0), dt=0.1, n_steps=5, method=my_step)
    b = jn.langevin.simulate(system, x0, key=jr.key(0), dt=0.1, n_steps=5)
    assert calls
    np.testing.assert_array_equal(a.x, b.x)


def test_underdamped_euler_maruyama_runs_in_float32():
    system = jn.langevin.Underdamped(harmonic)
    x0 = jnp.zeros((8, 2), jnp.float32)
    res = jn.langevin.simulate(
        system, x0, key=jr.key(0), dt=0.01, n_steps=10, method="euler_maruyama"
    )
    assert res.state.x.dtype == res.state.v.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(res.state.v)))


# --------------------------------------------------------------------------------------
# model factories validate their documented ranges


_BAD_MODEL_ARGUMENTS = [
    (jn.models.ornstein_uhlenbeck, {"stiffness": -1.0}, "stiffness", "> 0"),
    (jn.models.ornstein_uhlenbeck, {"stiffness": jnp.array([1.0, 0.0])}, "stiffness", "> 0"),
    (jn.models.ornstein_uhlenbeck, {"temperature": 0.0}, "temperature", "> 0"),
    (jn.models.ornstein_uhlenbeck, {"mobility": -2.0}, "mobility", "> 0"),
    (jn.models.two_temperature_pair, {"T1": 0.0}, "T1", "> 0"),
    (jn.models.two_temperature_pair, {"T2": np.nan}, "T2", "> 0"),
    (jn.models.two_temperature_pair, {"k": -0.5}, "`k`", ">= 0"),
    (jn.models.two_temperature_pair, {"lam": 0.0}, "lam", "> 0"),
    (jn.models.two_temperature_pair, {"mobility": 0.0}, "mobility", "> 0"),
    (jn.models.bead_chain, {"temperatures": jnp.array([1.0, -1.0])}, "temperatures", "> 0"),
    (jn.models.bead_chain, {"temperatures": jnp.ones(2), "k": -1.0}, "`k`", ">= 0"),
    (jn.models.bead_chain, {"temperatures": jnp.ones(2), "lam": -1.0}, "lam", "> 0"),
    (jn.models.double_well, {"barrier": 0.0}, "barrier", "> 0"),
    (jn.models.double_well, {"tilt": np.inf}, "tilt", "finite"),
    (jn.models.double_well, {"temperature": -1.0}, "temperature", "> 0"),
    (jn.models.dragged_trap, {"stiffness": 0.0}, "stiffness", "> 0"),
    (jn.models.dragged_trap, {"speed": np.nan}, "speed", "finite"),
    (jn.models.dragged_trap, {"start": np.inf}, "start", "finite"),
]


@pytest.mark.parametrize("factory, kwargs, name, allowed", _BAD_MODEL_ARGUMENTS)
def test_model_factories_reject_values_outside_their_documented_range(
    factory, kwargs, name, allowed
):
    with pytest.raises(ValueError, match=f"{name}.*{allowed}") as info:
        factory(**kwargs)
    assert "`" in str(info.value)  # the message names the argument


def test_model_range_checks_report_the_offending_index_of_an_array():
    with pytest.raises(ValueError, match=r"entry \(2,\) of `temperatures`"):
        jn.models.bead_chain(jnp.array([1.0, 2.0, 0.0]))


def test_model_range_checks_fire_for_traced_values_under_jit():
    build = eqx_filter_jit(
        lambda k: jn.models.ornstein_uhlenbeck(stiffness=k).potential.stiffness * 1.0
    )
    np.testing.assert_allclose(build(jnp.asarray(2.0)), 2.0)
    with pytest.raises(Exception, match="stiffness.*> 0"):
        build(jnp.asarray(-1.0))
    pair = eqx_filter_jit(lambda T1: jn.models.two_temperature_pair(T1=T1).temperature)
    with pytest.raises(Exception, match="T1.*> 0"):
        pair(jnp.asarray(0.0))


def test_model_range_checks_allow_a_vmapped_sweep_of_valid_values():
    force = jax.vmap(
        lambda k: jn.models.ornstein_uhlenbeck(stiffness=k).total_force(jnp.ones(1))[0]
    )
    np.testing.assert_allclose(force(jnp.array([1.0, 2.0])), [-1.0, -2.0])


def eqx_filter_jit(fn):
    import equinox as eqx

    return eqx.filter_jit(fn)

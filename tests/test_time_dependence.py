"""Time dependence is explicit: plain callables are called as f(x), `TimeDependent` ones as
f(x, t); a plain callable that needs the time is an error that says how to declare it."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import jaxneq as jn
from jaxneq.langevin import TimeDependent


def test_a_plain_two_parameter_potential_is_never_handed_the_time():
    # The parameter `k` has a default: the potential is U(x) = k x^2 / 2 with k = 3,
    # whatever the time (it used to receive t as k).
    system = jn.langevin.Overdamped(lambda x, k=3.0: 0.5 * k * jnp.sum(x**2))
    x = jnp.array([0.7])
    for t in (0.0, 5.0):
        np.testing.assert_allclose(system.total_force(x, t), -3.0 * x, rtol=1e-14)


@pytest.mark.parametrize("field", ["potential", "force"])
@pytest.mark.parametrize(
    "make, x0",
    [
        (jn.langevin.Overdamped, jnp.zeros((4, 1))),
        (jn.langevin.Underdamped, jnp.zeros((4, 1))),
        (jn.langevin.ActiveOU, jnp.zeros((4, 2))),
        (jn.langevin.ActiveBrownian, jnp.zeros((4, 2))),
    ],
)
def test_a_plain_callable_that_needs_the_time_is_an_error_naming_the_wrapper(make, x0, field):
    fn = (lambda x, t: jnp.sum(x) * t) if field == "potential" else (lambda x, t: x * t)
    system = make(**{field: fn})
    with pytest.raises(ValueError, match=f"`{field}`.*TimeDependent"):
        jn.langevin.simulate(system, x0, key=jr.key(0), dt=0.01, n_steps=2)
    # the same error from the system's own trace-time check, before any step
    with pytest.raises(ValueError, match="TimeDependent"):
        system.check(x0)


def test_time_dependent_force_sees_the_time_of_each_step():
    # f(x, t) = t without noise: Euler–Maruyama gives x_n = x_0 + mu dt sum_k (t0 + k dt).
    mu, dt, n, t0 = 0.5, 0.1, 20, 1.0
    system = jn.langevin.Overdamped(
        force=TimeDependent(lambda x, t: jnp.full_like(x, t)), mobility=mu, temperature=1e-30
    )
    res = jn.langevin.simulate(system, jnp.zeros((3, 1)), key=jr.key(1), dt=dt, n_steps=n, t0=t0)
    exact = mu * dt * sum(t0 + k * dt for k in range(n))
    np.testing.assert_allclose(np.asarray(res.x), exact, rtol=1e-10)


def test_time_dependent_potential_gives_the_force_of_the_moved_trap():
    # U(x, t) = (x - v t)^2 / 2: the force at time t is -(x - v t).
    v = 0.4
    trap = TimeDependent(lambda x, t: 0.5 * jnp.sum((x - v * t) ** 2))
    for make in (jn.langevin.Overdamped, jn.langevin.Underdamped, jn.langevin.ActiveOU):
        system = make(potential=trap)
        x = jnp.array([0.3, -0.2])
        np.testing.assert_allclose(system.total_force(x, 2.0), -(x - v * 2.0), rtol=1e-14)
        np.testing.assert_allclose(system.potential_at(x, 2.0), 0.5 * np.sum((x - 0.8) ** 2))


def test_dragged_trap_is_time_dependent_and_differentiable_under_jit_and_vmap():
    # The trap's parameters are pytree leaves through the wrapper: the force at x = 0 and
    # time t is k v t, so d/dv = k t; a vmap over speeds is a sweep.
    def force(speed):
        system = jn.models.dragged_trap(stiffness=2.0, speed=speed)
        return system.total_force(jnp.zeros(1), 3.0)[0]

    assert isinstance(jn.models.dragged_trap().potential, TimeDependent)
    np.testing.assert_allclose(jax.jit(jax.grad(force))(0.5), 6.0, rtol=1e-12)
    np.testing.assert_allclose(jax.vmap(force)(jnp.array([0.5, 1.0])), [3.0, 6.0], rtol=1e-12)


def test_time_dependent_wrapper_rejects_a_non_callable():
    with pytest.raises(ValueError, match="callable"):
        TimeDependent(3.0)
    with pytest.raises(ValueError, match="`force`.*TimeDependent"):
        jn.langevin.Overdamped(force=3.0)


def test_time_dependent_force_float32_smoke():
    system = jn.langevin.Overdamped(force=TimeDependent(lambda x, t: jnp.sin(t) * jnp.ones_like(x)))
    x0 = jnp.zeros((8, 1), jnp.float32)
    res = jn.langevin.simulate(system, x0, key=jr.key(2), dt=0.01, n_steps=10)
    assert res.x.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(res.x)))

"""Gradients through `simulate`: pathwise derivatives with common random numbers.

The reference for every gradient is independent of jaxneq's autodiff: central finite
differences of the same loss with the SAME key (so the noise is common to both sides and the
difference is a pathwise derivative), the closed-form derivative of the Euler–Maruyama
second moment of an Ornstein–Uhlenbeck process, or a Python loop. Runs in float64
(tests/conftest.py).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from _stats import central_difference, compiled_temp_bytes, mean_and_stderr

import jaxneq as jn

ADJOINTS = {
    "checkpointed": jn.langevin.RecursiveCheckpointAdjoint(),
    "checkpointed_small_segments": jn.langevin.RecursiveCheckpointAdjoint(checkpoints=8),
    "direct": jn.langevin.DirectAdjoint(),
}
FD_RTOL = 1e-6  # central differences, h = 1e-6: truncation O(h^2), roundoff O(eps / h)


def _double_well_loss(height, adjoint=ADJOINTS["checkpointed"]):
    system = jn.langevin.Overdamped(lambda x: height * jnp.sum((x * x - 1.0) ** 2), temperature=0.5)
    x0 = jr.normal(jr.key(1), (16, 1))
    result = jn.langevin.simulate(
        system,
        x0,
        key=jr.key(2),
        dt=1e-2,
        n_steps=200,
        observables={"x2": jn.observables.Mean(lambda x: x**2)},
        adjoint=adjoint,
    )
    return jnp.mean(result.observables["x2"])


def _underdamped_loss(friction, adjoint=ADJOINTS["checkpointed"]):
    system = jn.langevin.Underdamped(
        lambda x: 0.5 * jnp.sum(x**2), temperature=0.7, friction=friction
    )
    result = jn.langevin.simulate(
        system, jnp.ones((8, 2)), key=jr.key(3), dt=5e-2, n_steps=200, adjoint=adjoint
    )
    return jnp.mean(result.x**2)


def _hot_spot_loss(amplitude, adjoint=ADJOINTS["checkpointed"]):
    def temperature(x):
        return 0.5 + amplitude * jnp.exp(-jnp.sum(x**2) / 0.5)

    system = jn.langevin.Overdamped(lambda x: jnp.sum((x * x - 1.0) ** 2), temperature=temperature)
    result = jn.langevin.simulate(
        system,
        jnp.linspace(-1.2, 1.2, 8)[:, None],
        key=jr.key(4),
        dt=5e-3,
        n_steps=300,
        observables={"ep": jn.observables.EntropyProduction()},
        adjoint=adjoint,
    )
    return jnp.mean(result.observables["ep"])


CASES = {
    "double_well_barrier_height": (_double_well_loss, 1.3),
    "underdamped_friction": (_underdamped_loss, 0.8),
    "temperature_field_hot_spot": (_hot_spot_loss, 1.5),
}


@functools.cache
def _gradient(case, adjoint_name="checkpointed"):
    """Gradient of the case's loss with one adjoint (one compiled call, cached)."""
    loss, value = CASES[case]
    adjoint = ADJOINTS[adjoint_name]
    return float(jax.jit(jax.grad(lambda p: loss(p, adjoint)))(jnp.float64(value)))


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_equals_central_difference_with_the_same_key(case):
    loss, value = CASES[case]
    reference = central_difference(jax.jit(loss), np.float64(value))
    np.testing.assert_allclose(_gradient(case), float(reference), rtol=FD_RTOL)


@pytest.mark.parametrize("case", sorted(CASES))
def test_checkpointed_and_direct_adjoints_give_the_same_gradient(case):
    np.testing.assert_allclose(_gradient(case), _gradient(case, "direct"), rtol=1e-12)


def test_three_checkpoint_levels_with_a_remainder_give_the_direct_gradient():
    # 200 steps in segments of 8: levels of 64, 8 and 1 steps and a remainder of 8
    case = "double_well_barrier_height"
    np.testing.assert_allclose(
        _gradient(case, "checkpointed_small_segments"), _gradient(case, "direct"), rtol=1e-12
    )


def test_ou_second_moment_gradient_matches_the_exact_discrete_time_derivative():
    # Euler–Maruyama for dx = -k x dt + sqrt(2 T) dW from x0 = 0: x_n is Gaussian with
    # Var_n = 2 T dt sum_{j<n} (1 - k dt)^(2j), so
    # dVar_n/dk = -2 T dt^2 sum_{j<n} 2 j (1 - k dt)^(2j - 1).
    k, temperature, dt, n, b = 1.5, 0.8, 0.05, 60, 4000
    j = np.arange(n)
    exact = -2 * temperature * dt**2 * np.sum(2 * j * (1 - k * dt) ** (2 * j - 1))

    def per_member(k):
        system = jn.langevin.Overdamped(lambda x: 0.5 * k * jnp.sum(x**2), temperature=temperature)
        result = jn.langevin.simulate(system, jnp.zeros((b, 1)), key=jr.key(5), dt=dt, n_steps=n)
        return result.x[:, 0] ** 2

    pieces = jax.jacfwd(per_member)(jnp.float64(k))  # [b] pathwise per-member derivatives
    mean, stderr = mean_and_stderr(pieces)
    assert abs(mean - exact) <= 4 * stderr, (mean, stderr, exact)
    # reverse mode (the checkpointed adjoint) gives the sum of the same pieces
    total = jax.grad(lambda k: jnp.sum(per_member(k)))(jnp.float64(k))
    np.testing.assert_allclose(float(total), float(np.sum(pieces)), rtol=1e-10)


def test_vmap_of_grad_over_systems_equals_a_loop_of_grads():
    heights = jnp.array([0.7, 1.0, 1.6])
    swept = jax.jit(jax.vmap(jax.grad(_double_well_loss)))(heights)
    grad = jax.jit(jax.grad(_double_well_loss))
    looped = [grad(h) for h in heights]
    np.testing.assert_allclose(np.asarray(swept), np.asarray(looped), rtol=1e-12)


def test_gradient_through_a_saved_trajectory_equals_central_difference():
    def loss(k):
        system = jn.langevin.Overdamped(lambda x: 0.5 * k * jnp.sum(x**2), temperature=0.5)
        result = jn.langevin.simulate(
            system, jnp.ones((4, 1)), key=jr.key(6), dt=1e-2, n_steps=200, save_every=20
        )
        return jnp.mean(result.trajectory**2)

    grad = jax.grad(loss)(jnp.float64(2.0))
    np.testing.assert_allclose(float(grad), central_difference(jax.jit(loss), 2.0), rtol=FD_RTOL)


def test_work_observable_is_differentiable():
    # dragged trap U = k (x - v t)^2 / 2: d<W>/dk against central differences
    def loss(k):
        potential = jn.langevin.TimeDependent(lambda x, t: 0.5 * k * jnp.sum((x - 0.5 * t) ** 2))
        system = jn.langevin.Overdamped(potential, temperature=0.5)
        result = jn.langevin.simulate(
            system,
            jnp.zeros((8, 1)),
            key=jr.key(7),
            dt=1e-2,
            n_steps=200,
            observables={"work": jn.observables.Work()},
        )
        return jnp.mean(result.observables["work"])

    grad = jax.grad(loss)(jnp.float64(1.2))
    np.testing.assert_allclose(float(grad), central_difference(jax.jit(loss), 1.2), rtol=FD_RTOL)


def _compiled_grad_temp_bytes(adjoint, n_steps, b=64):
    def loss(k):
        system = jn.langevin.Overdamped(lambda x: 0.5 * k * jnp.sum(x**2))
        x0 = jnp.zeros((b, 1), jnp.float32)
        result = jn.langevin.simulate(
            system, x0, key=jr.key(0), dt=jnp.float32(1e-2), n_steps=n_steps, adjoint=adjoint
        )
        return jnp.mean(result.x**2)

    return compiled_temp_bytes(jax.grad(loss), jnp.float32(1.0))


def test_checkpointed_gradient_memory_grows_sublinearly_in_the_number_of_steps():
    checkpointed = [_compiled_grad_temp_bytes(ADJOINTS["checkpointed"], n) for n in (1000, 10000)]
    direct = _compiled_grad_temp_bytes(ADJOINTS["direct"], 10000)
    # Segments of 128 steps per level: 1e3 and 1e4 steps both take two levels (128^2 > 1e4),
    # so the residuals barely grow; a factor 2 (one more level's worth) still fails
    # sqrt(n_steps) growth (3.2x) and linear growth (10x).
    assert checkpointed[1] / checkpointed[0] < 2
    # the contrast: direct keeps 1e4 steps of residuals against ~2 x 128 per member, ~40x;
    # a factor 5 leaves room for the fixed part of the temporaries
    assert checkpointed[1] < direct / 5


def test_float32_gradient_smoke():
    # negligible noise: x_n = (1 - k dt)^n x0, so d<x_n^2>/dk = -2 n dt (1 - k dt)^(2n - 1)
    k, dt, n = 1.5, 1e-2, 100

    def loss(k):
        system = jn.langevin.Overdamped(lambda x: 0.5 * k * jnp.sum(x**2), temperature=1e-20)
        x0 = jnp.ones((16, 1), jnp.float32)
        result = jn.langevin.simulate(system, x0, key=jr.key(8), dt=jnp.float32(dt), n_steps=n)
        return jnp.mean(result.x**2)

    grad = jax.jit(jax.grad(loss))(jnp.float32(k))
    assert grad.dtype == jnp.float32
    exact = -2 * n * dt * (1 - k * dt) ** (2 * n - 1)
    np.testing.assert_allclose(float(grad), exact, rtol=1e-4)

"""The blowtorch inverse-design demo: its gradient is right and the design reaches the target."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxneq._tour import inverse_design as demo

X = jnp.linspace(-1.6, 1.6, 41)


def test_left_population_gradient_matches_central_finite_differences():
    params = (jnp.asarray(0.3), jnp.asarray(0.4))
    grad = jax.grad(demo.left_population)(params, X)
    h = 1e-6
    for k in range(2):
        up = [params[0], params[1]]
        down = [params[0], params[1]]
        up[k] = up[k] + h
        down[k] = down[k] - h
        fd = (demo.left_population(tuple(up), X) - demo.left_population(tuple(down), X)) / (2 * h)
        np.testing.assert_allclose(grad[k], fd, rtol=1e-6, atol=1e-10)


def test_without_a_hot_spot_the_wells_are_boltzmann_symmetric():
    from jaxneq.markov import stationary

    p = stationary(demo.blowtorch_chain((jnp.asarray(-50.0), jnp.asarray(0.0)), X))
    boltzmann = jnp.exp(-4.0 * (X**2 - 1.0) ** 2)
    np.testing.assert_allclose(p, boltzmann / boltzmann.sum(), rtol=1e-10)


def test_heating_one_well_moves_probability_to_the_other_and_mirrors_under_vmap():
    from jaxneq.markov import stationary

    centres = jnp.array([-1.0, 1.0])
    amplitude = jnp.asarray(2.0)
    rates = jax.vmap(lambda c: demo.blowtorch_chain((amplitude, c), X))(centres)
    p = jax.jit(jax.vmap(stationary))(rates)
    left = jnp.sum(jnp.where(X < 0, p, 0.0), axis=1)
    assert left[0] < 0.4 and left[1] > 0.6
    np.testing.assert_allclose(p[0], p[1][::-1], rtol=1e-10)


def test_gradient_descent_reaches_the_target_population():
    params, history = demo.design(X, n_steps=150)
    assert abs(float(demo.left_population(params, X)) - demo.TARGET) < 0.01
    assert history[-1][0] < history[0][0]


def test_float32_smoke():
    params = (jnp.asarray(0.3, jnp.float32), jnp.asarray(0.4, jnp.float32))
    x = X.astype(jnp.float32)
    value, grad = jax.value_and_grad(demo.left_population)(params, x)
    assert value.dtype == jnp.float32 and grad[0].dtype == jnp.float32
    assert 0.0 < float(value) < 1.0 and np.all(np.isfinite(grad))

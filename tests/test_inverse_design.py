"""The heated double-well lattice (`jn.models.blowtorch_double_well_chain`) and the inverse-design
demo built on it.

Ground truth: the stationary state of a path (a tree) in closed form, detailed balance link by
link, p_{i+1}/p_i = r_{i -> i+1} / r_{i+1 -> i}, with the Arrhenius rates written out here in
NumPy; Boltzmann weights; central finite differences.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _stats import central_difference

import jaxneq as jn
from jaxneq._tour import inverse_design as demo

X = np.linspace(-1.6, 1.6, 41)


def path_stationary(x, amplitude, centre, width=0.25, height=4.0, t0=1.0):
    """Closed form on a path: the product of forward over backward Arrhenius rates."""
    energy = height * (x**2 - 1.0) ** 2
    temperature = t0 + amplitude * np.exp(-((x - centre) ** 2) / (2 * width**2))
    barrier = np.maximum(energy[:-1], energy[1:])
    forward = np.exp(-(barrier - energy[:-1]) / temperature[:-1])
    backward = np.exp(-(barrier - energy[1:]) / temperature[1:])
    log_p = np.concatenate([[0.0], np.cumsum(np.log(forward) - np.log(backward))])
    return np.exp(log_p - np.logaddexp.reduce(log_p))


def left(p):
    return jnp.sum(jnp.where(jnp.asarray(X) < 0, p, 0.0))


@pytest.mark.parametrize("amplitude, centre", [(0.0, 0.0), (2.0, 1.0), (3.0, 0.54), (5.0, -0.3)])
def test_stationary_state_matches_the_path_closed_form(amplitude, centre):
    rates = jn.models.blowtorch_double_well_chain(X, amplitude, centre)
    p = jn.markov.stationary(rates)
    np.testing.assert_allclose(p, path_stationary(X, amplitude, centre), rtol=1e-10)


def test_rates_are_nearest_neighbour_arrhenius_rates_with_the_site_temperature():
    rates = np.asarray(jn.models.blowtorch_double_well_chain(X, 2.0, 0.5, width=0.3, height=3.0))
    energy = 3.0 * (X**2 - 1.0) ** 2
    temperature = 1.0 + 2.0 * np.exp(-((X - 0.5) ** 2) / (2 * 0.3**2))
    n = X.size
    expected = np.zeros((n, n))
    for i in range(n):
        for j in (i - 1, i + 1):
            if 0 <= j < n:
                barrier = max(energy[i], energy[j])
                expected[i, j] = np.exp(-(barrier - energy[i]) / temperature[i])
    np.testing.assert_allclose(rates, expected, rtol=1e-13, atol=0)


def test_without_a_hot_spot_the_wells_are_boltzmann_symmetric():
    p = jn.markov.stationary(jn.models.blowtorch_double_well_chain(X, 0.0, 0.3))
    boltzmann = np.exp(-4.0 * (X**2 - 1.0) ** 2)
    np.testing.assert_allclose(p, boltzmann / boltzmann.sum(), rtol=1e-10)


def test_heating_one_well_moves_probability_to_the_other_and_mirrors_under_vmap():
    centres = jnp.array([-1.0, 1.0])
    rates = jax.vmap(lambda c: jn.models.blowtorch_double_well_chain(X, 2.0, c))(centres)
    p = jax.jit(jax.vmap(jn.markov.stationary))(rates)
    for k, c in enumerate((-1.0, 1.0)):
        np.testing.assert_allclose(p[k], path_stationary(X, 2.0, c), rtol=1e-10)
    np.testing.assert_allclose(p[0], p[1][::-1], rtol=1e-10)
    boltzmann_left = float(
        left(jn.markov.stationary(jn.models.blowtorch_double_well_chain(X, 0, 0)))
    )
    assert float(left(p[0])) < boltzmann_left < float(left(p[1]))


def test_left_population_gradient_matches_central_finite_differences():
    def population(params):
        rates = jn.models.blowtorch_double_well_chain(X, params[0], params[1])
        return left(jn.markov.stationary(rates))

    params = jnp.array([1.3, 0.4])
    np.testing.assert_allclose(
        jax.grad(population)(params), central_difference(population, params), rtol=1e-6
    )


def test_gradient_descent_reaches_the_target_population():
    x = jnp.asarray(X)
    params, history = demo.design(x, n_steps=150)
    amplitude, centre = jax.nn.softplus(params[0]), params[1]
    # the fitted chain, checked with the closed form rather than with jaxneq itself
    p = path_stationary(X, float(amplitude), float(centre))
    # Precision: 1/40 of the distance the design has to move the population (from the
    # unheated, Boltzmann value ~0.5 to the target 0.9), i.e. the two decimals the demo
    # reports; the loss (P - 0.9)^2 it minimises must then be below its square.
    precision = (demo.TARGET - path_stationary(X, 0.0, 0.0)[X < 0].sum()) / 40
    assert abs(p[X < 0].sum() - demo.TARGET) < precision
    assert history[-1][0] < precision**2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"amplitude": -0.5}, r"`amplitude` must be finite and >= 0, got -0.5"),
        ({"width": 0.0}, r"`width` must be finite and > 0"),
        ({"height": -1.0}, r"`height` must be finite and >= 0"),
        ({"temperature": 0.0}, r"`temperature` must be finite and > 0"),
        ({"amplitude": np.nan}, r"`amplitude` must be finite"),
    ],
)
def test_out_of_range_arguments_raise_naming_the_argument_and_the_range(kwargs, match):
    args = {"amplitude": 1.0, "centre": 0.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        jn.models.blowtorch_double_well_chain(X, **args)


def test_lattice_must_be_increasing_and_traced_amplitude_is_checked_under_jit():
    with pytest.raises(ValueError, match="`x` must be strictly increasing"):
        jn.models.blowtorch_double_well_chain(X[::-1], 1.0, 0.0)
    build = jax.jit(lambda a: jn.models.blowtorch_double_well_chain(X, a, 0.0))
    assert bool(jnp.all(jnp.isfinite(build(1.0))))
    with pytest.raises(Exception, match="`amplitude` must be finite and >= 0"):
        jax.block_until_ready(build(-1.0))


def test_float32_smoke():
    x = jnp.asarray(X, jnp.float32)

    def population(a):
        return left(jn.markov.stationary(jn.models.blowtorch_double_well_chain(x, a, 0.4)))

    value, grad = jax.value_and_grad(population)(jnp.float32(2.0))
    assert value.dtype == grad.dtype == jnp.float32
    # float32 (u = 6e-8): a 41-state solve and a 20-term sum, a few hundred u at most
    np.testing.assert_allclose(value, path_stationary(X, 2.0, 0.4)[X < 0].sum(), rtol=1e-4)
    assert np.isfinite(grad)


def test_hot_spot_temperature_is_the_documented_gaussian_profile():
    t = jn.models.hot_spot_temperature(X, 2.5, 0.3, width=0.4, temperature=0.7)
    np.testing.assert_allclose(t, 0.7 + 2.5 * np.exp(-((X - 0.3) ** 2) / (2 * 0.4**2)), rtol=1e-14)
    with pytest.raises(ValueError, match=r"`amplitude` must be finite and >= 0"):
        jn.models.hot_spot_temperature(X, -1.0, 0.0)
    with pytest.raises(ValueError, match=r"`width` must be finite and > 0"):
        jn.models.hot_spot_temperature(X, 1.0, 0.0, width=-0.1)

"""Random smooth landscapes on a grid (`jn.models.random_grid_system`): the fields have the
statistics the docstring promises, and the rattling law is exact where theory says so.

Ground truth: without potential and drive the zero-flux stationary density of
dx = sqrt(2 T(x)) o_alpha dW solves grad(T^(1-alpha) p) = 0 ... i.e. p ∝ T^(alpha-1) in any
dimension (isotropic T), so with R = (d/2) log T the exponent is gamma = 2 (1 - alpha) / d
exactly (and R^2 = 1); Parseval for the box average of a Fourier series; a uniform drive on
a ring at uniform temperature gives a uniform density.
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from _stats import assert_within_stderr, central_difference, mean_and_stderr

import jaxneq as jn

RING = jn.fokker_planck.Grid(0.0, 1.0, 64, periodic=True)
ALPHA = {"ito": 0.0, "stratonovich": 0.5}


def _rattling(system, grid):
    d = grid.ndim
    D = jax.vmap(system.diffusion_coefficient_at)(grid.centres.reshape(-1, d))
    return jn.rattling.from_diffusion(D[:, 0], kind="scalar", dim=d)


def _fit(key, grid, method="auto", **kwargs):
    system = jn.models.random_grid_system(key, grid, **kwargs)
    p = jn.fokker_planck.stationary_density(system, grid, method=method).reshape(-1)
    return jn.rattling.fit_gamma(p, _rattling(system, grid))


@pytest.mark.parametrize("convention", ["ito", "stratonovich"])
def test_pure_temperature_landscapes_obey_the_rattling_law_exactly_in_1d(convention):
    keys = jr.split(jr.key(0), 8)
    fit = jax.jit(jax.vmap(lambda k: _fit(k, RING, potential_spread=0.0, convention=convention)))(
        keys
    )
    np.testing.assert_allclose(fit.gamma, 2 * (1 - ALPHA[convention]), rtol=1e-10)
    np.testing.assert_allclose(fit.r_squared, 1.0, atol=1e-10)


def test_pure_temperature_landscape_in_2d_gives_gamma_one_for_ito():
    grid = jn.fokker_planck.Grid(0.0, 1.0, (10, 10), periodic=True)
    fit = _fit(jr.key(3), grid, "gth", potential_spread=0.0, temperature_spread=0.4)
    # gamma = 2 (1 - alpha) / d = 1; GTH is entrywise accurate to ~8 n^3 u (n = 100 cells)
    assert float(fit.gamma) == pytest.approx(1.0, abs=1e-9)
    assert float(fit.r_squared) == pytest.approx(1.0, abs=1e-9)


def test_fields_have_unit_variance_over_the_box_on_average_over_keys():
    # Parseval: the box average of g^2 is sum (a^2 + b^2) / 2, mean 1 over keys when the
    # coefficients have variance 1/m; the grid's 64 points average modes |k| <= 2 exactly
    x = RING.centres.reshape(-1, 1)

    def box_variances(key):
        s = jn.models.random_grid_system(key, RING, potential_spread=1.0, temperature_spread=1.0)
        g_U = jax.vmap(s.potential)(x)
        g_T = jnp.log(jax.vmap(s.temperature)(x))
        return jnp.stack([jnp.mean(g_U**2), jnp.mean(g_T**2), jnp.mean(g_U), jnp.mean(g_T)])

    v = np.asarray(jax.vmap(box_variances)(jr.split(jr.key(1), 4000)))
    for column, expected in ((0, 1.0), (1, 1.0)):
        mean, se = mean_and_stderr(v[:, column])
        assert_within_stderr(mean, se, expected)
    np.testing.assert_allclose(v[:, 2:], 0.0, atol=1e-12)  # no k = 0 mode: mean zero


def test_fields_are_periodic_and_scale_with_their_spreads():
    grid = jn.fokker_planck.Grid((-1.0, 0.0), (1.0, 3.0), (8, 8), periodic=True)
    key = jr.key(2)
    one = jn.models.random_grid_system(key, grid, potential_spread=1.0, temperature_spread=0.3)
    two = jn.models.random_grid_system(key, grid, potential_spread=2.0, temperature_spread=0.6)
    x = jnp.array([0.3, 1.1])
    for shift in (jnp.array([2.0, 0.0]), jnp.array([0.0, 3.0])):
        assert float(one.potential(x + shift)) == pytest.approx(float(one.potential(x)), abs=1e-12)
        assert float(one.temperature(x + shift)) == pytest.approx(
            float(one.temperature(x)), rel=1e-12
        )
    assert float(two.potential(x)) == pytest.approx(2 * float(one.potential(x)), rel=1e-12)
    assert float(jnp.log(two.temperature(x))) == pytest.approx(
        2 * float(jnp.log(one.temperature(x))), rel=1e-12
    )


def test_uniform_drive_on_a_flat_ring_gives_a_uniform_density_and_current():
    system = jn.models.random_grid_system(
        jr.key(4), RING, potential_spread=0.0, temperature_spread=0.0, drive=1.5, temperature=0.7
    )
    np.testing.assert_allclose(system.force(jnp.array([0.2])), [1.5])
    p = jn.fokker_planck.stationary_density(system, RING)
    np.testing.assert_allclose(p, 1.0, rtol=1e-12)  # density per unit length on a unit ring
    J = jn.fokker_planck.current_field(system, RING, p)
    np.testing.assert_allclose(J[..., 0], 1.5, rtol=1e-10)  # J = mu f p


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_gamma_is_differentiable_in_the_spreads(dtype):
    key = jr.key(5)

    def gamma(s):
        return _fit(key, RING, potential_spread=s, drive=jnp.asarray(2.0, dtype)).gamma

    s0 = jnp.asarray(0.7, dtype)
    g = jax.jit(jax.grad(gamma))(s0)
    assert g.dtype == dtype
    if dtype == jnp.float64:
        np.testing.assert_allclose(g, central_difference(gamma, s0), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_modes": 0}, "n_modes"),
        ({"potential_spread": -1.0}, "potential_spread"),
        ({"temperature": 0.0}, "temperature"),
        ({"drive": jnp.ones(3)}, "drive"),
    ],
)
def test_bad_input_is_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jn.models.random_grid_system(jr.key(0), RING, **kwargs)


def test_a_grid_is_required():
    with pytest.raises(ValueError, match="grid"):
        jn.models.random_grid_system(jr.key(0), (0.0, 1.0))

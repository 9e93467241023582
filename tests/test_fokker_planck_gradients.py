"""Gradients of grid densities, currents and entropy production against central differences,
vmap over a batch of hot-spot positions, and the blowtorch temperature field."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _stats import central_difference

import jaxneq as jn
from jaxneq import fokker_planck as fp

blowtorch = jn.models.blowtorch

GRID_1D = fp.Grid(-2.0, 2.0, 200)


def _double_well_with_hot_spot(centre, width=0.3, height=2.0):
    return jn.langevin.Overdamped(
        lambda x: jnp.sum((x**2 - 1) ** 2),
        temperature=blowtorch(centre=centre, width=width, height=height),
    )


def _left_share(params):
    centre, width, height = params
    p = fp.stationary_density(_double_well_with_hot_spot(centre, width, height), GRID_1D)
    return jnp.sum(jnp.where(GRID_1D.centres[..., 0] < 0, p, 0.0)) * GRID_1D.volume


# ----------------------------------------------------------------------------------------
# blowtorch


def test_blowtorch_is_a_gaussian_hot_spot_differentiable_in_its_parameters():
    torch = blowtorch(centre=jnp.array([0.5, -0.5]), width=0.4, height=2.0, base=1.5)
    x = jnp.array([0.9, -0.2])
    r2 = 0.4**2 + 0.3**2
    np.testing.assert_allclose(torch(x), 1.5 + 2.0 * np.exp(-r2 / (2 * 0.16)), rtol=1e-14)
    np.testing.assert_allclose(torch(jnp.array([0.5, -0.5])), 3.5, rtol=1e-14)

    def value(params):
        c, w, h = params
        return blowtorch(centre=c, width=w, height=h)(jnp.array([0.3]))

    params = jnp.array([0.1, 0.25, 1.2])
    np.testing.assert_allclose(
        jax.grad(value)(params), central_difference(value, params), rtol=1e-7
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(width=0.0), "`width`"),
        (dict(base=-1.0), "`base`"),
        (dict(height=-1.0, base=1.0), "`height`"),
        (dict(centre=jnp.nan), "`centre`"),
    ],
)
def test_blowtorch_rejects_out_of_range_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        blowtorch(**kwargs)


# ----------------------------------------------------------------------------------------
# gradients against central differences (float64)


def test_gradient_of_a_well_share_in_the_hot_spot_parameters_matches_central_differences():
    params = jnp.array([0.6, 0.3, 2.0])
    grad = jax.jit(jax.grad(_left_share))(params)
    np.testing.assert_allclose(
        grad, central_difference(_left_share, params, h=1e-5, jit=True), rtol=1e-6, atol=1e-10
    )


def test_gradient_of_the_ratchet_current_matches_central_differences():
    grid = fp.Grid(0.0, 1.0, 100, periodic=True)

    def current(params):
        amplitude, phase = params
        system = jn.langevin.Overdamped(
            lambda x: jnp.sum(jnp.sin(2 * jnp.pi * x)),
            temperature=lambda x: 1.0 + amplitude * jnp.sin(2 * jnp.pi * x[0] + phase),
        )
        p = fp.stationary_density(system, grid)
        return fp.current_field(system, grid, p)[0, 0]

    params = jnp.array([0.4, 0.8])
    np.testing.assert_allclose(
        jax.jit(jax.grad(current))(params),
        central_difference(current, params, h=1e-5, jit=True),
        rtol=1e-6,
    )


def _pair_system(params):
    k, t1 = params
    return jn.langevin.Overdamped(
        lambda x: 0.5 * (k * (x[0] - x[1]) ** 2 + x[0] ** 2 + x[1] ** 2),
        temperature=jnp.stack([t1, jnp.ones_like(t1)]),
    )


GRID_2D = fp.Grid(-4.0, 4.0, (10, 10))


def _pair_observables(params):
    """A density value, a current component and the entropy production rate on a 2D grid
    (through jn.markov.stationary's implicit adjoint and the face sums)."""
    system = _pair_system(params)
    p = fp.stationary_density(system, GRID_2D)
    current = fp.current_field(system, GRID_2D, p)
    sigma = fp.entropy_production_rate(system, GRID_2D, p)
    return jnp.stack([p[4, 6], current[5, 7, 0], sigma])


def test_gradients_of_2d_density_current_and_entropy_production_match_central_differences():
    params = jnp.array([0.7, 1.6])
    jacobian = np.asarray(jax.jit(jax.jacrev(_pair_observables))(params))
    forward = jax.jit(_pair_observables)
    h = 1e-5
    differences = np.stack(
        [
            (np.asarray(forward(params + h * e)) - np.asarray(forward(params - h * e))) / (2 * h)
            for e in jnp.eye(2)
        ],
        axis=1,
    )
    assert np.all(np.abs(jacobian) > 1e-4)  # every entry is a real dependence
    np.testing.assert_allclose(jacobian, differences, rtol=1e-6)


# ----------------------------------------------------------------------------------------
# vmap: a sweep of hot-spot positions is one compiled call


def test_vmap_over_hot_spot_centres_equals_a_loop():
    centres = jnp.linspace(-1.5, 1.5, 7)

    @jax.jit
    def density(c):
        return fp.stationary_density(_double_well_with_hot_spot(c), GRID_1D)

    batched = jax.vmap(density)(centres)
    looped = jnp.stack([density(c) for c in centres])
    np.testing.assert_allclose(batched, looped, rtol=1e-12)
    shares = np.asarray(jax.jit(jax.vmap(lambda c: _left_share(jnp.stack([c, 0.3, 2.0]))))(centres))
    # heating the left well (Ito: p ∝ exp(-∫U'/T)/T) empties it
    assert shares[1] < 0.5 < shares[-2]
    np.testing.assert_allclose(shares + shares[::-1], 1.0, rtol=1e-10)  # mirror symmetry


def test_vmap_over_a_batch_of_two_dimensional_systems_equals_a_loop():
    temperatures = jnp.array([1.0, 1.5, 2.5])

    def sigma(t1):
        system = _pair_system(jnp.stack([jnp.asarray(1.0), t1]))
        p = fp.stationary_density(system, GRID_2D)
        return fp.entropy_production_rate(system, GRID_2D, p)

    batched = jax.jit(jax.vmap(sigma))(temperatures)
    looped = jnp.stack([jax.jit(sigma)(t) for t in temperatures])
    np.testing.assert_allclose(batched, looped, rtol=1e-10, atol=1e-14)
    assert float(batched[0]) < 1e-14 < float(batched[1]) < float(batched[2])

"""Fokker–Planck grids: the Grid pytree, the structure of the discretised chain, the exact 1D
solver against the Markov solvers, argument errors and float32 smoke tests."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxneq as jn
from jaxneq import fokker_planck as fp
from jaxneq.fokker_planck._discretise import bernoulli, log_bernoulli


def _double_well(**kwargs):
    return jn.langevin.Overdamped(lambda x: jnp.sum((x**2 - 1) ** 2), **kwargs)


# ----------------------------------------------------------------------------------------
# Grid


def test_grid_geometry_matches_its_definition():
    grid = fp.Grid((-1.0, 0.0), (1.0, 3.0), (4, 6), periodic=(False, True))
    assert grid.ndim == 2 and grid.shape == (4, 6) and grid.n_cells == 24
    assert grid.periodic == (False, True)
    np.testing.assert_allclose(grid.spacing, [0.5, 0.5])
    np.testing.assert_allclose(grid.volume, 0.25)
    assert grid.centres.shape == (4, 6, 2)
    np.testing.assert_allclose(grid.centres[0, 0], [-0.75, 0.25])
    np.testing.assert_allclose(grid.centres[3, 5], [0.75, 2.75])
    np.testing.assert_allclose(grid.axes[1], np.arange(6) * 0.5 + 0.25)
    grid3 = fp.Grid(0.0, 1.0, (2, 3, 4), periodic=True)
    assert grid3.centres.shape == (2, 3, 4, 3) and grid3.periodic == (True,) * 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lower=0.0, upper=1.0, shape=1), "`shape`"),
        (dict(lower=0.0, upper=1.0, shape=(2, 2, 2, 2)), "1, 2 or 3 axes"),
        (dict(lower=1.0, upper=1.0, shape=4), "`upper` must be finite and > `lower`"),
        (dict(lower=(0.0, 0.0, 0.0), upper=1.0, shape=(3, 3)), "`lower`"),
        (dict(lower=0.0, upper=1.0, shape=(3, 3), periodic=(True,)), "`periodic`"),
    ],
)
def test_grid_rejects_bad_arguments_with_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fp.Grid(**kwargs)


def test_grid_is_a_pytree_usable_as_a_jit_argument():
    grid = fp.Grid(-2.0, 2.0, 64)
    system = _double_well()

    @jax.jit
    def left_share(g):
        p = fp.stationary_density(system, g)
        return jnp.sum(jnp.where(g.centres[..., 0] < 0, p, 0.0)) * g.volume

    np.testing.assert_allclose(left_share(grid), 0.5, rtol=1e-12)
    shifted = fp.Grid(-2.0, 2.5, 64)  # same static structure: no recompilation needed
    assert 0.0 < float(left_share(shifted)) < 1.0


# ----------------------------------------------------------------------------------------
# the chain


def test_bernoulli_function_is_accurate_across_scales():
    z = np.array([-700.0, -30.0, -1.0, -1e-2, -1e-4, -1e-9, 0.0, 1e-9, 1e-4, 1e-2, 1.0, 30.0])
    with np.errstate(all="ignore"):
        exact = np.where(z == 0, 1.0, z / np.expm1(z))
    np.testing.assert_allclose(bernoulli(jnp.asarray(z)), exact, rtol=1e-14)
    np.testing.assert_allclose(log_bernoulli(jnp.asarray(z)), np.log(exact), rtol=1e-13, atol=1e-15)
    # no underflow in log space: log B(800) = log 800 - 800
    np.testing.assert_allclose(log_bernoulli(jnp.asarray(800.0)), np.log(800.0) - 800.0)


def test_rates_structure_and_scharfetter_gummel_values_for_a_constant_force():
    # uniform T, constant force: r_up = D B(-hF/T)/h^2, r_down = D B(hF/T)/h^2
    temperature, mobility, force, n = 0.8, 1.5, 0.7, 10
    grid = fp.Grid(0.0, 2.0, n)
    system = jn.langevin.Overdamped(
        force=lambda x: jnp.full_like(x, force), temperature=temperature, mobility=mobility
    )
    chain = fp.rates(system, grid)
    assert isinstance(chain, jn.markov.EdgeRates) and chain.n_states == n
    assert chain.rate.shape == (2 * (n - 1),)
    h, D, z = 0.2, mobility * temperature, 0.2 * force / temperature
    up = D * z / (1 - np.exp(-z)) / h**2
    down = D * z / (np.exp(z) - 1) / h**2
    dense = np.asarray(chain.to_dense())
    np.testing.assert_allclose(np.diag(dense, 1), up, rtol=1e-13)
    np.testing.assert_allclose(np.diag(dense, -1), down, rtol=1e-13)
    ring = fp.rates(system, fp.Grid(0.0, 2.0, n, periodic=True))
    assert ring.rate.shape == (2 * n,)
    two_d = fp.rates(_double_well(), fp.Grid(-1.0, 1.0, (3, 4), periodic=(True, False)))
    assert two_d.rate.shape == (2 * (3 * 4 + 3 * 3),)
    assert bool(jnp.all(two_d.rate > 0))


@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("convention", ["ito", "stratonovich"])
def test_exact_1d_solution_equals_gth_on_the_same_chain(periodic, convention):
    grid = fp.Grid(-2.0, 2.0, 120, periodic=periodic)
    system = jn.langevin.Overdamped(
        lambda x: jnp.sum(jnp.sin(np.pi * x / 2) + 0.2 * x**2 * (not periodic)),
        force=lambda x: jnp.full_like(x, 0.3),
        temperature=lambda x: 1.0 + 0.5 * jnp.cos(np.pi * x[0] / 2) ** 2,
        convention=convention,
    )
    exact = fp.stationary_density(system, grid, method="exact")
    gth = fp.stationary_density(system, grid, method="gth")
    np.testing.assert_allclose(exact, gth, rtol=1e-11)
    np.testing.assert_allclose(exact.sum() * grid.volume, 1.0, rtol=1e-13)


def test_exact_1d_tails_keep_their_relative_accuracy():
    # Boltzmann over ~300 decades: the closed form on the cells, entrywise
    grid = fp.Grid(-3.0, 3.0, 61)
    system = jn.langevin.Overdamped(lambda x: jnp.sum(x**2), temperature=0.013)
    p = np.asarray(fp.stationary_density(system, grid))
    x = np.asarray(grid.axes[0])
    log_exact = -(x**2) / 0.013
    log_exact -= np.log(np.sum(np.exp(log_exact - log_exact.max()))) + log_exact.max()
    log_exact -= np.log(float(grid.volume))
    assert p.min() < 1e-290
    np.testing.assert_allclose(np.log(p), log_exact, rtol=1e-12)


@pytest.mark.slow
def test_two_dimensional_methods_agree():
    system = jn.langevin.Overdamped(
        lambda x: jnp.sum((x**2 - 1) ** 2),
        force=lambda x: jnp.array([-x[1], x[0]]),
        temperature=lambda x: 1.0 + 0.3 * jnp.exp(-jnp.sum(x**2)),
    )
    grid = fp.Grid(-2.0, 2.0, (20, 20))
    gth = fp.stationary_density(system, grid, method="gth")
    krylov = fp.stationary_density(system, grid, method="krylov", rtol=1e-13)
    np.testing.assert_allclose(krylov, gth, rtol=1e-8, atol=1e-10 * float(gth.max()))
    np.testing.assert_allclose(gth.sum() * grid.volume, 1.0, rtol=1e-12)


def test_face_fluxes_vanish_on_reflecting_walls_and_the_stationary_density_is_divergence_free():
    system = jn.langevin.Overdamped(
        lambda x: jnp.sum(x**2), force=lambda x: jnp.array([-x[1], x[0]]) * 2.0
    )
    grid = fp.Grid(-2.0, 2.0, (12, 10))
    p = fp.stationary_density(system, grid)
    jx, jy = fp.face_fluxes(system, grid, p)
    assert jx.shape == jy.shape == grid.shape
    assert float(jnp.max(jnp.abs(jx[-1]))) == 0.0 and float(jnp.max(jnp.abs(jy[:, -1]))) == 0.0
    h = np.asarray(grid.spacing)
    jx_low = np.concatenate([np.zeros((1, 10)), np.asarray(jx)[:-1]], axis=0)
    jy_low = np.concatenate([np.zeros((12, 1)), np.asarray(jy)[:, :-1]], axis=1)
    divergence = (np.asarray(jx) - jx_low) / h[0] + (np.asarray(jy) - jy_low) / h[1]
    scale = float(jnp.max(jnp.abs(jx))) / h[0]
    assert np.max(np.abs(divergence)) < 1e-9 * scale
    assert scale > 1e-2  # a real circulating current


# ----------------------------------------------------------------------------------------
# first passage


def test_mean_first_passage_time_accepts_a_mask_or_a_callable():
    grid = fp.Grid(-2.0, 2.0, 40)
    system = _double_well()
    by_fn = fp.mean_first_passage_time(system, grid, lambda x: x[0] > 1.0)
    by_mask = fp.mean_first_passage_time(system, grid, grid.centres[..., 0] > 1.0)
    np.testing.assert_allclose(by_fn, by_mask)
    assert float(by_fn[-1]) == 0.0 and float(by_fn[0]) > float(by_fn[10]) > 0.0


# ----------------------------------------------------------------------------------------
# errors


def test_underdamped_and_active_systems_are_rejected_as_out_of_scope():
    grid = fp.Grid(-1.0, 1.0, 8)
    for system in (
        jn.langevin.Underdamped(lambda x: jnp.sum(x**2)),
        jn.langevin.ActiveBrownian(),
    ):
        with pytest.raises(TypeError, match="out of scope"):
            fp.rates(system, grid)


def test_event_shape_must_match_the_grid_dimension():
    system = jn.models.two_temperature_pair()
    with pytest.raises(ValueError, match="event_shape"):
        fp.rates(system, fp.Grid(-1.0, 1.0, (4, 4)), event_shape=(3, 1))
    with pytest.raises(ValueError, match="pass `event_shape`"):
        fp.rates(system, fp.Grid(-1.0, 1.0, (4, 4)))  # its temperature has shape [2, 1]


def test_non_finite_potential_on_the_grid_is_reported():
    system = jn.langevin.Overdamped(lambda x: jnp.sum(jnp.log(x)))
    with pytest.raises(ValueError, match="not finite on the grid"):
        fp.rates(system, fp.Grid(-1.0, 1.0, 8))

    @eqx.filter_jit
    def traced(scale):
        scaled = jn.langevin.Overdamped(lambda x: scale * jnp.sum(jnp.log(x)))
        return fp.rates(scaled, fp.Grid(-1.0, 1.0, 8)).rate

    with pytest.raises(RuntimeError, match="not finite on the grid"):
        traced(jnp.asarray(1.0))


def test_bad_method_density_shape_and_target_are_rejected():
    grid = fp.Grid(-1.0, 1.0, (4, 4))
    system = _double_well()
    with pytest.raises(ValueError, match="`method`"):
        fp.stationary_density(system, grid, method="magic")
    with pytest.raises(ValueError, match="1D grids only"):
        fp.stationary_density(system, grid, method="exact")
    with pytest.raises(ValueError, match="`density`"):
        fp.current_field(system, grid, jnp.ones(16))
    with pytest.raises(ValueError, match="`target`"):
        fp.mean_first_passage_time(system, grid, jnp.ones(16, bool))


# ----------------------------------------------------------------------------------------
# float32


def test_every_public_function_runs_in_float32():
    grid = fp.Grid(jnp.float32(-2.0), jnp.float32(2.0), 32)
    system = jn.langevin.Overdamped(
        lambda x: jnp.sum((x**2 - 1) ** 2), temperature=lambda x: 1.0 + 0.3 * jnp.tanh(x[0])
    )
    chain = fp.rates(system, grid)
    assert chain.rate.dtype == jnp.float32
    p = fp.stationary_density(system, grid)
    assert p.dtype == jnp.float32
    np.testing.assert_allclose(float(p.sum() * grid.volume), 1.0, rtol=1e-5)
    p64 = fp.stationary_density(system, fp.Grid(-2.0, 2.0, 32))
    np.testing.assert_allclose(p, p64, rtol=1e-4)
    assert fp.current_field(system, grid, p).dtype == jnp.float32
    assert fp.face_fluxes(system, grid, p)[0].dtype == jnp.float32
    assert fp.entropy_production_rate(system, grid, p).dtype == jnp.float32
    assert fp.evolve_density(system, grid, p, 0.5).dtype == jnp.float32
    tau = fp.mean_first_passage_time(system, grid, lambda x: x[0] > 1.0)
    assert tau.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(tau)))
    grid2 = fp.Grid(jnp.float32(-2.0), jnp.float32(2.0), (8, 8))
    p2 = fp.stationary_density(_double_well(), grid2)
    assert p2.dtype == jnp.float32 and p2.shape == (8, 8)


def test_three_dimensional_grid_gives_the_boltzmann_distribution_at_uniform_temperature():
    grid = fp.Grid((-2.0, -1.5, -1.0), (2.0, 1.5, 1.0), (5, 5, 5), periodic=(False, True, False))
    system = jn.langevin.Overdamped(
        lambda x: jnp.sum(jnp.array([1.0, 0.0, 2.0]) * x**2) + jnp.cos(2 * np.pi * x[1] / 3),
        temperature=0.8,
        mobility=jnp.array([1.0, 2.0, 0.5]),
    )
    p = np.asarray(fp.stationary_density(system, grid))
    x = np.asarray(grid.centres)
    energy = x[..., 0] ** 2 + 2 * x[..., 2] ** 2 + np.cos(2 * np.pi * x[..., 1] / 3)
    boltzmann = np.exp(-energy / 0.8)
    boltzmann /= boltzmann.sum() * float(grid.volume)
    np.testing.assert_allclose(p, boltzmann, rtol=1e-12)


def test_isothermal_convention_with_a_mobility_field_gives_boltzmann_and_ito_does_not():
    # alpha = 1: p ∝ D^0 exp(-U/T) whatever mu(x); Ito: p ∝ exp(-U/T) / mu(x)
    grid = fp.Grid(-2.0, 2.0, 80)
    x = np.asarray(grid.axes[0])
    boltzmann = np.exp(-((x**2 - 1) ** 2) / 0.9)
    mobility = 1.0 + 0.5 * np.sin(x) ** 2
    for convention, exact in (("isothermal", boltzmann), ("ito", boltzmann / mobility)):
        system = jn.langevin.Overdamped(
            lambda y: jnp.sum((y**2 - 1) ** 2),
            temperature=0.9,
            mobility=lambda y: 1.0 + 0.5 * jnp.sin(y[0]) ** 2,
            convention=convention,
        )
        p = np.asarray(fp.stationary_density(system, grid))
        np.testing.assert_allclose(p, exact / (exact.sum() * float(grid.volume)), rtol=1e-12)


def _dense(chain):
    out = np.zeros((chain.n_states, chain.n_states))
    np.add.at(out, (np.asarray(chain.src), np.asarray(chain.dst)), np.asarray(chain.rate))
    return out


@pytest.mark.parametrize("periodic", [False, True])
def test_grid_chain_gives_the_same_rates_as_the_fokker_planck_discretisation(periodic):
    # Ito, uniform mobility; T and the drive linear in x, so that grid_chain's face
    # average of the cell values is the field at the face that fokker_planck uses
    grid = fp.Grid((-1.5, -1.0), (1.5, 1.0), (12, 8), periodic=periodic)
    X = np.asarray(grid.centres)
    h = np.asarray(grid.spacing)

    def potential(x):
        return (x[0] ** 2 - 1) ** 2 + 0.5 * x[1] ** 2 + 0.3 * x[0] * x[1]

    def temperature(x):
        return 1.2 + 0.3 * x[0] - 0.2 * x[1]

    def drive(x):
        return 0.7 * jnp.stack([-x[1], x[0]])

    system = jn.langevin.Overdamped(potential, force=drive, temperature=temperature, mobility=1.3)
    flat = jnp.asarray(X.reshape(-1, 2))
    chain = jn.models.grid_chain(
        jax.vmap(potential)(flat).reshape(grid.shape),
        spacing=tuple(h),
        temperature=jax.vmap(temperature)(flat).reshape(grid.shape),
        drive=jax.vmap(drive)(flat).reshape(grid.shape + (2,)),
        mobility=1.3,
        periodic=periodic,
    )
    if periodic:  # the wrap-around faces see a jump in the linear fields: compare the rest
        fields = fp.Grid((-1.5, -1.0), (1.5, 1.0), (12, 8))
        inner = _dense(fp.rates(system, fields))
        mask = inner > 0
        np.testing.assert_allclose(_dense(chain)[mask], inner[mask], rtol=1e-12)
    else:
        np.testing.assert_allclose(_dense(chain), _dense(fp.rates(system, grid)), rtol=1e-12)

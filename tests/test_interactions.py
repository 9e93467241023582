"""Pair interactions and neighbour lists: cell lists against all pairs, bonds, errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import jaxneq as jn

L = jn.langevin


def _jit(fn):
    """jit of a function closing over Modules (their arrays become constants)."""
    return jax.jit(lambda *args: fn(*args))


def _positions(key, n, size, dtype=jnp.float64, spread=1.0):
    size = jnp.asarray(size, dtype)
    return (jr.uniform(key, (n, size.shape[0]), dtype) * spread - 0.5 * (spread - 1)) * size


def _reference_energy(u, x, size):
    """Brute-force numpy sum over all pairs i < j with minimum-image distances."""
    x = np.asarray(x, np.float64)
    i, j = np.triu_indices(len(x), k=1)
    d = x[i] - x[j]
    d = d - size * np.round(d / size)
    return float(np.sum(u(np.sqrt(np.sum(d * d, axis=1)))))


def _soft_numpy(r, k=10.0, sigma=1.0):
    return np.where(r < sigma, 0.5 * k * (1 - r / sigma) ** 2, 0.0)


def _wca_numpy(r, eps=1.0, sigma=0.8):
    s6 = (sigma / r) ** 6
    return np.where(r < 2 ** (1 / 6) * sigma, 4 * eps * (s6 * s6 - s6) + eps, 0.0)


def test_all_pairs_energy_matches_brute_force_numpy_sum():
    box = L.Box((6.0, 5.0), periodic=True)
    x = _positions(jr.key(0), 40, box.size)
    for pot, u in [(L.SoftRepulsion(10.0, 1.0), _soft_numpy), (L.WCA(1.0, 0.8), _wca_numpy)]:
        energy = _jit(L.PairEnergy(pot, L.AllPairs(box)))
        ref = _reference_energy(u, x, np.asarray(box.size))
        np.testing.assert_allclose(float(energy(x)), ref, rtol=1e-10)


@pytest.mark.parametrize(
    "size, periodic, spread",
    [
        ((12.0, 10.0), True, 1.0),  # periodic, 3+ cells per side
        ((2.5, 7.0), True, 1.0),  # periodic with 2 cells along x (no duplicate pairs)
        ((10.0, 10.0), False, 1.0),  # open box
        ((10.0, 10.0), False, 1.6),  # open box, particles outside it (boundary cells)
        ((5.0, 4.0, 6.0), True, 1.0),  # 3D periodic
    ],
)
def test_cell_list_energy_and_forces_equal_all_pairs(size, periodic, spread):
    box = L.Box(size, periodic=periodic)
    n = 300
    x = _positions(jr.key(1), n, box.size, spread=spread)
    pot = L.SoftRepulsion(k=10.0, sigma=1.0)
    cells = L.PairEnergy(pot, L.CellList(box, cutoff=1.0, capacity=40))
    pairs = L.PairEnergy(pot, L.AllPairs(box if periodic else None))
    e_cells, f_cells = _jit(jax.value_and_grad(cells))(x)
    e_pairs, f_pairs = _jit(jax.value_and_grad(pairs))(x)
    assert float(e_pairs) > 0
    np.testing.assert_allclose(float(e_cells), float(e_pairs), rtol=1e-12)
    np.testing.assert_allclose(f_cells, f_pairs, rtol=1e-10, atol=1e-12)


def test_cell_list_parameter_gradients_equal_all_pairs():
    box = L.Box((10.0, 10.0))
    x = _positions(jr.key(2), 200, box.size)

    def energies(k, sigma):
        pot = L.SoftRepulsion(k, sigma)
        return (
            L.PairEnergy(pot, L.CellList(box, cutoff=1.2, capacity=30))(x),
            L.PairEnergy(pot, L.AllPairs(box))(x),
        )

    g_cells = jax.jit(jax.grad(lambda k, s: energies(k, s)[0], argnums=(0, 1)))(10.0, 1.1)
    g_pairs = jax.jit(jax.grad(lambda k, s: energies(k, s)[1], argnums=(0, 1)))(10.0, 1.1)
    np.testing.assert_allclose(g_cells, g_pairs, rtol=1e-10)


def test_pair_forces_match_central_finite_differences():
    box = L.Box((6.0, 6.0))
    x = _positions(jr.key(3), 30, box.size)
    energy = L.PairEnergy(L.SoftRepulsion(5.0, 1.0), L.CellList(box, cutoff=1.0, capacity=20))
    grad = _jit(jax.grad(energy))(x)
    h = 1e-6
    shifts = jnp.zeros((3,) + x.shape).at[jnp.arange(3), jnp.array([0, 7, 19]), 0].set(h)
    e = _jit(jax.vmap(energy))
    fd = (e(x + shifts) - e(x - shifts)) / (2 * h)
    np.testing.assert_allclose(grad[jnp.array([0, 7, 19]), 0], fd, rtol=1e-6, atol=1e-8)


def test_cell_list_energy_under_jit_and_vmap_over_an_ensemble():
    box = L.Box((8.0, 8.0))
    xs = jax.vmap(lambda k: _positions(k, 100, box.size))(jr.split(jr.key(4), 3))
    cells = L.PairEnergy(L.SoftRepulsion(10.0, 1.0), L.CellList(box, 1.0, 30))
    pairs = L.PairEnergy(L.SoftRepulsion(10.0, 1.0), box)
    forces = _jit(jax.vmap(jax.grad(cells)))(xs)
    ref = _jit(jax.vmap(jax.grad(pairs)))(xs)
    np.testing.assert_allclose(forces, ref, rtol=1e-10, atol=1e-12)


def test_cell_list_float32_matches_float64():
    box = L.Box(jnp.asarray((9.0, 9.0), jnp.float32))
    x64 = _positions(jr.key(5), 150, (9.0, 9.0))
    x32 = x64.astype(jnp.float32)
    pot = L.SoftRepulsion(jnp.float32(10.0), jnp.float32(1.0))
    energy = L.PairEnergy(pot, L.CellList(box, 1.0, 30))
    e32 = _jit(energy)(x32)
    f32 = _jit(jax.grad(energy))(x32)
    assert e32.dtype == jnp.float32 and f32.dtype == jnp.float32
    e64 = _reference_energy(_soft_numpy, x64, np.array([9.0, 9.0]))
    np.testing.assert_allclose(float(e32), float(e64), rtol=1e-4)


def test_coincident_particles_give_finite_zero_forces():
    x = jnp.array([[1.0, 1.0], [1.0, 1.0], [1.5, 1.0]])
    box = L.Box((5.0, 5.0))
    for nb in (L.AllPairs(box), L.CellList(box, 1.0, 4)):
        g = _jit(jax.grad(L.PairEnergy(L.SoftRepulsion(2.0, 1.0), nb)))(x)
        assert np.all(np.isfinite(g))
        # the coincident pair exerts no force on each other; the third particle pushes both
        np.testing.assert_allclose(g[0], g[1])


def test_wca_masked_slots_do_not_leak_nan_into_gradients():
    # particle 0 sits alone, so its padded (masked) slots point at itself: r = 0 for WCA
    x = jnp.array([[0.5, 0.5], [3.0, 3.0], [3.9, 3.0]])
    energy = L.PairEnergy(L.WCA(1.0, 1.0), L.CellList(L.Box((6.0, 6.0)), 1.2, 4))
    g = _jit(jax.grad(energy))(x)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g[0], 0.0)


def test_cell_list_overflow_raises_clear_error_also_under_jit():
    box = L.Box((10.0, 10.0))
    x = 5.5 + 0.1 * jr.uniform(jr.key(6), (12, 2))  # 12 particles in one cell
    energy = L.PairEnergy(L.SoftRepulsion(), L.CellList(box, 1.0, capacity=4))
    with pytest.raises(Exception, match="CellList overflow"):
        _jit(energy)(x).block_until_ready()
    with pytest.raises(Exception, match="capacity"):
        _jit(jax.vmap(jax.grad(energy)))(x[None]).block_until_ready()


def test_cell_list_memory_is_linear_in_particle_number():
    # O(N) by construction: no intermediate of the energy or its gradient has N^2 entries
    n = 2000
    box = L.Box((50.0, 50.0))
    x = _positions(jr.key(7), n, box.size)
    energy = L.PairEnergy(L.SoftRepulsion(), L.CellList(box, 1.0, capacity=8))
    jaxpr = jax.make_jaxpr(jax.value_and_grad(energy))(x)

    def sizes(jpr):
        for eqn in jpr.eqns:
            for v in eqn.outvars:
                yield int(np.prod(v.aval.shape)) if hasattr(v.aval, "shape") else 1
            for p in eqn.params.values():
                if isinstance(p, jax.extend.core.ClosedJaxpr):
                    yield from sizes(p.jaxpr)
                elif isinstance(p, jax.extend.core.Jaxpr):
                    yield from sizes(p)

    largest = max(sizes(jaxpr.jaxpr))
    assert largest <= n * 9 * 8 * 2  # N x candidates x dim, far below N^2 = 4e6
    assert largest < n * n / 10


def test_cell_list_rejects_cutoff_beyond_half_a_periodic_box():
    with pytest.raises(ValueError, match="half the periodic box"):
        L.CellList(L.Box((3.0, 3.0)), cutoff=2.0, capacity=4)


def test_pair_potential_longer_than_cell_side_is_an_error():
    box = L.Box((10.0, 10.0))
    energy = L.PairEnergy(L.SoftRepulsion(1.0, 2.0), L.CellList(box, 1.0, 8))
    with pytest.raises(Exception, match="cell side"):
        _jit(energy)(_positions(jr.key(8), 10, box.size)).block_until_ready()


def test_positions_of_wrong_shape_raise_value_error():
    energy = L.PairEnergy(L.SoftRepulsion(), L.CellList(L.Box((5.0, 5.0)), 1.0, 8))
    with pytest.raises(ValueError, match=r"\[N, dim\]"):
        energy(jnp.zeros((4, 3, 2)))
    with pytest.raises(ValueError, match="dim=3"):
        energy(jnp.zeros((4, 3)))


def test_minimum_image_displacement_and_wrap():
    box = L.Box((10.0, 4.0))
    d = box.displacement(jnp.array([9.5, 0.5]), jnp.array([0.5, 3.5]))
    np.testing.assert_allclose(d, [-1.0, 1.0])
    np.testing.assert_allclose(box.wrap(jnp.array([-0.5, 9.0])), [9.5, 1.0])
    open_box = L.Box((10.0, 4.0), periodic=False)
    np.testing.assert_allclose(
        open_box.displacement(jnp.array([9.5, 0.5]), jnp.array([0.5, 3.5])), [9.0, -3.0]
    )


def test_harmonic_bonds_energy_and_forces_match_closed_form():
    x = jnp.array([[0.0, 0.0], [1.5, 0.0], [1.5, 2.0]])
    bonds = L.HarmonicBonds(jnp.array([[0, 1], [1, 2]]), k=jnp.array([2.0, 4.0]), rest_length=1.0)
    # stretches 0.5 and 1.0: U = 1/2 (2 * 0.25 + 4 * 1) = 2.25
    np.testing.assert_allclose(float(bonds(x)), 2.25)
    g = jax.grad(bonds)(x)
    np.testing.assert_allclose(g, [[-1.0, 0.0], [1.0, -4.0], [0.0, 4.0]], atol=1e-12)


def test_harmonic_bonds_use_minimum_image_in_periodic_box():
    box = L.Box((10.0, 10.0))
    bonds = L.HarmonicBonds(jnp.array([[0, 1]]), k=1.0, box=box)
    x = jnp.array([[9.5, 5.0], [0.5, 5.0]])
    np.testing.assert_allclose(float(bonds(x)), 0.5)  # distance 1 across the boundary


def test_harmonic_bonds_float32_and_bad_pairs():
    bonds = L.HarmonicBonds(jnp.array([[0, 1]]), k=jnp.float32(1.0))
    x = jnp.array([[0.0, 0.0], [0.0, 2.0]], jnp.float32)
    assert jax.grad(bonds)(x).dtype == jnp.float32
    with pytest.raises(ValueError, match="only 2 particles"):
        L.HarmonicBonds(jnp.array([[0, 2]]))(x)
    with pytest.raises(ValueError, match=r"\[m, 2\]"):
        L.HarmonicBonds(jnp.array([0, 1]))


def test_overdamped_system_accepts_a_cell_list_energy_as_potential():
    box = L.Box((8.0, 8.0))
    energy = L.PairEnergy(L.SoftRepulsion(10.0, 1.0), L.CellList(box, 1.0, 30))
    system = L.Overdamped(potential=energy, temperature=jnp.full((64, 1), 0.5))
    x = _positions(jr.key(9), 64, box.size)
    drift = _jit(system.drift)(x, 0.0)
    np.testing.assert_allclose(drift, -_jit(jax.grad(energy))(x))
    assert isinstance(energy, eqx.Module)

"""Pair interactions and neighbour lists: cell lists against all pairs, bonds, errors.

Tolerances of the deterministic comparisons are rounding-error bounds derived from the
configuration (`_stats.float_sum_error_bound` over the pair terms of a numpy reference, with a
first-order model of the error of each term), not picked numbers.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from _stats import (
    central_difference,
    central_difference_step,
    compiled_temp_bytes,
    float_sum_error_bound,
    unit_roundoff,
)

import jaxneq as jn

L = jn.langevin


def _jit(fn):
    """jit of a function closing over Modules (their arrays become constants)."""
    return jax.jit(lambda *args: fn(*args))


def _positions(key, n, size, dtype=jnp.float64, spread=1.0):
    size = jnp.asarray(size, dtype)
    return (jr.uniform(key, (n, size.shape[0]), dtype) * spread - 0.5 * (spread - 1)) * size


# ----------------------------------------------------------------------------------------
# numpy references: every interacting pair, its energy and derivatives, and error bounds


def _soft_numpy(r, k=10.0, sigma=1.0):
    """u, u', u'' and the magnitude of the terms of the formula, for r < sigma."""
    s = 1 - r / sigma
    return 0.5 * k * s * s, -k * s / sigma, np.full_like(r, k / sigma**2), 0.5 * k * s * s


def _wca_numpy(r, eps=1.0, sigma=0.8):
    s6 = (sigma / r) ** 6
    u = 4 * eps * (s6 * s6 - s6) + eps
    du = 4 * eps * (-12 * s6 * s6 + 6 * s6) / r
    d2u = 4 * eps * (156 * s6 * s6 - 42 * s6) / r**2
    return u, du, d2u, 4 * eps * (s6 * s6 + s6) + eps


class _Pairs:
    """All pairs i < j closer than `cutoff` (minimum image when periodic), in float64."""

    def __init__(self, x, size, periodic, cutoff):
        x = np.asarray(x, np.float64)
        size = np.asarray(size, np.float64)
        i, j = np.triu_indices(len(x), k=1)
        d = x[i] - x[j]
        if periodic:
            d = d - size * np.round(d / size)
        r = np.sqrt(np.sum(d * d, axis=1))
        keep = r < cutoff
        self.n, self.dim = x.shape
        self.i, self.j, self.d, self.r = i[keep], j[keep], d[keep], r[keep]
        self.scale = float(np.max(np.abs(x)))  # largest coordinate: sets absolute roundoff

    def rounding(self, dtype):
        """Unit roundoff u, bounds on the error of each displacement component and distance:
        the difference and the minimum-image shift round coordinates of size <= scale (3 u
        scale), the norm adds (dim + 2) u r."""
        u = unit_roundoff(dtype)
        dd = 3 * u * self.scale
        dr = np.sqrt(self.dim) * dd + (self.dim + 2) * u * self.r
        return u, dd, dr

    def energy_bound(self, potential, dtype, double_counted=False):
        """(exact energy, bound on the error of the energy computed in `dtype`)."""
        uu, du, _, mag = potential(self.r)
        u, _, dr = self.rounding(dtype)
        term_err = np.abs(du) * (dr + u * self.r) + 8 * u * mag
        if double_counted:  # a cell list sums every pair from both ends and halves the sum
            bound = float_sum_error_bound(np.repeat(uu, 2), dtype, np.repeat(term_err, 2)) / 2
        else:
            bound = float_sum_error_bound(uu, dtype, term_err)
        return float(np.sum(uu)), bound

    def force_bound(self, potential, dtype):
        """Bound [N, 1] on the error of each component of the gradient computed in `dtype`:
        per particle, gamma_{2 n_i} sum |u'| (each pair reaches it from both ends) plus the
        error of each contribution u'(r) d/r."""
        _, du, d2u, _ = potential(self.r)
        u, dd, dr = self.rounding(dtype)
        contrib_err = np.abs(d2u) * dr + np.abs(du) * ((dd + dr) / self.r + 3 * u)
        abs_sum = np.zeros(self.n)
        err = np.zeros(self.n)
        count = np.zeros(self.n)
        for idx in (self.i, self.j):
            np.add.at(abs_sum, idx, np.abs(du))
            np.add.at(err, idx, contrib_err)
            np.add.at(count, idx, 2)
        m = np.maximum(count - 1, 0) * u
        return (m / (1 - m) * abs_sum + err)[:, None]

    def forces(self, potential):
        """Exact gradient of the energy (float64)."""
        _, du, _, _ = potential(self.r)
        c = (du / self.r)[:, None] * self.d
        g = np.zeros((self.n, self.dim))
        np.add.at(g, self.i, c)
        np.add.at(g, self.j, -c)
        return g


def test_all_pairs_energy_matches_brute_force_numpy_sum():
    box = L.Box((6.0, 5.0), periodic=True)
    x = _positions(jr.key(0), 40, box.size)
    for pot, u in [(L.SoftRepulsion(10.0, 1.0), _soft_numpy), (L.WCA(1.0, 0.8), _wca_numpy)]:
        energy = _jit(L.PairEnergy(pot, L.AllPairs(box)))
        pairs = _Pairs(x, box.size, True, float(pot.cutoff))
        exact, bound = pairs.energy_bound(u, jnp.float64)
        assert exact > 0
        # the numpy sum carries the same kind of rounding error as jaxneq's: 2 x bound
        np.testing.assert_allclose(float(energy(x)), exact, rtol=0, atol=2 * bound)


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
    ref = _Pairs(x, box.size, periodic, 1.0)
    exact, bound_cells = ref.energy_bound(_soft_numpy, jnp.float64, double_counted=True)
    _, bound_pairs = ref.energy_bound(_soft_numpy, jnp.float64)
    assert exact > 0 and len(ref.r) > n  # many interacting pairs, so the test can fail
    np.testing.assert_allclose(
        float(e_cells), float(e_pairs), rtol=0, atol=bound_cells + bound_pairs
    )
    f_bound = ref.force_bound(_soft_numpy, jnp.float64)
    assert np.all(np.abs(np.asarray(f_cells) - np.asarray(f_pairs)) <= 2 * f_bound)
    assert np.all(np.abs(np.asarray(f_cells) - ref.forces(_soft_numpy)) <= 2 * f_bound)


def test_cell_list_parameter_gradients_equal_all_pairs_and_closed_form():
    box = L.Box((10.0, 10.0))
    x = _positions(jr.key(2), 200, box.size)
    k, sigma = 10.0, 1.1

    def energies(k, sigma):
        pot = L.SoftRepulsion(k, sigma)
        return (
            L.PairEnergy(pot, L.CellList(box, cutoff=1.2, capacity=30))(x),
            L.PairEnergy(pot, L.AllPairs(box))(x),
        )

    g_cells = jax.jit(jax.grad(lambda k, s: energies(k, s)[0], argnums=(0, 1)))(k, sigma)
    g_pairs = jax.jit(jax.grad(lambda k, s: energies(k, s)[1], argnums=(0, 1)))(k, sigma)
    # dU/dk = sum (1 - r/sigma)^2 / 2 and dU/dsigma = sum k (1 - r/sigma) r / sigma^2
    ref = _Pairs(x, box.size, True, sigma)
    s = 1 - ref.r / sigma
    terms = [0.5 * s * s, k * s * ref.r / sigma**2]
    u, _, dr = ref.rounding(jnp.float64)
    slopes = [s / sigma, k / sigma**2]  # bounds on |d term / dr|
    for a, (t, slope) in enumerate(zip(terms, slopes, strict=True)):
        bound = float_sum_error_bound(np.repeat(t, 2), jnp.float64, 2 * (slope * dr + 8 * u * t))
        np.testing.assert_allclose(float(g_cells[a]), np.sum(t), rtol=0, atol=2 * bound)
        np.testing.assert_allclose(float(g_pairs[a]), np.sum(t), rtol=0, atol=2 * bound)


def test_pair_forces_match_central_finite_differences():
    box = L.Box((6.0, 6.0))
    x = _positions(jr.key(3), 30, box.size)
    k, sigma = 5.0, 1.0
    soft = lambda r: _soft_numpy(r, k, sigma)  # noqa: E731
    energy = L.PairEnergy(L.SoftRepulsion(k, sigma), L.CellList(box, cutoff=1.0, capacity=20))
    grad = np.asarray(_jit(jax.grad(energy))(x))
    ref = _Pairs(x, box.size, True, sigma)
    _, e_err = ref.energy_bound(soft, jnp.float64, double_counted=True)
    g_err = ref.force_bound(soft, jnp.float64)
    near = _Pairs(x, box.size, True, 2 * sigma)
    e_fun = _jit(energy)
    for row in (0, 7, 19):
        # Along one coordinate, E''' of u(r(x)) with u''' = 0 inside the cutoff is
        # |3 u'' r' r'' + u' r'''| <= 3 k / (sigma^2 r) + 3 |u'| / r^2 at the smallest r in
        # [r - h, r + h] (bounded here for any h <= 1e-4); u is only C1 at r = sigma, so no
        # pair may cross it within h.
        r = near.r[(near.i == row) | (near.j == row)] - 1e-4
        third = np.sum(np.where(r < sigma, 3 * k / (sigma**2 * r) + 3 * k / (sigma * r**2), 0))
        h, fd_err = central_difference_step(third, e_err)
        assert h < 1e-4 and np.all(np.abs(r + 1e-4 - sigma) > h) and np.all(r > 0)
        fd = central_difference(
            lambda v, row=row: e_fun(x.at[row, 0].set(v[0])), np.array([float(x[row, 0])]), h
        )[0]
        tol = fd_err + 2 * g_err[row, 0]
        np.testing.assert_allclose(grad[row, 0], fd, rtol=0, atol=tol)


def test_cell_list_forces_under_jit_and_vmap_over_an_ensemble():
    box = L.Box((8.0, 8.0))
    xs = jax.vmap(lambda k: _positions(k, 100, box.size))(jr.split(jr.key(4), 3))
    cells = L.PairEnergy(L.SoftRepulsion(10.0, 1.0), L.CellList(box, 1.0, 30))
    forces = np.asarray(_jit(jax.vmap(jax.grad(cells)))(xs))
    for member in range(3):
        ref = _Pairs(xs[member], box.size, True, 1.0)
        f_bound = ref.force_bound(_soft_numpy, jnp.float64)
        assert np.all(np.abs(forces[member] - ref.forces(_soft_numpy)) <= 2 * f_bound)


def test_cell_list_float32_matches_float64():
    box = L.Box(jnp.asarray((9.0, 9.0), jnp.float32))
    x32 = _positions(jr.key(5), 150, (9.0, 9.0)).astype(jnp.float32)
    pot = L.SoftRepulsion(jnp.float32(10.0), jnp.float32(1.0))
    energy = L.PairEnergy(pot, L.CellList(box, 1.0, 30))
    e32 = _jit(energy)(x32)
    f32 = _jit(jax.grad(energy))(x32)
    assert e32.dtype == jnp.float32 and f32.dtype == jnp.float32
    # reference in float64 at the same (float32) positions: only float32 arithmetic differs
    ref = _Pairs(np.asarray(x32, np.float64), (9.0, 9.0), True, 1.0)
    exact, bound = ref.energy_bound(_soft_numpy, jnp.float32, double_counted=True)
    np.testing.assert_allclose(float(e32), exact, rtol=0, atol=bound)
    f_bound = ref.force_bound(_soft_numpy, jnp.float32)
    assert np.all(np.abs(np.asarray(f32, np.float64) - ref.forces(_soft_numpy)) <= f_bound)


def test_coincident_particles_give_finite_zero_forces():
    x = jnp.array([[1.0, 1.0], [1.0, 1.0], [1.5, 1.0]])
    box = L.Box((5.0, 5.0))
    for nb in (L.AllPairs(box), L.CellList(box, 1.0, 4)):
        g = _jit(jax.grad(L.PairEnergy(L.SoftRepulsion(2.0, 1.0), nb)))(x)
        assert np.all(np.isfinite(g))
        # the coincident pair exerts no force on each other; the third particle (r = 0.5)
        # pushes each with u'(0.5) = -k (1 - r/sigma) / sigma = -1 along -x
        np.testing.assert_array_equal(g[0], g[1])
        np.testing.assert_allclose(g[:2], [[1.0, 0.0], [1.0, 0.0]], rtol=8 * unit_roundoff(g.dtype))


def test_wca_masked_slots_do_not_leak_nan_into_gradients():
    # particle 0 sits alone, so its padded (masked) slots point at itself: r = 0 for WCA
    x = jnp.array([[0.5, 0.5], [3.0, 3.0], [3.9, 3.0]])
    energy = L.PairEnergy(L.WCA(1.0, 1.0), L.CellList(L.Box((6.0, 6.0)), 1.2, 4))
    g = _jit(jax.grad(energy))(x)
    assert np.all(np.isfinite(g))
    np.testing.assert_array_equal(g[0], 0.0)


def test_cell_list_overflow_raises_clear_error_also_under_jit():
    box = L.Box((10.0, 10.0))
    x = 5.5 + 0.1 * jr.uniform(jr.key(6), (12, 2))  # 12 particles in one cell
    energy = L.PairEnergy(L.SoftRepulsion(), L.CellList(box, 1.0, capacity=4))
    with pytest.raises(Exception, match="CellList overflow"):
        _jit(energy)(x).block_until_ready()
    with pytest.raises(Exception, match="capacity"):
        _jit(jax.vmap(jax.grad(energy)))(x[None]).block_until_ready()


def test_cell_list_candidates_are_a_fixed_number_per_particle_and_hold_every_close_pair():
    # O(N) work: every particle gets the same number of candidate neighbours whatever N (at
    # fixed density), and no pair closer than the cutoff is missing
    density, capacity = 0.8, 8
    counts = []
    for n in (500, 2000):
        side = float(np.sqrt(n / density))
        cells = L.CellList(L.Box((side, side)), cutoff=1.0, capacity=capacity)
        x = _positions(jr.key(7), n, (side, side))
        idx, mask, _ = _jit(cells.candidates)(x)
        idx, mask = np.asarray(idx), np.asarray(mask)
        assert idx.shape == (n, cells.n_candidates)
        counts.append(cells.n_candidates)
        rows = [idx[i][mask[i]] for i in range(n)]
        assert all(len(set(c)) == len(c) for c in rows)  # a repeat would count a pair twice
        assert all(i not in c for i, c in enumerate(rows))  # never a particle with itself
        found = {(i, int(j)) for i, c in enumerate(rows) for j in c}
        ref = _Pairs(x, (side, side), True, 1.0)
        assert len(ref.i) > n  # many close pairs, so a miss would show
        missing = [
            (i, j)
            for i, j in zip(ref.i, ref.j, strict=True)
            if (i, j) not in found or (j, i) not in found
        ]
        assert not missing  # every close pair, seen from both ends
    assert counts[0] == counts[1] == 9 * capacity


def _compiled_temp_bytes(neighbours, n, density=0.8):
    side = float(np.sqrt(n / density))
    box = L.Box((side, side))
    nb = L.CellList(box, 1.0, capacity=8) if neighbours == "cells" else L.AllPairs(box)
    energy = L.PairEnergy(L.SoftRepulsion(), nb)
    x = _positions(jr.key(8), n, (side, side))
    return compiled_temp_bytes(jax.value_and_grad(energy), x)


def test_cell_list_compiled_memory_grows_linearly_with_particle_number():
    # Temporary bytes of the compiled energy + gradient at N and 4N (same density) scale
    # with exponent 1 for O(N) memory and 2 for all pairs; 1.5 is the midpoint. AllPairs is
    # measured the same way, which shows the measurement tells the two apart.
    def exponent(neighbours, n):
        ratio = _compiled_temp_bytes(neighbours, 4 * n) / _compiled_temp_bytes(neighbours, n)
        return np.log(ratio) / np.log(4)

    assert exponent("cells", 250) < 1.5
    assert exponent("all", 50) > 1.5


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


def test_wca_all_pairs_and_box_float32_match_float64_reference():
    box = L.Box(jnp.asarray((6.0, 5.0), jnp.float32))
    x32 = _positions(jr.key(10), 40, (6.0, 5.0)).astype(jnp.float32)
    pot = L.WCA(jnp.float32(1.0), jnp.float32(0.8))
    energy = L.PairEnergy(pot, L.AllPairs(box))
    e32, f32 = _jit(jax.value_and_grad(energy))(x32)
    assert e32.dtype == f32.dtype == jnp.float32
    assert box.displacement(x32[0], x32[1]).dtype == box.wrap(x32).dtype == jnp.float32
    ref = _Pairs(np.asarray(x32, np.float64), (6.0, 5.0), True, float(pot.cutoff))
    exact, bound = ref.energy_bound(_wca_numpy, jnp.float32)
    assert exact > 0
    np.testing.assert_allclose(float(e32), exact, rtol=0, atol=bound)
    f_bound = ref.force_bound(_wca_numpy, jnp.float32)
    assert np.all(np.abs(np.asarray(f32, np.float64) - ref.forces(_wca_numpy)) <= f_bound)

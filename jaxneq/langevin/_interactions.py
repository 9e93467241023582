r"""Many-body interactions: boxes, pair potentials, bonds and neighbour lists (units: k_B = 1).

Every interaction here is an *energy function of one ensemble member's positions*
`x` of shape `[N, dim]`, written as an `eqx.Module` whose physical parameters (stiffness,
diameter, box size) are differentiable pytree leaves. Pass one as the `potential` of a
system and autodiff gives the forces:

```python
box = jn.langevin.Box((20.0, 20.0), periodic=True)
energy = jn.langevin.PairEnergy(
    jn.langevin.SoftRepulsion(k=10.0, sigma=1.0),
    jn.langevin.CellList(box, cutoff=1.0, capacity=8),
)
system = jn.langevin.Overdamped(potential=energy, temperature=T)  # T: scalar or [N, 1]
```

Pair sums use a neighbour strategy:

- `AllPairs(box)`: every pair `i < j`, $O(N^2)$ work; for small `N` (or no box at all).
- `CellList(box, cutoff, capacity)`: the box is cut into cells of side at least `cutoff`;
  the cell list is rebuilt inside the (jitted) energy from the positions at every call by
  sorting particles by cell and gathering the $3^{\mathrm{dim}}$ neighbouring cells, each
  padded to a fixed `capacity`. The work is $O(N \cdot 3^{\mathrm{dim}} \cdot
  \mathrm{capacity})$. A cell holding more than `capacity` particles raises an error
  (`eqx.error_if`, so also under `jit`) instead of silently dropping pairs.

Distances use the "double where" trick, so energies and their gradients stay finite when
two particles coincide ($r = 0$, where the force is taken to be zero by symmetry) and for
masked or out-of-range pairs.
"""

from __future__ import annotations

import abc
import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from .._util import as_inexact, is_concrete

__all__ = [
    "AbstractPairPotential",
    "AllPairs",
    "Box",
    "CellList",
    "HarmonicBonds",
    "PairEnergy",
    "SoftRepulsion",
    "WCA",
]


def _safe_norm(dr: Array) -> Array:
    """Euclidean norm over the last axis whose gradient is 0 (not NaN) at dr = 0."""
    r2 = jnp.sum(dr * dr, axis=-1)
    positive = r2 > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, r2, 1.0)), 0.0)


def _check_positions(x, dim: int | None, who: str) -> Array:
    x = as_inexact(x, "x")
    if x.ndim != 2:
        raise ValueError(
            f"{who}: positions `x` must have shape [N, dim] (one ensemble member), got shape "
            f"{x.shape}; simulate() vmaps the energy over the ensemble axis for you"
        )
    if dim is not None and x.shape[1] != dim:
        raise ValueError(
            f"{who}: positions `x` have dim={x.shape[1]} but the box has dim={dim}; give the "
            "box one length per spatial dimension"
        )
    return x


# ----------------------------------------------------------------------------------------
# Box
# ----------------------------------------------------------------------------------------


class Box(eqx.Module):
    r"""A rectangular simulation box $[0, L_1) \times \dots \times [0, L_{\mathrm{dim}})$.

    Periodic boxes use minimum-image displacements, $\Delta = x_i - x_j - L\,
    \mathrm{round}((x_i - x_j)/L)$, so positions may be left unwrapped (useful for
    measuring currents and diffusion). Open boxes do not wrap anything and put no wall
    on the particles; the size then only lays out the cells of a `CellList` (particles
    outside the box are counted in the nearest boundary cell, which stays correct but
    may overflow).

    **Arguments:**

    - `size`: one length per dimension, shape `[dim]` (e.g. `(20.0, 20.0)`). Python
      numbers and numpy arrays are kept as numpy (so a box and its `CellList` can be
      built inside `jit`/`vmap`); pass a JAX array to make the size a differentiable leaf.
    - `periodic`: `True` (default) for periodic boundaries in every dimension, `False`
      for an open box.

    **Example:**

    ```python
    box = jn.langevin.Box((10.0, 10.0), periodic=True)
    box.displacement(jnp.array([9.5, 0.0]), jnp.array([0.5, 0.0]))  # [-1., 0.]
    ```
    """

    size: Float[Array, " dim"]
    periodic: bool = eqx.field(static=True)

    def __init__(self, size: Float[ArrayLike, " dim"], periodic: bool = True):
        if isinstance(size, (jax.Array, jax.core.Tracer)):
            self.size = as_inexact(size, "size")
        else:
            # Python numbers / numpy stay numpy, so the box (and a CellList's cell grid)
            # can be built inside jit/vmap; pass a jax array to differentiate the size.
            try:
                self.size = np.asarray(size, dtype=float)
            except (TypeError, ValueError) as e:
                raise ValueError(f"`size` must be array-like, got {size!r}") from e
        if not isinstance(periodic, (bool, np.bool_)):
            raise ValueError(f"`periodic` must be True or False, got {periodic!r}")
        self.periodic = bool(periodic)

    def __check_init__(self):
        if self.size.ndim != 1 or self.size.shape[0] < 1:
            raise ValueError(
                f"`size` must be one length per dimension, shape [dim], got shape "
                f"{self.size.shape}; e.g. Box((L, L)) for a square box"
            )
        if is_concrete(self.size):
            size = np.asarray(self.size)
            if not np.all(np.isfinite(size) & (size > 0)):
                raise ValueError(f"`size` must be finite and > 0 in every dimension, got {size}")

    @property
    def dim(self) -> int:
        """Number of spatial dimensions."""
        return self.size.shape[0]

    def displacement(self, xi: Float[Array, "... dim"], xj: Float[Array, "... dim"]) -> Array:
        """$x_i - x_j$, as the minimum image when the box is periodic."""
        d = xi - xj
        if self.periodic:
            size = self.size.astype(d.dtype)
            d = d - size * jnp.round(d / size)
        return d

    def wrap(self, x: Float[Array, "... dim"]) -> Array:
        """Positions mapped into the box (periodic), or unchanged (open)."""
        if self.periodic:
            return jnp.mod(x, self.size.astype(x.dtype))
        return x


def _displacement(box: Box | None, xi, xj):
    return xi - xj if box is None else box.displacement(xi, xj)


# ----------------------------------------------------------------------------------------
# Pair potentials
# ----------------------------------------------------------------------------------------


class AbstractPairPotential(eqx.Module):
    """An isotropic pair potential $u(r)$ that vanishes beyond a finite cutoff.

    Subclasses implement `energy(r)` (the formula, only evaluated at $0 < r <$ `cutoff`
    or at a safe placeholder) and the `cutoff` property. Calling the potential,
    `pot(r)`, gives $u(r)$ for $r <$ `cutoff` and 0 beyond, with finite gradients on both
    sides of the cutoff.
    """

    @abc.abstractmethod
    def energy(self, r: Array) -> Array:
        """The pair energy at distances `r` inside the cutoff."""

    @property
    @abc.abstractmethod
    def cutoff(self) -> Array:
        """Distance beyond which the potential is exactly zero."""

    def __call__(self, r: Float[Array, "..."]) -> Float[Array, "..."]:
        cutoff = jnp.asarray(self.cutoff, r.dtype)
        inside = r < cutoff
        r_safe = jnp.where(inside, r, 0.5 * cutoff)
        return jnp.where(inside, self.energy(r_safe), jnp.zeros((), r.dtype))


def _check_positive(value, name: str, allow_zero: bool = False):
    if is_concrete(value):
        v = np.asarray(value)
        ok = np.isfinite(v) & ((v >= 0) if allow_zero else (v > 0))
        if not np.all(ok):
            rel = ">= 0" if allow_zero else "> 0"
            raise ValueError(f"`{name}` must be finite and {rel}, got {v}")


class SoftRepulsion(AbstractPairPotential):
    r"""Soft (harmonic) repulsion $u(r) = \tfrac{k}{2}(1 - r/\sigma)^2$ for $r < \sigma$, else 0.

    Finite at overlap ($u(0) = k/2$), so hot particles can pass each other when
    $T \gtrsim k$. The model of hot/cold mixtures (Weber, Weber & Frey 2016; Ilker &
    Joanny 2020).

    **Arguments:**

    - `k`: stiffness (energy), >= 0; a differentiable leaf.
    - `sigma`: interaction diameter (length), > 0; the cutoff.

    Reference: Weber, Weber & Frey, Phys. Rev. Lett. 116, 058301 (2016).
    """

    k: Float[Array, ""]
    sigma: Float[Array, ""]

    def __init__(self, k: ArrayLike = 1.0, sigma: ArrayLike = 1.0):
        self.k = as_inexact(k, "k")
        self.sigma = as_inexact(sigma, "sigma")

    def __check_init__(self):
        _check_positive(self.k, "k", allow_zero=True)
        _check_positive(self.sigma, "sigma")

    @property
    def cutoff(self) -> Array:
        return self.sigma

    def energy(self, r: Array) -> Array:
        k = self.k.astype(r.dtype)
        s = 1 - r / self.sigma.astype(r.dtype)
        return 0.5 * k * s * s


class WCA(AbstractPairPotential):
    r"""Weeks–Chandler–Andersen potential, the purely repulsive part of Lennard-Jones.

    $u(r) = 4\epsilon[(\sigma/r)^{12} - (\sigma/r)^6] + \epsilon$ for $r < 2^{1/6}\sigma$,
    else 0. It diverges as $r \to 0$ (physically); masked and out-of-range pairs never
    produce NaNs.

    **Arguments:**

    - `epsilon`: energy scale, >= 0.
    - `sigma`: particle diameter, > 0.

    Reference: Weeks, Chandler & Andersen, J. Chem. Phys. 54, 5237 (1971).
    """

    epsilon: Float[Array, ""]
    sigma: Float[Array, ""]

    def __init__(self, epsilon: ArrayLike = 1.0, sigma: ArrayLike = 1.0):
        self.epsilon = as_inexact(epsilon, "epsilon")
        self.sigma = as_inexact(sigma, "sigma")

    def __check_init__(self):
        _check_positive(self.epsilon, "epsilon", allow_zero=True)
        _check_positive(self.sigma, "sigma")

    @property
    def cutoff(self) -> Array:
        return 2.0 ** (1.0 / 6.0) * self.sigma

    def energy(self, r: Array) -> Array:
        eps = self.epsilon.astype(r.dtype)
        s6 = (self.sigma.astype(r.dtype) / r) ** 6
        return 4 * eps * (s6 * s6 - s6) + eps


# ----------------------------------------------------------------------------------------
# Neighbour strategies
# ----------------------------------------------------------------------------------------


class AllPairs(eqx.Module):
    """Neighbour strategy that visits every pair `i < j` ($O(N^2)$ work and memory).

    The right choice for small systems (up to a few hundred particles). `box=None` means
    free space (plain displacements).

    **Arguments:**

    - `box`: a `Box`, or `None` for free space.
    """

    box: Box | None = None

    def __check_init__(self):
        if self.box is not None and not isinstance(self.box, Box):
            raise ValueError(f"`box` must be a jaxneq.langevin.Box or None, got {self.box!r}")


def _cells_per_side(size: np.ndarray, cutoff: float, periodic: bool) -> tuple[int, ...]:
    n = np.maximum(np.floor(size / cutoff), 1).astype(int)
    return tuple(int(v) for v in n)


class CellList(eqx.Module):
    r"""Cell-list neighbour strategy, rebuilt from the positions at every energy call.

    The box is divided into `n_cells` cells per dimension of side $w_k = L_k / n_k \ge$
    `cutoff`. Inside the (jitted) energy, particles are sorted by cell and each cell's
    members are gathered into a fixed-size slot of `capacity` entries; each particle then
    looks at the $3^{\mathrm{dim}}$ cells around its own. Cost $O(N)$, shapes static, so it
    runs under `jit`, `vmap` (ensembles) and `grad`.

    If any cell holds more than `capacity` particles the energy raises (via
    `eqx.error_if`, also under `jit`) rather than dropping pairs. A safe capacity is a few
    times the mean occupancy $\rho\,w^{\mathrm{dim}}$, more where particles cluster.

    **Arguments:**

    - `box`: the `Box` (its size must be concrete here, to fix the number of cells).
    - `cutoff`: the largest interaction range the list must capture (Python float); the
      pair potential's cutoff must not exceed the cell side. For a periodic box,
      `cutoff` <= L/2 in every dimension (minimum image).
    - `capacity`: maximum number of particles per cell (Python int).

    **Example:**

    ```python
    box = jn.langevin.Box((30.0, 30.0))
    neighbours = jn.langevin.CellList(box, cutoff=1.0, capacity=8)
    energy = jn.langevin.PairEnergy(jn.langevin.SoftRepulsion(10.0, 1.0), neighbours)
    ```
    """

    box: Box
    cutoff: float = eqx.field(static=True)
    capacity: int = eqx.field(static=True)
    n_cells: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, box: Box, cutoff: float, capacity: int):
        if not isinstance(box, Box):
            raise ValueError(f"`box` must be a jaxneq.langevin.Box, got {box!r}")
        try:
            cutoff = float(cutoff)
        except TypeError as e:
            raise ValueError(
                f"`cutoff` must be a Python float (it fixes the cell grid), got {cutoff!r}"
            ) from e
        if not (np.isfinite(cutoff) and cutoff > 0):
            raise ValueError(f"`cutoff` must be finite and > 0, got {cutoff}")
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)):
            raise ValueError(f"`capacity` must be a Python int >= 1, got {capacity!r}")
        if capacity < 1:
            raise ValueError(f"`capacity` must be >= 1, got {capacity}")
        if not is_concrete(box.size):
            raise ValueError(
                "CellList needs a concrete `box.size` to lay out its cells: build the "
                "CellList outside jit/vmap (the box size may still be traced afterwards)"
            )
        size = np.asarray(box.size, dtype=float)
        if box.periodic and np.any(cutoff > size / 2):
            raise ValueError(
                f"`cutoff`={cutoff} exceeds half the periodic box size {size}; minimum-image "
                "pairs would be missed. Use a larger box or a smaller cutoff"
            )
        self.box = box
        self.cutoff = cutoff
        self.capacity = int(capacity)
        self.n_cells = _cells_per_side(size, cutoff, box.periodic)

    @property
    def n_candidates(self) -> int:
        """Number of candidate neighbours gathered per particle."""
        return len(self._offsets()) * self.capacity

    def _offsets(self) -> list[tuple[int, ...]]:
        # Per dimension: the cell offsets to visit, without duplicates when a periodic
        # dimension has fewer than 3 cells (offsets -1 and +1 would name the same cell).
        per_dim = []
        for n in self.n_cells:
            if self.box.periodic and n == 1:
                per_dim.append((0,))
            elif self.box.periodic and n == 2:
                per_dim.append((0, 1))
            else:
                per_dim.append((-1, 0, 1))
        return list(itertools.product(*per_dim))

    def cell_side(self, dtype=None) -> Array:
        """Side of a cell in each dimension, `box.size / n_cells`."""
        size = self.box.size if dtype is None else self.box.size.astype(dtype)
        return size / jnp.asarray(self.n_cells, size.dtype)

    def candidates(
        self, x: Float[Array, "N dim"]
    ) -> tuple[Int[Array, "N K"], Bool[Array, "N K"], Float[Array, "N dim"]]:
        """Candidate neighbours of every particle.

        **Arguments:**

        - `x`: positions `[N, dim]` of one ensemble member.

        **Returns:** `(idx, mask, x_checked)`: `idx[i, a]` is a particle index (or `N`
        for an empty slot), `mask[i, a]` is True for a real candidate `j != i`, and
        `x_checked` is `x` carrying the overflow check (use it, not `x`, downstream so
        the check is not optimised away). Every pair closer than the cell side appears
        in both rows `i` and `j`.
        """
        x = _check_positions(x, self.box.dim, "CellList")
        n_particles, dim = x.shape
        n_cells = np.asarray(self.n_cells)
        n_total = int(np.prod(n_cells))
        strides = np.concatenate([np.cumprod(n_cells[::-1])[::-1][1:], [1]]).astype(np.int32)
        side = self.cell_side(x.dtype)
        y = self.box.wrap(x) if self.box.periodic else x
        cell = jnp.floor(y / side).astype(jnp.int32)
        cell = jnp.clip(cell, 0, jnp.asarray(n_cells - 1, jnp.int32))
        flat = cell @ jnp.asarray(strides)

        counts = jnp.bincount(flat, length=n_total)
        starts = jnp.cumsum(counts) - counts
        order = jnp.argsort(flat)
        slot = jnp.arange(self.capacity)
        gather = jnp.clip(starts[:, None] + slot, 0, n_particles - 1)
        table = jnp.where(slot < counts[:, None], order[gather], n_particles)
        table = jnp.concatenate([table, jnp.full((1, self.capacity), n_particles)], axis=0)

        offsets = jnp.asarray(np.array(self._offsets(), dtype=np.int32).reshape(-1, dim))
        neighbour = cell[:, None, :] + offsets[None]  # [N, n_off, dim]
        nc = jnp.asarray(n_cells, jnp.int32)
        if self.box.periodic:
            neighbour = jnp.mod(neighbour, nc)
            neighbour_flat = neighbour @ jnp.asarray(strides)
        else:
            outside = jnp.any((neighbour < 0) | (neighbour >= nc), axis=-1)
            neighbour_flat = jnp.where(outside, n_total, neighbour @ jnp.asarray(strides))
        idx = table[neighbour_flat].reshape(n_particles, -1)
        mask = (idx != n_particles) & (idx != jnp.arange(n_particles)[:, None])

        overflow = jnp.max(counts) > self.capacity
        x = eqx.error_if(
            x,
            overflow,
            f"CellList overflow: a cell holds more than capacity={self.capacity} particles, "
            "so pairs would be dropped. Increase `capacity` in CellList(box, cutoff, "
            "capacity) (a few times the mean occupancy per cell; more where particles "
            "cluster), or check for collapsed/diverging configurations.",
        )
        return idx, mask, x


# ----------------------------------------------------------------------------------------
# Energies
# ----------------------------------------------------------------------------------------


class PairEnergy(eqx.Module):
    r"""Total pair energy $U(x) = \sum_{i<j} u(|x_i - x_j|)$ of one member's positions.

    Use it as a system's `potential`: `Overdamped(potential=PairEnergy(...))`; the forces
    are $-\nabla U$ by autodiff.

    **Arguments:**

    - `pair_potential`: an `AbstractPairPotential` (`SoftRepulsion`, `WCA`, ...).
    - `neighbours`: the neighbour strategy: `AllPairs(box)` ($O(N^2)$), a `CellList`
      ($O(N)$), a `Box` (shorthand for `AllPairs(box)`) or `None` (all pairs in free
      space).

    **Returns** (when called as `energy(x)` or `energy(x, t)` with `x` of shape
    `[N, dim]`): the scalar energy.

    **Example:**

    ```python
    energy = jn.langevin.PairEnergy(jn.langevin.WCA(1.0, 1.0), jn.langevin.Box((8.0, 8.0)))
    forces = -jax.grad(energy)(x)
    ```
    """

    pair_potential: AbstractPairPotential
    neighbours: AllPairs | CellList

    def __init__(
        self,
        pair_potential: AbstractPairPotential,
        neighbours: AllPairs | CellList | Box | None = None,
    ):
        if not isinstance(pair_potential, AbstractPairPotential):
            raise ValueError(
                "`pair_potential` must be a jaxneq.langevin pair potential (SoftRepulsion, "
                f"WCA, or an AbstractPairPotential subclass), got {pair_potential!r}"
            )
        if neighbours is None or isinstance(neighbours, Box):
            neighbours = AllPairs(neighbours)
        if not isinstance(neighbours, (AllPairs, CellList)):
            raise ValueError(
                "`neighbours` must be AllPairs(box), CellList(box, cutoff, capacity), a Box "
                f"or None, got {neighbours!r}"
            )
        self.pair_potential = pair_potential
        self.neighbours = neighbours

    @property
    def box(self) -> Box | None:
        return self.neighbours.box

    def __call__(self, x: Float[Array, "N dim"], t=None) -> Float[Array, ""]:
        box = self.box
        x = _check_positions(x, None if box is None else box.dim, "PairEnergy")
        cutoff = jnp.asarray(self.pair_potential.cutoff, x.dtype)
        if isinstance(self.neighbours, CellList):
            idx, mask, x = self.neighbours.candidates(x)
            x = eqx.error_if(
                x,
                cutoff > jnp.min(self.neighbours.cell_side(x.dtype)),
                "PairEnergy: the pair potential's cutoff exceeds the CellList cell side, so "
                "pairs would be missed; build the CellList with cutoff >= the potential's "
                "cutoff",
            )
            x_pad = jnp.concatenate([x, x[:1]], axis=0)
            dr = box.displacement(x[:, None, :], x_pad[idx])
            u = self.pair_potential(_safe_norm(dr))
            return 0.5 * jnp.sum(jnp.where(mask, u, jnp.zeros((), u.dtype)))
        if box is not None and box.periodic:
            x = eqx.error_if(
                x,
                2 * cutoff > jnp.min(box.size.astype(x.dtype)),
                "PairEnergy: the pair potential's cutoff exceeds half the periodic box size; "
                "minimum-image pairs would be missed. Use a larger box",
            )
        n = x.shape[0]
        i, j = np.triu_indices(n, k=1)
        dr = _displacement(box, x[i], x[j])
        return jnp.sum(self.pair_potential(_safe_norm(dr)))


class HarmonicBonds(eqx.Module):
    r"""Harmonic springs between listed pairs of particles.

    $U = \sum_b \tfrac{k_b}{2}(|x_{i_b} - x_{j_b}| - \ell_b)^2$.

    **Arguments:**

    - `pairs`: integer array `[m, 2]`, the bonded particle indices.
    - `k`: stiffness, scalar or `[m]`; differentiable.
    - `rest_length`: rest length $\ell$, scalar or `[m]` (default 0: Gaussian springs).
    - `box`: optional `Box` (minimum-image bond vectors when periodic).

    **Example:**

    ```python
    chain = jnp.stack([jnp.arange(9), jnp.arange(1, 10)], axis=1)  # a 10-bead chain
    bonds = jn.langevin.HarmonicBonds(chain, k=5.0, rest_length=1.0)
    ```
    """

    pairs: Int[Array, "m 2"]
    k: Float[Array, "*m"]
    rest_length: Float[Array, "*m"]
    box: Box | None = None

    def __init__(
        self,
        pairs: Int[ArrayLike, "m 2"],
        k: ArrayLike = 1.0,
        rest_length: ArrayLike = 0.0,
        box: Box | None = None,
    ):
        self.pairs = jnp.asarray(pairs)
        self.k = as_inexact(k, "k")
        self.rest_length = as_inexact(rest_length, "rest_length")
        self.box = box

    def __check_init__(self):
        if not jnp.issubdtype(self.pairs.dtype, jnp.integer):
            raise ValueError(f"`pairs` must be an integer array [m, 2], got {self.pairs.dtype}")
        if self.pairs.ndim != 2 or self.pairs.shape[1] != 2:
            raise ValueError(f"`pairs` must have shape [m, 2], got {self.pairs.shape}")
        m = self.pairs.shape[0]
        for name, v in (("k", self.k), ("rest_length", self.rest_length)):
            if v.ndim > 1 or (v.ndim == 1 and v.shape[0] != m):
                raise ValueError(f"`{name}` must be a scalar or have shape [{m}], got {v.shape}")
        _check_positive(self.k, "k", allow_zero=True)
        _check_positive(self.rest_length, "rest_length", allow_zero=True)
        if is_concrete(self.pairs) and np.any(np.asarray(self.pairs) < 0):
            raise ValueError("`pairs` must hold non-negative particle indices")
        if self.box is not None and not isinstance(self.box, Box):
            raise ValueError(f"`box` must be a jaxneq.langevin.Box or None, got {self.box!r}")

    def __call__(self, x: Float[Array, "N dim"], t=None) -> Float[Array, ""]:
        x = _check_positions(x, None if self.box is None else self.box.dim, "HarmonicBonds")
        if is_concrete(self.pairs) and self.pairs.size and int(jnp.max(self.pairs)) >= x.shape[0]:
            raise ValueError(
                f"`pairs` refers to particle {int(jnp.max(self.pairs))} but `x` holds only "
                f"{x.shape[0]} particles"
            )
        dr = _displacement(self.box, x[self.pairs[:, 0]], x[self.pairs[:, 1]])
        stretch = _safe_norm(dr) - self.rest_length.astype(x.dtype)
        return 0.5 * jnp.sum(self.k.astype(x.dtype) * stretch * stretch)

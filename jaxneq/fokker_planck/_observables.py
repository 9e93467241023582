r"""Currents, entropy production and first passage from a density on a grid (k_B = 1).

All take a density per unit volume (shape `grid.shape`, `p.sum() * grid.volume == 1`) and
use the face fluxes of the Scharfetter–Gummel discretisation (`rates`), so a density from
`stationary_density` has exactly zero net outflow from every cell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float

from .. import markov
from .._util import as_inexact
from ._discretise import axis_faces, check_system, map_points, rates
from ._grid import Grid


def _check_density(density, grid: Grid) -> Array:
    p = as_inexact(density, "density")
    if p.shape != grid.shape:
        raise ValueError(
            f"`density` must have the grid's shape {grid.shape}, got {p.shape} (use "
            "stationary_density(system, grid) or reshape a flat vector with .reshape(grid.shape))"
        )
    return p


def _pad_wall(flux: Array, axis: int) -> Array:
    """Append the zero flux through the upper wall along `axis`."""
    shape = list(flux.shape)
    shape[axis] = 1
    return jnp.concatenate([flux, jnp.zeros(shape, flux.dtype)], axis=axis)


def face_fluxes(
    system: Any, grid: Grid, density: ArrayLike, *, t: float = 0.0, event_shape=None
) -> tuple[Float[Array, "*shape"], ...]:
    r"""Probability current density through the upper face of every cell, one array per axis.

    Entry `i` of the array of axis $k$ is the current density $j_k$ (probability per unit
    time per unit face area) through the face between cell `i` and its `+1` neighbour along
    axis $k$: $j_k = (p_a r_{a\to b} - p_b r_{b\to a})\,h_k$ with the rates of `rates`. On a
    reflecting axis the last entry (the wall) is 0; on a periodic axis it is the wrap-around
    face.

    **Arguments:**

    - `system`, `grid`, `t`, `event_shape`: as for `rates`.
    - `density`: shape `grid.shape`, per unit volume.

    **Returns:** a tuple of `grid.ndim` arrays of shape `grid.shape`.

    **Example:**

    ```python
    (j,) = jn.fokker_planck.face_fluxes(system, grid, p)   # 1D: j[i] between cells i, i+1
    ```

    Reference: D. L. Scharfetter and H. K. Gummel, IEEE Trans. Electron Devices 16, 64 (1969).
    """
    p = _check_density(density, grid)
    faces = axis_faces(system, grid, t=t, event_shape=event_shape)
    flat = p.reshape(-1)
    h = grid.spacing
    out = []
    for k, f in enumerate(faces):
        j = (flat[f.src] * f.up - flat[f.dst] * f.down) * h[k]
        out.append(j if grid.periodic[k] else _pad_wall(j, k))
    return tuple(out)


def current_field(
    system: Any, grid: Grid, density: ArrayLike, *, t: float = 0.0, event_shape=None
) -> Float[Array, "*shape d"]:
    r"""Probability current $J = (\mu F + \alpha\mu\nabla T)p - \mu\nabla(Tp)$ at cell centres.

    Component $k$ at a cell is the average of the current densities through its lower and
    upper faces along axis $k$ (`face_fluxes`; walls carry zero), a second-order
    approximation of $J_k$ at the centre.

    **Arguments:**

    - `system`, `grid`, `t`, `event_shape`: as for `rates`.
    - `density`: shape `grid.shape`, per unit volume (e.g. from `stationary_density`).

    **Returns:** $J$, shape `grid.shape + (grid.ndim,)`.

    **Example:**

    ```python
    p = jn.fokker_planck.stationary_density(system, grid)
    J = jn.fokker_planck.current_field(system, grid, p)   # [nx, ny, 2]
    ```

    Reference: H. Risken, *The Fokker–Planck Equation* (1989), ch. 4.
    """
    fluxes = face_fluxes(system, grid, density, t=t, event_shape=event_shape)
    comps = []
    for k, j in enumerate(fluxes):
        lower = jnp.roll(j, 1, axis=k)
        if not grid.periodic[k]:  # the lower wall of the first cell carries no flux
            first = jnp.arange(grid.shape[k]).reshape((-1,) + (1,) * (grid.ndim - 1 - k)) == 0
            lower = jnp.where(first, jnp.zeros((), j.dtype), lower)
        comps.append(0.5 * (j + lower))
    return jnp.stack(comps, axis=-1)


def entropy_production_rate(
    system: Any, grid: Grid, density: ArrayLike, *, t: float = 0.0, event_shape=None
) -> Float[Array, ""]:
    r"""Entropy production rate of the continuous system, $\int J\cdot(\mu T)^{-1}J/p$.

    $\sigma = \int \mathrm{d}x \sum_k J_k^2/(D_k p)$ with $D_k = \mu_k T_k$ (the total,
    system plus medium, in nats per unit time; it equals the medium entropy production
    rate $\langle \dot Q / T\rangle$ in the steady state), summed over the faces: each face
    contributes $h^d j_f^2/(D_k(x_f)\,\bar p_f)$ with its current density $j_f$
    (`face_fluxes`) and the mean $\bar p_f$ of its two cells' densities. Converges as
    $O(h^2)$. (`jaxneq.markov.entropy_production_rate(rates(system, grid), P)` gives the
    Schnakenberg rate of the chain itself, which converges to the same limit.)

    **Arguments:**

    - `system`, `grid`, `t`, `event_shape`: as for `rates`.
    - `density`: shape `grid.shape`, per unit volume.

    **Returns:** $\sigma \ge 0$, a scalar.

    **Example:**

    ```python
    system = jn.langevin.Overdamped(lambda x: 0.5 * (x[0]**2 + x[1]**2 + (x[0]-x[1])**2),
                                    temperature=jnp.array([2.0, 1.0]))
    grid = jn.fokker_planck.Grid(-6.0, 6.0, (48, 48))
    p = jn.fokker_planck.stationary_density(system, grid)
    sigma = jn.fokker_planck.entropy_production_rate(system, grid, p)   # ~ 1/12
    ```

    Reference: U. Seifert, Rep. Prog. Phys. 75, 126001 (2012), eq. (2.53).
    """
    p = _check_density(density, grid)
    faces = axis_faces(system, grid, t=t, event_shape=event_shape)
    flat = p.reshape(-1)
    h = grid.spacing
    total = jnp.zeros((), jnp.result_type(p.dtype, faces[0].up.dtype))
    for k, f in enumerate(faces):
        pa, pb = flat[f.src], flat[f.dst]
        j = (pa * f.up - pb * f.down) * h[k]
        pbar = 0.5 * (pa + pb)
        ok = pbar > 0
        term = jnp.where(ok, j**2 / (f.diffusion_face * jnp.where(ok, pbar, 1.0)), 0.0)
        total = total + jnp.sum(term)
    return total * grid.volume


def mean_first_passage_time(
    system: Any,
    grid: Grid,
    target: Bool[ArrayLike, "*shape"] | Callable,
    *,
    t: float = 0.0,
    event_shape=None,
) -> Float[Array, "*shape"]:
    r"""Mean first-passage time from every cell to a target region (Kramers escape times).

    The mean first-passage times of the master equation `rates(system, grid)` to the target
    cells (`jaxneq.markov.mean_first_passage_times`: one dense solve, so up to 8192 cells).
    They converge to the continuous $\tau(x)$, the solution of $L^\dagger\tau = -1$ with
    $\tau = 0$ on the target and reflecting walls, with the target boundary at the centres
    of the target cells.

    **Arguments:**

    - `system`, `grid`, `t`, `event_shape`: as for `rates`.
    - `target`: a boolean mask of shape `grid.shape`, or a callable `x -> bool` of a grid
      point (the `grid.ndim`-vector of coordinates), evaluated at the cell centres.

    **Returns:** $\tau$, shape `grid.shape`, 0 on the target; `inf` where the target cannot
    be reached.

    **Example:**

    ```python
    tau = jn.fokker_planck.mean_first_passage_time(system, grid, lambda x: x[0] > 1.0)
    escape = tau[jnp.argmin(jnp.abs(grid.axes[0] + 1.0))]   # from the left well
    ```

    Reference: H. A. Kramers, Physica 7, 284 (1940); P. Hänggi, P. Talkner and M. Borkovec,
    Rev. Mod. Phys. 62, 251 (1990).
    """
    check_system(system, event_shape, grid)
    if callable(target):
        mask = map_points(lambda x: jnp.asarray(target(x), bool), grid.centres)
    else:
        mask = jnp.asarray(target)
        if mask.dtype != bool or mask.shape != grid.shape:
            raise ValueError(
                f"`target` must be a boolean mask of the grid's shape {grid.shape} or a "
                f"callable x -> bool, got dtype {mask.dtype} and shape {mask.shape}"
            )
    if mask.shape != grid.shape:
        extra = mask.shape[len(grid.shape) :]
        raise ValueError(f"`target(x)` must return one bool per grid point, got shape {extra}")
    chain = rates(system, grid, t=t, event_shape=event_shape)
    tau = markov.mean_first_passage_times(chain, mask.reshape(-1))
    return tau.reshape(grid.shape)


def cross_section_current(
    system: Any,
    grid: Grid,
    density: ArrayLike,
    axis: int,
    index: int,
    region: Callable[[Array], ArrayLike] | None = None,
    *,
    t: float = 0.0,
    event_shape=None,
) -> Float[Array, ""]:
    r"""Probability current through a cross-section of the grid, $\Phi = \int_S J_k\,\mathrm{d}S$.

    The cross-section $S$ is the plane of faces between the cells `index` and `index + 1`
    along `axis` (a line in 2D, a point in 1D), optionally weighted by `region` at the face
    centres (e.g. `lambda x: x[0] > 0` for the half-line $\{y = y_f, x > 0\}$). Summed from
    the exact face fluxes of the discretisation (`face_fluxes`), so for a stationary
    density the current through any two cross-sections bounding the same cells balances to
    solver precision. Positive for a current towards increasing coordinate `axis`. In 2D
    the current through a half-line from a point to the wall is the mean number of turns
    per unit time that the particle makes about that point (the stream function there).
    Differentiable in `density` and in every parameter of the system.

    **Arguments:**

    - `system`, `grid`, `t`, `event_shape`: as for `rates`.
    - `density`: shape `grid.shape`, per unit volume.
    - `axis`: the axis $k$ normal to the cross-section (a Python int).
    - `index`: the faces between cells `index` and `index + 1` along `axis` (a Python int,
      `0 <= index < grid.shape[axis] - 1`, or the wrap-around face `grid.shape[axis] - 1`
      on a periodic axis).
    - `region`: `None` (the whole cross-section) or a callable `x -> bool or weight` of a
      face centre (the `grid.ndim`-vector of its coordinates).

    **Returns:** $\Phi$, a scalar (probability per unit time).

    **Example:**

    ```python
    grid = jn.fokker_planck.Grid(-3.0, 3.0, (24, 24))
    p = jn.fokker_planck.stationary_density(system, grid)
    # through {y = 0, x > 0}: counter-clockwise turns about the origin per unit time
    turns = jn.fokker_planck.cross_section_current(system, grid, p, 1, 11, lambda x: x[0] > 0)
    ```

    Reference: H. Risken, *The Fokker–Planck Equation* (1989), ch. 6 (stream function of a
    stationary current in 2D).
    """
    if isinstance(axis, bool) or not isinstance(axis, int) or not 0 <= axis < grid.ndim:
        raise ValueError(f"`axis` must be a Python int in [0, {grid.ndim}), got {axis!r}")
    n = grid.shape[axis]
    last = n - 1 if grid.periodic[axis] else n - 2
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= last:
        raise ValueError(
            f"`index` must be a Python int in [0, {last}] (the faces between cells index and "
            f"index + 1 along axis {axis}), got {index!r}"
        )
    j = face_fluxes(system, grid, density, t=t, event_shape=event_shape)[axis]
    j = jnp.take(j, index, axis=axis)
    area = grid.volume / grid.spacing[axis]
    if region is None:
        return jnp.sum(j) * area.astype(j.dtype)
    centres = jnp.take(grid.centres, index, axis=axis)
    centres = centres.at[..., axis].add(0.5 * grid.spacing[axis])
    weights = map_points(lambda x: jnp.asarray(region(x)), centres).astype(j.dtype)
    if weights.shape != j.shape:
        raise ValueError(
            f"`region(x)` must return one bool or weight per face, got {weights.shape}"
        )
    return jnp.sum(j * weights) * area.astype(j.dtype)

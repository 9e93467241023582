r"""Small pieces for steady-state inverse design on grids (units: k_B = 1).

`region_probability` turns a density on a grid into the probability of a region (a well's
share, the objective of a design), and `bounded`/`unbounded` reparametrise a parameter that
physics confines to an interval (a hot spot's amplitude, a rate) so that an unconstrained
optimiser (optax) can move it freely. The optimisation loops themselves live with the user.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact
from ._grid import Grid


def region_probability(
    density: Float[ArrayLike, "*shape"],
    grid: Grid,
    region: Callable[[Array], ArrayLike] | ArrayLike,
) -> Float[Array, ""]:
    r"""Probability of a region of the grid, $P(A) = \sum_{i} p_i\,w_i\,h^d$.

    The weights $w_i$ are the region's indicator (or any weight in [0, 1]) at the cell
    centres. Differentiable in `density` (so, through `stationary_density`, in every
    parameter of the system); the region itself is held fixed.

    **Arguments:**

    - `density`: a density on `grid`, shape `grid.shape`, per unit volume (as returned by
      `stationary_density` or `evolve_density`).
    - `grid`: the `Grid`.
    - `region`: a callable `x -> bool or weight` taking one cell centre `[d]`
      (e.g. `lambda x: x[0] < 0` for the left well), or an array of weights/booleans of
      shape `grid.shape`.

    **Returns:** a scalar, the probability of the region (in [0, 1] for a normalised density).

    **Example:**

    ```python
    p = jn.fokker_planck.stationary_density(system, grid)
    left = jn.fokker_planck.region_probability(p, grid, lambda x: x[0] < 0)
    ```
    """
    p = as_inexact(density, "density")
    if p.shape != grid.shape:
        raise ValueError(
            f"`density` must have the grid's shape {grid.shape}, got {p.shape}; reshape it "
            "or pass the grid it lives on"
        )
    if callable(region):
        centres = grid.centres.reshape(-1, grid.ndim).astype(p.dtype)
        weights = jax.vmap(region)(centres).reshape(grid.shape)
    else:
        weights = jnp.asarray(region)
        if weights.shape != grid.shape:
            raise ValueError(
                f"`region` must be a callable of a cell centre or an array of the grid's "
                f"shape {grid.shape}, got shape {weights.shape}"
            )
    weights = weights.astype(p.dtype)
    return jnp.sum(p * weights) * grid.volume.astype(p.dtype)


def bounded(
    raw: Float[ArrayLike, "..."], lower: Float[ArrayLike, ""], upper: Float[ArrayLike, ""]
) -> Float[Array, "..."]:
    r"""Map an unconstrained parameter into the open interval (lower, upper).

    $\theta = \mathrm{lower} + (\mathrm{upper} - \mathrm{lower})\,\sigma(\rho)$ with the
    logistic sigmoid $\sigma$: an optimiser moves $\rho \in \mathbb{R}$ freely while the
    physical parameter (a hot spot's height, a rate) never leaves its bounds. The inverse is
    `unbounded`. Differentiable, elementwise, works under `jit`/`vmap`.

    **Arguments:** `raw` ($\rho$, any shape); `lower` < `upper` (scalars or broadcastable).

    **Returns:** $\theta$, the shape of `raw` broadcast with the bounds.

    **Example:**

    ```python
    height = jn.fokker_planck.bounded(raw, 0.0, 5.0)   # 0 < height < 5 for every raw
    raw0 = jn.fokker_planck.unbounded(2.5, 0.0, 5.0)  # start at height 2.5 (raw0 = 0)
    ```
    """
    raw = as_inexact(raw, "raw")
    lower = jnp.asarray(lower, raw.dtype)
    upper = jnp.asarray(upper, raw.dtype)
    return lower + (upper - lower) * jax.nn.sigmoid(raw)


def unbounded(
    value: Float[ArrayLike, "..."], lower: Float[ArrayLike, ""], upper: Float[ArrayLike, ""]
) -> Float[Array, "..."]:
    r"""Inverse of `bounded`: the unconstrained parameter that maps to `value`.

    $\rho = \operatorname{logit}((\theta - \mathrm{lower}) / (\mathrm{upper} -
    \mathrm{lower}))$, for a `value` strictly inside (lower, upper).

    **Arguments:** `value` ($\theta$); `lower` < `upper`.

    **Returns:** $\rho$ with `bounded(rho, lower, upper) == value` (infinite at the bounds).

    **Example:** `raw0 = jn.fokker_planck.unbounded(0.5, 0.0, 2.0)` (= log(1/3)).
    """
    value = as_inexact(value, "value")
    lower = jnp.asarray(lower, value.dtype)
    upper = jnp.asarray(upper, value.dtype)
    s = (value - lower) / (upper - lower)
    return jnp.log(s) - jnp.log1p(-s)


def mean_circulation(
    grid: Grid,
    current: Float[ArrayLike, "*shape 2"],
    centre: Float[ArrayLike, "..."] = 0.0,
    region: Callable[[Array], ArrayLike] | ArrayLike | None = None,
) -> Float[Array, ""]:
    r"""Mean circulation of a 2D current field about a point, $\int_A (x - c) \times J$.

    $\Omega = \int_A [(x_1 - c_1) J_2 - (x_2 - c_2) J_1]\,\mathrm{d}^2x$, summed over the
    cells of the region $A$ (default: the whole grid) at their centres. In a steady state
    it is the mean of $(x - c) \times \circ\dot x$ (Stratonovich) restricted to $A$:
    positive for a counter-clockwise circulation, twice the mean rate at which the
    particle sweeps area about $c$. The same function applies to a current field from
    `current_field` (a grid) or from `jaxneq.observables.CurrentField` (a simulation binned
    on the same cells), so the two are compared like with like. Differentiable in
    `current` (hence in every parameter of the system) and in `centre`.

    **Arguments:**

    - `grid`: a 2D `Grid`.
    - `current`: $J$ at the cell centres, shape `grid.shape + (2,)`.
    - `centre`: the point $c$ (a scalar for both coordinates, or `[2]`; default the origin).
    - `region`: `None` (every cell), a callable `x -> bool or weight` of a cell centre, or
      an array of weights of shape `grid.shape`.

    **Returns:** $\Omega$, a scalar (probability times length per unit time).

    **Example:**

    ```python
    p = jn.fokker_planck.stationary_density(system, grid)
    J = jn.fokker_planck.current_field(system, grid, p)
    omega = jn.fokker_planck.mean_circulation(grid, J)   # > 0: counter-clockwise
    ```

    Reference: R. K. P. Zia and B. Schmittmann, J. Stat. Mech. P07012 (2007) (probability
    angular momentum of nonequilibrium steady states).
    """
    J = as_inexact(current, "current")
    if grid.ndim != 2 or J.shape != grid.shape + (2,):
        raise ValueError(
            f"`current` must be a 2D current field of shape grid.shape + (2,) on a 2D grid, "
            f"got shape {J.shape} on a grid of shape {grid.shape}"
        )
    c = jnp.broadcast_to(jnp.asarray(centre, J.dtype), (2,))
    r = grid.centres.astype(J.dtype) - c
    moment = r[..., 0] * J[..., 1] - r[..., 1] * J[..., 0]
    if region is None:
        return jnp.sum(moment) * grid.volume.astype(J.dtype)
    return region_probability(moment, grid, region)

r"""Regular finite-volume grids in 1, 2 or 3 dimensions (units: k_B = 1).

Cells are numbered row-major: cell `(i, j)` of a `[nx, ny]` grid is state `i * ny + j` of
the Markov chain that `rates` builds, so a vector of length `grid.n_cells` reshapes to
`grid.shape` (axis k = coordinate k).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact, is_concrete


def _as_tuple(value, d: int, name: str, kind) -> tuple:
    if isinstance(value, (list, tuple)):
        out = tuple(value)
    else:
        out = (value,) * d
    if len(out) != d:
        raise ValueError(
            f"`{name}` must be a single {kind.__name__} or one per axis ({d} axes), got {value!r}"
        )
    return out


class Grid(eqx.Module):
    r"""A regular grid of cells on a box, reflecting or periodic along each axis.

    The box $\prod_k [\mathrm{lower}_k, \mathrm{upper}_k]$ is cut into `shape[k]` cells of
    width $h_k = (\mathrm{upper}_k - \mathrm{lower}_k)/n_k$ along axis $k$; cell centres sit
    at $\mathrm{lower}_k + (i + \tfrac12) h_k$. A reflecting axis has zero flux through the
    two walls; a periodic axis joins the last cell to the first (the box length is the
    period). In 1D, 2D or 3D.

    A pytree: `lower` and `upper` are array leaves (they may be traced, e.g. a `jit`
    argument), `shape` and `periodic` are static.

    **Arguments:**

    - `lower`, `upper`: the box corners, a scalar (every axis) or one value per axis;
      `upper > lower`.
    - `shape`: the number of cells, an int (1D) or one per axis (each >= 2).
    - `periodic`: a bool (every axis) or one per axis (default False: reflecting).

    **Attributes:** `.shape`, `.periodic`, `.ndim` ($d$), `.n_cells`, `.spacing` (`[d]`),
    `.volume` (the volume of one cell, $\prod_k h_k$), `.centres` (`[*shape, d]`),
    `.axes` (a tuple of the `d` 1D arrays of centres).

    **Example:**

    ```python
    grid = jn.fokker_planck.Grid(-2.0, 2.0, 200)                  # 1D, reflecting
    ring = jn.fokker_planck.Grid(0.0, 1.0, (64, 64), periodic=(True, False))
    x = grid.centres[..., 0]
    ```
    """

    lower: Float[Array, " d"]
    upper: Float[Array, " d"]
    shape: tuple[int, ...] = eqx.field(static=True)
    periodic: tuple[bool, ...] = eqx.field(static=True)

    def __init__(
        self,
        lower: float | ArrayLike,
        upper: float | ArrayLike,
        shape: int | tuple[int, ...],
        periodic: bool | tuple[bool, ...] = False,
    ):
        if isinstance(shape, (list, tuple)):
            shape_t = tuple(shape)
        else:
            shape_t = (shape,)
        if not 1 <= len(shape_t) <= 3:
            raise ValueError(f"`shape` must have 1, 2 or 3 axes, got {shape!r}")
        for n in shape_t:
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
                raise ValueError(
                    f"`shape` must be an int >= 2 or a tuple of them (cells per axis), got "
                    f"{shape!r}"
                )
        d = len(shape_t)
        self.shape = tuple(int(n) for n in shape_t)
        periodic_t = _as_tuple(periodic, d, "periodic", bool)
        if not all(isinstance(p, (bool, np.bool_)) for p in periodic_t):
            raise ValueError(f"`periodic` must be a bool or one bool per axis, got {periodic!r}")
        self.periodic = tuple(bool(p) for p in periodic_t)
        lo = as_inexact(lower, "lower")
        hi = as_inexact(upper, "upper")
        for name, arr in (("lower", lo), ("upper", hi)):
            if arr.shape not in ((), (d,)):
                raise ValueError(
                    f"`{name}` must be a scalar or one value per axis (shape ({d},)), got shape "
                    f"{arr.shape}"
                )
        dtype = jnp.result_type(lo, hi)
        self.lower = jnp.broadcast_to(lo, (d,)).astype(dtype)
        self.upper = jnp.broadcast_to(hi, (d,)).astype(dtype)

    def __check_init__(self):
        if is_concrete(self.lower, self.upper):
            lo, hi = np.asarray(self.lower), np.asarray(self.upper)
            bad = ~(np.isfinite(lo) & np.isfinite(hi) & (hi > lo))
            if bad.any():
                k = int(np.argmax(bad))
                raise ValueError(
                    f"`upper` must be finite and > `lower` on every axis, got lower={lo[k]} "
                    f"and upper={hi[k]} on axis {k}"
                )

    @property
    def ndim(self) -> int:
        """The number of axes $d$."""
        return len(self.shape)

    @property
    def n_cells(self) -> int:
        """The number of cells (states of the Markov chain)."""
        return int(np.prod(self.shape))

    @property
    def spacing(self) -> Float[Array, " d"]:
        """Cell widths $h_k$, one per axis."""
        return (self.upper - self.lower) / jnp.asarray(self.shape, self.lower.dtype)

    @property
    def volume(self) -> Float[Array, ""]:
        """The volume (length, area) of one cell, $\\prod_k h_k$."""
        return jnp.prod(self.spacing)

    @property
    def axes(self) -> tuple[Float[Array, " n"], ...]:
        """The cell centres along each axis, a tuple of `d` 1D arrays."""
        h = self.spacing
        return tuple(
            self.lower[k] + (jnp.arange(n, dtype=self.lower.dtype) + 0.5) * h[k]
            for k, n in enumerate(self.shape)
        )

    @property
    def centres(self) -> Float[Array, "*shape d"]:
        """Cell centres, `[*shape, d]` (axis k = coordinate k)."""
        return jnp.stack(jnp.meshgrid(*self.axes, indexing="ij"), axis=-1)

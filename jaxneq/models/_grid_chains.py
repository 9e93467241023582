r"""Grid chains: nearest-neighbour master equations on 1D and 2D grids (units: k_B = 1).

A particle hops between neighbouring cells of a regular grid in a potential $U$ given on the
cells, optionally with a temperature field $T$ and a non-conservative force (a "drive"). The
result is an `EdgeRates` chain, the same object a Fokker–Planck discretisation produces, so it
is the standard test bed for the sparse stationary solvers (`method="krylov"`).

State numbering is row-major: cell `(i, j)` of a `[nx, ny]` grid is state `i * ny + j`, so a
vector `p` of length `nx * ny` reshapes to the grid with `p.reshape(nx, ny)` (axis k =
coordinate k).
"""

from __future__ import annotations

import itertools

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .. import fokker_planck, langevin
from .._util import as_inexact, first_bad_index, is_concrete
from ..markov import EdgeRates

_SCHEMES = ("scharfetter-gummel", "arrhenius")


def _neighbour_pairs(shape: tuple[int, ...], periodic: bool):
    """Index pairs (a, b) with b the +1 neighbour of a along each axis, and the axis."""
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    a_list, b_list, axis_list = [], [], []
    for axis, size in enumerate(shape):
        if size < 2:
            continue
        nxt = np.roll(idx, -1, axis=axis)
        a, b = idx, nxt
        if not periodic or size == 2:
            sl = [slice(None)] * len(shape)
            sl[axis] = slice(0, size - 1)
            a, b = idx[tuple(sl)], nxt[tuple(sl)]
        a_list.append(a.ravel())
        b_list.append(b.ravel())
        axis_list.append(np.full(a.size, axis))
    return np.concatenate(a_list), np.concatenate(b_list), np.concatenate(axis_list)


def grid_chain(
    potential: Float[ArrayLike, "*grid"],
    *,
    spacing: float | tuple[float, ...] = 1.0,
    temperature: float | Float[ArrayLike, "*grid"] = 1.0,
    drive: float | Float[ArrayLike, "*grid d"] | Float[ArrayLike, " d"] = 0.0,
    mobility: float = 1.0,
    scheme: str = "scharfetter-gummel",
    periodic: bool = False,
) -> EdgeRates:
    r"""Nearest-neighbour jump chain on a 1D or 2D grid, as `EdgeRates`.

    For neighbouring cells $i \to j$ a distance $h$ apart along axis $k$, with the force
    along the edge $F = -(U_j - U_i)/h + f_k$ ($f$ the drive, averaged over the two cells)
    and the edge temperature $T_e = (T_i + T_j)/2$:

    - `"scharfetter-gummel"` (exponentially fitted finite volumes of the Ito Fokker–Planck
      equation $\partial_t p = -\nabla\cdot(\mu F p - \mu \nabla (T p))$):
      $r_{ij} = \mu T_i B(-hF/T_e) / h^2$ with the Bernoulli function $B(x) = x/(e^x-1)$.
      This is `jaxneq.fokker_planck.rates` (Ito convention) applied to the cell values
      interpolated multilinearly, so the two give the same rates;
    - `"arrhenius"`: $r_{ij} = (\mu T_e / h^2) \exp(hF / (2 T_e))$.

    Both satisfy local detailed balance, $r_{ij}/r_{ji} = e^{hF/T_e}$ when $T$ is uniform, so
    with a uniform temperature and no drive the stationary state is exactly the Boltzmann
    distribution $p_i \propto e^{-U_i/T}$ on the grid.

    **Arguments:**

    - `potential`: $U$ on the cells, shape `[nx]` or `[nx, ny]`.
    - `spacing`: cell size $h$ (a float, or one per axis).
    - `temperature`: a scalar or a field of the grid's shape (> 0).
    - `drive`: non-conservative force: a scalar (1D), a vector `[d]` (constant; it is
      non-conservative on a periodic grid), or a field `[*grid, d]` (e.g. a rotation).
    - `mobility`: $\mu > 0$.
    - `scheme`: `"scharfetter-gummel"` (default) or `"arrhenius"`.
    - `periodic`: wrap around along every axis.

    **Returns:** `EdgeRates` with `n_states = prod(grid shape)`, states numbered row-major.

    **Example:**

    ```python
    x = jnp.linspace(-2, 2, 200)
    chain = jn.models.grid_chain((x**2 - 1) ** 2 / 0.3)
    p = jn.markov.stationary(chain, method="krylov")   # Boltzmann on the grid
    ```

    Reference: D. L. Scharfetter and H. K. Gummel, IEEE Trans. Electron Devices 16, 64 (1969).
    """
    u = as_inexact(potential, "potential")
    if u.ndim not in (1, 2):
        raise ValueError(
            f"`potential` must be a 1D [nx] or 2D [nx, ny] array of cell values, got shape "
            f"{u.shape}"
        )
    if scheme not in _SCHEMES:
        raise ValueError(f"`scheme` must be one of {_SCHEMES}, got {scheme!r}")
    shape = tuple(int(s) for s in u.shape)
    d = len(shape)
    if int(np.prod(shape)) < 2:
        raise ValueError(f"`potential` must have at least 2 cells, got shape {shape}")
    dtype = u.dtype
    h = np.broadcast_to(np.asarray(spacing, dtype=float), (d,))
    if np.any(h <= 0):
        raise ValueError(f"`spacing` must be > 0, got {spacing!r}")
    temp = jnp.asarray(temperature, dtype)
    if temp.shape not in ((), shape):
        raise ValueError(
            f"`temperature` must be a scalar or a field of the grid's shape {shape}, got shape "
            f"{temp.shape}"
        )
    mu = as_inexact(mobility, "mobility").astype(dtype)
    if mu.ndim != 0:
        raise ValueError(f"`mobility` must be a scalar, got shape {mu.shape}")
    f = jnp.asarray(drive, dtype)
    if f.ndim == 0:
        f = jnp.broadcast_to(f, shape + (d,))
    elif f.shape == (d,):
        f = jnp.broadcast_to(f, shape + (d,))
    elif f.shape != shape + (d,):
        raise ValueError(
            f"`drive` must be a scalar, a vector [{d}] or a field {shape + (d,)}, got shape "
            f"{f.shape}"
        )
    checks = (
        ("potential", u, ~jnp.isfinite(u), "must be finite", "cell"),
        ("temperature", temp, ~(jnp.isfinite(temp) & (temp > 0)), "must be finite and > 0", "cell"),
        ("mobility", mu, ~(jnp.isfinite(mu) & (mu > 0)), "must be finite and > 0", None),
        ("drive", f, ~jnp.isfinite(f), "must be finite", "entry"),
    )
    temp = jnp.broadcast_to(temp, shape)
    if scheme == "scharfetter-gummel":
        _validate(jnp.zeros((), dtype), checks)  # concrete bad values raise here, by name
        chain = _scharfetter_gummel(u, temp, f, mu, h, periodic)
        rate = _validate(chain.rate, checks)  # traced ones: `eqx.error_if` on the rates
        return EdgeRates(chain.src, chain.dst, rate, chain.n_states)
    a, b, axis = _neighbour_pairs(shape, periodic)
    uf, tf = u.ravel(), temp.ravel()
    ff = f.reshape(-1, d)
    hk = jnp.asarray(h[axis], dtype)
    axis_j = jnp.asarray(axis)
    a_j, b_j = jnp.asarray(a), jnp.asarray(b)
    # force along the edge a -> b (b is the +1 neighbour along `axis`)
    f_edge = 0.5 * (ff[a_j, axis_j] + ff[b_j, axis_j])
    force = -(uf[b_j] - uf[a_j]) / hk + f_edge
    t_edge = 0.5 * (tf[a_j] + tf[b_j])
    x = hk * force / t_edge  # a -> b is downhill when x > 0
    r_ab = mu * t_edge * jnp.exp(0.5 * x) / hk**2
    r_ba = mu * t_edge * jnp.exp(-0.5 * x) / hk**2
    src = jnp.concatenate([a_j, b_j])
    dst = jnp.concatenate([b_j, a_j])
    rate = _validate(jnp.concatenate([r_ab, r_ba]), checks)
    return EdgeRates(src, dst, rate, int(np.prod(shape)))


def _multilinear(values: Array, x: Array, periodic: tuple[bool, ...]) -> Array:
    """Multilinear interpolation of cell values `[*shape, ...]` at index coordinates `x`
    `[d]` (cell i sits at i; periodic axes wrap, reflecting ones clamp)."""
    shape = values.shape[: x.shape[0]]
    lo = jnp.floor(x)
    w = x - lo
    lo = lo.astype(jnp.int32)
    out = 0.0
    for corner in itertools.product((0, 1), repeat=len(shape)):
        index, weight = [], 1.0
        for k, (c, n) in enumerate(zip(corner, shape, strict=True)):
            i = lo[k] + c
            index.append(i % n if periodic[k] else jnp.clip(i, 0, n - 1))
            weight = weight * (w[k] if c else 1 - w[k])
        out = out + weight * values[tuple(index)]
    return out


def _scharfetter_gummel(u, temp, drive, mobility, h, periodic: bool) -> EdgeRates:
    r"""The chain through `jaxneq.fokker_planck.rates` (one discretisation in one place).

    In index coordinates (cell i at position i, unit spacing) the cell values become
    fields by multilinear interpolation: at a cell centre they are the cell values, at a
    face the average of its two cells (the edge temperature and the edge drive of the
    docstring). Lengths scale out: the drive along axis k becomes $h_k f_k$ and the
    mobility $\mu/h_k^2$, which leaves every rate unchanged."""
    keep = [k for k, n in enumerate(u.shape) if n >= 2]  # a size-1 axis has no faces
    shape = tuple(u.shape[k] for k in keep)
    u = u.reshape(shape)
    temp = temp.reshape(shape)
    drive = drive.reshape(shape + (drive.shape[-1],))[..., keep]
    h = jnp.asarray(np.asarray(h)[keep], u.dtype)
    axes_periodic = tuple(bool(periodic) and n > 2 for n in shape)  # 2 cells: one face
    field_periodic = tuple(bool(periodic) for _ in shape)
    system = langevin.Overdamped(
        potential=lambda x: _multilinear(u, x, field_periodic),
        force=lambda x: h * _multilinear(drive, x, field_periodic),
        temperature=lambda x: _multilinear(temp, x, field_periodic),
        mobility=mobility / h**2,
        convention="ito",
    )
    grid = fokker_planck.Grid(
        jnp.full((len(shape),), -0.5, u.dtype),
        jnp.asarray(shape, u.dtype) - 0.5,
        shape,
        periodic=axes_periodic,
    )
    return fokker_planck.rates(system, grid)


def _validate(out, checks):
    """Concrete values: raise `ValueError` naming the argument, the first bad cell and the
    allowed range; traced ones: attach an `eqx.error_if` to `out`."""
    for name, value, bad, what, where in checks:
        if not is_concrete(value):
            out = eqx.error_if(out, jnp.any(bad), f"`{name}` {what}")
            continue
        v = np.asarray(value)
        ok = np.isfinite(v) & (v > 0) if name in ("temperature", "mobility") else np.isfinite(v)
        if not ok.all():
            loc, first = "", v
            if v.ndim:
                idx = first_bad_index(~ok)
                first = v[idx]
                loc = f" at {where} {idx[0] if len(idx) == 1 else idx}"
            raise ValueError(f"`{name}` {what}, got {float(first)}{loc}")
    return out

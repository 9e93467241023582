r"""Scharfetter–Gummel finite-volume discretisation of the Fokker–Planck equation.

Units: k_B = 1. The overdamped system $\mathrm{d}x = \mu F\,\mathrm{d}t + \sqrt{2\mu T}
\circ_\alpha \mathrm{d}W$ has, along each axis $k$ (diagonal diffusion $D_k = \mu_k T_k$),
the probability flux

$$J_k = A_k p - \partial_k (D_k p), \qquad A_k = \mu_k F_k + \alpha\,\partial_k D_k .$$

With $g = D_k^{1-\alpha} p$ this is exactly $J_k = D_k^{\alpha}\,[(F_k/T_k)\,g - \partial_k g]$
(the mobility cancels in $\mu_k F_k / D_k = F_k/T_k$). Across the face between cell $a$ and
its neighbour $b$ (a distance $h$ further along axis $k$) the flux is taken constant and the
ratio $F_k/T_k$ frozen at the face, and the two-point boundary problem is solved exactly
(exponential fitting):

$$J_{a\to b}\,h = D_f^{\alpha}\,[B(-z)\,g_a - B(z)\,g_b], \qquad
  z = \frac{-(U_b - U_a) + h f_k(x_f)}{T_k(x_f)},$$

with the Bernoulli function $B(z) = z/(e^z - 1)$, $U$ the potential, $f$ the
non-conservative force, $x_f$ the face centre and $D_f = D_k(x_f)$. As a master equation on
cell probabilities $P = p\,h^d$ this is the pair of non-negative rates

$$r_{a\to b} = D_f^{\alpha} D_a^{1-\alpha} B(-z)/h^2, \qquad
  r_{b\to a} = D_f^{\alpha} D_b^{1-\alpha} B(z)/h^2 .$$

In 1D with zero flux, $p_b/p_a = (D_a/D_b)^{1-\alpha} e^{z}$: the $D^{\alpha-1}$ factor of
$p \propto T^{\alpha-1}\exp(-\int U'/T)$ is reproduced exactly at the cells and
$z \approx -\int_a^b U'/T$ to third order per face, so the density is second-order accurate;
with uniform $T$ and no $f$ it is exactly the Boltzmann distribution on the cells. No
derivative of $T$ is needed ($\partial_k D_k$ enters only through the cell values).

Time-dependent systems are frozen at the time `t` (default 0).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .. import langevin, markov
from .._util import is_concrete
from ..markov import EdgeRates
from ._grid import Grid

_SCOPE = (
    "jaxneq.fokker_planck discretises overdamped systems only (jaxneq.langevin.Overdamped): "
    "the Fokker–Planck equation of underdamped and active particles lives in a larger phase "
    "space (velocities, orientations) and is out of scope; simulate them with "
    "jaxneq.langevin.simulate instead"
)


def bernoulli(z: Array) -> Array:
    """$B(z) = z / (e^z - 1)$ with $B(0) = 1$, accurate near 0 and for large $|z|$."""
    small = jnp.abs(z) < 1e-3
    safe = jnp.where(small, jnp.ones_like(z), z)
    series = 1 - z / 2 + z * z / 12
    return jnp.where(small, series, safe / jnp.expm1(safe))


def log_bernoulli(z: Array) -> Array:
    """$\\log B(z)$, finite for every finite $z$ (no underflow of $B$ for large $z$)."""
    a = jnp.abs(z)
    small = a < 1e-3
    safe = jnp.where(small, jnp.ones_like(a), a)
    # log B(a) for a > 0: log a - a - log(1 - e^-a)
    large = jnp.log(safe) - safe - jnp.log(-jnp.expm1(-safe))
    log_b_abs = jnp.where(small, -a / 2 - a * a / 24, large)
    return log_b_abs + jnp.maximum(-z, 0)  # B(-a) = e^a B(a)


def check_system(system: Any, event_shape, grid: Grid) -> tuple[int, ...]:
    """Trace-time checks: an `Overdamped` system whose member's state has `grid.ndim`
    entries; returns the event shape one member's state has."""
    if not isinstance(system, langevin.Overdamped):
        raise TypeError(
            f"`system` must be a jaxneq.langevin.Overdamped, got {type(system).__name__}. {_SCOPE}"
        )
    if not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a jaxneq.fokker_planck.Grid, got {type(grid).__name__}")
    d = grid.ndim
    event = (d,) if event_shape is None else tuple(int(s) for s in event_shape)
    if int(np.prod(event)) != d:
        raise ValueError(
            f"`event_shape` {event} has {int(np.prod(event))} entries but the grid has {d} "
            f"axes: a grid point is a vector of {d} coordinates, reshaped to `event_shape` "
            "before the system is called (e.g. event_shape=(2, 1) for "
            "jaxneq.models.two_temperature_pair on a 2D grid)"
        )
    point = SystemAtPoint(system, event, 0.0)
    x = jax.ShapeDtypeStruct((d,), grid.lower.dtype)
    try:
        for fn in (point.potential, point.temperature, point.diffusion):
            jax.eval_shape(fn, x)
    except (TypeError, ValueError) as e:
        if "TimeDependent" in str(e):
            raise
        raise ValueError(
            f"`system` cannot be evaluated at a grid point reshaped to the event shape {event}: "
            f"{e}. If one member's state has another shape (e.g. [2, 1] for "
            "jaxneq.models.two_temperature_pair), pass `event_shape`."
        ) from e
    return event


class SystemAtPoint(NamedTuple):
    """The system's fields at one grid point x (a d-vector), through its public methods."""

    system: Any
    event: tuple[int, ...]
    t: Any

    def _e(self, x):
        return x.reshape(self.event)

    def potential(self, x):
        return jnp.asarray(self.system.potential_at(self._e(x), self.t), x.dtype)

    def nonconservative_force(self, x):
        if self.system.force is None:
            return jnp.zeros_like(x)
        total = self.system.total_force(self._e(x), self.t).reshape(x.shape)
        if self.system.potential is None:
            return total
        return total + jax.grad(lambda y: self.potential(y))(x)

    def temperature(self, x):
        return self.system.temperature_at(self._e(x)).reshape(x.shape)

    def diffusion(self, x):
        return self.system.diffusion_coefficient_at(self._e(x)).reshape(x.shape)


def map_points(fn, X):
    """`fn` of each point of `X` `[*s, d]`, vmapped over the flattened points."""
    flat = X.reshape(-1, X.shape[-1])
    out = jax.vmap(fn)(flat)
    return out.reshape(X.shape[:-1] + out.shape[1:])


def _take(arr, axis, start, stop):
    sl = [slice(None)] * arr.ndim
    sl[axis] = slice(start, stop)
    return arr[tuple(sl)]


class AxisFaces(NamedTuple):
    """The faces along one axis: `a` -> `b` (b the +1 neighbour; the wrap-around face too on
    a periodic axis). Arrays have the grid's shape, shortened by one along `axis` when the
    axis is reflecting (no face through the wall)."""

    src: np.ndarray  # cell a (flat index)
    dst: np.ndarray  # cell b
    up: Array  # r_{a -> b}
    down: Array  # r_{b -> a}
    z: Array  # the exponential-fitting argument
    log_weight: Array  # log(D_f^alpha D_a^(1-alpha)) - 2 log h: log r_up = this + log B(-z)
    diffusion_face: Array  # D_k at the face centre


def axis_faces(system, grid: Grid, *, t=0.0, event_shape=None) -> tuple[AxisFaces, ...]:
    """The Scharfetter–Gummel faces of every axis (see the module docstring)."""
    event = check_system(system, event_shape, grid)
    values, _ = _face_values(system, grid, t, event)
    out = []
    for k, ((src, dst), (z, up, down, log_w_up, D_f)) in enumerate(
        zip(_axis_pairs(grid), values, strict=True)
    ):
        z, up, down = _finite_or_error((z, up, down), k, grid)
        out.append(AxisFaces(src, dst, up, down, z, log_w_up, D_f))
    return tuple(out)


def _axis_pairs(grid: Grid) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per axis, the flat indices of the cells `a` and `b` (its +1 neighbour) of each face."""
    idx = np.arange(grid.n_cells).reshape(grid.shape)
    pairs = []
    for k in range(grid.ndim):
        if grid.periodic[k]:
            pairs.append((idx, np.roll(idx, -1, axis=k)))
        else:
            n = grid.shape[k]
            pairs.append((_take(idx, k, 0, n - 1), _take(idx, k, 1, n)))
    return pairs


def krylov_plan(grid: Grid) -> markov.KrylovPlan:
    """The Krylov solver's preconditioner plan for the chain of `rates(system, grid)`.

    `jaxneq.markov.krylov_plan` of the grid's edge list with the cell indices as
    coordinates: its aggregates are boxes of cells (4 x 4, then 16 x 16 in 2D), which
    halves the iterations against the graph-only plan `jaxneq.markov.stationary` builds by
    itself (62 -> 33 on the 256 x 256 grid of `benchmarks/fokker_planck.py`).
    `stationary_density` uses it; pass it as `krylov_plan=` when calling
    `jaxneq.markov.stationary` on `rates(system, grid)` directly. Structure only (the same
    for every system on this grid), built on the host and cached.

    **Arguments:** `grid`, a `Grid`.

    **Returns:** a `jaxneq.markov.KrylovPlan`.
    """
    return _cached_plan(grid.shape, grid.periodic)


@functools.lru_cache(maxsize=8)
def _cached_plan(shape: tuple[int, ...], periodic: tuple[bool, ...]) -> markov.KrylovPlan:
    grid = Grid(0.0, 1.0, shape, periodic=periodic)
    src, dst = _edge_list(_axis_pairs(grid))
    coordinates = np.indices(shape).reshape(len(shape), -1).T
    with jax.ensure_compile_time_eval():  # concrete arrays even inside a `jit` trace
        return markov.krylov_plan(src, dst, grid.n_cells, coordinates=coordinates)


def _edge_list(pairs) -> tuple[np.ndarray, np.ndarray]:
    """Flat `(src, dst)`: per axis, the faces a -> b, then b -> a (the order of `rates`)."""
    src = np.concatenate([np.concatenate([a.ravel(), b.ravel()]) for a, b in pairs])
    dst = np.concatenate([np.concatenate([b.ravel(), a.ravel()]) for a, b in pairs])
    return src, dst


def cell_log_diffusion(system, grid: Grid, *, t=0.0, event_shape=None) -> Array:
    """$\\log D_k$ at the cell centres, `[*shape, d]`."""
    event = check_system(system, event_shape, grid)
    return _face_values(system, grid, t, event)[1]


@eqx.filter_jit
def _face_values(system, grid: Grid, t, event):
    """Per axis: z, r_up, r_down, log(D_f^a D_a^(1-a) / h^2) and D_f; and log D at the cells
    (one compiled call, so that eager use does not dispatch op by op)."""
    point = SystemAtPoint(system, event, t)
    alpha = system.alpha
    X = grid.centres
    d = grid.ndim
    h_all = grid.spacing
    U = map_points(point.potential, X)
    logD = jnp.log(map_points(point.diffusion, X))  # [*shape, d]
    out = []
    for k in range(d):
        n = grid.shape[k]
        h = h_all[k]
        step = jnp.zeros((d,), X.dtype).at[k].set(1.0) * h
        if grid.periodic[k]:
            last = _take(X, k, n - 1, n)
            U_b = jnp.concatenate(
                [_take(U, k, 1, n), map_points(point.potential, last + step)], axis=k
            )
            Xa, Ua = X, U
            logD_a, logD_b = logD[..., k], jnp.roll(logD[..., k], -1, axis=k)
        else:
            Xa, Ua, U_b = _take(X, k, 0, n - 1), _take(U, k, 0, n - 1), _take(U, k, 1, n)
            logD_a, logD_b = _take(logD[..., k], k, 0, n - 1), _take(logD[..., k], k, 1, n)
        Xf = Xa + step / 2
        T_f = map_points(point.temperature, Xf)[..., k]
        D_f = map_points(point.diffusion, Xf)[..., k]
        drive = -(U_b - Ua)
        if system.force is not None:
            drive = drive + h * map_points(point.nonconservative_force, Xf)[..., k]
        log_h2 = 2 * jnp.log(h)
        log_w_up = alpha * jnp.log(D_f) + (1 - alpha) * logD_a - log_h2
        log_w_down = alpha * jnp.log(D_f) + (1 - alpha) * logD_b - log_h2
        z = drive / T_f
        up = jnp.exp(log_w_up) * bernoulli(-z)
        down = jnp.exp(log_w_down) * bernoulli(z)
        out.append((z, up, down, log_w_up, D_f))
    return tuple(out), logD


def _finite_or_error(values, k, grid):
    """`values` = (z, up, down) of axis `k`: concrete, a `ValueError` naming the first bad
    face; traced, an `eqx.error_if` attached to all three."""
    z = values[0]
    msg = (
        f"the system's potential, force or temperature is not finite on the grid (axis {k}): "
        "check that the grid lies inside the domain where they are defined and that "
        "temperature and mobility are > 0 there"
    )
    bad = ~jnp.isfinite(z) | ~jnp.isfinite(values[1]) | ~jnp.isfinite(values[2])
    if is_concrete(*values):
        bad = np.asarray(bad)
        if bad.any():
            i = tuple(int(v) for v in np.argwhere(bad)[0])
            raise ValueError(f"{msg}; first bad face: cell {i} (grid.shape {grid.shape})")
        return values
    return eqx.error_if(values, jnp.any(bad), msg)


def rates(system: Any, grid: Grid, *, t: float = 0.0, event_shape=None) -> EdgeRates:
    r"""The Fokker–Planck equation of an overdamped system on a grid, as a master equation.

    Finite volumes with Scharfetter–Gummel (exponentially fitted) fluxes between
    neighbouring cells: along axis $k$, between cell $a$ and its neighbour $b$ at distance
    $h_k$,

    $$r_{a\to b} = D_f^{\alpha} D_a^{1-\alpha} \frac{B(-z)}{h_k^2}, \quad
      r_{b\to a} = D_f^{\alpha} D_b^{1-\alpha} \frac{B(z)}{h_k^2}, \quad
      z = \frac{-(U_b - U_a) + h_k f_k(x_f)}{T_k(x_f)},$$

    with $B(z) = z/(e^z-1)$, $D = \mu T$ per axis, $x_f$ the face centre and $\alpha$ the
    system's convention. This discretises $J = (\mu F + \alpha \mu \nabla T)p -
    \mu\nabla(Tp)$ (constant $\mu$; a mobility field enters through $D$), i.e. potentials,
    non-conservative forces, per-dof temperatures, temperature fields and the three
    conventions, with non-negative rates. The 1D equilibrium density
    $p \propto T^{\alpha-1}\exp(-\int U'/T)$ is reproduced to second order in $h$ (its
    $T^{\alpha-1}$ factor exactly), and Boltzmann's exactly at uniform temperature. Walls
    of reflecting axes carry no flux; periodic axes join the last cell to the first (the
    potential is evaluated at the unwrapped neighbour, so a tilted washboard
    $U(x + L) = U(x) - FL$ is a valid periodic system).

    Scope: `jaxneq.langevin.Overdamped` only; underdamped and active systems (whose
    Fokker–Planck equation needs velocities or orientations as coordinates) raise a
    `TypeError`.

    **Arguments:**

    - `system`: a `jaxneq.langevin.Overdamped`.
    - `grid`: a `Grid`; a grid point is the vector of its `grid.ndim` coordinates.
    - `t`: the time at which a time-dependent potential or force is frozen (default 0).
    - `event_shape`: the shape one member's state has for `system` (default `(grid.ndim,)`);
      the grid point is reshaped to it, e.g. `(2, 1)` for
      `jaxneq.models.two_temperature_pair` on a 2D grid.

    **Returns:** `jaxneq.markov.EdgeRates` on `grid.n_cells` states (row-major cell
    numbering); its stationary distribution is the probability of each cell, i.e. density
    times `grid.volume`.

    **Errors:** a system other than `Overdamped` raises a `TypeError`; an `event_shape` that
    does not fit raises a `ValueError` at trace time; a potential, force or temperature
    that is not finite somewhere on the grid raises a `ValueError` naming the face (eager)
    or, under `jit`, an `eqx.error_if` runtime error with the same message.

    **Example:**

    ```python
    system = jn.langevin.Overdamped(lambda x: jnp.sum((x**2 - 1) ** 2))
    grid = jn.fokker_planck.Grid(-2.0, 2.0, 200)
    chain = jn.fokker_planck.rates(system, grid)
    P = jn.markov.stationary(chain)  # cell probabilities
    ```

    Reference: D. L. Scharfetter and H. K. Gummel, IEEE Trans. Electron Devices 16, 64
    (1969); N. G. van Kampen, IBM J. Res. Dev. 32, 107 (1988) (conventions, temperature
    fields).
    """
    faces = axis_faces(system, grid, t=t, event_shape=event_shape)
    return _edge_rates(faces, grid.n_cells)


def _edge_rates(faces, n_cells: int) -> EdgeRates:
    src, dst = _edge_list([(f.src, f.dst) for f in faces])
    rate = jnp.concatenate([jnp.concatenate([f.up.ravel(), f.down.ravel()]) for f in faces])
    return EdgeRates(jnp.asarray(src, jnp.int32), jnp.asarray(dst, jnp.int32), rate, n_cells)

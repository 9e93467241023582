r"""Stationary and transient densities on a grid (units: k_B = 1).

A density `p` on a grid has shape `grid.shape` and is a probability per unit volume:
`p.sum() * grid.volume == 1`; the probability of a cell is `p * grid.volume`.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .. import markov
from .._util import as_inexact
from ._discretise import axis_faces, cell_log_diffusion, krylov_plan, log_bernoulli, rates
from ._grid import Grid

_METHODS = ("auto", "exact", "gth", "lu", "krylov")


def _cumlogsumexp(x: Array, reverse: bool = False) -> Array:
    """Running log-sum-exp (a sequential scan: exact in log space, cheap to compile and to
    differentiate, unlike an associative scan)."""

    def step(acc, v):
        acc = jnp.logaddexp(acc, v)
        return acc, acc

    _, out = jax.lax.scan(step, jnp.full((), -jnp.inf, x.dtype), x, reverse=reverse)
    return out


def _reflecting_1d(z: Array, log_d: Array) -> Array:
    """log of unnormalised cell probabilities of a 1D reflecting chain (detailed balance)."""
    # log(P_{i+1}/P_i) = log r_up - log r_down = (1 - alpha)(log D_i - log D_{i+1}) + z_i
    return jnp.concatenate([jnp.zeros((1,), z.dtype), jnp.cumsum(z)]) + log_d


def _ring_1d(z: Array, log_weight: Array, log_d: Array) -> tuple[Array, Array]:
    r"""log of unnormalised cell probabilities of a 1D ring, and the affinity A.

    With $u_i$ ($i \to i+1$), $w_i$ ($i+1 \to i$), $\Phi_k = \sum_{j<k}\ln(u_j/w_j)$ and the
    affinity $A = \Phi_n$: $\tilde P_i = e^{\Phi_i}[\sum_{k \ge i} e^{-\Phi_k}/u_k +
    e^{-A}\sum_{k<i} e^{-\Phi_k}/u_k]$ (every term positive), and the current through every
    face is $J = (1 - e^{-A})/\sum_i \tilde P_i$.
    """
    affinity = jnp.sum(z)
    phi = jnp.concatenate([jnp.zeros((1,), z.dtype), jnp.cumsum(z)[:-1]]) + log_d
    log_c = -phi - (log_weight + log_bernoulli(-z))  # e^-Phi_k / u_k
    suffix = _cumlogsumexp(log_c, reverse=True)
    inclusive = _cumlogsumexp(log_c)
    # exclusive prefix sums; the first is empty (log 0) and is not used
    prefix = jnp.concatenate([inclusive[:1], inclusive[:-1]])
    with_prefix = jnp.logaddexp(suffix, prefix - affinity)
    first = jnp.arange(z.shape[0]) == 0
    return phi + jnp.where(first, suffix, with_prefix), affinity


@functools.partial(jax.jit, static_argnames=("alpha", "periodic"))
def _exact_1d_solve(z, log_weight, log_diffusion, alpha: float, periodic: bool):
    log_d = -(1 - alpha) * log_diffusion  # the cell part of the detailed ratios
    if periodic:
        log_p, affinity = _ring_1d(z, log_weight, log_d)
        total = jax.nn.logsumexp(log_p)
        current = -jnp.expm1(-affinity) * jnp.exp(-total)
    else:
        log_p = _reflecting_1d(z, log_d)
        total = jax.nn.logsumexp(log_p)
        current = jnp.zeros((), log_p.dtype)
    return jnp.exp(log_p - total), current


def exact_1d(system, grid: Grid, *, t=0.0, event_shape=None) -> tuple[Array, Array]:
    """Cell probabilities `[n]` of a 1D grid (exact for the chain) and the ring current
    (probability per unit time through every face; 0 on a reflecting grid)."""
    (faces,) = axis_faces(system, grid, t=t, event_shape=event_shape)
    log_diffusion = cell_log_diffusion(system, grid, t=t, event_shape=event_shape)[..., 0]
    return _exact_1d_solve(faces.z, faces.log_weight, log_diffusion, system.alpha, grid.periodic[0])


def stationary_density(
    system: Any,
    grid: Grid,
    *,
    method: str = "auto",
    t: float = 0.0,
    event_shape: tuple[int, ...] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    max_iters: int | None = None,
) -> Float[Array, "*shape"]:
    r"""Stationary density of an overdamped system on a grid (integrates to 1).

    The stationary distribution of the master equation `rates(system, grid)`, divided by the
    cell volume: `p.sum() * grid.volume == 1`. Differentiable in every parameter of the
    system (and in `grid.lower`/`grid.upper`), under `jit` and `vmap` (a sweep over a batch
    of systems is one compiled call).

    **Methods and accuracy:**

    - `"exact"` (1D only): the chain is solved in closed form in $O(n)$, in log space and
      without subtractions. Reflecting: products of the detailed ratios,
      $P_{i+1}/P_i = r_{i\to i+1}/r_{i+1\to i}$. Periodic: the ring formula
      $\tilde P_i = e^{\Phi_i}[\sum_{k\ge i} e^{-\Phi_k}/u_k + e^{-A}\sum_{k<i}
      e^{-\Phi_k}/u_k]$ with $\Phi_k = \sum_{j<k}\ln(u_j/w_j)$, the affinity $A = \Phi_n$
      and the constant current $J = (1 - e^{-A})/\sum_i\tilde P_i$. Entrywise relative
      accuracy (a few ulps times the range of $\log p$), tails included. Gradients by
      plain autodiff of the formula.
    - `"gth"`, `"lu"`, `"krylov"`: `jaxneq.markov.stationary` on the `EdgeRates`, with its
      implicit adjoint (one adjoint solve per gradient). GTH is entrywise relative
      (densifies: up to a few thousand cells); `"krylov"` is matrix free and promises a
      residual norm, so tails below ~`rtol` of the peak carry relative errors (see
      `jaxneq.markov.stationary`): a user who fits $\log p$ in the tails should lower
      `rtol` (float64) or use `"gth"`. Conversely, the float64 default `rtol=1e-12` sits
      far below the grid's own $O(h^2)$ error: `rtol=1e-8` saves about a fifth of the
      time of a 256 x 256 solve with the error against the closed form unchanged to six
      digits (`benchmarks/fokker_planck.py`, the `matched_rtol` keys). The Krylov solve
      uses the grid's own preconditioner plan (`krylov_plan(grid)`: aggregates that are
      boxes of cells), about half the iterations of the graph-only plan.
    - `"auto"` (default): `"exact"` in 1D; in 2D/3D `jaxneq.markov.stationary`'s own
      choice (GTH up to 2048 cells, Krylov above).

    This is the discrete solution; its error against the continuous density is $O(h^2)$
    (see `rates`).

    **Arguments:**

    - `system`: a `jaxneq.langevin.Overdamped` (time-dependent fields frozen at `t`).
    - `grid`: a `Grid`.
    - `method`: as above.
    - `t`, `event_shape`: as for `rates`.
    - `rtol`, `atol`, `max_iters`: passed to `jaxneq.markov.stationary` (Krylov options).

    **Returns:** `p`, shape `grid.shape`, density per unit volume.

    **Example:**

    ```python
    system = jn.langevin.Overdamped(lambda x: jnp.sum((x**2 - 1) ** 2),
                                    temperature=jn.models.blowtorch(centre=0.5, height=2.0))
    grid = jn.fokker_planck.Grid(-2.0, 2.0, 400)
    p = jn.fokker_planck.stationary_density(system, grid)
    left = p[:200].sum() * grid.volume
    ```

    Reference: D. L. Scharfetter and H. K. Gummel, IEEE Trans. Electron Devices 16, 64
    (1969); B. Derrida, J. Stat. Phys. 31, 433 (1983) (the ring formula).
    """
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {_METHODS}, got {method!r}")
    if method == "auto":
        method = "exact" if isinstance(grid, Grid) and grid.ndim == 1 else "auto"
    if method == "exact":
        if not isinstance(grid, Grid) or grid.ndim != 1:
            raise ValueError(
                "`method='exact'` solves 1D grids only; use 'auto', 'gth' or 'krylov' in 2D/3D"
            )
        P, _ = exact_1d(system, grid, t=t, event_shape=event_shape)
    else:
        chain = rates(system, grid, t=t, event_shape=event_shape)
        plan = krylov_plan(grid) if method in ("auto", "krylov") else None
        P = markov.stationary(
            chain, method=method, rtol=rtol, atol=atol, max_iters=max_iters, krylov_plan=plan
        )
    return P.reshape(grid.shape) / grid.volume.astype(P.dtype)


def evolve_density(
    system: Any,
    grid: Grid,
    p0: ArrayLike,
    t: ArrayLike,
    *,
    method: str = "auto",
    event_shape: tuple[int, ...] | None = None,
) -> Float[Array, "..."]:
    r"""Transient density $p(t)$ from $p(0) = p_0$ under the discretised Fokker–Planck equation.

    $P(t) = P_0\,e^{Qt}$ for the master equation `rates(system, grid)` on cell probabilities
    $P = p\,h^d$ (`jaxneq.markov.evolve`: a dense matrix exponential up to 1024 cells,
    uniformisation above; see its docstring for the cost and the autodiff support).
    Time-dependent systems are frozen at time 0.

    **Arguments:**

    - `system`: a `jaxneq.langevin.Overdamped`.
    - `grid`: a `Grid`.
    - `p0`: initial density, shape `grid.shape` (per unit volume; normalise it to
      `p0.sum() * grid.volume == 1` for a probability density).
    - `t`: a time $\ge 0$ or a 1D array of times.
    - `method`: `"auto"`, `"expm"` or `"uniformization"` (see `jaxneq.markov.evolve`).
    - `event_shape`: as for `rates`.

    **Returns:** the density, shape `grid.shape` for a scalar `t`, `[len(t), *grid.shape]`
    for an array of times.

    **Example:**

    ```python
    p0 = jnp.zeros(grid.shape).at[50].set(1 / grid.volume)   # all mass in cell 50
    p = jn.fokker_planck.evolve_density(system, grid, p0, jnp.array([0.1, 1.0]))
    ```

    Reference: N. G. van Kampen, *Stochastic Processes in Physics and Chemistry* (2007),
    ch. VIII.
    """
    chain = rates(system, grid, event_shape=event_shape)
    p0 = as_inexact(p0, "p0")
    if p0.shape != grid.shape:
        raise ValueError(f"`p0` must have the grid's shape {grid.shape}, got {p0.shape}")
    vol = grid.volume
    out = markov.evolve(chain, p0.reshape(-1) * vol, t, method=method)
    return out.reshape(out.shape[:-1] + grid.shape) / vol

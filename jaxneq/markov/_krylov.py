r"""Matrix-free Krylov solvers for large sparse master equations (units: k_B = 1).

`krylov_stationary(rates)` solves $pQ = 0$, $\sum_i p_i = 1$ and `krylov_adjoint(rates, p, g)`
solves $Qv = g - (p\cdot g)\mathbf 1$ with $p \cdot v = 0$ (the adjoint solve of
`stationary`'s implicit gradient). Both only ever touch the rates through segment-sum
products over the edge list, so memory is $O(n + m)$ for $n$ states and $m$ edges.

**The singular system.** $Q$ has a one-dimensional null space on either side. One state $k$
(the most probable one) is pinned: its equation is replaced by $-d_k x_k = -d_k c$
(forward) or $-d_k v_k = 0$ (adjoint), $d_k$ its exit rate, the sign and scale of every
other row. For an irreducible chain the pinned matrix is then minus a nonsingular M-matrix,
and the dropped equation is implied by the others.

**Preconditioner: multilevel aggregation (aggregation–disaggregation V-cycle).** States
are cut into contiguous blocks of `block_size` (16) indices, the blocks into blocks of 16
aggregates, and so on until at most 256 aggregates remain (a grid chain numbered row-major
gives blocks that are segments of grid lines, then whole lines, then bands of lines).

- Smoother at every level: block Jacobi, the 16x16 diagonal blocks inverted by batched
  Gauss–Jordan elimination (diagonally dominant M-matrices: no pivoting needed).
- Coarse levels: Galerkin operators built from the same edge list, with the within-block
  shape of the stationary state as prolongation weights (forward) or restriction weights
  (adjoint): the coarse operators are the aggregated chains of iterative
  aggregation–disaggregation. The coarsest (<= 256 states) is LU-factorised densely.
- The within-block shapes come from the local equilibrium of every block at every level
  (its in-block chain, solved with a small uniform restart rate); the stationary state of
  the coarsest chain times these shapes is the initial guess (exact for a chain whose
  blocks equilibrate internally). The adjoint takes its shapes from the known $p$.

**Structure plan.** With the plain numbering, blocks of consecutive states are strips (on a
row-major grid), a poor aggregation: 260 iterations on a 256x256 grid. `krylov_plan` (host
numpy, structure only) relabels the states by recursive breadth-first bisection of the
graph, so that blocks at every level are clusters (61 iterations at 256², rtol 1e-12), and
compacts the coarse edge lists. It is built automatically when `src` and `dst` are
concrete, and can be passed as `plan=` when they are traced. Given the states'
`coordinates` (a grid's cell indices: `jaxneq.fokker_planck.krylov_plan`) it uses recursive
coordinate bisection instead, whose blocks are boxes (4 x 4, then 16 x 16 cells): 33
iterations on the same 256² grid (the graph metric makes diamonds, some of them split).

The outer iteration is right-preconditioned BiCGStab (hand-written; it tests the residual
only), restarted from the true residual when its recursive residual drifts.
Convergence is declared when the exit-rate-scaled residual $\|D^{-1}(b - Ax)\|_2 \le
\mathrm{rtol}\,\|D^{-1}b\|_2$ ($D$ = exit rates): in the forward problem, a balance error
per state measured in units of probability. A solve that does not converge raises an
`eqx.error_if` runtime error (also under `jit`); it never returns an unconverged vector
silently.

References: Y. Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed. (SIAM, 2003),
§7.4.2 (BiCGStab); W. J. Stewart, *Introduction to the Numerical Solution of Markov Chains*
(Princeton, 1994), ch. 6 (iterative aggregation–disaggregation); H. De Sterck et al., SIAM
J. Sci. Comput. 30, 1181 (2008) (aggregation multigrid for Markov chains).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from .._util import is_concrete
from ._krylov_plan import (
    BLOCK_SIZE as BLOCK_SIZE,
    MAX_COARSE_STATES as MAX_COARSE_STATES,
    KrylovPlan as KrylovPlan,
    _block,
    _n_levels,
    krylov_plan as krylov_plan,
)
from ._rates import EdgeRates, Rates


def default_rtol(dtype) -> float:
    """Default relative tolerance: 1e-12 in float64, 1e-4 in float32."""
    return 1e-12 if jnp.finfo(dtype).bits >= 64 else 1e-4


class KrylovInfo(NamedTuple):
    """Diagnostics of one Krylov solve."""

    converged: Bool[Array, ""]
    iterations: Int[Array, ""]
    residual: Float[Array, ""]


class _Chain(NamedTuple):
    """Edge list padded to `n_pad = n_top * block**levels` states (padding is isolated)."""

    src: Int[Array, " m"]
    dst: Int[Array, " m"]
    rate: Float[Array, " m"]
    exit: Float[Array, " n_pad"]
    n: int
    n_pad: int
    block: int
    levels: int
    perm: Int[Array, " n"] | None
    coarse: tuple | None


def _chain(rates: Rates, block_size: int | None, plan: KrylovPlan | None = None) -> _Chain:
    if isinstance(rates, EdgeRates):
        src, dst, r, n = rates.src, rates.dst, rates.offdiagonal_rate, rates.n_states
    else:
        n = rates.shape[0]
        idx = jnp.arange(n)
        src, dst = jnp.repeat(idx, n), jnp.tile(idx, n)
        r = jnp.where(src == dst, jnp.zeros((), rates.dtype), rates.reshape(-1))
    bs = _block(block_size)
    levels = _n_levels(n, bs)
    if plan is None and isinstance(rates, EdgeRates) and is_concrete(src, dst) and levels > 0:
        plan = krylov_plan(src, dst, n, block_size=bs)
    if plan is not None:
        if len(plan.coarse) != levels:
            raise ValueError("`plan` was built for another chain or block_size: rebuild it")
        src, dst = plan.perm[src], plan.perm[dst]
    n_pad = math.ceil(n / bs**levels) * bs**levels
    exit_rates = jax.ops.segment_sum(r, src, n_pad)
    perm = None if plan is None else plan.perm
    coarse = None if plan is None else plan.coarse
    return _Chain(src, dst, r, exit_rates, n, n_pad, bs, levels, perm, coarse)


def _gauss_jordan(a, rhs):
    """Batched solve of `a x = rhs` without pivoting ([b, k, k], [b, k, c]).

    Used only on diagonal blocks of (shifted) generators, which are diagonally dominant
    M-matrices (by columns or rows), so elimination without pivoting is stable. (Batched
    LAPACK `getrf` through `jnp.linalg.inv` was 3x faster here but deadlocked the XLA CPU
    runtime now and then on a 256 x 256 grid, jax 0.10.2.)
    """
    k = a.shape[-1]
    aug = jnp.concatenate([a, rhs], axis=2)

    def step(j, aug):
        pivot = aug[:, j, j]
        pivot = jnp.where(pivot == 0, jnp.ones_like(pivot), pivot)
        row = aug[:, j, :] / pivot[:, None]
        col = aug[:, :, j].at[:, j].set(0)
        aug = aug - col[:, :, None] * row[:, None, :]
        return aug.at[:, j, :].set(row)

    return jax.lax.fori_loop(0, k, step, aug)[:, :, k:]


def _dense_blocks(n_l: int, bs: int, rows, cols, vals, diag):
    """Diagonal blocks [n_l/bs, bs, bs] of the matrix (rows, cols, vals) + diag(diag)."""
    nb = n_l // bs
    same = (rows // bs) == (cols // bs)
    vals = jnp.where(same, vals, jnp.zeros((), vals.dtype))
    blocks = jnp.zeros((nb, bs, bs), vals.dtype)
    blocks = blocks.at[rows // bs, rows % bs, cols % bs].add(vals)
    i = jnp.arange(n_l)
    return blocks.at[i // bs, i % bs, i % bs].add(diag)


def _shapes(x, bs):
    """x normalised to sum 1 within each block of bs (uniform where a block sums to 0)."""
    xb = x.reshape(-1, bs)
    tot = xb.sum(axis=1, keepdims=True)
    uniform = jnp.full_like(xb, 1.0 / bs)
    return jnp.where(tot > 0, xb / jnp.where(tot > 0, tot, 1), uniform).reshape(-1)


def _local_equilibrium(c: _Chain):
    """Aggregation hierarchy of within-block stationary shapes, and the initial guess.

    Level by level, every block of `block` (aggregated) states is equilibrated on its own
    (its in-block chain with a small uniform restart rate), the blocks become the states of
    the next level's chain, and the coarsest chain is solved densely: a multilevel
    aggregation–disaggregation estimate of the stationary state.
    """
    dtype = c.rate.dtype
    bs = c.block
    real = (jnp.arange(c.n_pad) < c.n).astype(dtype)
    weight = jnp.ones((c.n_pad,), dtype)  # weight of each fine state in its current aggregate
    shapes = []
    eps = jnp.finfo(dtype).eps
    for level in range(c.levels):
        agg = bs**level
        n_l = c.n_pad // agg
        s_l, d_l = c.src // agg, c.dst // agg
        rate_l = c.rate * weight[c.src]
        inner = jnp.where(((s_l // bs) == (d_l // bs)) & (s_l != d_l), rate_l, 0)
        inner_exit = jax.ops.segment_sum(inner, s_l, n_l)
        present = jax.ops.segment_sum(real, jnp.arange(c.n_pad) // agg, n_l) > 0
        block_max = jnp.max(inner_exit.reshape(-1, bs), axis=1)
        delta = jnp.sqrt(eps) * jnp.where(block_max > 0, block_max, 1)
        delta = jnp.repeat(delta, bs)
        diag = jnp.where(present, delta + inner_exit, 1)
        blocks = _dense_blocks(n_l, bs, d_l, s_l, -inner, diag)
        rhs = jnp.where(present, delta, 0).reshape(-1, bs, 1)
        x = _gauss_jordan(blocks, rhs).reshape(-1)
        shape = _shapes(jnp.maximum(x, 0), bs)
        shapes.append(shape)
        weight = weight * shape[jnp.arange(c.n_pad) // agg]
    agg = bs**c.levels
    n_top = c.n_pad // agg
    s_t, d_t = c.src // agg, c.dst // agg
    cross = jnp.where(s_t != d_t, c.rate * weight[c.src], 0)
    coarse = jnp.zeros((n_top, n_top), dtype).at[s_t, d_t].add(cross)
    present = jax.ops.segment_sum(real, jnp.arange(c.n_pad) // agg, n_top) > 0
    gen = coarse - jnp.diag(coarse.sum(axis=1))
    gen = gen + jnp.diag(jnp.where(present, 0, -1).astype(dtype))  # padding: absorbing-free
    bordered = gen.T.at[-1].set(present.astype(dtype))
    pi = jnp.linalg.solve(bordered, jnp.zeros((n_top,), dtype).at[-1].set(1))
    pi = jnp.where(jnp.isfinite(pi) & present, jnp.maximum(pi, 0), 0)
    pi = jnp.where(pi.sum() > 0, pi, present.astype(dtype) / jnp.maximum(present.sum(), 1))
    x0 = weight * pi[jnp.arange(c.n_pad) // agg] * real
    return shapes, x0


def _shapes_from(p, c: _Chain):
    """Within-block shapes of a known distribution (for the adjoint), level by level."""
    shapes, x = [], p
    for _ in range(c.levels):
        shapes.append(_shapes(x, c.block))
        x = x.reshape(-1, c.block).sum(axis=1)
    return shapes


class _Level(NamedTuple):
    rows: Int[Array, " m"]
    cols: Int[Array, " m"]
    vals: Float[Array, " m"]
    diag: Float[Array, " n_l"]
    n: int
    smoother: Array  # block inverses [n_l/bs, bs, bs], or the dense LU at the top
    shape: Array  # within-block weights of this level (unused at the top)


class _Pinned(NamedTuple):
    """The pinned operator in either orientation, with its multilevel preconditioner.

    Forward: $A = Q^\\top$ (rows `dst`, columns `src`), prolongation weighted by the
    stationary shapes. Adjoint: $A = Q$ (rows `src`, columns `dst`), restriction weighted.
    Row k (pinned) and padding rows are identity rows.
    """

    forward: bool
    mask: Float[Array, " n_pad"]
    levels: tuple
    top_lu: tuple
    block: int

    def matvec(self, x, level: int = 0):
        lv = self.levels[level]
        y = jax.ops.segment_sum(lv.vals * x[lv.cols], lv.rows, lv.n)
        return y + lv.diag * x

    def _smooth(self, level, r):
        bs = self.block
        inv = self.levels[level].smoother
        return jnp.matmul(inv, r.reshape(-1, bs, 1)).reshape(-1)

    def _cycle(self, level, r):
        if level == len(self.levels) - 1:
            return jsl.lu_solve(self.top_lu, r)
        bs = self.block
        shape = self.levels[level].shape
        z = self._smooth(level, r)
        res = r - self.matvec(z, level)
        if self.forward:
            zc = self._cycle(level + 1, res.reshape(-1, bs).sum(axis=1))
            z = z + shape * jnp.repeat(zc, bs)
        else:
            zc = self._cycle(level + 1, (shape * res).reshape(-1, bs).sum(axis=1))
            z = z + jnp.repeat(zc, bs)
        return z + self._smooth(level, r - self.matvec(z, level))

    def precondition(self, r):
        return self._cycle(0, r)


def _pinned(c: _Chain, forward: bool, k, shapes) -> _Pinned:
    dtype = c.rate.dtype
    bs = c.block
    i = jnp.arange(c.n_pad)
    mask = ((i < c.n) & (i != k)).astype(dtype)
    rows, cols = (c.dst, c.src) if forward else (c.src, c.dst)
    vals0 = mask[rows] * c.rate
    # pinned and padding rows: -(exit rate) (or -1) on the diagonal, the sign of every other
    # row, so that the smoother's blocks and the coarse operators stay M-matrices (a +1 there
    # gave the preconditioned operator an eigenvalue near -0.75)
    diag0 = jnp.where(mask > 0, -c.exit, -jnp.where(c.exit > 0, c.exit, 1))
    weight = jnp.ones((c.n_pad,), dtype)
    levels = []
    for level in range(c.levels + 1):
        agg = bs**level
        n_l = c.n_pad // agg
        rows_l, cols_l = rows // agg, cols // agg
        vals_l = vals0 * weight[c.src]
        diag_l = jax.ops.segment_sum(diag0 * weight, i // agg, n_l)
        if level > 0 and c.coarse is not None:  # compacted coarse edge list
            src_c, dst_c, slot = c.coarse[level - 1]
            n_edges = src_c.shape[0]
            inner = slot == n_edges
            diag_l = diag_l + jax.ops.segment_sum(jnp.where(inner, vals_l, 0), rows_l, n_l)
            vals_l = jax.ops.segment_sum(vals_l, slot, n_edges + 1)[:n_edges]
            rows_l, cols_l = (dst_c, src_c) if forward else (src_c, dst_c)
        if level < c.levels:
            blocks = _dense_blocks(n_l, bs, rows_l, cols_l, vals_l, diag_l)
            eye = jnp.broadcast_to(jnp.eye(bs, dtype=dtype), blocks.shape)
            smoother = _gauss_jordan(blocks, eye)
            shape = shapes[level]
            weight = weight * shape[i // agg]
        else:
            smoother = jnp.zeros((), dtype)
            shape = jnp.zeros((), dtype)
        levels.append(_Level(rows_l, cols_l, vals_l, diag_l, n_l, smoother, shape))
    top = levels[-1]
    dense = jnp.zeros((top.n, top.n), dtype).at[top.rows, top.cols].add(top.vals)
    dense = dense + jnp.diag(top.diag)
    return _Pinned(forward, mask, tuple(levels), jsl.lu_factor(dense), bs)


def _bicgstab_steps(matvec, precondition, b, x, target, max_steps):
    """Right-preconditioned BiCGStab (Saad §7.4.2) from `x`, until its recursive residual
    is at most `target` (2-norm), after `max_steps` steps, or at a breakdown.

    Returns `(x, steps, broke_down)`. Only the residual is tested: lineax's `BiCGStab`, used
    before, also required the last update of `x` to be below the same absolute tolerance,
    which the adjoint (whose solution is large against its scaled right-hand side) could
    not meet before `max_iters` on a 256 x 256 grid. This loop is the only solver of the
    Krylov route, so lineax is no longer a dependency.
    """
    r = b - matvec(x)
    one = jnp.ones((), b.dtype)
    zero = jnp.zeros_like(b)

    def cond(state):
        _, r, *_, step, broke = state
        return (jnp.linalg.norm(r) > target) & (step < max_steps) & ~broke

    def body(state):
        x, r, r_hat, p, v, rho, alpha, omega, step, _ = state
        rho_new = jnp.dot(r_hat, r)
        beta = (rho_new / rho) * (alpha / omega)
        p = r + beta * (p - omega * v)
        p_hat = precondition(p)
        v = matvec(p_hat)
        alpha = rho_new / jnp.dot(r_hat, v)
        s = r - alpha * v
        s_hat = precondition(s)
        t = matvec(s_hat)
        omega = jnp.dot(t, s) / jnp.dot(t, t)
        x = x + alpha * p_hat + omega * s_hat
        r = s - omega * t
        broke = (rho_new == 0) | (omega == 0) | ~jnp.isfinite(omega * alpha)
        return x, r, r_hat, p, v, rho_new, alpha, omega, step + 1, broke

    state = (x, r, r, zero, zero, one, one, one, jnp.zeros((), jnp.int32), jnp.asarray(False))
    x, *_, steps, broke = jax.lax.while_loop(cond, body, state)
    return x, steps, broke


MAX_RESTARTS = 20
"""Restarts of BiCGStab from the true residual when its recursive residual has drifted."""


def _bicgstab(op: _Pinned, b, x0, scale, rtol, max_iters, atol=0.0):
    """Right-preconditioned BiCGStab on `op`, restarted from the true residual.

    The rows are scaled by the exit rates, so that the test on the residual is the
    exit-rate-scaled test $\\|D^{-1}(b - Ax)\\|_2 \\le$ `atol + rtol` $\\|D^{-1}b\\|_2$.
    """
    dtype = b.dtype
    tiny = jnp.finfo(dtype).tiny
    b_norm = jnp.linalg.norm(b / scale)
    target = atol + rtol * b_norm

    def matvec(v):
        return op.matvec(v) / scale

    def precondition(v):
        return op.precondition(v * scale)

    def true_residual(x):
        return jnp.linalg.norm((b - op.matvec(x)) / scale)

    def finished(x, res):
        return (res <= target) & jnp.all(jnp.isfinite(x))

    def restart(state):
        x, it, _, restarts, _ = state
        x_new, steps, broke = _bicgstab_steps(
            matvec, precondition, b / scale, x, target, max_iters - it
        )
        ok = jnp.all(jnp.isfinite(x_new))
        x = jnp.where(ok, x_new, x)
        res = true_residual(x)
        it = it + jnp.maximum(steps, 1).astype(it.dtype)
        # a breakdown or a non-finite iterate ends the solve (unconverged) unless it converged
        stop = finished(x, res) | ~ok | (broke & (res > target))
        return x, it, stop, restarts + 1, res

    res0 = true_residual(x0)
    zero = jnp.asarray(0, jnp.int32)
    state = (x0, zero, finished(x0, res0), zero, res0)
    x, it, _, _, res = jax.lax.while_loop(
        lambda s: (~s[2]) & (s[1] < max_iters) & (s[3] < MAX_RESTARTS), restart, state
    )
    converged = finished(x, res)
    return x, KrylovInfo(converged, it, res / jnp.maximum(b_norm, tiny))


def solve_forward(rates: Rates, rtol, max_iters, block_size, plan, atol=0.0):
    c = _chain(rates, block_size, plan)
    dtype = c.rate.dtype
    shapes, x0 = _local_equilibrium(c)
    k = jnp.argmax(x0)
    op = _pinned(c, True, k, shapes)
    scale = jnp.where(c.exit > 0, c.exit, jnp.ones((), dtype))
    b = jnp.zeros((c.n_pad,), dtype).at[k].set(-scale[k] * x0[k])
    x, info = _bicgstab(op, b, x0, scale, rtol, max_iters, atol * x0[k])
    p = jnp.maximum(x[: c.n] if c.perm is None else x[c.perm], 0)
    return p / jnp.sum(p), info


def solve_adjoint(rates: Rates, p, g, rtol, max_iters, block_size, plan, atol=0.0):
    c = _chain(rates, block_size, plan)
    dtype = c.rate.dtype
    pad = c.n_pad - c.n
    p_orig = p
    if c.perm is not None:  # to the solver's labels
        p, g = jnp.zeros_like(p).at[c.perm].set(p), jnp.zeros_like(g).at[c.perm].set(g)
    p_pad = jnp.pad(p, (0, pad))
    rhs = g - jnp.dot(p, g)
    k = jnp.argmax(p)
    op = _pinned(c, False, k, _shapes_from(p_pad, c))
    b = op.mask * jnp.pad(rhs, (0, pad))
    scale = jnp.where(c.exit > 0, c.exit, jnp.ones((), dtype))
    v, info = _bicgstab(op, b, jnp.zeros_like(b), scale, rtol, max_iters, atol)
    v = v[: c.n] if c.perm is None else v[c.perm]
    return v - jnp.dot(p_orig, v), info


DEFAULT_MAX_ITERS = 2000
"""Default cap on BiCGStab iterations (a 256 x 256 grid chain needs 33 to 61)."""


def krylov_options(dtype, rtol=None, atol=None, max_iters=None) -> tuple[float, float, int]:
    """Validated `(rtol, atol, max_iters)`, with the defaults filled in for `dtype`.

    Raises `ValueError` naming the argument: `rtol` must be a number in (0, 1), `atol` a
    number >= 0, `max_iters` an integer >= 1 (all static: Python numbers, not arrays).
    """
    try:
        rtol = default_rtol(dtype) if rtol is None else float(rtol)
        atol = 0.0 if atol is None else float(atol)
    except TypeError as e:
        raise ValueError(
            f"`rtol` and `atol` must be Python numbers (they are static), got {rtol!r}, {atol!r}"
        ) from e
    if not 0 < rtol < 1:
        raise ValueError(f"`rtol` must lie in (0, 1), got {rtol}; e.g. rtol=1e-10")
    if not 0 <= atol < math.inf:
        raise ValueError(f"`atol` must be finite and >= 0, got {atol}")
    if max_iters is None:
        max_iters = DEFAULT_MAX_ITERS
    if isinstance(max_iters, bool) or not isinstance(max_iters, (int, np.integer)):
        raise ValueError(f"`max_iters` must be a Python int >= 1, got {max_iters!r}")
    if max_iters < 1:
        raise ValueError(f"`max_iters` must be >= 1, got {max_iters}")
    return rtol, atol, int(max_iters)


def reaches_state(src, dst, positive, target, n: int) -> Bool[Array, " n"]:
    """States from which `target` can be reached along edges with `positive` rates.

    Label propagation (one segment reduction over the edge list per hop, as many hops as
    the longest shortest path into `target`): the traced test of a unique stationary state.
    A chain has one closed class exactly when some state is reachable from all; the most
    probable state of a converged solve lies in a closed class, so "every state reaches
    argmax p" holds if and only if the stationary state is unique.
    """
    ok = positive & (src != dst)

    def hop(state):
        reach, _ = state
        into = (reach[dst] & ok).astype(jnp.int32)
        new = reach | (jax.ops.segment_max(into, src, n) > 0)
        return new, jnp.any(new != reach)

    start = jnp.zeros((n,), bool).at[target].set(True)
    reach, _ = jax.lax.while_loop(lambda s: s[1], hop, (start, jnp.asarray(True)))
    return reach


def raise_unconverged(x, info: KrylovInfo, what: str, max_iters: int | None = None):
    """`x`, or an `eqx.error_if` runtime error when the solve did not converge."""
    within = "`max_iters`" if max_iters is None else f"max_iters={max_iters}"
    return eqx.error_if(
        x,
        ~info.converged,
        f"{what}: the Krylov solver did not converge within {within} iterations (or broke "
        "down). The chain may be reducible, extremely stiff or badly scaled for the "
        "precision: try float64, a larger `max_iters`, a looser `rtol`/`atol`, or "
        "method='gth' for a chain of up to a few thousand states.",
    )


def krylov_stationary(
    rates: Rates,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    max_iters: int | None = None,
    block_size: int | None = None,
    plan: KrylovPlan | None = None,
    return_info: bool = False,
):
    """Stationary distribution of a large sparse chain by preconditioned BiCGStab.

    Solves $pQ = 0$, $\\sum_i p_i = 1$ matrix free (segment sums over the edge list), with a
    two-level aggregation preconditioner (see the module docstring). Jit- and
    vmap-compatible; not differentiable by itself (`stationary(method="krylov")` adds the
    implicit adjoint).

    **Arguments:**

    - `rates`: `EdgeRates` (or a dense `[n, n]` array, treated as a full edge list).
    - `rtol`: tolerance on the exit-rate-scaled residual (default 1e-12 in float64, 1e-4 in
      float32), relative to the pinned right-hand side.
    - `atol`: absolute part of the tolerance (default 0), in units of the largest entry of
      the (unnormalised) solution: converged when residual <= atol + rtol * |b|.
    - `max_iters`: maximum number of BiCGStab iterations (default 2000).
    - `block_size`: aggregation factor per level (default 16).
    - `plan`: a `KrylovPlan` from `krylov_plan` (built here when `src`/`dst` are concrete).
    - `return_info`: also return a `KrylovInfo` (converged, iterations, residual) instead of
      raising on non-convergence.

    **Returns:** `p`, shape `[n]`, non-negative, summing to 1 (and `info` if asked). Without
    `return_info`, non-convergence raises an `eqx.error_if` runtime error.

    **Example:**

    ```python
    chain = jn.models.grid_chain(jnp.zeros((64, 64)), drive=jnp.array([1.0, 0.0]))
    p = krylov_stationary(chain)
    ```
    """
    dtype = rates.rate.dtype if isinstance(rates, EdgeRates) else rates.dtype
    rtol, atol, max_iters = krylov_options(dtype, rtol, atol, max_iters)
    p, info = solve_forward(rates, rtol, max_iters, block_size, plan, atol)
    if return_info:
        return p, info
    return raise_unconverged(p, info, "stationary(method='krylov')", max_iters)


def krylov_adjoint(
    rates: Rates,
    p: Float[Array, " n"],
    g: Float[Array, " n"],
    *,
    rtol: float | None = None,
    atol: float | None = None,
    max_iters: int | None = None,
    block_size: int | None = None,
    plan: KrylovPlan | None = None,
    return_info: bool = False,
):
    """Adjoint solve of the stationary state: $Qv = g - (p\\cdot g)\\mathbf 1$, $p\\cdot v = 0$.

    Same solver and preconditioner as `krylov_stationary`, on $Q$ instead of $Q^\\top$
    (state $\\arg\\max p$ pinned at $v = 0$, then the gauge is fixed). Used by the backward
    pass of `stationary(method="krylov")`: $\\partial L/\\partial r_{ij} = -p_i(v_j - v_i)$.

    **Arguments:** `rates` and the stationary `p` of the chain, the cotangent `g` (`[n]`),
    and the options of `krylov_stationary`.

    **Returns:** `v`, shape `[n]` (and `info` if asked).
    """
    dtype = p.dtype
    rtol, atol, max_iters = krylov_options(dtype, rtol, atol, max_iters)
    v, info = solve_adjoint(rates, p, g, rtol, max_iters, block_size, plan, atol)
    if return_info:
        return v, info
    return raise_unconverged(v, info, "gradient of stationary(method='krylov')", max_iters)

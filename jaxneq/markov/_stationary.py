"""Stationary distributions of master equations, with an implicit adjoint (units: k_B = 1).

`stationary(rates, *, method=...)` dispatches to three solvers:

- `"gth"`: Grassmann–Taksar–Heyman elimination. Subtraction-free, so every entry of the
  result keeps its relative accuracy, however small it is (probabilities of 1e-250 in
  float64). $O(n^3)$, dense; blocked (`GTH_BLOCK` states at a time) so that most of the work
  is one matmul of non-negative matrices per block; chains of one block take a path with
  its own batching rule (ensemble axis last under `vmap`). One elimination step
  (`_gth_eliminate`) and one back substitution serve every path, as a `fori_loop` or, for
  vmapped chains of <= `GTH_VMAP_UNROLL` states (and of <= `GTH_VMAP_UNROLL_LARGE` in
  batches of >= `GTH_VMAP_UNROLL_MIN_BATCH`), unrolled (measured: 4096 chains of 16 states
  in 9.4 ms unrolled against 28 ms as a loop, 4096 of 32 in 47 ms against 180 ms,
  loaded 2-core CPU).
- `"lu"`: one LU solve of the bordered system $[Q^\\top$ with its last row replaced by ones$]
  p = e_n$. Fast, accurate in the large entries, but small entries carry an absolute error of
  about $\\varepsilon\\,\\kappa$ and may come out as zero.
- `"krylov"`: matrix free, for large sparse chains (`EdgeRates`), in `._krylov`.

All three share one `jax.custom_vjp`: the backward pass is a single adjoint linear solve.
Differentiating $pQ = 0$, $\\sum_i p_i = 1$ gives, for a loss $L(p)$ with $g = \\partial L /
\\partial p$, $\\partial L / \\partial Q_{ij} = -p_i v_j$ where $Q v = g - (p \\cdot g) \\mathbf 1$,
hence $\\partial L / \\partial r_{ij} = -p_i (v_j - v_i)$. The adjoint solve reuses the forward
factorisation ("gth": the GTH factors, "lu": the LU factors), so a gradient costs $O(n^2)$
on top of the forward pass; no iteration is ever unrolled.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
from jax.experimental.layout import Layout, with_layout_constraint
from jaxtyping import Array, Float

from .._util import as_inexact, is_concrete
from ._krylov import krylov_options
from ._rates import (
    EdgeRates,
    Rates,
    check_dense_shape,
    closed_classes,
    describe_classes,
    invalid_values,
    n_states,
    validate_rates,
)

_METHODS = ("auto", "gth", "lu", "krylov")

AUTO_DENSE_MAX_STATES = 2048
"""Largest `EdgeRates` chain that `method="auto"` densifies and solves with GTH."""


# --------------------------------------------------------------------------------------------
# Grassmann–Taksar–Heyman elimination
# --------------------------------------------------------------------------------------------


GTH_BLOCK = 128
"""States eliminated per block by the blocked GTH factorisation (chains up to this size are
eliminated one state at a time)."""


def _gth_eliminate(a, kill, exit_, kstar, offset, *, unroll=False, track_kill=True):
    """Scalar GTH elimination of the states of one block, last to first.

    `a` is the block's own rate matrix, `kill` the killing rates into the absorbing state
    `kstar` (global index, -1 while none), `exit_` the lumped rates out of the block into
    states not yet eliminated (`None`: no exit rates; they take part in the pivots and are
    updated like any other column, but never turn a state into `kstar`). Returns the factored
    block, the pivots, the multipliers `w` (0 for `kstar`) and `kv` (what each eliminated
    state passes on to the killing rates of the states that lead into it) and `kstar`. A
    second zero pivot means a second closed class (`_reducible`).

    Batch-polymorphic in trailing axes: `a` may be `[m, m, *B]`, `kill` and `exit_`
    `[m, *B]`, `kstar` `[*B]`; with the ensemble last, every update is a
    contiguous vector operation over chains (the layout of `_gth_small`'s batching rule).

    One step, two loop forms: a `fori_loop` with masked full-size updates (`unroll=False`:
    compiles in ~1 s at any size), or a Python loop whose static slices shrink with k
    (`unroll=True`: a third of the work and no dynamic indexing, for tiny chains under
    `vmap`, see `GTH_VMAP_UNROLL`). `track_kill=False` skips the killing-rate updates,
    exact as long as no pivot but the last one (k = 0) is zero.
    """
    m = a.shape[0]
    dtype = a.dtype
    lead = jnp.arange(m).reshape((m,) + (1,) * jnp.ndim(kstar))
    zero = jnp.zeros((), dtype)
    one = jnp.ones((), dtype)

    def eliminate(k, carry):
        a, kill, exit_, pivots, w, kv, kstar = carry
        if unroll:  # static k: shrinking slices
            row, col = a[k, :k], a[:k, k]
        else:
            lower = lead < k
            row = jnp.where(lower, a[k], zero)
            col = jnp.where(lower, a[:, k], zero)
        s = row.sum(axis=0) + kill[k] + (zero if exit_ is None else exit_[k])
        is_zero = s <= 0
        first = is_zero & (kstar < 0)
        kstar = jnp.where(first, k + offset, kstar)
        safe_s = jnp.where(is_zero, one, s)
        keep = jnp.where(is_zero, zero, one)
        kk = jnp.where(first, one, keep * kill[k] / safe_s)
        # r_kj / s_k <= 1 and kappa_k / s_k <= 1: no overflow however extreme the rates.
        update = (col * keep)[:, None] * (row / safe_s)[None, :]
        kill_update = col * kk
        exit_update = None if exit_ is None else col * (keep * exit_[k] / safe_s)
        if unroll:
            a = a.at[:k, :k].add(update)
            kill = kill.at[:k].add(kill_update) if track_kill else kill
            exit_ = None if exit_ is None else exit_.at[:k].add(exit_update)
        else:
            a = a + update
            kill = kill + kill_update if track_kill else kill
            exit_ = None if exit_ is None else exit_ + exit_update
        pivots = pivots.at[k].set(s)
        w = w.at[k].set(keep / safe_s)
        kv = kv.at[k].set(kk)
        return a, kill, exit_, pivots, w, kv, kstar

    zeros = jnp.zeros_like(kill)
    carry = (a, kill, exit_, zeros, zeros, zeros, kstar)
    if unroll:
        for k in range(m - 1, -1, -1):
            carry = eliminate(k, carry)
    else:
        carry = jax.lax.fori_loop(0, m, lambda t, c: eliminate(m - 1 - t, c), carry)
    a, _, _, pivots, w, kv, kstar = carry
    return a, pivots, w, kv, kstar


def _reducible(pivots):
    """More than one zero pivot: a state that cannot reach the first absorbing one."""
    return jnp.sum(pivots <= 0, axis=0) > 1


def _gth_back_substitute(a, pivots, kstar, *, unroll=False):
    """Normalised stationary vector from the GTH factors (trailing batch axes allowed).

    $x_{k^*} = 1$, $x_j = \\sum_{i<j} x_i r_{ij} / s_j$ for $j > k^*$ and $x_j = 0$ below.
    Whenever a new entry would exceed 1, the previous ones are scaled down instead, so the
    vector never overflows and an entry underflows only when it is below the smallest
    normal number relative to the largest one. `unroll` as in `_gth_eliminate`.
    """
    n = a.shape[0]
    dtype = a.dtype
    lead = jnp.arange(n).reshape((n,) + (1,) * jnp.ndim(kstar))
    zero = jnp.zeros((), dtype)
    one = jnp.ones((), dtype)

    def step(j, x):
        if unroll:
            num = (x[:j] * a[:j, j]).sum(axis=0)
        else:
            num = jnp.where(lead < j, x * a[:, j], zero).sum(axis=0)  # never reads a[j, j]
        s = pivots[j]
        active = j > kstar
        big = num > s
        safe_s = jnp.where(s > 0, s, one)
        scale = jnp.where(active & big, s / jnp.where(big, num, one), one)
        xj = jnp.where(big, one, num / safe_s)
        x = x * scale
        return x.at[j].set(jnp.where(active, xj, x[j]))

    x = jnp.where(lead == kstar, one, zero)  # kstar >= 0: the last pivot is always zero
    if unroll:
        for j in range(1, n):
            x = step(j, x)
    else:
        x = jax.lax.fori_loop(1, n, step, x)
    return x / x.sum(axis=0)


GTH_VMAP_UNROLL = 16
"""Under `vmap`, chains of up to this many states are eliminated by the unrolled loop
(static slices that shrink with k): 4096 chains of 16 states in ~6 ms instead of ~18 ms,
for a compilation of ~5 s instead of ~1 s (XLA:CPU compiles every unrolled step's kernels)."""

GTH_VMAP_UNROLL_LARGE = 32
"""Chains of up to this many states are also unrolled when the batch holds at least
`GTH_VMAP_UNROLL_MIN_BATCH` of them: there the run time, not the compilation, dominates.
Measured (4096 chains of 32 states, float64, 2-core CPU under load, same process): 47 ms
unrolled against 180 ms as a loop, for a compilation of ~13 s instead of ~2 s."""

GTH_VMAP_UNROLL_MIN_BATCH = 1024
"""Smallest batch for which chains of `GTH_VMAP_UNROLL` < n <= `GTH_VMAP_UNROLL_LARGE`
states are unrolled (smaller batches keep the loop, which compiles in ~1 s)."""


def _unroll_under_vmap(n: int, batch: int) -> bool:
    """Whether the vmapped GTH of `batch` chains of `n` states uses the unrolled loop."""
    if n <= GTH_VMAP_UNROLL:
        return True
    return n <= GTH_VMAP_UNROLL_LARGE and batch >= GTH_VMAP_UNROLL_MIN_BATCH


def _gth_small_impl(rates, unroll=False):
    """`(p, a, pivots, kstar, code)` of chains `[n, n, *B]` of one block (n <= `GTH_BLOCK`).

    `code` is 0 for a solved chain, 1 for a negative/NaN/infinite off-diagonal rate, 2 for a
    reducible chain: the validation runs here, in the solver's own layout, so that under
    `vmap` it costs one pass over the batch and no error check of its own.

    Unrolled, the killing rates (which only matter once a pivot other than the last is
    zero: a transient state or a reducible chain) are first skipped (half the cost), and
    only when some chain needs them is the elimination redone with them.
    """
    n, batch = rates.shape[0], rates.shape[2:]
    kill = jnp.zeros((n,) + batch, rates.dtype)
    kstar = jnp.full(batch, -1, jnp.int32)
    eye = jnp.eye(n, dtype=bool).reshape((n, n) + (1,) * len(batch))
    off_diagonal = jnp.where(eye, jnp.zeros((), rates.dtype), rates)
    # = invalid_values(off_diagonal, axis=(0, 1)), as two float reductions (NaN propagates
    # through min and max): a boolean reduction over the leading axes is ~10x slower on CPU.
    invalid = ~(off_diagonal.min(axis=(0, 1)) >= 0) | ~(off_diagonal.max(axis=(0, 1)) < jnp.inf)

    def eliminate(track_kill):
        a, pivots, _, _, ks = _gth_eliminate(
            rates, kill, None, kstar, 0, unroll=unroll, track_kill=track_kill
        )
        return a, pivots, ks

    if unroll:
        fast = eliminate(False)
        a, pivots, ks = jax.lax.cond(
            jnp.any(fast[2] > 0), lambda _: eliminate(True), lambda f: f, fast
        )
    else:
        a, pivots, ks = eliminate(True)
    p = _gth_back_substitute(a, pivots, ks, unroll=unroll)
    code = jnp.where(invalid, _INVALID, jnp.where(_reducible(pivots), _REDUCIBLE, _OK))
    code = code.astype(jnp.int32)
    return p, a, pivots, ks, code


def _row_major(x):
    """`x` stored in its own (row-major) order: a transpose copied once, not fused into every
    later kernel (XLA:CPU otherwise reads the batch-first rates with a stride in each slice
    and reduction of the elimination; measured 4096 x 32: ~50 of ~100 ms)."""
    return with_layout_constraint(x, Layout(tuple(range(x.ndim))))


GTH_VMAP_CHUNK_BYTES = 1 << 19
"""Rates per chunk (bytes) when `vmap` batches `_gth_small`: small enough to stay in cache."""


@jax.custom_batching.custom_vmap
def _gth_small(rates):
    """`(p, a, pivots, kstar, code)` of one chain of at most `GTH_BLOCK` states."""
    return _gth_small_impl(rates)


@_gth_small.def_vmap
def _gth_small_vmap(axis_size, in_batched, rates):
    """Ensemble axis last, in cache-sized chunks: 4096 chains of 16 states in ~6 ms."""
    (batched,) = in_batched
    if not batched:
        out = _gth_small(rates)
        return out, (False,) * len(out)
    per_chain = rates.shape[1] * rates.shape[2] * rates.dtype.itemsize
    chunk = max(1, min(axis_size, GTH_VMAP_CHUNK_BYTES // per_chain))

    pad = -axis_size % chunk
    if pad:  # repeat the first chain: padding with zeros would only flag reducibility
        rates = jnp.concatenate([rates, jnp.broadcast_to(rates[:1], (pad,) + rates.shape[1:])])
    chunks = rates.reshape((-1, chunk) + rates.shape[1:])
    unroll = _unroll_under_vmap(rates.shape[1], axis_size)

    def solve_chunk(r):
        r = _row_major(jnp.moveaxis(r, 0, -1))
        out = _gth_small_impl(r, unroll=unroll)
        return tuple(jnp.moveaxis(x, -1, 0) for x in out)

    out = jax.lax.map(solve_chunk, chunks)
    out = tuple(x.reshape((-1,) + x.shape[2:])[:axis_size] for x in out)
    return out, (True,) * len(out)


def _neumann_inverse(nil):
    """$(I - N)^{-1} = \\sum_j N^j$ for a strictly triangular non-negative `N`, subtraction-free.

    Repeated squaring, $(I + N)(I + N^2)(I + N^4)\\cdots$, in $\\lceil\\log_2 m\\rceil$ pairs
    of matmuls: every entry is a sum of products of non-negative numbers, so it keeps
    relative accuracy (as a triangular solve with non-positive off-diagonal entries would,
    but batched matmuls also run well under `vmap` and on accelerators).
    """
    m = nil.shape[-1]
    inv = jnp.eye(m, dtype=nil.dtype) + nil
    power = nil
    for _ in range(max(0, math.ceil(math.log2(max(m, 1))) - 1)):
        power = jnp.dot(power, power, precision="highest")
        inv = inv + jnp.dot(inv, power, precision="highest")
    return inv


def _gth_factor(rates: Float[Array, "n n"], block: int | None = None):
    """GTH elimination of states n-1, ..., 0, blocked so that most work is one matmul.

    Eliminating state k replaces the chain on {0..k} by the chain censored on {0..k-1}:
    $r_{ij} \\leftarrow r_{ij} + r_{ik} r_{kj} / s_k$ with the pivot $s_k = \\sum_{j<k} r_{kj}$
    (the rate out of k into not-yet-eliminated states, never taken from a diagonal). Every
    operation adds, multiplies or divides non-negative numbers, and $r_{kj}/s_k \\le 1$, so
    nothing overflows and no digit is lost to cancellation.

    Blocked form: the last `block` states F are eliminated from the chain on $S \\cup F$ at
    once. Their own block is eliminated state by state, with the rates from F into S lumped
    into one exit rate per state (enough for the pivots). The rows F -> S and the columns
    S -> F at elimination time then follow from two unit triangular systems whose
    off-diagonal entries are $\\le 0$, solved through their inverses $\\sum_j N^j$ (all
    entries non-negative, formed by repeated squaring: batched matmuls only), and the
    censored chain on S from one matmul of non-negative matrices,
    $R_{SS} \\mathrel{+}= C_{SF}\\,\\mathrm{diag}(1/s)\\,U_{FS}$. The result is the same
    as the scalar elimination up to the order of the (all non-negative) additions.

    Transient states: the first zero pivot (from the top) marks a state `kstar` that cannot
    leave towards lower states. States below it are then eliminated with `kstar` treated as
    absorbing (the rates into it become a killing rate `kappa`, part of later pivots); any
    further zero pivot means a state that cannot reach `kstar`, i.e. a second closed class.

    Returns the factored matrix (column k above the diagonal: rates into k at its
    elimination; row k left of the diagonal: rates out of k), the pivots `s`, `kstar` and
    the reducibility flag.
    """
    n = rates.shape[0]
    dtype = rates.dtype
    if block is None:
        block = GTH_BLOCK
    kstar = jnp.asarray(-1, jnp.int32)
    kill = jnp.zeros((n,), dtype)
    a = rates
    pivot_blocks = []
    hi = n
    while hi > 0:
        lo = max(0, hi - block)
        fb = a[lo:hi, lo:hi]
        if lo == 0:
            fb, piv, _, _, kstar = _gth_eliminate(fb, kill[:hi], None, kstar, 0)
            a = a.at[:hi, :hi].set(fb)
            pivot_blocks.append(piv)
            break
        r_fs = a[lo:hi, :lo]
        r_sf = a[:lo, lo:hi]
        fb, piv, w, kv, kstar = _gth_eliminate(fb, kill[lo:hi], r_fs.sum(axis=1), kstar, lo)
        # Rows F -> S at elimination time are (I - U)^{-1} R_FS, columns S -> F are
        # R_SF (I - L)^{-1}, with U, L >= 0 strictly triangular. (jax.scipy's batched
        # triangular solve deadlocked XLA:CPU under vmap here: jax 0.10.2, 2 cores.)
        u_fs = jnp.dot(_neumann_inverse(jnp.triu(fb, 1) * w[None, :]), r_fs, precision="highest")
        c_sf = jnp.dot(r_sf, _neumann_inverse(jnp.tril(fb, -1) * w[:, None]), precision="highest")
        a = a.at[lo:hi, lo:hi].set(fb)
        a = a.at[lo:hi, :lo].set(u_fs)
        a = a.at[:lo, lo:hi].set(c_sf)
        a = a.at[:lo, :lo].add(jnp.dot(c_sf * w[None, :], u_fs, precision="highest"))
        kill = kill.at[:lo].add(jnp.dot(c_sf, kv, precision="highest"))
        pivot_blocks.append(piv)
        hi = lo
    pivots = jnp.concatenate(pivot_blocks[::-1])
    return a, pivots, kstar, _reducible(pivots)


def _gth_adjoint(a, pivots, kstar, b):
    """Solve $Q v = b$ (with $p \\cdot b = 0$) from the GTH factors, in $O(n^2)$.

    GTH is a Schur-complement (UL) factorisation of Q: eliminating k maps the right-hand side
    to $b_i \\leftarrow b_i + r_{ik} b_k / s_k$ ($i<k$), and back substitution in increasing
    order gives $v_j = (\\sum_{i<j} r_{ji} v_i - b_j) / s_j$, with $v_{k^*} = 0$ (the free
    constant of the null space $Q\\mathbf 1 = 0$).
    """
    n = a.shape[0]
    dtype = a.dtype
    idx = jnp.arange(n)
    zero = jnp.zeros((), dtype)
    one = jnp.ones((), dtype)
    safe_pivots = jnp.where(pivots > 0, pivots, one)

    def forward(t, y):
        k = n - 1 - t
        factor = jnp.where(k == kstar, zero, y[k] / safe_pivots[k])
        return y + jnp.where(idx < k, a[:, k], zero) * factor

    y = jax.lax.fori_loop(0, n, forward, b)

    def backward(j, v):
        vj = (jnp.dot(jnp.where(idx < j, a[j], zero), v) - y[j]) / safe_pivots[j]
        return v.at[j].set(jnp.where(j == kstar, zero, vj))

    return jax.lax.fori_loop(0, n, backward, jnp.zeros_like(b))


# --------------------------------------------------------------------------------------------
# LU on the bordered system
# --------------------------------------------------------------------------------------------


def _lu_forward(rates: Float[Array, "n n"]):
    """Solve $[Q^\\top$ with its last row replaced by ones$]\\,p = e_{n-1}$ by one LU."""
    n = rates.shape[0]
    dtype = rates.dtype
    q = rates - jnp.diag(rates.sum(axis=1))
    bordered = q.T.at[-1].set(jnp.ones((n,), dtype))
    lu, pivots, _ = jax.lax.linalg.lu(bordered)
    e = jnp.zeros((n,), dtype).at[-1].set(1)
    p_raw = jsl.lu_solve((lu, pivots), e)
    tol = jnp.sqrt(jnp.finfo(dtype).eps)
    bad = ~jnp.all(jnp.isfinite(p_raw)) | (jnp.min(p_raw) < -tol)
    p = jnp.maximum(p_raw, 0)
    p = p / p.sum()
    return p, bad, (lu, pivots)


def _lu_adjoint(lu, pivots, b):
    """$Q v = b$: solve $B^\\top w = b$ with the bordered LU factors; then $v = w$, $v_{n-1}=0$."""
    w = jsl.lu_solve((lu, pivots), b, trans=1)
    return w.at[-1].set(0)


# --------------------------------------------------------------------------------------------
# The dispatch, with one custom_vjp around it
# --------------------------------------------------------------------------------------------


def _dense(n, rate, src, dst):
    if src is None:
        return rate
    return EdgeRates(src, dst, rate, n).to_dense()


def _as_rates(n, rate, src, dst) -> Rates:
    if src is None:
        return rate
    return EdgeRates(src, dst, rate, n)


_OK, _INVALID, _REDUCIBLE, _UNCONVERGED = 0, 1, 2, 3
"""Per-chain outcome codes of a solve (an int32 per chain, one array under `vmap`)."""

_ON_ERROR = os.environ.get("EQX_ON_ERROR", "raise")
"""How traced errors are handled; equinox reads the same variable once, at its import."""


class _Config(NamedTuple):
    """Static choices of one solve (hashable: a `jit` static argument)."""

    method: str
    check: bool  # raise (or NaN) inside the solve: for traced calls
    reach: str  # Krylov reducibility test: "none", "if_zero_rates" or "always"


def _message(cfg: _Config, code: int, member: int | None) -> str:
    who = "`rates`" if member is None else f"`rates` of batch member {member}"
    if code == _INVALID:
        where = "outside `jit`/`vmap`" if member is None else f"on rates[{member}] outside `jit`"
        return (
            f"{who} has a negative, NaN or infinite entry: rates must be finite and >= 0 (the "
            f"diagonal is ignored). Call `stationary` {where} to see the entry."
        )
    if code == _REDUCIBLE:
        return _reducible_message(cfg.method, who=who)
    return _unconverged_message(who)


def _unconverged_message(who: str, options: str = "`max_iters`", detail: str = "") -> str:
    return (
        f"stationary(method='krylov') did not converge for {who}{detail}: the residual did "
        f"not fall to atol + rtol * |b| within {options} iterations, or the iteration broke "
        "down. Pass a larger `max_iters` or a looser `rtol`/`atol` to `stationary` (defaults: "
        "2000; 1e-12 in float64, 1e-4 in float32; atol 0), use float64, or use method='gth' "
        "for chains of up to a few thousand states."
    )


@dataclasses.dataclass(frozen=True)
class _Messages(Sequence):
    """The error messages of a batch, formatted only when one is raised.

    `eqx.branched_error_if` picks `messages[index]` at run time; index `(code - 1) * size +
    member` names the first bad member of a batch of `size` (0: an unbatched call).
    """

    cfg: _Config
    size: int

    def __len__(self):
        return 3 * max(self.size, 1)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(index)
        if self.size == 0:
            code, member = index + 1, None
        else:
            code, member = divmod(index, self.size)
            code += 1
        message = _message(self.cfg, code, member)
        _LAST_RAISED[:] = [code, message]  # read back by `_reraise_cleanly` (eager calls)
        return message


_LAST_RAISED: list = []


def _reraise_cleanly(error: Exception) -> None:
    """Re-raise a runtime error of our own check as a plain ValueError/RuntimeError.

    Reached by calls that run the traced check but execute at once (an eager `jax.vmap`
    over concrete rates): the message comes first and alone, with the same type as an
    unbatched eager call. Under an outer `jit` the error is raised by that `jit` instead.
    """
    if len(_LAST_RAISED) == 2 and _LAST_RAISED[1] in str(error):
        code, message = _LAST_RAISED
        _LAST_RAISED.clear()
        raise (RuntimeError if code == _UNCONVERGED else ValueError)(message) from None


def _raise_if_bad(cfg: _Config, p, code, size: int):
    bad = code > 0
    if _ON_ERROR == "off":
        return p
    if _ON_ERROR == "nan":  # per chain: only the bad members of a batch become NaN
        return jnp.where(bad[..., None], jnp.asarray(jnp.nan, p.dtype), p)
    if size == 0:
        index = jnp.maximum(code - 1, 0)
    else:
        first = jnp.argmax(bad)
        index = jnp.maximum(code[first] - 1, 0) * size + first
    return eqx.branched_error_if(p, jnp.any(bad), index, _Messages(cfg, size))


def _member_check(cfg: _Config, p, code):
    """`p`, or an error naming the batch member whose `code` is nonzero (first one).

    Under `vmap` the check sees the whole batch of codes (a `custom_vmap` rule), so the
    message names the member and, with `EQX_ON_ERROR=nan`, only bad members become NaN.
    """

    @jax.custom_batching.custom_vmap
    def check(p, code):
        return _raise_if_bad(cfg, p, code, 0)

    @check.def_vmap
    def check_batched(axis_size, in_batched, p, code):
        if not in_batched[0]:
            p = jnp.broadcast_to(p, (axis_size,) + p.shape)
        if not in_batched[1]:
            code = jnp.broadcast_to(code, (axis_size,))
        return _raise_if_bad(cfg, p, code, axis_size), True

    return check(p, code)


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _solve(cfg: _Config, n: int, rate, src, dst, plan, options):
    out, _ = _solve_fwd(cfg, n, rate, src, dst, plan, options)
    return out


def _solve_fwd(cfg, n, rate, src, dst, plan, options):
    method = cfg.method
    stats = jnp.zeros((2,), rate.dtype)  # Krylov iterations and relative residual
    if method == "gth" and n <= GTH_BLOCK:  # one block: with its own batching rule
        # (it never reads the diagonal, and checks the values in its own layout)
        p, a, pivots, kstar, code = _gth_small(_dense(n, rate, src, dst))
        factors = (a, pivots, kstar)
    else:
        if src is None:
            rate = jnp.where(jnp.eye(n, dtype=bool), jnp.zeros((), rate.dtype), rate)
        invalid = invalid_values(rate)
        if method == "gth":
            a, pivots, kstar, reducible = _gth_factor(_dense(n, rate, src, dst))
            p = _gth_back_substitute(a, pivots, kstar)
            factors = (a, pivots, kstar)
            code = jnp.where(reducible, _REDUCIBLE, _OK)
        elif method == "lu":
            p, broke_down, factors = _lu_forward(_dense(n, rate, src, dst))
            code = jnp.where(broke_down, _REDUCIBLE, _OK)
        else:
            p, code, stats = _krylov_forward(cfg, n, rate, src, dst, plan, options)
            factors = rate
        code = jnp.where(invalid, _INVALID, code).astype(jnp.int32)
    if cfg.check:
        p = _member_check(cfg, p, code)
    return (p, code, stats), (p, factors, src, dst, plan, options)


def _krylov_forward(cfg, n, rate, src, dst, plan, options):
    """Krylov solve with its outcome code: not converged, or a reducible chain.

    The options are traced (no recompilation when they change), hence the private entry
    point instead of `krylov_stationary`, which takes them as Python numbers.
    """
    from ._krylov import reaches_state, solve_forward

    rtol, atol, max_iters = options
    p, info = solve_forward(_as_rates(n, rate, src, dst), rtol, max_iters, None, plan, atol)
    if src is None:
        idx = jnp.arange(n)
        e_src, e_dst, e_rate = jnp.repeat(idx, n), jnp.tile(idx, n), rate.reshape(-1)
    else:
        e_src, e_dst, e_rate = src, dst, rate

    def reducible():  # the solver's evidence: not every state reaches its most probable one
        return ~jnp.all(reaches_state(e_src, e_dst, e_rate > 0, jnp.argmax(p), n))

    if cfg.reach == "always":
        red = reducible()
    elif cfg.reach == "if_zero_rates":  # the structure is irreducible: only zeros can cut it
        some_zero = jnp.any((e_rate <= 0) & (e_src != e_dst))
        red = jax.lax.cond(some_zero, reducible, lambda: jnp.asarray(False))
    else:
        red = jnp.asarray(False)
    code = jnp.where(red, _REDUCIBLE, jnp.where(info.converged, _OK, _UNCONVERGED))
    stats = jnp.stack([info.iterations.astype(p.dtype), info.residual.astype(p.dtype)])
    return p, code, stats


def _solve_bwd(cfg, n, residuals, cotangents):
    # Compiled as one unit, so that an eager `jax.grad` does not dispatch the adjoint's loops
    # op by op (under an outer `jit` this is an ordinary nested call).
    return _adjoint_jit(cfg, n, residuals, cotangents[0])


def _adjoint(cfg, n, residuals, g):
    p, factors, src, dst, plan, options = residuals
    if cfg.method == "gth":
        v = _gth_adjoint(*factors, g - jnp.dot(p, g))
    elif cfg.method == "lu":
        v = _lu_adjoint(*factors, g - jnp.dot(p, g))
    else:
        from ._krylov import raise_unconverged, solve_adjoint

        rtol, atol, max_iters = options
        rates = _as_rates(n, factors, src, dst)
        v, info = solve_adjoint(rates, p, g, rtol, max_iters, None, plan, atol)
        v = raise_unconverged(v, info, "gradient of stationary(method='krylov')")
    # dL/dr_ij = -p_i (v_j - v_i): zero on the diagonal and on self-loops.
    if src is None:
        grad = -p[:, None] * (v[None, :] - v[:, None])
    else:
        grad = -p[src] * (v[dst] - v[src])
    return grad, None, None, None, None


_solve.defvjp(_solve_fwd, _solve_bwd)
_adjoint_jit = jax.jit(_adjoint, static_argnums=(0, 1))
_solve_jit = jax.jit(_solve, static_argnums=(0, 1))


def _choose_method(rates: Rates, method: str) -> str:
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {_METHODS}, got {method!r}")
    if method != "auto":
        return method
    n = n_states(rates)
    if n <= AUTO_DENSE_MAX_STATES:
        return "gth"
    return "krylov" if isinstance(rates, EdgeRates) else "lu"


def _reducible_message(method: str, detail: str = "", who: str = "`rates`") -> str:
    msg = (
        f"{who} is reducible: it has more than one closed class of states{detail}, so there "
        "is no unique stationary distribution. Connect the classes with nonzero rates, or "
        "solve each closed class on its own."
    )
    if method == "lu":
        msg += " (method='lu' cannot tell this from severe ill-conditioning: try method='gth')"
    return msg


def _classes_detail(rates: Rates) -> str:
    classes = closed_classes(rates)
    return f" (e.g. {describe_classes(classes)})" if len(classes) > 1 else ""


def _raise_eagerly(cfg: _Config, rates: Rates, code, stats, options) -> None:
    """Turn the outcome code of a concrete (unbatched) solve into a ValueError/RuntimeError."""
    code = int(code)
    if code == _REDUCIBLE:
        raise ValueError(_reducible_message(cfg.method, _classes_detail(rates)))
    if code == _UNCONVERGED:
        iterations, residual = (float(x) for x in np.asarray(stats))
        rtol, atol, max_iters = options
        detail = f" (relative residual {residual:.2g} after {iterations:.0f} iterations)"
        where = f"max_iters={max_iters} (rtol={rtol:g}, atol={atol:g})"
        raise RuntimeError(_unconverged_message("`rates`", where, detail))
    if code == _INVALID:  # pragma: no cover - concrete values are checked before solving
        raise ValueError(_message(cfg, code, None))


def _plan_for(rates: EdgeRates):
    """The Krylov preconditioner plan of a concrete edge list, cached by its structure."""
    from ._krylov import krylov_plan

    src, dst = np.asarray(rates.src), np.asarray(rates.dst)
    digest = hashlib.sha1(src.tobytes() + b"|" + dst.tobytes()).hexdigest()
    key = (rates.n_states, src.dtype.str, digest)
    if key not in _PLAN_CACHE:
        if len(_PLAN_CACHE) >= _PLAN_CACHE_SIZE:
            _PLAN_CACHE.pop(next(iter(_PLAN_CACHE)))
        with jax.ensure_compile_time_eval():  # concrete arrays even inside a `jit` trace,
            _PLAN_CACHE[key] = krylov_plan(src, dst, rates.n_states)  # so none leaks via the cache
    return _PLAN_CACHE[key]


_PLAN_CACHE: dict = {}
_PLAN_CACHE_SIZE = 8


def stationary(
    rates: Rates,
    *,
    method: str = "auto",
    krylov_plan: Any = None,
    rtol: float | None = None,
    atol: float | None = None,
    max_iters: int | None = None,
) -> Float[Array, " n"]:
    """Stationary distribution of a continuous-time Markov chain.

    Solves $pQ = 0$, $\\sum_i p_i = 1$ with $Q = \\mathrm{rates} - \\mathrm{diag}(\\mathrm{rates}
    \\,\\mathbf 1)$ (`rates[i, j]` is the rate of i -> j; the diagonal is ignored). Works
    under `jit`, `vmap` (thousands of small chains in one call) and `grad`; float32 and
    float64 in, the same dtype out.

    **Arguments:**

    - `rates`: dense `[n, n]` array or `EdgeRates`, non-negative and finite.
    - `method`:
        - `"gth"`: Grassmann–Taksar–Heyman elimination, $O(n^3)$, subtraction-free: every
          entry keeps its relative accuracy, down to the smallest normal number (a
          birth–death chain spanning 1 to 1e-250 is exact to ~1e-13 in float64). Blocked:
          each block of `GTH_BLOCK` (128) states is eliminated with one matmul of
          non-negative matrices (as fast as an LU within a small factor). Under `vmap`,
          chains of up to `GTH_BLOCK` (128) states are eliminated with the ensemble axis
          last, in cache-sized chunks (4096 chains of 16 states in ~6 ms on one CPU core);
          chains of <= 16 states, and of <= 32 in batches of >= 1024, by an unrolled
          elimination (4096 chains of 32 states in ~47 ms instead of ~180 ms, at the price
          of a first call that compiles for ~13 s instead of ~2 s). The method of choice
          for dense chains; `EdgeRates` are densified.
          **Accuracy: entrywise relative** (O'Cinneide's bound: each $p_i$ to a few $n^3
          \\varepsilon$ relative, however small $p_i$ is).
        - `"lu"`: one LU solve of the bordered system (the generator's transpose with one
          equation replaced by $\\sum_i p_i = 1$). Faster for large dense chains but only
          accurate in absolute terms: entries below $\\varepsilon\\,\\mathrm{cond}$ are noise
          (they are clipped at 0 and the vector renormalised). **Accuracy: normwise**
          (backward stable LU): $\\|\\delta p\\| \\lesssim \\varepsilon\\,\\kappa\\,\\|p\\|$.
        - `"krylov"`: matrix free (`EdgeRates` or dense), for large sparse chains such as 2D
          Fokker–Planck grids: preconditioned BiCGStab, stopped when the exit-rate-scaled
          residual is at most `atol + rtol * |b|`. **Accuracy: a residual norm**, so the
          error is absolute, in units of the largest entry (tails are accurate only to
          ~rtol relative to it): measured on two 64 x 64 driven double-well grids (p
          spanning 3 and 14 decades), max |error| / max p = 6e-12 / 1.5e-11 at the default
          rtol = 1e-12 (float64), 5e-8 / 2e-7 at rtol = 1e-8, 6e-6 / 3e-4 at rtol = 1e-6,
          and 3e-4 / 6e-3 in float32 (rtol = 1e-4); on the stiffer grid (p from 1e-2 down to
          3e-16) entries below ~1e-3 of the largest carry relative errors of 1e-2 and more.
          Use "gth" when small probabilities matter.
        - `"auto"` (default): `"gth"` whenever $n \\le$ `AUTO_DENSE_MAX_STATES` (2048), for
          dense arrays and `EdgeRates` alike (densified), in float32 and float64 (GTH is the
          most accurate choice in either precision, so the dtype does not change the pick);
          above that, `"lu"` for a dense array and `"krylov"` for `EdgeRates`.
    - `rtol`, `atol`, `max_iters` (`"krylov"` only; ignored by the direct methods, and
      validated whatever the method): relative and absolute tolerance of the residual test
      (`atol` in units of the largest entry; defaults 1e-12 in float64, 1e-4 in float32,
      and 0) and the cap on BiCGStab iterations (default 2000). They are traced: changing
      them does not recompile.
    - `krylov_plan`: the structure-only set-up of the Krylov preconditioner
      (`jaxneq.markov.krylov_plan(src, dst, n_states)`: a locality-preserving relabelling and
      the coarse levels' edge lists). When the edge list is concrete it is built on the host
      and cached (by the edge structure, 8 graphs) automatically; pass it explicitly when the
      `EdgeRates` indices are traced (an `EdgeRates` that is itself a `jit` argument), or
      the preconditioner falls back to blocks of consecutive labels, which is correct but
      needs several times more iterations on 2D grids.

    **Returns:** `p`, shape `[n]`, non-negative, summing to 1, dtype of `rates`.

    **Gradients:** by implicit differentiation, one adjoint solve $Qv = g - (p\\cdot g)\\mathbf
    1$ reusing the forward factorisation; $\\partial L/\\partial r_{ij} = -p_i (v_j - v_i)$.
    The dense diagonal and `EdgeRates` self-loops get zero gradient.

    **Errors:** never a silent answer.

    - Negative, NaN or infinite rates, and reducible chains (more than one closed class, so
      no unique stationary distribution), raise a `ValueError`; a Krylov solve that does
      not converge raises a `RuntimeError` (for dense and `EdgeRates` input alike).
    - How reducibility is detected: "gth" exactly (a second zero pivot), on every call.
      With concrete rates, "lu" and "krylov" check the graph on the host first (scipy's
      strongly connected components) and the message names two closed classes, e.g.
      "{0, 1} and {2, 3}". Traced, "krylov" checks that every state reaches the most
      probable one (label propagation over the edges with positive rates, skipped when the
      concrete structure is irreducible and no rate is zero; a concrete structure that is
      itself reducible raises at trace time); "lu" only flags a breakdown of the solve
      (non-finite or clearly negative entries).
    - A chain with transient states and a single closed class is fine: "gth" and "lu" give
      exact zeros on the transient states.
    - Eager calls (concrete rates): the `ValueError` names the entry or the classes.
    - Eager `jax.vmap` over concrete rates: a `ValueError` (`RuntimeError` for
      non-convergence) whose message starts "`rates` of batch member i ..." (the first bad
      member).
    - Under `jit` (with or without `vmap`): the same message, member included, from
      `eqx.branched_error_if`: an `EquinoxRuntimeError` under `eqx.filter_jit` (the message
      follows the in-jit stack), a `JaxRuntimeError` under `jax.jit` (the message follows
      XLA's callback traceback); both are `RuntimeError`s. Under `jit` the message names
      the member but not the entry: call `stationary(rates[i])` eagerly for that.
    - `EQX_ON_ERROR=nan` (read once at import, as equinox does): traced calls return NaN
      for the bad members only, the rest of the batch is solved; `EQX_ON_ERROR=off` skips
      the checks. Eager calls always raise.
    - Nested `vmap`s name the index along the innermost vmapped axis.

    **Example:**

    ```python
    import jax, jax.numpy as jnp, jaxneq as jn
    rates = jnp.array([[0.0, 1.0, 0.0], [1.0, 0.0, 2.0], [3.0, 0.0, 0.0]])
    p = jn.markov.stationary(rates)
    dp0 = jax.grad(lambda r: jn.markov.stationary(r)[0])(rates)
    ```

    References: W. K. Grassmann, M. I. Taksar and D. P. Heyman, Oper. Res. 33, 1107 (1985);
    C. A. O'Cinneide, Numer. Math. 65, 109 (1993) (entrywise relative accuracy of GTH).
    """
    concrete = is_concrete(rates)
    if concrete or isinstance(rates, EdgeRates):
        rates = validate_rates(rates, check_traced_values=False)  # traced: checked in the solve
    else:  # traced and dense: the solve checks the values and ignores the diagonal itself
        rates = check_dense_shape(as_inexact(rates, "rates"), "rates")
    chosen = _choose_method(rates, method)
    n = n_states(rates)
    dtype = rates.dtype
    rtol, atol, max_iters = krylov_options(dtype, rtol, atol, max_iters)
    reach = "none"
    if chosen == "krylov":
        structure_known = not isinstance(rates, EdgeRates) or is_concrete(rates.src, rates.dst)
        if structure_known and (concrete or isinstance(rates, EdgeRates)):
            # The graph on the host (scipy strongly connected components): exact when the
            # values are concrete; on the structure alone (every edge) when they are traced,
            # so a chain reported here is reducible whatever the values.
            detail = _classes_detail(rates)
            if detail:
                raise ValueError(_reducible_message(chosen, detail))
        if not concrete:
            reach = "if_zero_rates" if structure_known else "always"
    elif chosen == "lu" and concrete:
        detail = _classes_detail(rates)  # LU itself cannot always tell
        if detail:
            raise ValueError(_reducible_message(chosen, detail))
    cfg = _Config(chosen, not concrete, reach)
    traced_options = (
        jnp.asarray(rtol, dtype),
        jnp.asarray(atol, dtype),
        jnp.asarray(max_iters, jnp.int32),
    )
    if isinstance(rates, EdgeRates):
        plan = krylov_plan
        if chosen == "krylov" and plan is None and is_concrete(rates.src, rates.dst):
            plan = _plan_for(rates)
        args = (rates.rate, rates.src, rates.dst, plan, traced_options)
    else:
        args = (rates, None, None, None, traced_options)
    try:
        p, code, stats = _solve_jit(cfg, n, *args)
    except RuntimeError as error:  # JaxRuntimeError or EquinoxRuntimeError
        _reraise_cleanly(error)
        raise
    if concrete:
        _raise_eagerly(cfg, rates, code, stats, (rtol, atol, max_iters))
    return p

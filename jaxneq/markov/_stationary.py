"""Stationary distributions of master equations, with an implicit adjoint (units: k_B = 1).

`stationary(rates, *, method=...)` dispatches to three solvers:

- `"gth"`: Grassmann–Taksar–Heyman elimination. Subtraction-free, so every entry of the
  result keeps its relative accuracy, however small it is (probabilities of 1e-250 in
  float64). $O(n^3)$, dense; blocked (`GTH_BLOCK` states at a time) so that most of the work
  is one matmul of non-negative matrices per block; chains of one block take a path with
  its own batching rule (ensemble axis last under `vmap`).
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

import hashlib
import math
from functools import partial
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
from jaxtyping import Array, Float

from .._util import is_concrete
from ._rates import EdgeRates, Rates, n_states, validate_rates

_METHODS = ("auto", "gth", "lu", "krylov")

AUTO_DENSE_MAX_STATES = 2048
"""Largest `EdgeRates` chain that `method="auto"` densifies and solves with GTH."""


# --------------------------------------------------------------------------------------------
# Grassmann–Taksar–Heyman elimination
# --------------------------------------------------------------------------------------------


GTH_BLOCK = 128
"""States eliminated per block by the blocked GTH factorisation (chains up to this size are
eliminated one state at a time)."""


def _gth_eliminate(a, kill, exit_, kstar, bad, offset):
    """Scalar GTH elimination of the states of one block, last to first (masked updates).

    `a` is the block's own rate matrix, `kill` the killing rates into the absorbing state
    `kstar` (global index, -1 while none), `exit_` the lumped rates out of the block into
    states not yet eliminated (they take part in the pivots and are updated like any other
    column, but never turn a state into `kstar`). Returns the factored block, the pivots,
    the multipliers `w` (0 for `kstar`) and `kv` (what each eliminated state passes on to the
    killing rates of the states that lead into it), `kstar` and `bad`.

    Batch-polymorphic in trailing axes: `a` may be `[m, m, *B]`, `kill` and `exit_`
    `[m, *B]`, `kstar` and `bad` `[*B]`; with the ensemble last, every update is a
    contiguous vector operation over chains (the layout of `_gth_small`'s batching rule).
    """
    m = a.shape[0]
    dtype = a.dtype
    lead = jnp.arange(m).reshape((m,) + (1,) * jnp.ndim(kstar))
    zero = jnp.zeros((), dtype)
    one = jnp.ones((), dtype)

    def eliminate(t, carry):
        a, kill, exit_, pivots, w, kv, kstar, bad = carry
        k = m - 1 - t
        lower = lead < k
        row = jnp.where(lower, a[k], zero)
        col = jnp.where(lower, a[:, k], zero)
        s = row.sum(axis=0) + kill[k] + exit_[k]
        is_zero = s <= 0
        first = is_zero & (kstar < 0)
        bad = bad | (is_zero & (kstar >= 0))
        kstar = jnp.where(first, k + offset, kstar)
        safe_s = jnp.where(is_zero, one, s)
        keep = jnp.where(is_zero, zero, one)
        # r_kj / s_k <= 1 and kappa_k / s_k <= 1: no overflow however extreme the rates.
        a = a + (col * keep)[:, None] * (row / safe_s)[None, :]
        kk = jnp.where(first, one, keep * kill[k] / safe_s)
        kill = kill + col * kk
        exit_ = exit_ + col * (keep * exit_[k] / safe_s)
        pivots = pivots.at[k].set(s)
        w = w.at[k].set(keep / safe_s)
        kv = kv.at[k].set(kk)
        return a, kill, exit_, pivots, w, kv, kstar, bad

    zeros = jnp.zeros_like(kill)
    init = (a, kill, exit_, zeros, zeros, zeros, kstar, bad)
    a, _, _, pivots, w, kv, kstar, bad = jax.lax.fori_loop(0, m, eliminate, init)
    return a, pivots, w, kv, kstar, bad


def _gth_small_impl(rates):
    """GTH factors and stationary vector of chains `[n, n, *B]` of one block (n <= `GTH_BLOCK`)."""
    n, batch = rates.shape[0], rates.shape[2:]
    zeros = jnp.zeros((n,) + batch, rates.dtype)
    kstar = jnp.full(batch, -1, jnp.int32)
    a, pivots, _, _, kstar, bad = _gth_eliminate(
        rates, zeros, zeros, kstar, jnp.zeros(batch, bool), 0
    )
    return _gth_back_substitute(a, pivots, kstar), a, pivots, kstar, bad


GTH_VMAP_UNROLL = 16
"""Under `vmap`, chains of up to this many states are eliminated by an unrolled loop (static
slices that shrink with k): 4096 chains of 16 states in ~6 ms instead of ~18 ms, for a
compilation of ~5 s instead of ~1 s (XLA:CPU compiles every unrolled step's kernels)."""


def _eliminate_unrolled(a, kill, exit_, kstar, bad, offset, track_kill=True):
    """`_gth_eliminate` as an unrolled loop, on arrays with trailing batch axes.

    `a` is `[m, m, *B]`, `kill` and `exit_` `[m, *B]`, `kstar` and `bad` `[*B]` (`B` may be
    empty). The slices are static and shrink with k (a third of the masked loop's work, and
    no dynamic indexing), and with the batch axes last every operation is a contiguous
    vector operation over the ensemble: the layout the batching rule of `_gth_small` uses.
    `exit_=None` means no exit rates; `track_kill=False` skips the killing-rate updates,
    exact as long as no pivot but the last one (k = 0) is zero.
    """
    m = a.shape[0]
    one = jnp.ones((), a.dtype)
    zero = jnp.zeros((), a.dtype)
    pivots, w, kv = [None] * m, [None] * m, [None] * m
    for k in range(m - 1, -1, -1):
        row, col = a[k, :k], a[:k, k]
        s = row.sum(axis=0) + kill[k] + (0 if exit_ is None else exit_[k])
        is_zero = s <= 0
        first = is_zero & (kstar < 0)
        bad = bad | (is_zero & (kstar >= 0))
        kstar = jnp.where(first, k + offset, kstar)
        safe_s = jnp.where(is_zero, one, s)
        keep = jnp.where(is_zero, zero, one)
        kk = jnp.where(first, one, keep * kill[k] / safe_s)
        if k > 0:
            # r_kj / s_k <= 1 and kappa_k / s_k <= 1: no overflow however extreme the rates.
            a = a.at[:k, :k].add((col * keep)[:, None] * (row / safe_s)[None, :])
            if track_kill:
                kill = kill.at[:k].add(col * kk)
            if exit_ is not None:
                exit_ = exit_.at[:k].add(col * (keep * exit_[k] / safe_s))
        pivots[k], w[k], kv[k] = s, keep / safe_s, kk
    return a, jnp.stack(pivots), jnp.stack(w), jnp.stack(kv), kstar, bad


def _back_substitute_unrolled(a, pivots, kstar):
    """`_gth_back_substitute` as an unrolled loop, on arrays with trailing batch axes."""
    n = a.shape[0]
    one = jnp.ones((), a.dtype)
    idx = jnp.arange(n).reshape((n,) + (1,) * jnp.ndim(kstar))
    x = jnp.where(idx == kstar, one, jnp.zeros((), a.dtype))
    for j in range(1, n):
        num = (x[:j] * a[:j, j]).sum(axis=0)
        s = pivots[j]
        active = j > kstar
        big = num > s
        safe_s = jnp.where(s > 0, s, one)
        scale = jnp.where(active & big, s / jnp.where(big, num, one), one)
        x = x * scale
        x = x.at[j].set(jnp.where(active, jnp.where(big, one, num / safe_s), x[j]))
    return x / x.sum(axis=0)


def _gth_small_unrolled(rates):
    """`_gth_small_impl` unrolled, for chains `[n, n, *B]` of at most `GTH_VMAP_UNROLL` states.

    The killing rates only matter once a pivot other than the last is zero (a transient
    state or a reducible chain): a first pass skips them (half the cost under `vmap`), and
    only when some chain needs them is the elimination redone with them.
    """
    n, batch = rates.shape[0], rates.shape[2:]
    kill = jnp.zeros((n,) + batch, rates.dtype)
    kstar = jnp.full(batch, -1, jnp.int32)
    no_bad = jnp.zeros(batch, bool)

    def eliminate(track_kill):
        a, pivots, _, _, ks, bad = _eliminate_unrolled(
            rates, kill, None, kstar, no_bad, 0, track_kill=track_kill
        )
        return a, pivots, ks, bad

    fast = eliminate(False)
    a, pivots, ks, bad = jax.lax.cond(
        jnp.any(fast[2] > 0), lambda _: eliminate(True), lambda f: f, fast
    )
    return _back_substitute_unrolled(a, pivots, ks), a, pivots, ks, bad


GTH_VMAP_CHUNK_BYTES = 1 << 19
"""Rates per chunk (bytes) when `vmap` batches `_gth_small`: small enough to stay in cache."""


@jax.custom_batching.custom_vmap
def _gth_small(rates):
    """`(p, a, pivots, kstar, bad)` of one chain of at most `GTH_BLOCK` states."""
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
    if pad:  # repeat the first chain: padding with zeros would only raise `bad`
        rates = jnp.concatenate([rates, jnp.broadcast_to(rates[:1], (pad,) + rates.shape[1:])])
    chunks = rates.reshape((-1, chunk) + rates.shape[1:])

    n = rates.shape[1]
    impl = _gth_small_unrolled if n <= GTH_VMAP_UNROLL else _gth_small_impl

    def solve_chunk(r):
        out = impl(jnp.moveaxis(r, 0, -1))
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
    bad = jnp.asarray(False)
    kill = jnp.zeros((n,), dtype)
    a = rates
    pivot_blocks = []
    hi = n
    while hi > 0:
        lo = max(0, hi - block)
        fb = a[lo:hi, lo:hi]
        if lo == 0:
            fb, piv, _, _, kstar, bad = _gth_eliminate(
                fb, kill[:hi], jnp.zeros((hi,), dtype), kstar, bad, 0
            )
            a = a.at[:hi, :hi].set(fb)
            pivot_blocks.append(piv)
            break
        r_fs = a[lo:hi, :lo]
        r_sf = a[:lo, lo:hi]
        fb, piv, w, kv, kstar, bad = _gth_eliminate(
            fb, kill[lo:hi], r_fs.sum(axis=1), kstar, bad, lo
        )
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
    return a, pivots, kstar, bad


def _gth_back_substitute(a, pivots, kstar):
    """Unnormalised stationary vector from the GTH factors, kept scaled so that max(x) = 1.

    $x_{k^*} = 1$, $x_j = \\sum_{i<j} x_i r_{ij} / s_j$ for $j > k^*$ and $x_j = 0$ below.
    Whenever a new entry would exceed 1, the previous ones are scaled down instead, so the
    vector never overflows and an entry underflows only when it is below the smallest
    normal number relative to the largest one.
    """
    n = a.shape[0]
    dtype = a.dtype
    lead = jnp.arange(n).reshape((n,) + (1,) * jnp.ndim(kstar))
    zero = jnp.zeros((), dtype)
    one = jnp.ones((), dtype)

    def step(j, x):
        num = (jnp.where(lead < j, x, zero) * a[:, j]).sum(axis=0)
        s = pivots[j]
        active = j > kstar
        big = num > s
        safe_s = jnp.where(s > 0, s, one)
        safe_num = jnp.where(big, num, one)
        scale = jnp.where(active & big, s / safe_num, one)
        xj = jnp.where(big, one, num / safe_s)
        x = x * scale
        return x.at[j].set(jnp.where(active, xj, x[j]))

    x0 = jnp.where(lead == kstar, one, zero)
    x = jax.lax.fori_loop(0, n, step, x0)
    return x / x.sum(axis=0)


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


def _krylov_functions():
    try:
        from ._krylov import krylov_adjoint, krylov_stationary
    except ImportError as e:  # pragma: no cover - only while _krylov.py is being written
        raise NotImplementedError(
            "method='krylov' is not available yet (jaxneq.markov._krylov is missing); "
            "use method='gth' or method='lu'"
        ) from e
    return krylov_stationary, krylov_adjoint


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _solve(method: str, n: int, rate, src, dst, plan):
    (p, bad), _ = _solve_fwd(method, n, rate, src, dst, plan)
    return p, bad


def _solve_fwd(method, n, rate, src, dst, plan):
    if method == "gth" and n <= GTH_BLOCK:  # one block: with its own batching rule
        p, a, pivots, kstar, bad = _gth_small(_dense(n, rate, src, dst))
        factors = (a, pivots, kstar)
    elif method == "gth":
        a, pivots, kstar, bad = _gth_factor(_dense(n, rate, src, dst))
        p = _gth_back_substitute(a, pivots, kstar)
        factors = (a, pivots, kstar)
    elif method == "lu":
        p, bad, factors = _lu_forward(_dense(n, rate, src, dst))
    else:
        krylov_stationary, _ = _krylov_functions()
        p = krylov_stationary(_as_rates(n, rate, src, dst), plan=plan)
        bad = jnp.asarray(False)
        factors = rate
    return (p, bad), (p, factors, src, dst, plan)


def _solve_bwd(method, n, residuals, cotangents):
    # Compiled as one unit, so that an eager `jax.grad` does not dispatch the adjoint's loops
    # op by op (under an outer `jit` this is an ordinary nested call).
    return _adjoint_jit(method, n, residuals, cotangents[0])


def _adjoint(method, n, residuals, g):
    p, factors, src, dst, plan = residuals
    if method == "gth":
        v = _gth_adjoint(*factors, g - jnp.dot(p, g))
    elif method == "lu":
        v = _lu_adjoint(*factors, g - jnp.dot(p, g))
    else:
        _, krylov_adjoint = _krylov_functions()
        v = krylov_adjoint(_as_rates(n, factors, src, dst), p, g, plan=plan)
    # dL/dr_ij = -p_i (v_j - v_i): zero on the diagonal and on self-loops.
    if src is None:
        grad = -p[:, None] * (v[None, :] - v[:, None])
    else:
        grad = -p[src] * (v[dst] - v[src])
    return grad, None, None, None


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


def _closed_classes(rates: np.ndarray, limit: int = 2) -> list[list[int]]:
    """Closed communicating classes of a concrete chain (for error messages only)."""
    n = rates.shape[0]
    reach = (rates > 0) | np.eye(n, dtype=bool)
    for _ in range(max(1, int(np.ceil(np.log2(max(n, 2)))))):
        reach = reach | ((reach.astype(np.int64) @ reach.astype(np.int64)) > 0)
    closed = [i for i in range(n) if np.all(reach[np.nonzero(reach[i])[0], i])]
    classes: list[list[int]] = []
    for i in closed:
        if not any(i in c for c in classes):
            classes.append([int(j) for j in np.nonzero(reach[i] & reach[:, i])[0]])
        if len(classes) >= limit:
            break
    return classes


def _reducible_message(method: str, detail: str = "") -> str:
    msg = (
        f"`rates` is reducible: it has more than one closed class of states{detail}, so there "
        "is no unique stationary distribution; connect the classes with nonzero rates or solve "
        "each closed class on its own"
    )
    if method == "lu":
        msg += " (method='lu' cannot tell this from severe ill-conditioning: try method='gth')"
    return msg


def _check_reducible(p, bad, method: str, rates: Rates):
    if not is_concrete(bad):
        bad = jax.lax.stop_gradient(bad)
        return eqx.error_if(p, bad, _reducible_message(method))
    if not bool(np.any(np.asarray(bad))):
        return p
    detail = ""
    if is_concrete(rates) and n_states(rates) <= 512:
        dense = np.asarray(rates.to_dense() if isinstance(rates, EdgeRates) else rates)
        classes = _closed_classes(dense)
        if len(classes) > 1:
            detail = (
                " (e.g. " + " and ".join("{" + ", ".join(map(str, c)) + "}" for c in classes) + ")"
            )
    raise ValueError(_reducible_message(method, detail))


def _plan_for(rates: EdgeRates):
    """The Krylov preconditioner plan of a concrete edge list, cached by its structure."""
    from ._krylov import krylov_plan

    src, dst = np.asarray(rates.src), np.asarray(rates.dst)
    digest = hashlib.sha1(src.tobytes() + b"|" + dst.tobytes()).hexdigest()
    key = (rates.n_states, src.dtype.str, digest)
    if key not in _PLAN_CACHE:
        if len(_PLAN_CACHE) >= _PLAN_CACHE_SIZE:
            _PLAN_CACHE.pop(next(iter(_PLAN_CACHE)))
        _PLAN_CACHE[key] = krylov_plan(src, dst, rates.n_states)
    return _PLAN_CACHE[key]


_PLAN_CACHE: dict = {}
_PLAN_CACHE_SIZE = 8


def stationary(
    rates: Rates, *, method: str = "auto", krylov_plan: Any = None
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
          last, in cache-sized chunks (4096 chains of 16 states in ~6 ms on one CPU core).
          The method of choice for dense chains; `EdgeRates` are densified.
        - `"lu"`: one LU solve of the bordered system (the generator's transpose with one
          equation replaced by $\\sum_i p_i = 1$). Faster for large dense chains but only
          accurate in absolute terms: entries below $\\varepsilon\\,\\mathrm{cond}$ are noise
          (they are clipped at 0 and the vector renormalised).
        - `"krylov"`: matrix free (`EdgeRates` or dense), for large sparse chains such as 2D
          Fokker–Planck grids.
        - `"auto"` (default): `"gth"` whenever $n \\le$ `AUTO_DENSE_MAX_STATES` (2048), for
          dense arrays and `EdgeRates` alike (densified), in float32 and float64 (GTH is the
          most accurate choice in either precision, so the dtype does not change the pick);
          above that, `"lu"` for a dense array and `"krylov"` for `EdgeRates`.
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

    **Errors:** negative, NaN or infinite rates, and reducible chains (more than one closed
    class, so no unique stationary distribution) raise a `ValueError` when the values are
    concrete and an `eqx.error_if` runtime error under `jit`. A chain with transient states
    and a single closed class is fine: "gth" and "lu" give exact zeros on the transient
    states. "gth" detects reducibility exactly (a second zero pivot); "lu" only when the
    solve breaks down (non-finite or clearly negative entries).

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
    rates = validate_rates(rates)
    chosen = _choose_method(rates, method)
    n = n_states(rates)
    if isinstance(rates, EdgeRates):
        plan = krylov_plan
        if chosen == "krylov" and plan is None and is_concrete(rates.src, rates.dst):
            plan = _plan_for(rates)
        p, bad = _solve_jit(chosen, n, rates.rate, rates.src, rates.dst, plan)
    else:
        p, bad = _solve_jit(chosen, n, rates, None, None, None)
    return _check_reducible(p, bad, chosen, rates)

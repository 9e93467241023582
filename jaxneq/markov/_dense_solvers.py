r"""The dense stationary solvers: Grassmann–Taksar–Heyman elimination and LU on the bordered
system, each with the adjoint solve that reuses its factors (units: k_B = 1).

`stationary` (`_stationary.py`) dispatches here for dense chains; see its module docstring
for the accuracy of each method and the implicit adjoint both serve.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jax.experimental.layout import Layout, with_layout_constraint
from jaxtyping import Array, Float

_OK, _INVALID, _REDUCIBLE, _UNCONVERGED = 0, 1, 2, 3
"""Per-chain outcome codes of a solve (an int32 per chain, one array under `vmap`)."""


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
    `vmap`, see `GTH_VMAP_UNROLL_LARGE`). `track_kill=False` skips the killing-rate updates,
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


GTH_VMAP_UNROLL_LARGE = 32
"""Under `vmap`, chains of up to this many states are eliminated by the unrolled loop
(static slices that shrink with k) when the batch holds at least
`GTH_VMAP_UNROLL_MIN_BATCH` of them. Measured (float64, 2-core CPU, same process): 4096
chains of 16 states in 7.2 ms unrolled against 27 ms as a loop, for a first call of 3.3 s
instead of 0.6 s; 4096 chains of 32 states in 47 ms against 180 ms (loaded machine), for a
compilation of ~13 s instead of ~2 s (XLA:CPU compiles every unrolled step's kernels)."""

GTH_VMAP_UNROLL_MIN_BATCH = 1024
"""Smallest batch whose chains of <= `GTH_VMAP_UNROLL_LARGE` states are unrolled: there the
run time, not the compilation, dominates. Smaller batches keep the loop, which compiles in
< 1 s (26 chains of 16 states: 0.6 s against 4.2 s unrolled, for 0.14 ms against 0.09 ms
per call)."""


def _unroll_under_vmap(n: int, batch: int) -> bool:
    """Whether the vmapped GTH of `batch` chains of `n` states uses the unrolled loop."""
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
"""Most rates per chunk (bytes) when `vmap` batches `_gth_small`: small enough to stay in
cache."""

GTH_VMAP_CHUNK_CHAINS = 64
"""Most chains per chunk when `vmap` batches `_gth_small`. Measured (float64, 2-core CPU,
4096 chains, unrolled): 16 states in 3.9 ms with 64-chain chunks against 5.5 ms with 256
(the byte limit alone) and 4.0/4.8 ms with 32/128; 32 states 26 ms with 32-64 chains
against 34 ms with 256."""


@jax.custom_batching.custom_vmap
def _gth_small(rates):
    """`(p, a, pivots, kstar, code)` of one chain of at most `GTH_BLOCK` states."""
    return _gth_small_impl(rates)


@_gth_small.def_vmap
def _gth_small_vmap(axis_size, in_batched, rates):
    """Ensemble axis last, in cache-sized chunks: 4096 chains of 16 states in ~4 ms."""
    (batched,) = in_batched
    if not batched:
        out = _gth_small(rates)
        return out, (False,) * len(out)
    per_chain = rates.shape[1] * rates.shape[2] * rates.dtype.itemsize
    chunk = max(1, min(axis_size, GTH_VMAP_CHUNK_CHAINS, GTH_VMAP_CHUNK_BYTES // per_chain))

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

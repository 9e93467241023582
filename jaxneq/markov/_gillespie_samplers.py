r"""The next jump of every member of an ensemble at once (Gillespie's SSA). Units: k_B = 1.

A sampler maps the states `x` `[b]` and the jump's variates (a standard exponential `E`
and a uniform `w`, `[b]` each) to the dwell times $E / \lambda_x$ ($+\infty$ in an
absorbing state), the next states and the index of the transition taken (for the jump
counts). The next state is the first entry of the cumulative rate table of `x` above
$w \lambda_x$:

- dense rates: the cumulative sum of each row and a branchless binary search in the row
  of `x` (`_count_at_most`: $\lceil \log_2 n \rceil$ gathers, unrolled);
- `EdgeRates`: edges sorted by source once (CSR-like offsets), a segmented cumulative sum
  per source state and a binary search inside the segment, $O(\log m)$ per jump whatever
  the number of states.

The searches are unrolled Python loops, not `lax.fori_loop`s: inside the SSA's jump loop a
nested loop costs more than its few steps (for 8 states, the unrolled search made a jump
15% cheaper than gathering the whole row and comparing it at once, and the `fori_loop`
search 10% dearer).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ._rates import EdgeRates, Rates


def _search(table, lo, hi, u, n_iter: int):
    """First index k in [lo, hi] with `table[k] > u`, for every member (`hi` when none)."""
    for _ in range(n_iter):
        mid = (lo + hi) // 2
        above = table[mid] > u
        active = lo < hi
        lo, hi = jnp.where(active & ~above, mid + 1, lo), jnp.where(active & above, mid, hi)
    return lo


def _count_at_most(table, base, length: int, u):
    """The number of entries of the non-decreasing `table[base : base + length]` that are
    `<= u`, for every member: a branchless binary search in static power-of-two steps."""
    count = jnp.zeros_like(base)
    step = 1 << max(length.bit_length() - 1, 0) if length else 0
    exact = (length + 1) & length == 0  # length = 2**p - 1: no probe can pass the end
    while step:
        probe = count + step
        index = base + (probe - 1 if exact else jnp.minimum(probe, length) - 1)
        ok = table[index] <= u
        count = jnp.where(ok if exact else ok & (probe <= length), probe, count)
        step //= 2
    return count


def _dwell_and_target(exit_rate, exponential, uniform):
    """Dwell times (inf where absorbing) and the search targets in [0, exit_rate)."""
    dtype = exit_rate.dtype
    moving = exit_rate > 0
    safe_exit = jnp.where(moving, exit_rate, jnp.ones((), dtype))
    dwell = jnp.where(moving, exponential / safe_exit, jnp.inf)
    target = jnp.minimum(uniform * safe_exit, jnp.nextafter(safe_exit, 0))
    return dwell, target, moving


class _DenseSampler(eqx.Module):
    cumulative: Float[Array, "n n"]

    def __init__(self, rates: Array):
        self.cumulative = jnp.cumsum(rates, axis=1)

    def __call__(self, x, exponential, uniform):
        n = self.cumulative.shape[0]
        flat = self.cumulative.reshape(-1)
        base = x * n
        dwell, target, moving = _dwell_and_target(flat[base + n - 1], exponential, uniform)
        # the last entry (the exit rate) is > target for a moving member: search the others
        k = _count_at_most(flat, base, n - 1, target)
        y = jnp.where(moving, k, x)
        return dwell, y, x * n + y, moving


class _EdgeSampler(eqx.Module):
    order: Int[Array, " m"]
    dst_sorted: Int[Array, " m"]
    cumulative: Float[Array, " m"]
    offsets: Int[Array, " n+1"]
    n_iter: int = eqx.field(static=True)

    def __init__(self, rates: EdgeRates):
        if rates.src.shape[0] == 0:  # no edges: one zero-rate self-loop keeps shapes non-empty
            zero = jnp.zeros((1,), rates.src.dtype)
            rates = EdgeRates(zero, zero, jnp.zeros((1,), rates.dtype), rates.n_states)
        m = rates.src.shape[0]
        self.order = jnp.argsort(rates.src, stable=True).astype(jnp.int32)
        src_sorted = rates.src[self.order]
        self.dst_sorted = rates.dst[self.order].astype(jnp.int32)
        r = rates.offdiagonal_rate[self.order]
        start = jnp.concatenate([jnp.ones((1,), bool), src_sorted[1:] != src_sorted[:-1]])
        self.cumulative = _segmented_cumsum(start, r)
        self.offsets = jnp.searchsorted(
            src_sorted, jnp.arange(rates.n_states + 1, dtype=src_sorted.dtype), side="left"
        ).astype(jnp.int32)
        self.n_iter = max(1, int(np.ceil(np.log2(m + 1))) + 1)

    def __call__(self, x, exponential, uniform):
        lo = self.offsets[x]
        hi = self.offsets[x + 1]
        last = jnp.maximum(hi - 1, 0)
        zero = jnp.zeros((), self.cumulative.dtype)
        exit_rate = jnp.where(hi > lo, self.cumulative[last], zero)
        dwell, target, moving = _dwell_and_target(exit_rate, exponential, uniform)
        k = _search(self.cumulative, lo, jnp.maximum(hi - 1, lo), target, self.n_iter)
        k = jnp.clip(k, 0, self.order.shape[0] - 1)
        y = jnp.where(moving, self.dst_sorted[k], x)
        return dwell, y, jnp.where(moving, self.order[k], -1), moving


def _segmented_cumsum(start: Array, values: Array) -> Array:
    """Cumulative sum of `values` restarting wherever `start` is True.

    Only values of the same segment are ever added (no global cumsum and subtraction, so a
    state with tiny exit rate keeps its relative accuracy next to huge ones). Two nested scans
    over a [ceil(m / B), B] layout with B ~ sqrt(m): O(sqrt m) sequential steps, O(m) work,
    and cheap to compile (unlike `lax.associative_scan`).
    """
    m = values.shape[0]
    b = max(1, int(np.ceil(np.sqrt(m))))
    rows = -(-m // b)
    pad = rows * b - m
    f = jnp.concatenate([start, jnp.ones((pad,), bool)]).reshape(rows, b)
    v = jnp.concatenate([values, jnp.zeros((pad,), values.dtype)]).reshape(rows, b)

    def within(c, col):
        fj, vj = col
        c = jnp.where(fj, vj, c + vj)
        return c, c

    _, partial = jax.lax.scan(within, jnp.zeros((rows,), values.dtype), (f.T, v.T))
    partial = partial.T  # [rows, b]: segmented sums that ignore earlier rows
    seen = jnp.cumsum(f.astype(jnp.int32), axis=1) > 0
    row_has_start = seen[:, -1]

    def across(c, row):
        last, has_start = row
        return jnp.where(has_start, last, c + last), c

    _, carry_in = jax.lax.scan(across, jnp.zeros((), values.dtype), (partial[:, -1], row_has_start))
    out = partial + jnp.where(seen, jnp.zeros((), values.dtype), carry_in[:, None])
    return out.reshape(-1)[:m]


def sampler(rates: Rates):
    """The sampler of a validated chain (dense `[n, n]` or `EdgeRates`)."""
    if isinstance(rates, EdgeRates):
        return _EdgeSampler(rates)
    return _DenseSampler(rates)

r"""Exact stochastic simulation of master equations (Gillespie's SSA). Units: k_B = 1.

`rates[i, j]` is the rate of the jump i -> j (diagonal ignored). In state $x$ the chain
waits an exponential time of rate $\lambda_x = \sum_j r_{xj}$ (the exit rate) and then
jumps to $j$ with probability $r_{xj}/\lambda_x$.

Both entry points use a static number of jumps (or a `lax.while_loop` to a final time), so
they compile once and `vmap` over initial states, keys and rates.

Ensembles: pass a batch of initial states `x0` of shape `[b]` with ONE key. Member `i` then
runs exactly the single-state simulation with the key `jax.random.fold_in(key, i)`, so its
path depends only on the key, its index `i` and its initial state: not on the batch size
around it, on how the batch is laid out, nor on how `x0` is sharded over devices or hosts
(the members never interact; a sharded `x0` gives a result sharded the same way). A scalar
`x0` uses `key` itself, unchanged.

Randomness: jump `j` of a run draws its dwell time and its next state from ONE block of
Philox4x32-10 with counter `j` under the run's key (`_gillespie_random`), so its numbers do
not depend on how the jumps are grouped. The whole ensemble is advanced as `[b]` arrays in
one compiled loop; each iteration draws the Philox blocks of `BLOCK` (16) jumps of every
member at once (`[16, b]`, written once), then makes the 16 jumps in an inner scan (each
turns its bits into its variates), writes the paths' `[b, 16]` columns in place, or, for
`gillespie_statistics`, adds the jumps into the occupation times and the 16 jumps'
transitions into the integer counts (one scatter-add per block; floats at the end).
Samplers: `_gillespie_samplers`; `JumpStatistics` and its estimators:
`_gillespie_statistics`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._util import error_if_tied, first_bad_index, is_concrete
from ._gillespie_random import BLOCK, jump_bits, run_key, variates
from ._gillespie_samplers import sampler as _sampler
from ._gillespie_statistics import JumpStatistics as JumpStatistics
from ._rates import EdgeRates, Rates, n_states, validate_rates

# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _check_x0(x0, n: int) -> Array:
    """An integer state `[]` or a batch of states `[b]` in `[0, n)`.

    Concrete values are checked eagerly, naming the first bad member; a global array that
    spans several processes is checked shard by shard on the process that holds it; traced
    values go through `eqx.error_if`.
    """
    x0 = jnp.asarray(x0)
    if not jnp.issubdtype(x0.dtype, jnp.integer) or x0.ndim > 1:
        raise ValueError(
            "`x0` must be one integer state index or a 1D batch of them, shape [b] "
            f"(got dtype {x0.dtype}, shape {x0.shape}); pass e.g. x0=0 or "
            "x0=jnp.zeros(b, int)"
        )
    if x0.ndim == 1 and x0.shape[0] == 0:
        raise ValueError("`x0` has an empty ensemble axis (b = 0); give at least one state")
    if not is_concrete(x0):
        # checked on a scalar that x0 then depends on: `eqx.error_if` on x0 itself would
        # route the whole (possibly sharded) batch through one device
        return error_if_tied(
            x0, jnp.any((x0 < 0) | (x0 >= n)), f"`x0` is out of range: it must lie in [0, {n})"
        )
    if getattr(x0, "is_fully_addressable", True):
        pieces = [((), np.asarray(x0))]
    else:  # a global array over several processes: check the shards this process holds
        pieces = [(s.index, np.asarray(s.data)) for s in x0.addressable_shards]
    for index, values in pieces:
        bad = (values < 0) | (values >= n)
        if bad.any():
            k = first_bad_index(bad)
            start = (index[0].start or 0) if index else 0
            where = f" at member {start + k[0]}" if k else ""
            raise ValueError(
                f"`x0` = {int(values[k])}{where} is out of range: it must lie in [0, n) = [0, {n})"
            )
    return x0


def _check_n_jumps(n_jumps) -> int:
    if isinstance(n_jumps, bool) or not isinstance(n_jumps, (int, np.integer)) or n_jumps < 0:
        raise ValueError(
            f"`n_jumps` must be a Python int >= 0 (it is static: it fixes the output shape), "
            f"got {n_jumps!r}"
        )
    return int(n_jumps)


def _check_key(key):
    if key is None:
        raise ValueError("`key` is required: pass e.g. key=jax.random.key(0)")
    key = jnp.asarray(key)
    typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    if (typed and key.ndim != 0) or (not typed and key.ndim != 1):
        raise ValueError(
            f"`key` must be ONE PRNG key (got shape {key.shape}); a batch of initial states "
            "x0 [b] takes one key and derives member i's key as jax.random.fold_in(key, i). "
            "For one key per member, jax.vmap over x0 and key instead"
        )
    return key


def _member_run_keys(key, b: int):
    """Philox key words of every member, `[b, 2]`: member i runs under `fold_in(key, i)`
    (independent of layout and sharding)."""
    return jax.vmap(lambda i: run_key(jr.fold_in(key, i)))(jnp.arange(b, dtype=jnp.uint32))


def _blocks(n_jumps: int, body, carry):
    """`carry = body(carry, block, size)` over jumps `0 .. n_jumps - 1` in blocks of `BLOCK`
    (the last one shorter): one compiled loop, whose body makes `BLOCK` jumps."""
    n_blocks, tail = divmod(n_jumps, BLOCK)
    if n_blocks:
        blocks = jnp.arange(n_blocks, dtype=jnp.uint32)
        carry, _ = jax.lax.scan(lambda c, blk: (body(c, blk, BLOCK), None), carry, blocks)
    if tail:
        carry = body(carry, jnp.uint32(n_blocks), tail)
    return carry


# --------------------------------------------------------------------------------------------
# Full trajectories
# --------------------------------------------------------------------------------------------


class JumpTrajectory(eqx.Module):
    """A jump trajectory: `states[k]` is occupied from `times[k]` to `times[k + 1]`.

    - `states`: integer `[n_jumps + 1]`, `states[0] = x0`.
    - `times`: float `[n_jumps + 1]`, jump times with `times[0] = 0`; `+inf` from the jump
      after which the chain sits in an absorbing state (it then never leaves).

    For an ensemble (a batch of initial states, or `vmap`) both carry the leading batch
    axis: `[b, n_jumps + 1]`.
    """

    states: Int[Array, "*b k"]
    times: Float[Array, "*b k"]


def gillespie(rates: Rates, x0: ArrayLike, *, key: PRNGKeyArray, n_jumps: int) -> JumpTrajectory:
    r"""Exact jump trajectories of a continuous-time Markov chain (Gillespie's SSA).

    **Arguments:**

    - `rates`: dense `[n, n]` array or `EdgeRates` (duplicate edges add up).
    - `x0`: initial state, an integer scalar in `[0, n)`, or a batch of initial states
      `[b]` (an ensemble of b independent trajectories).
    - `key`: ONE JAX PRNG key. For a batch, member `i` uses `jax.random.fold_in(key, i)`:
      `gillespie(rates, x0, key=key, ...)` member `i` equals
      `gillespie(rates, x0[i], key=jax.random.fold_in(key, i), ...)` bitwise, whatever
      the batch size, its layout or its sharding over devices and hosts.
    - `n_jumps`: number of jumps, a static Python int.

    Random numbers: jump `j` of a run takes its dwell time and next state from one block of
    Philox4x32-10 with counter `j` under the run's key (see `_gillespie_random`), so a run of
    `n` jumps is exactly the first `n` jumps of a longer run with the same key.

    **Returns:** a `JumpTrajectory` with `.states` (int `[n_jumps + 1]`) and `.times`
    (`[n_jumps + 1]`, dtype of the rates, `times[0] = 0`); `[b, n_jumps + 1]` each for a
    batch of initial states. A batched `x0` sharded over devices (`jax.sharding`, one host
    or many) gives results sharded the same way.

    **Absorbing states** (exit rate 0): the dwell time there is $+\infty$, so every later
    entry of `.times` is `inf` and every later entry of `.states` repeats the absorbing
    state. Nothing is NaN.

    For long runs whose path is not needed use `gillespie_statistics`. One key per member
    also works: `jax.vmap(lambda x, k: gillespie(rates, x, key=k, n_jumps=1000))(x0s, keys)`.

    **Example:**

    ```python
    traj = jn.markov.gillespie(rates, 0, key=jax.random.key(0), n_jumps=100)
    ensemble = jn.markov.gillespie(rates, jnp.zeros(1024, int), key=jax.random.key(0),
                                   n_jumps=100)   # .states: [1024, 101]
    ```

    Reference: D. T. Gillespie, J. Comput. Phys. 22, 403 (1976); J. Phys. Chem. 81, 2340
    (1977).
    """
    n_jumps = _check_n_jumps(n_jumps)
    key = _check_key(key)
    rates = validate_rates(rates)
    x0 = _check_x0(x0, n_states(rates))
    if x0.ndim == 1:
        return _gillespie_batch(rates, x0, key, n_jumps)
    return _gillespie(rates, x0, key, n_jumps)


def _paths(rates, x0, keys, n_jumps):
    """Paths of the members `x0` `[b]` with Philox keys `keys` `[b, 2]`."""
    sample = _sampler(rates)
    dtype = sample.cumulative.dtype
    b = x0.shape[0]
    x0 = x0.astype(jnp.int32)
    states = jnp.zeros((b, n_jumps + 1), jnp.int32).at[:, 0].set(x0)
    times = jnp.zeros((b, n_jumps + 1), dtype)

    def jump(carry, bits):
        x, t = carry
        dwell, x, _, _ = sample(x, *variates(bits, dtype))
        t = t + dwell
        return (x, t), (x, t)

    def body(carry, block, size):
        x, t, states, times = carry
        (x, t), (xs, ts) = jax.lax.scan(jump, (x, t), jump_bits(keys, block, size))
        at = (jnp.int32(0), 1 + block.astype(jnp.int32) * BLOCK)
        states = jax.lax.dynamic_update_slice(states, xs.T, at)
        times = jax.lax.dynamic_update_slice(times, ts.T, at)
        return x, t, states, times

    _, _, states, times = _blocks(n_jumps, body, (x0, jnp.zeros((b,), dtype), states, times))
    return JumpTrajectory(states, times)


@eqx.filter_jit
def _gillespie(rates, x0, key, n_jumps):
    traj = _paths(rates, x0[None], run_key(key)[None], n_jumps)
    return JumpTrajectory(traj.states[0], traj.times[0])


@eqx.filter_jit
def _gillespie_batch(rates, x0, key, n_jumps):
    return _paths(rates, x0, _member_run_keys(key, x0.shape[0]), n_jumps)


# --------------------------------------------------------------------------------------------
# Streaming statistics
# --------------------------------------------------------------------------------------------


def gillespie_statistics(
    rates: Rates,
    x0: ArrayLike,
    *,
    key: PRNGKeyArray,
    n_jumps: int | None = None,
    t_max: float | ArrayLike | None = None,
) -> JumpStatistics:
    r"""Run the Gillespie SSA and keep only occupation times and jump counts.

    Memory is $O(n + m)$ (or $O(n^2)$ for dense rates) per run whatever the length of the
    run, so long runs and large ensembles are cheap. In `n_jumps` mode the same key and `x0`
    give the same jumps as `gillespie` with the same `n_jumps` (batched or not).

    **Arguments:**

    - `rates`: dense `[n, n]` array or `EdgeRates`.
    - `x0`: initial state, an integer scalar in `[0, n)`, or a batch of initial states
      `[b]` for an ensemble of b independent runs.
    - `key`: ONE JAX PRNG key. For a batch, member `i` uses `jax.random.fold_in(key, i)`
      (as in `gillespie`), so member `i` equals the single run from `x0[i]` with that key
      bitwise, whatever the batch layout or sharding.
    - `n_jumps`: run for exactly this many jumps (static Python int); $T$ is then the time
      of the last jump. Chains with absorbing states should use `t_max` instead ($T$ would
      be infinite).
    - `t_max`: run until time `t_max` > 0 (may be traced; the last dwell is cut at `t_max`,
      the number of jumps is random). Exactly one of `n_jumps` and `t_max` must be given.

    **Returns:** `JumpStatistics`, with the estimators `.occupation()`, `.currents()` and
    `.entropy_production_rate(rates)`; for a batch every field has the leading axis `[b]`
    (the edge list `src`, `dst` is shared, `[m]`) and the estimators return `[b, ...]`.

    **Example:**

    ```python
    stats = jn.markov.gillespie_statistics(rates, jnp.zeros(64, int), key=jax.random.key(0),
                                           t_max=1e3)
    p_hat = stats.occupation().mean(0)                 # [n]
    sigma_hat = stats.entropy_production_rate(rates)   # [64], one estimate per run
    ```

    Reference: D. T. Gillespie, J. Phys. Chem. 81, 2340 (1977).
    """
    key = _check_key(key)
    if (n_jumps is None) == (t_max is None):
        raise ValueError("pass exactly one of `n_jumps` (a number of jumps) and `t_max` (a time)")
    rates = validate_rates(rates)
    n = n_states(rates)
    x0 = _check_x0(x0, n)
    if n_jumps is not None:
        n_jumps = _check_n_jumps(n_jumps)
        if x0.ndim == 1:
            return _statistics_jumps_batch(rates, x0, key, n_jumps)
        return _statistics_jumps(rates, x0, key, n_jumps)
    t_max = jnp.asarray(t_max, rates.dtype)
    if t_max.ndim != 0:
        raise ValueError(f"`t_max` must be a scalar time, got shape {t_max.shape}")
    if is_concrete(t_max):
        if not float(t_max) > 0 or not np.isfinite(float(t_max)):
            raise ValueError(f"`t_max` must be finite and > 0, got {float(t_max)}")
    else:
        t_max = eqx.error_if(t_max, ~((t_max > 0) & jnp.isfinite(t_max)), "`t_max` must be > 0")
    if x0.ndim == 1:
        return _statistics_time_batch(rates, x0, key, t_max)
    return _statistics_time(rates, x0, key, t_max)


_ONE_HOT_MAX = 64  # accumulators up to this many entries per member: masked adds, not scatters


def _add_at(total, index, value):
    """`total[m, index[m]] += value[m]` for every member m of `total` `[b, k]`.

    Up to `_ONE_HOT_MAX` entries a masked add over the row (one vector operation over the
    ensemble; a scatter is a serial loop on a CPU), above a batched scatter. Both add
    `value` to one entry and leave the others bitwise unchanged (`+ 0`): the same numbers.
    """
    k = total.shape[1]
    if k <= _ONE_HOT_MAX:
        hit = jnp.arange(k, dtype=jnp.int32)[None, :] == index[:, None]
        return total + jnp.where(hit, value[:, None], jnp.zeros((), total.dtype))
    return jax.vmap(lambda row, i, v: row.at[i].add(v))(total, index, value)


def _count_size(rates, n):
    return rates.src.shape[0] if isinstance(rates, EdgeRates) else n * n


def _statistics(rates, x, occ, counts, total_time):
    """`JumpStatistics` of the batch (the edge list shared, `[m]`) from the integer counts."""
    b, n = occ.shape
    jumps = jnp.sum(counts, axis=1, dtype=jnp.int32)
    counts = counts.astype(occ.dtype)
    if isinstance(rates, EdgeRates):
        return JumpStatistics(occ, counts, total_time, jumps, x, rates.src, rates.dst)
    return JumpStatistics(occ, counts.reshape(b, n, n), total_time, jumps, x)


def _jump_block(sample, keys, block, size, dtype, carry, t_max=None):
    """`size` jumps of every member, folded into the occupation times (in jump order) and
    into the integer counts (one batched scatter-add for the block; a jump not made goes to
    the index `k`, one past the end, and is dropped); with `t_max`, jumps past it are not
    made (the dwell is cut there)."""
    x, t, occ, counts = carry
    k = counts.shape[1]

    def jump(carry, bits):
        x, t, occ = carry
        dwell, y, code, moving = sample(x, *variates(bits, dtype))
        if t_max is None:
            occ = _add_at(occ, x, dwell)
            x, made = y, moving
        else:
            made = (t < t_max) & (t + dwell <= t_max)
            occ = _add_at(occ, x, jnp.minimum(dwell, t_max - t))  # 0 once t = t_max
            x = jnp.where(made, y, x)
            t = jnp.minimum(t + dwell, t_max)
        return (x, t, occ), jnp.where(made, code, k)

    (x, t, occ), codes = jax.lax.scan(jump, (x, t, occ), jump_bits(keys, block, size))
    if k:  # an edge list without edges has nothing to count
        counts = jax.vmap(lambda row, c: row.at[c].add(1, mode="drop"))(counts, codes.T)
    return x, t, occ, counts


def _statistics_run(rates, x0, keys, n_jumps=None, t_max=None):
    """Statistics of the members `x0` `[b]` (Philox keys `[b, 2]`): `n_jumps` jumps each, or
    until `t_max` (a `lax.while_loop` over blocks until every member has reached it).

    The counts stay int32 through the run (exact up to 2**31 - 1 jumps per transition, as
    `n_jumps`) and become floats once, at the end.
    """
    sample, n = _sampler(rates), n_states(rates)
    dtype = sample.cumulative.dtype
    b, k = x0.shape[0], _count_size(rates, n)
    init = (x0.astype(jnp.int32), jnp.zeros((b,), dtype), jnp.zeros((b, n), dtype))
    init = init + (jnp.zeros((b, k), jnp.int32),)

    def body(carry, block, size):
        return _jump_block(sample, keys, block, size, dtype, carry, t_max)

    if t_max is None:
        x, _, occ, counts = _blocks(n_jumps, body, init)
        return _statistics(rates, x, occ, counts, jnp.sum(occ, axis=-1))
    x, _, occ, counts, _ = jax.lax.while_loop(
        lambda c: jnp.any(c[1] < t_max),
        lambda c: body(c[:4], c[4], BLOCK) + (c[4] + jnp.uint32(1),),
        init + (jnp.zeros((), jnp.uint32),),
    )
    return _statistics(rates, x, occ, counts, jnp.broadcast_to(t_max, (b,)))


def _first(stats: JumpStatistics) -> JumpStatistics:
    """The single run of a batch of one (the shared edge list kept as it is)."""
    fields = ("occupation_time", "jump_counts", "total_time", "n_jumps", "final_state")
    return eqx.tree_at(
        lambda s: [getattr(s, f) for f in fields], stats, [getattr(stats, f)[0] for f in fields]
    )


@eqx.filter_jit
def _statistics_jumps(rates, x0, key, n_jumps):
    return _first(_statistics_run(rates, x0[None], run_key(key)[None], n_jumps=n_jumps))


@eqx.filter_jit
def _statistics_jumps_batch(rates, x0, key, n_jumps):
    return _statistics_run(rates, x0, _member_run_keys(key, x0.shape[0]), n_jumps=n_jumps)


@eqx.filter_jit
def _statistics_time(rates, x0, key, t_max):
    return _first(_statistics_run(rates, x0[None], run_key(key)[None], t_max=t_max))


@eqx.filter_jit
def _statistics_time_batch(rates, x0, key, t_max):
    return _statistics_run(rates, x0, _member_run_keys(key, x0.shape[0]), t_max=t_max)

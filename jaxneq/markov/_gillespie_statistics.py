r"""Jump statistics of Gillespie runs and the estimators on them: the ONE home of the
plug-in entropy production of jump trajectories. Units: k_B = 1.

`JumpStatistics` holds what `gillespie_statistics` counts (occupation times, jump counts);
its methods are the per-run estimators: the empirical distribution, the empirical currents
and the entropy production rate (the medium entropy flow with the rates, the plug-in
estimate from the counts alone without). `jaxneq.thermo.plug_in_entropy_production` pools
these per-run values over an ensemble into a value with a standard error; it calls
`JumpStatistics.entropy_production_rate` and has no arithmetic of its own for a run (the
markov layer cannot import thermo, so the arithmetic lives here, below both).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ._currents import _edge_pairs, _pair_entropy
from ._rates import EdgeRates, Rates, validate_rates


class JumpStatistics(eqx.Module):
    r"""Time-weighted occupation and jump counts of one run (or a batch), without the path.

    - `occupation_time`: `[n]`, total time spent in each state.
    - `jump_counts`: jumps counted per transition: `[n, n]` (`jump_counts[i, j]` = number
      of jumps i -> j) for dense rates, `[m]` per edge for `EdgeRates` (a jump through
      duplicated edges is credited to one of them, in proportion to their rates).
    - `total_time`: the observation time $T$ (`t_max`, or the time of the last jump).
    - `n_jumps`: number of jumps made (int).
    - `final_state`: the state at the end.
    - `src`, `dst`: the edge list for `EdgeRates` (`None` for dense rates).

    **Batches.** The statistics of an ensemble (a batch of initial states, or a `jax.vmap`)
    carry leading batch axes on every field: `occupation_time` `[*b, n]`, `total_time`
    `[*b]`, ... (`src`, `dst` may be shared, `[m]`, or batched, `[*b, m]`). Every method
    then works run by run and returns the leading batch axes: `occupation()` `[*b, n]`,
    `currents()` `[*b, n, n]` or `[*b, m]`, `entropy_production_rate(...)` `[*b]`.

    Estimators (they converge as $T \to \infty$ for an ergodic chain):
    `occupation()` $\to p$, `currents()` $\to J$, `entropy_production_rate(rates)` $\to
    \sigma$.
    """

    occupation_time: Float[Array, "*b n"]
    jump_counts: Float[Array, "*b n n"] | Float[Array, "*b m"]
    total_time: Float[Array, "*b"]
    n_jumps: Int[Array, "*b"]
    final_state: Int[Array, "*b"]
    src: Int[Array, "*b m"] | None = None
    dst: Int[Array, "*b m"] | None = None

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading batch axes (`()` for a single run)."""
        return self.occupation_time.shape[:-1]

    def occupation(self) -> Float[Array, "*b n"]:
        """Empirical distribution: the fraction of time spent in each state, `[*b, n]`."""
        return self.occupation_time / self.total_time[..., None]

    def currents(self) -> Float[Array, "*b n n"] | Float[Array, "*b m"]:
        r"""Empirical net currents $(N_{ij} - N_{ji}) / T$, shaped like `jn.markov.currents`
        (with the leading batch axes of a batch).

        For `EdgeRates` the counts of duplicate edges are pooled per state pair first.
        """
        return _over_runs(_empirical_currents, self)

    def entropy_production_rate(self, rates: Rates | None = None) -> Float[Array, "*b"]:
        r"""Entropy production rate estimated from the run (`[*b]` for a batch of runs).

        - With `rates` (recommended): the medium entropy flow per unit time,
          $\hat\sigma = T^{-1}\sum_{i \ne j} N_{ij} \ln (r_{ij} / r_{ji})$ (each jump adds
          the log ratio of its forward and backward rates). In a stationary run the system
          term averages out, so $\hat\sigma \to \sigma$ (Schnakenberg) without bias in the
          counts; a jump along a one-way edge gives $+\infty$ (the rule of
          `entropy_production_rate`).
        - Without rates: the plug-in estimate $\tfrac12 \sum (\hat J_{ij}) \ln
          (N_{ij}/N_{ji})$ from the counts alone; pairs traversed in only one direction are
          skipped, so it is biased low for short runs.

        For a batch, `rates` is the one chain every run used, or (dense only) one chain per
        run, `[*b, n, n]`.

        Reference: U. Seifert, Rep. Prog. Phys. 75, 126001 (2012).
        """
        batched_rates = False
        if rates is not None:
            if isinstance(rates, EdgeRates) != (self.src is not None):
                raise ValueError(
                    "`rates` must have the representation used for the run (dense or EdgeRates)"
                )
            nb = len(self.batch_shape)
            shape = getattr(rates, "shape", None)
            if not isinstance(rates, EdgeRates) and shape is not None and len(shape) > 2:
                n = self.occupation_time.shape[-1]
                if tuple(shape) != self.batch_shape + (n, n):
                    raise ValueError(
                        f"`rates` has shape {tuple(shape)}: pass the chain of the runs, "
                        f"[n, n] = ({n}, {n}), or one chain per run, [*b, n, n] = "
                        f"{self.batch_shape + (n, n)}"
                    )
                rates = _vmap_n(validate_rates, nb)(rates)
                batched_rates = True
            else:
                rates = validate_rates(rates)
        return _over_runs(_empirical_entropy_production, self, rates, batched_rates)


def _vmap_n(fn, n: int, in_axes=0):
    for _ in range(n):
        fn = jax.vmap(fn, in_axes=in_axes)
    return fn


def _over_runs(fn, stats: JumpStatistics, *args):
    """`fn(one_run, *args)` for every run of a (possibly batched) `JumpStatistics`.

    The last positional argument, when given, says whether `args[0]` is batched too.
    """
    nb = len(stats.batch_shape)
    if nb == 0:
        return fn(stats, *args[:1])
    # The axis of each field a single run has; a field with more is batched, one with no
    # more (a shared edge list, a shared t_max) is broadcast.
    event_ndim = JumpStatistics(1, 2 if stats.src is None else 1, 0, 0, 0, 1, 1)
    axes = jax.tree.map(
        lambda leaf, k: None if leaf is None or jnp.ndim(leaf) <= k else 0,
        stats,
        event_ndim,
        is_leaf=lambda x: x is None,
    )
    if not args:
        return _vmap_n(fn, nb, (axes,))(stats)
    rates, batched = args
    return _vmap_n(fn, nb, (axes, 0 if batched else None))(stats, rates)


@eqx.filter_jit
def _empirical_currents(stats: JumpStatistics):
    n = stats.occupation_time.shape[0]
    if stats.src is None:
        return (stats.jump_counts - stats.jump_counts.T) / stats.total_time
    fwd, rev, _ = _edge_pairs(EdgeRates(stats.src, stats.dst, stats.jump_counts, n))
    return (fwd - rev) / stats.total_time


@eqx.filter_jit
def _empirical_entropy_production(stats: JumpStatistics, rates):
    n = stats.occupation_time.shape[0]
    counts = stats.jump_counts
    zero = jnp.zeros((), counts.dtype)
    if rates is not None:
        # Medium entropy flow: each jump i -> j adds ln(r_ij / r_ji).
        if isinstance(rates, EdgeRates):
            fwd, rev, _ = _edge_pairs(rates)
        else:
            fwd, rev = rates, rates.T
        one = jnp.ones((), fwd.dtype)
        both = (fwd > 0) & (rev > 0)
        log_ratio = jnp.log(jnp.where(both, fwd, one)) - jnp.log(jnp.where(both, rev, one))
        per = jnp.where(both, counts * log_ratio, jnp.where(counts > 0, jnp.inf, zero))
        if stats.src is None:
            per = jnp.where(jnp.eye(n, dtype=bool), zero, per)
        return jnp.sum(per) / stats.total_time
    # Plug-in estimate from the counts alone; pairs seen one way only are skipped.
    if stats.src is None:
        ones = jnp.ones_like(counts)
        term = _pair_entropy(counts, ones, counts.T, ones)
        skip = (counts == 0) | (counts.T == 0) | jnp.eye(n, dtype=bool)
        return 0.5 * jnp.sum(jnp.where(skip, zero, term)) / stats.total_time
    fwd, rev, mult = _edge_pairs(EdgeRates(stats.src, stats.dst, counts, n))
    ones = jnp.ones_like(fwd)
    term = _pair_entropy(fwd, ones, rev, ones)
    term = jnp.where((fwd == 0) | (rev == 0), zero, term)
    return 0.5 * jnp.sum(term / jnp.maximum(mult, 1)) / stats.total_time

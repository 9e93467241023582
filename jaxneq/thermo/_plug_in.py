r"""Entropy production rate of a Markov jump process from its jump statistics (units: k_B = 1).

One home for the arithmetic: the per-run estimate (medium entropy flow with the rates, the
plug-in estimate from the counts alone without) is computed ONLY by
`jaxneq.markov.JumpStatistics.entropy_production_rate` (in `jaxneq/markov/_gillespie_statistics.py`:
the markov layer sits below thermo and cannot import it, so the formula lives there, once).
This module calls it through markov's public API and adds only what thermo's estimators add:
the pooling of an ensemble of runs into a value with a standard error (`Estimate`).
"""

from __future__ import annotations

import jax.numpy as jnp

from .. import markov
from ._results import Estimate


def plug_in_entropy_production(statistics, rates=None) -> Estimate:
    r"""Entropy production rate of a stationary jump process from an ensemble of runs.

    Each run of `jn.markov.gillespie_statistics` gives an estimate, computed by
    `JumpStatistics.entropy_production_rate` (its one home): with `rates`, the medium entropy flow
    $\hat\sigma = T^{-1} \sum_{i \ne j} N_{ij} \ln(r_{ij}/r_{ji})$, unbiased in a stationary
    run; without, the plug-in estimate $\tfrac{1}{2T}\sum_{i \ne j} (N_{ij} - N_{ji})
    \ln(N_{ij}/N_{ji})$ from the counts alone, which converges to the Schnakenberg rate as
    $T \to \infty$ but is biased at finite $T$ (pairs crossed one way only are skipped). The
    runs are pooled with weights proportional to their durations, and the standard error
    comes from the spread between runs (they are independent).

    **Arguments:**

    - `statistics`: a batched `jn.markov.JumpStatistics` of `b >= 2` independent runs
      (`gillespie_statistics(rates, x0_batch, key=..., t_max=...)`), started from the
      stationary distribution or long enough to forget the start.
    - `rates`: the chain's rates (dense or `EdgeRates`), or `None` for the plug-in estimate
      from the counts alone.

    **Returns:** an `Estimate` with `.value` (nats per unit time) and `.stderr`.

    **Example:**

    ```python
    stats = jn.markov.gillespie_statistics(rates, x0_batch, key=key, t_max=1e3)
    sigma = jn.thermo.plug_in_entropy_production(stats)  # -> entropy_production_rate(rates)
    ```

    References: Schnakenberg, Rev. Mod. Phys. 48, 571 (1976); Seifert, Rep. Prog. Phys. 75,
    126001 (2012).
    """
    if not isinstance(statistics, markov.JumpStatistics):
        raise TypeError(
            "`statistics` must be a `jn.markov.JumpStatistics` (from "
            f"`jn.markov.gillespie_statistics`), got {type(statistics).__name__}"
        )
    if len(statistics.batch_shape) != 1 or statistics.batch_shape[0] < 2:
        raise ValueError(
            "`statistics` must hold a batch of b >= 2 independent runs (pass a batch of initial "
            f"states to `gillespie_statistics`), got batch shape {statistics.batch_shape}"
        )
    per_run = statistics.entropy_production_rate(rates)
    durations = statistics.total_time.astype(per_run.dtype)
    b = per_run.shape[0]
    weights = durations / jnp.sum(durations)
    value = jnp.sum(weights * per_run)
    # ratio estimator sum(sigma_r T_r) / sum(T_r): linearised variance over runs
    residual = durations * (per_run - value)
    stderr = jnp.sqrt(b / (b - 1) * jnp.sum(residual**2)) / jnp.sum(durations)
    return Estimate(value=value, stderr=stderr)

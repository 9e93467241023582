r"""Currents, entropy production and cycle affinities of a master equation.

Units: k_B = 1, entropies in nats. `rates[i, j]` is the rate of the jump i -> j (diagonal
ignored) and a distribution `p` is a row vector with $\dot p = p Q$,
$Q = \mathrm{rates} - \mathrm{diag}(\mathrm{rates}\,\mathbf 1)$. Every function takes a dense
`[n, n]` array or an `EdgeRates` edge list.

For `EdgeRates`, quantities that live on a pair of states (currents, the entropy production
of a pair) use the aggregated rates $R_{ij} = \sum_{k: (s_k, d_k) = (i, j)} r_k$ (duplicate
edges add up, self-loops are ignored), so the result does not depend on how the rates were
split into edges. The pair helpers here are also used by the Gillespie estimators.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._util import is_concrete
from ._checks import _check_indices, _check_probability, _check_vector
from ._rates import EdgeRates, Rates, n_states, validate_rates
from ._stationary import stationary

# --------------------------------------------------------------------------------------------
# Small shared pieces
# --------------------------------------------------------------------------------------------


def _edge_pairs(rates: EdgeRates):
    """Aggregated forward rate, reverse rate and multiplicity of every edge's state pair.

    For edge k (i = src_k, j = dst_k) returns $R_{ij}$, $R_{ji}$ (summed over duplicate edges,
    0 when no edge j -> i is listed) and the number of listed edges i -> j. Jittable, fixed
    shapes: one lexicographic sort of the 2m pairs (i, j) and (j, i), so no integer key
    n*n can overflow.
    """
    m = rates.src.shape[0]
    r = rates.offdiagonal_rate
    a = jnp.concatenate([rates.src, rates.dst])
    b = jnp.concatenate([rates.dst, rates.src])
    tag = jnp.concatenate([jnp.zeros((m,), jnp.int32), jnp.ones((m,), jnp.int32)])
    order = jnp.lexsort((tag, b, a))
    a_s, b_s = a[order], b[order]
    new = jnp.concatenate([jnp.ones((1,), bool), (a_s[1:] != a_s[:-1]) | (b_s[1:] != b_s[:-1])])
    gid_sorted = jnp.cumsum(new.astype(jnp.int32)) - 1
    gid = jnp.zeros((2 * m,), jnp.int32).at[order].set(gid_sorted)
    vals = jnp.concatenate([r, jnp.zeros((m,), r.dtype)])
    cnt = jnp.concatenate([jnp.ones((m,), r.dtype), jnp.zeros((m,), r.dtype)])
    rate_sum = jax.ops.segment_sum(vals, gid, 2 * m)
    count = jax.ops.segment_sum(cnt, gid, 2 * m)
    return rate_sum[gid[:m]], rate_sum[gid[m:]], count[gid[:m]]


def _pair_entropy(pi, rij, pj, rji):
    r"""$(a - b)\ln(a/b)$ with $a = p_i r_{ij}$, $b = p_j r_{ji}$; 0 if a = b = 0, +inf if one is.

    The logarithm is taken term by term ($\ln p_i + \ln r_{ij} - \ln p_j - \ln r_{ji}$), so
    tiny probabilities whose products would underflow keep their value. Gradients are finite
    wherever the value is (the `where` trick keeps NaN out of the unused branch).
    """
    a_pos = (pi > 0) & (rij > 0)
    b_pos = (pj > 0) & (rji > 0)
    both = a_pos & b_pos
    one = jnp.ones((), pi.dtype)

    def safe(x):
        return jnp.where(both, x, one)

    log_ratio = jnp.log(safe(pi)) + jnp.log(safe(rij)) - jnp.log(safe(pj)) - jnp.log(safe(rji))
    flux = safe(pi) * safe(rij) - safe(pj) * safe(rji)
    inf = jnp.asarray(jnp.inf, pi.dtype)
    return jnp.where(both, flux * log_ratio, jnp.where(a_pos | b_pos, inf, jnp.zeros_like(flux)))


# --------------------------------------------------------------------------------------------
# Currents and entropy production
# --------------------------------------------------------------------------------------------


def currents(rates: Rates, p: ArrayLike) -> Float[Array, "n n"] | Float[Array, " m"]:
    r"""Net probability currents $J_{ij} = p_i r_{ij} - p_j r_{ji}$.

    $J$ is antisymmetric; in a stationary state $\sum_j J_{ij} = 0$ for every $i$ (Kirchhoff's
    current law), and all currents vanish under detailed balance.

    **Arguments:**

    - `rates`: dense `[n, n]` array or `EdgeRates`.
    - `p`: distribution `[n]` (any real vector is accepted: the map is linear in `p`).

    **Returns:** for dense rates the `[n, n]` matrix $J$ (zero diagonal); for `EdgeRates` the
    per-edge currents `[m]`, $J_k = p_{s_k} R_{s_k d_k} - p_{d_k} R_{d_k s_k}$ with the
    aggregated rates $R$ (duplicate edges each report their pair's current; a self-loop
    reports 0; an edge and its listed reverse report $J$ and $-J$).

    **Example:**

    ```python
    rates = jnp.array([[0.0, 2.0, 0.0], [0.0, 0.0, 2.0], [2.0, 0.0, 0.0]]) + 1.0
    J = jn.markov.currents(rates, jn.markov.stationary(rates))  # J[0, 1] = 1/3
    ```

    Reference: J. Schnakenberg, Rev. Mod. Phys. 48, 571 (1976).
    """
    rates = validate_rates(rates)
    n = n_states(rates)
    p = _check_vector(p, n, "p", rates.dtype)
    return _currents(rates, p)


@jax.jit
def _currents(rates, p):
    if isinstance(rates, EdgeRates):
        fwd, rev, _ = _edge_pairs(rates)
        return p[rates.src] * fwd - p[rates.dst] * rev
    flow = p[:, None] * rates
    return flow - flow.T


def entropy_production_rate(rates: Rates, p: ArrayLike | None = None) -> Float[Array, ""]:
    r"""Schnakenberg entropy production rate of a master equation (nats per unit time).

    $\sigma = \tfrac12 \sum_{i \ne j} (p_i r_{ij} - p_j r_{ji})
    \ln \frac{p_i r_{ij}}{p_j r_{ji}} \ge 0$

    This is the total (system + medium) entropy production rate of the distribution `p`; in
    the stationary state (the default) it is the steady-state dissipation, zero if and only
    if detailed balance holds.

    **One-way transitions.** Each pair contributes $(a - b)\ln(a/b)$ with
    $a = p_i r_{ij}$, $b = p_j r_{ji}$. The rule for zeros is: a pair with $a = b = 0$
    contributes 0 (no transition, or no probability on either side); a pair with exactly
    one of $a, b$ zero, i.e. a one-way transition that carries probability flux, contributes
    $+\infty$ (its reverse is impossible, so its entropy production is unbounded). The result
    is therefore $+\infty$ in that case and never NaN. Zero tests look at $p_i$ and
    $r_{ij}$ separately, so products that underflow are not mistaken for zeros.

    **Arguments:**

    - `rates`: dense `[n, n]` array or `EdgeRates`.
    - `p`: distribution `[n]`, non-negative. Default `None`: the stationary distribution
      `jn.markov.stationary(rates)` (so gradients flow through its implicit adjoint).

    **Returns:** scalar $\sigma$, dtype of the rates.

    **Example:**

    ```python
    rates = jnp.array([[0.0, 2.0, 1.0], [1.0, 0.0, 2.0], [2.0, 1.0, 0.0]])
    sigma = jn.markov.entropy_production_rate(rates)      # = J * 3 ln 2, J = 1/3
    dsigma = jax.grad(jn.markov.entropy_production_rate)(rates)
    ```

    Reference: J. Schnakenberg, Rev. Mod. Phys. 48, 571 (1976).
    """
    rates = validate_rates(rates)
    n = n_states(rates)
    if p is None:
        p = stationary(rates)
    p = _check_probability(_check_vector(p, n, "p", rates.dtype), "p")
    return _entropy_production(rates, p)


@jax.jit
def _entropy_production(rates, p):
    n = p.shape[0]
    if isinstance(rates, EdgeRates):
        fwd, rev, mult = _edge_pairs(rates)
        term = _pair_entropy(p[rates.src], fwd, p[rates.dst], rev)
        # An ordered pair listed `mult` times contributes once; a pair whose reverse is not
        # listed contributes half, which only happens when its term is 0 or +inf.
        return 0.5 * jnp.sum(term / jnp.maximum(mult, 1))
    off = ~jnp.eye(n, dtype=bool)
    term = _pair_entropy(p[:, None], rates, p[None, :], rates.T)
    return 0.5 * jnp.sum(jnp.where(off, term, jnp.zeros_like(term)))


# --------------------------------------------------------------------------------------------
# Cycle affinities
# --------------------------------------------------------------------------------------------


def _pair_rate(rates: Rates, i, j):
    """Aggregated rates R[i, j] for index arrays i, j (same shape)."""
    if isinstance(rates, EdgeRates):
        r = rates.offdiagonal_rate
        hit = (rates.src[None, :] == i[:, None]) & (rates.dst[None, :] == j[:, None])
        return jnp.sum(jnp.where(hit, r[None, :], jnp.zeros((), r.dtype)), axis=1)
    return rates[i, j]


def cycle_affinity(rates: Rates, cycle: ArrayLike) -> Float[Array, ""]:
    r"""Affinity of a cycle of states, the log-ratio of its forward and backward rates.

    $$\mathcal A = \ln \frac{\prod_k r_{c_k c_{k+1}}}{\prod_k r_{c_{k+1} c_k}}$$

    (the cycle closes: $c_L \equiv c_0$). The affinity does not depend on `p`; it is the entropy
    the medium receives when the chain goes once around the cycle. Under detailed balance every
    cycle affinity is zero (Kolmogorov's criterion). On a single ring with stationary cycle
    current $J$, the entropy production rate is $\sigma = J\,\mathcal A$.

    **Arguments:**

    - `rates`: dense `[n, n]` array or `EdgeRates` (aggregated rates are used).
    - `cycle`: integer states `[L]`, $L \ge 2$, consecutive entries (and last -> first)
      distinct, e.g. `[0, 1, 2]` for 0 -> 1 -> 2 -> 0.

    **Returns:** scalar $\mathcal A$; $+\infty$ if some backward rate is zero (a forward-only
    cycle), $-\infty$ if some forward rate is zero. A cycle that is blocked in both
    directions has no affinity and raises an error (never NaN).

    **Example:**

    ```python
    A = jn.markov.cycle_affinity(rates, [0, 1, 2])
    ```

    Reference: J. Schnakenberg, Rev. Mod. Phys. 48, 571 (1976); T. L. Hill, *Free Energy
    Transduction in Biology* (1977).
    """
    rates = validate_rates(rates)
    n = n_states(rates)
    fix = "pass e.g. cycle=[0, 1, 2] for 0 -> 1 -> 2 -> 0"
    cyc = _check_indices(cycle, n, "cycle", fix)
    if cyc.ndim != 1 or cyc.shape[0] < 2:
        raise ValueError(
            f"`cycle` must be a 1D list of at least 2 states, got shape {cyc.shape}; {fix}"
        )
    nxt = jnp.roll(cyc, -1)
    if is_concrete(cyc) and np.any(np.asarray(cyc) == np.asarray(nxt)):
        raise ValueError(
            f"`cycle` repeats a state in consecutive positions: {np.asarray(cyc)}; {fix}"
        )
    value, blocked = _cycle_affinity(rates, cyc, nxt)
    msg = (
        "`cycle` is blocked in both directions (a zero rate forwards and one backwards), "
        "so it has no affinity"
    )
    if is_concrete(blocked):
        if bool(blocked):
            raise ValueError(msg)
        return value
    return eqx.error_if(value, blocked, msg)


@jax.jit
def _cycle_affinity(rates, cyc, nxt):
    fwd = _pair_rate(rates, cyc, nxt)
    bwd = _pair_rate(rates, nxt, cyc)
    blocked = jnp.any(fwd <= 0) & jnp.any(bwd <= 0)
    one = jnp.ones((), fwd.dtype)
    fpos, bpos = jnp.all(fwd > 0), jnp.all(bwd > 0)
    value = jnp.sum(jnp.log(jnp.where(fwd > 0, fwd, one)) - jnp.log(jnp.where(bwd > 0, bwd, one)))
    inf = jnp.asarray(jnp.inf, fwd.dtype)
    return jnp.where(fpos & bpos, value, jnp.where(fpos, inf, -inf)), blocked


__all__ = ["currents", "cycle_affinity", "entropy_production_rate"]

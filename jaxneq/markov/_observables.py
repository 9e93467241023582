r"""Observables of a master equation: currents, entropy production, MFPT, spectrum, p(t).

Units: k_B = 1, entropies in nats. `rates[i, j]` is the rate of the jump i -> j (diagonal
ignored) and a distribution `p` is a row vector with $\dot p = p Q$,
$Q = \mathrm{rates} - \mathrm{diag}(\mathrm{rates}\,\mathbf 1)$. Every function takes a dense
`[n, n]` array or an `EdgeRates` edge list.

For `EdgeRates`, quantities that live on a pair of states (currents, the entropy production
of a pair) use the aggregated rates $R_{ij} = \sum_{k: (s_k, d_k) = (i, j)} r_k$ (duplicate
edges add up, self-loops are ignored), so the result does not depend on how the rates were
split into edges.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
from jaxtyping import Array, ArrayLike, Complex, Float

from .._util import as_inexact, first_bad_index, is_concrete
from ._rates import EdgeRates, Rates, generator, n_states, to_dense, validate_rates
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


def _check_vector(p, n: int, name: str, dtype) -> Array:
    p = as_inexact(p, name)
    if p.shape != (n,):
        raise ValueError(
            f"`{name}` must have shape [n] = ({n},) to match the rates, got {p.shape}; "
            "for a batch of distributions use jax.vmap"
        )
    return p.astype(jnp.result_type(p.dtype, dtype))


def _check_probability(p, name: str) -> Array:
    """Reject negative or NaN entries (eagerly with the index, else via eqx.error_if)."""
    if is_concrete(p):
        v = np.asarray(p)
        bad = ~(v >= 0)
        if bad.any():
            k = first_bad_index(bad)[0]
            raise ValueError(
                f"`{name}` has entry {v[k]} at index {k}: a distribution must be finite and >= 0"
            )
        return p
    return eqx.error_if(
        p, ~jnp.all(p >= 0), f"`{name}` has a negative or NaN entry: it must be >= 0"
    )


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


def _check_indices(idx, n: int, name: str, fix: str) -> Array:
    idx = jnp.asarray(idx)
    if not jnp.issubdtype(idx.dtype, jnp.integer):
        raise ValueError(f"`{name}` must hold integer state indices, got dtype {idx.dtype}; {fix}")
    if is_concrete(idx):
        v = np.asarray(idx)
        bad = (v < 0) | (v >= n)
        if bad.any():
            k = first_bad_index(bad) if v.ndim else ()
            raise ValueError(
                f"`{name}` has out-of-range state index {v[k]}"
                + (f" at position {k[0]}" if v.ndim else "")
                + f": indices must lie in [0, n) = [0, {n})"
            )
        return idx
    return eqx.error_if(
        idx,
        jnp.any((idx < 0) | (idx >= n)),
        f"`{name}` has an out-of-range state index: indices must lie in [0, {n})",
    )


def cycle_affinity(rates: Rates, cycle: ArrayLike) -> Float[Array, ""]:
    r"""Affinity of a cycle of states, $\mathcal A = \ln \prod_k r_{c_k c_{k+1}} /
    \prod_k r_{c_{k+1} c_k}$ (the cycle closes: $c_L \equiv c_0$).

    The affinity does not depend on `p`; it is the entropy the medium receives when the chain
    goes once around the cycle. Under detailed balance every cycle affinity is zero
    (Kolmogorov's criterion). On a single ring with stationary cycle current $J$, the
    entropy production rate is $\sigma = J\,\mathcal A$.

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


# --------------------------------------------------------------------------------------------
# Mean first-passage times
# --------------------------------------------------------------------------------------------


DENSE_MAX_STATES = 8192
"""Largest `EdgeRates` chain that `mean_first_passage_times` and `relaxation_rates` densify."""


def _check_densifiable(rates: Rates, name: str) -> None:
    if isinstance(rates, EdgeRates) and rates.n_states > DENSE_MAX_STATES:
        raise ValueError(
            f"`{name}` densifies `EdgeRates` (O(n^2) memory, O(n^3) time) and n_states = "
            f"{rates.n_states} exceeds DENSE_MAX_STATES = {DENSE_MAX_STATES}; coarse-grain the "
            "chain or pass rates.to_dense() explicitly if you have the memory"
        )


def _target_mask(target, n: int) -> Array:
    t = jnp.asarray(target)
    fix = "pass a state index, a list of indices, or a boolean mask of shape [n]"
    if t.dtype == bool:
        if t.shape != (n,):
            raise ValueError(f"`target` as a boolean mask must have shape ({n},), got {t.shape}")
        mask = t
    else:
        t = _check_indices(t, n, "target", fix)
        if t.ndim > 1:
            raise ValueError(f"`target` must be an index, a 1D list or a mask, got shape {t.shape}")
        if t.size == 0:
            raise ValueError(f"`target` is empty: {fix}")
        mask = jnp.zeros((n,), bool).at[t].set(True)
    msg = "`target` selects no state: the target set must be non-empty"
    if is_concrete(mask):
        if not np.any(np.asarray(mask)):
            raise ValueError(msg)
        return mask
    return eqx.error_if(mask, ~jnp.any(mask), msg)


def _backward_closure(adj: Array, seed: Array, allowed: Array) -> Array:
    """States that reach `seed` along edges of `adj` leaving only `allowed` states."""

    def body(carry):
        reach, _ = carry
        new = reach | (allowed & jnp.any(adj & reach[None, :], axis=1))
        return new, jnp.any(new != reach)

    reach, _ = jax.lax.while_loop(lambda c: c[1], body, (seed, jnp.asarray(True)))
    return reach


def mean_first_passage_times(rates: Rates, target: ArrayLike) -> Float[Array, " n"]:
    r"""Mean first-passage times $\tau_i$ from every state $i$ to a target set $A$.

    Solves $\sum_j r_{ij}(\tau_j - \tau_i) = -1$ for $i \notin A$ with $\tau_i = 0$ on $A$
    (one dense linear solve, $O(n^3)$; `EdgeRates` are densified, up to
    `DENSE_MAX_STATES` = 8192 states, above which a `ValueError` is raised).

    **States that may never arrive** get $\tau_i = +\infty$ (never NaN): a state from which
    some path avoiding $A$ leads to a state that cannot reach $A$ at all (e.g. another closed
    class) has an infinite mean first-passage time. The remaining linear system is then
    non-singular.

    **Arguments:**

    - `rates`: dense `[n, n]` array or `EdgeRates`.
    - `target`: a state index, a 1D list of indices, or a boolean mask `[n]`.

    **Returns:** $\tau$, shape `[n]`, 0 on the target, dtype of the rates. Differentiable
    with respect to the rates.

    **Example:**

    ```python
    tau = jn.markov.mean_first_passage_times(rates, target=[0])
    ```

    Reference: J. G. Kemeny and J. L. Snell, *Finite Markov Chains* (1960); N. G. van Kampen,
    *Stochastic Processes in Physics and Chemistry*, ch. XII.
    """
    rates = validate_rates(rates)
    _check_densifiable(rates, "mean_first_passage_times")
    n = n_states(rates)
    mask = _target_mask(target, n)
    return _mean_first_passage_times(rates, mask)


@jax.jit
def _mean_first_passage_times(rates, mask):
    n = mask.shape[0]
    r = to_dense(rates)
    adj = jax.lax.stop_gradient(r) > 0
    free = ~mask
    reaches_target = _backward_closure(adj, mask, free)
    never = _backward_closure(adj, ~reaches_target, free)
    good = free & ~never
    q = generator(r)
    a = jnp.where(good[:, None], q, jnp.eye(n, dtype=r.dtype))
    b = jnp.where(good, -jnp.ones((n,), r.dtype), jnp.zeros((n,), r.dtype))
    tau = jnp.linalg.solve(a, b)
    inf = jnp.asarray(jnp.inf, r.dtype)
    return jnp.where(good, tau, jnp.where(mask, jnp.zeros_like(tau), inf))


# --------------------------------------------------------------------------------------------
# Relaxation spectrum
# --------------------------------------------------------------------------------------------


def relaxation_rates(rates: Rates) -> Complex[Array, " n-1"]:
    r"""Relaxation rates: the nonzero eigenvalues of $-Q$, sorted by ascending real part.

    $-Q$ has one eigenvalue 0 (probability conservation); the other $n-1$ have
    non-negative real parts, and $p(t) \to p_\infty$ as $\sum_k c_k e^{-\lambda_k t}$. The
    first entry is the spectral gap (the slowest relaxation rate); imaginary parts signal
    oscillating relaxation, possible only out of equilibrium. The eigenvalue of smallest
    modulus is the one removed; a reducible chain has further (near-)zero rates, which are
    kept.

    **Arguments:**

    - `rates`: dense `[n, n]` array or `EdgeRates` (densified; at most `DENSE_MAX_STATES`).

    **Returns:** complex array `[n - 1]` (complex64 for float32 rates, complex128 for
    float64), ties in the real part ordered by imaginary part. Differentiable (eigenvalue
    perturbation theory, as `jnp.linalg.eigvals`).

    Note: `jnp.linalg.eigvals` of a nonsymmetric matrix runs on the CPU backend.

    **Example:**

    ```python
    gap = jn.markov.relaxation_rates(rates)[0].real
    ```
    """
    rates = validate_rates(rates)
    _check_densifiable(rates, "relaxation_rates")
    return _relaxation_rates(rates)


@jax.jit
def _relaxation_rates(rates):
    ev = jnp.linalg.eigvals(-generator(rates))
    keep = jnp.argsort(jnp.abs(ev))[1:]
    ev = ev[keep]
    order = jnp.lexsort((ev.imag, ev.real))
    return ev[order]


# --------------------------------------------------------------------------------------------
# Transient evolution
# --------------------------------------------------------------------------------------------

_EVOLVE_METHODS = ("auto", "expm", "uniformization")

UNIFORMIZATION_STEP = 16.0
r"""Largest $\Lambda\,\delta t$ of one uniformisation sub-step (Poisson mean)."""

UNIFORMIZATION_TERMS = 64
r"""Terms of the Poisson series per sub-step: the tail of Poisson(16) beyond 64 is < 1e-16."""


def _uniformized_step(rates: EdgeRates, exit_max, p, dt):
    """$p\\,e^{Q\\,dt}$ for $\\Lambda\\,dt \\le$ `UNIFORMIZATION_STEP` by its Poisson series."""
    lam = exit_max * dt
    dtype = p.dtype
    k = jnp.arange(UNIFORMIZATION_TERMS, dtype=dtype)
    safe_lam = jnp.where(lam > 0, lam, jnp.ones((), dtype))
    logw = -safe_lam + k * jnp.log(safe_lam) - jax.lax.lgamma(k + 1)
    w = jnp.where(lam > 0, jnp.exp(logw), (k == 0).astype(dtype))
    safe_max = jnp.where(exit_max > 0, exit_max, jnp.ones((), dtype))

    def term(vec, wk):
        # One step of the uniformised chain P = I + Q / Lambda.
        return vec + rates.pQ(vec) / safe_max, wk * vec

    _, contributions = jax.lax.scan(term, p, w)
    return contributions.sum(axis=0)


def _uniformized(rates: EdgeRates, p, t):
    exit_max = jnp.max(rates.exit_rates()).astype(p.dtype)
    h = jnp.where(
        exit_max > 0, UNIFORMIZATION_STEP / jnp.where(exit_max > 0, exit_max, 1.0), jnp.inf
    ).astype(p.dtype)

    def cond(c):
        return c[1] > 0

    def body(c):
        vec, left = c
        dt = jnp.minimum(left, h)
        return _uniformized_step(rates, exit_max, vec, dt), left - dt

    vec, _ = jax.lax.while_loop(cond, body, (p, t))
    return vec


def evolve(rates: Rates, p0: ArrayLike, t: ArrayLike, *, method: str = "auto") -> Array:
    r"""Transient distribution $p(t) = p_0\, e^{Q t}$ of the master equation $\dot p = p Q$.

    **Arguments:**

    - `rates`: dense `[n, n]` array or `EdgeRates`.
    - `p0`: initial distribution `[n]` (any real vector: the map is linear).
    - `t`: time $\ge 0$, a scalar or a 1D array of times `[T]` (any order).
    - `method`:
        - `"expm"`: dense matrix exponential (`jax.scipy.linalg.expm`, scaling and squaring
          with Padé approximants), accurate for stiff chains and differentiable in forward
          and reverse mode; $O(n^3)$ per time. `EdgeRates` are densified.
        - `"uniformization"`: matrix free, for large sparse chains. With
          $\Lambda = \max_i \sum_j r_{ij}$ and $P = I + Q/\Lambda$ (a stochastic matrix),
          $p_0 e^{Qt} = \sum_k \mathrm{Poisson}(k; \Lambda t)\, p_0 P^k$. The time is split
          into sub-steps with $\Lambda\,\delta t \le 16$, each summed to 64 terms (truncation
          error below 1e-16, every term non-negative for a non-negative `p0`, so no
          cancellation). The cost is about $4\Lambda t$ sparse matrix-vector products: it
          suits chains whose fastest rate is not many orders above $1/t$. Array times are
          sorted and evolved one after the other. Runs under `jit`, `vmap` and forward-mode
          autodiff (`jax.jvp`, `jax.jacfwd`); reverse mode is not supported (the number of
          sub-steps is data dependent), use `"expm"` for `jax.grad`.
        - `"auto"` (default): `"expm"` for dense arrays and for `EdgeRates` with at most
          1024 states, `"uniformization"` for larger `EdgeRates`.

    **Returns:** `[n]` for a scalar `t`, `[T, n]` for an array of times.

    **Example:**

    ```python
    p = jn.markov.evolve(rates, jnp.array([1.0, 0.0, 0.0]), jnp.linspace(0.0, 5.0, 50))
    ```

    References: C. Moler and C. Van Loan, SIAM Rev. 45, 3 (2003); A. Jensen, Skand.
    Aktuarietidskr. 36, 87 (1953) (uniformisation); N. J. Higham, SIAM J. Matrix Anal. Appl.
    26, 1179 (2005).
    """
    if method not in _EVOLVE_METHODS:
        raise ValueError(f"`method` must be one of {_EVOLVE_METHODS}, got {method!r}")
    rates = validate_rates(rates)
    n = n_states(rates)
    p0 = _check_vector(p0, n, "p0", rates.dtype)
    t = as_inexact(t, "t").astype(p0.dtype)
    if t.ndim > 1:
        raise ValueError(f"`t` must be a scalar or a 1D array of times, got shape {t.shape}")
    if is_concrete(t):
        if np.any(~(np.asarray(t) >= 0)):
            raise ValueError(f"`t` must be finite and >= 0, got {np.asarray(t)}")
    else:
        t = eqx.error_if(t, ~jnp.all((t >= 0) & jnp.isfinite(t)), "`t` must be finite and >= 0")
    if method == "auto":
        method = "uniformization" if isinstance(rates, EdgeRates) and n > 1024 else "expm"
    if method == "expm":
        return _evolve_expm(rates, p0, t)
    if not isinstance(rates, EdgeRates):
        rates = EdgeRates.from_dense(rates) if is_concrete(rates) else _dense_as_edges(rates)
    return _evolve_uniformized(rates, p0, t)


@jax.jit
def _evolve_expm(rates, p0, t):
    q = generator(rates).astype(p0.dtype)

    def one(ti):
        return p0 @ jsl.expm(q * ti)

    return one(t) if t.ndim == 0 else jax.vmap(one)(t)


@jax.jit
def _evolve_uniformized(rates, p0, t):
    if t.ndim == 0:
        return _uniformized(rates, p0, t)
    order = jnp.argsort(t)
    ts = t[order]
    dts = jnp.diff(ts, prepend=jnp.zeros((1,), ts.dtype))

    def advance(vec, dt):
        vec = _uniformized(rates, vec, dt)
        return vec, vec

    _, ps = jax.lax.scan(advance, p0, dts)
    return jnp.zeros_like(ps).at[order].set(ps)


def _dense_as_edges(rates: Array) -> EdgeRates:
    """All off-diagonal entries of a traced dense matrix as an edge list (n(n-1) edges)."""
    n = rates.shape[0]
    src, dst = np.nonzero(~np.eye(n, dtype=bool))
    return EdgeRates(jnp.asarray(src), jnp.asarray(dst), rates[src, dst], n)


__all__ = [
    "currents",
    "cycle_affinity",
    "entropy_production_rate",
    "evolve",
    "mean_first_passage_times",
    "relaxation_rates",
]

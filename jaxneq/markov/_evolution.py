r"""Transient evolution $p(t) = p_0 e^{Qt}$ of a master equation (expm, uniformisation).

Units: k_B = 1, entropies in nats. `rates[i, j]` is the rate of the jump i -> j (diagonal
ignored) and a distribution `p` is a row vector with $\dot p = p Q$,
$Q = \mathrm{rates} - \mathrm{diag}(\mathrm{rates}\,\mathbf 1)$. Every function takes a dense
`[n, n]` array or an `EdgeRates` edge list.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
from jaxtyping import Array, ArrayLike

from .._util import as_inexact, is_concrete
from ._checks import _check_vector
from ._rates import EdgeRates, Rates, generator, n_states, validate_rates

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


__all__ = ["evolve"]

r"""Mean first-passage times of a master equation to a target set.

Units: k_B = 1, entropies in nats. `rates[i, j]` is the rate of the jump i -> j (diagonal
ignored) and a distribution `p` is a row vector with $\dot p = p Q$,
$Q = \mathrm{rates} - \mathrm{diag}(\mathrm{rates}\,\mathbf 1)$. Every function takes a dense
`[n, n]` array or an `EdgeRates` edge list.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._util import is_concrete
from ._checks import _check_densifiable, _check_indices
from ._rates import Rates, generator, n_states, to_dense, validate_rates


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


__all__ = ["mean_first_passage_times"]

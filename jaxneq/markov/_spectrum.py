r"""Relaxation spectrum of a master equation: the nonzero eigenvalues of $-Q$.

Units: k_B = 1, entropies in nats. `rates[i, j]` is the rate of the jump i -> j (diagonal
ignored) and a distribution `p` is a row vector with $\dot p = p Q$,
$Q = \mathrm{rates} - \mathrm{diag}(\mathrm{rates}\,\mathbf 1)$. Every function takes a dense
`[n, n]` array or an `EdgeRates` edge list.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Complex

from ._checks import _check_densifiable
from ._rates import Rates, generator, validate_rates


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


__all__ = ["relaxation_rates"]

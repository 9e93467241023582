r"""Driven rings of wells and barriers, fixed or random: the test bed of rattling's
typicality (units: k_B = 1).

A ring of $n$ states (wells) with energies $E_i$, joined to their neighbours by barriers of
height $B_i$ (between states $i$ and $i+1$, indices mod $n$), in a bath at temperature $T$,
driven by a non-conservative force: the jump $i \to i+1$ gains $f_i/2$ and the jump
$i+1 \to i$ loses $f_i/2$ (Arrhenius rates with the drive split symmetrically),

$$r_{i,i+1} = e^{-(B_i - E_i - f_i/2)/T}, \qquad r_{i+1,i} = e^{-(B_i - E_{i+1} + f_i/2)/T}.$$

Without drive the chain obeys detailed balance with the Boltzmann law $\pi \propto e^{-E/T}$.
With equal barriers ($B_i = B$) and a uniform drive the embedded jump chain is doubly
stochastic, so $\pi \propto 1/\lambda$ exactly: the rattling law holds with $\gamma = 1$
whatever the well depths and the drive. A spread of barrier heights against the spread of
well depths is what makes it fail, and the drive decides how much that matters.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._util import as_inexact, is_concrete


def _check_n_states(n_states) -> int:
    if isinstance(n_states, bool) or not isinstance(n_states, (int, np.integer)) or n_states < 3:
        raise ValueError(f"`n_states` must be a Python int >= 3 (a ring), got {n_states!r}")
    return int(n_states)


# written with operators only, so that they evaluate in NumPy on concrete values (also
# inside a jit trace, for values closed over) and in JAX on traced ones
def _finite(x):
    return (x > -np.inf) & (x < np.inf)  # False for NaN


def _positive(x):
    return (x > 0) & (x < np.inf)


def _non_negative(x):
    return (x >= 0) & (x < np.inf)


def _check_value(x, name: str, what: str, ok) -> Array:
    x = as_inexact(x, name)
    if is_concrete(x):
        c = np.asarray(x)
        if not np.all(ok(c)):
            raise ValueError(f"`{name}` must be {what}, got {c}")
        return x
    return eqx.error_if(x, ~jnp.all(ok(x)), f"`{name}` must be {what}")


def driven_ring(
    energies: Float[ArrayLike, " n"],
    barriers: Float[ArrayLike, " n"],
    drive: float | Float[ArrayLike, ""] | Float[ArrayLike, " n"] = 0.0,
    temperature: float | Float[ArrayLike, ""] = 1.0,
) -> Float[Array, "n n"]:
    r"""Dense rates of a ring of wells and barriers driven around by a non-conservative force.

    $$r_{i,i+1} = e^{-(B_i - E_i - f_i/2)/T}, \qquad r_{i+1,i} = e^{-(B_i - E_{i+1} + f_i/2)/T}$$

    (indices mod $n$; every other rate 0). The drive does work $f_i$ on the jump
    $i \to i+1$; the total work around the ring, $\sum_i f_i$, is the affinity of the cycle
    (entropy $\sum_i f_i / T$ per turn). With $f = 0$, $\pi \propto e^{-E/T}$ (detailed
    balance); with equal barriers and a uniform $f$, $\pi \propto 1/\lambda$ exactly
    (rattling law with $\gamma = 1$).

    **Arguments:**

    - `energies`: well energies $E$ `[n]`, n >= 3, finite.
    - `barriers`: barrier tops $B$ `[n]` (entry i between states i and i+1), finite. They
      need not lie above the wells (rates are just Arrhenius factors).
    - `drive`: work $f$ done on each forward jump, a scalar (uniform) or `[n]`, finite.
    - `temperature`: $T > 0$, a scalar.

    **Returns:** dense rates `[n, n]` (zero diagonal), differentiable in every argument,
    vmappable (a batch of rings is a sweep), in the promoted float dtype.

    **Example:**

    ```python
    rates = jn.models.driven_ring(jnp.array([0.0, 1.0, 0.5]), jnp.zeros(3), drive=2.0)
    jn.rattling.fit_gamma(jn.markov.stationary(rates), jn.rattling.from_rates(rates)).gamma  # 1
    ```

    Reference: P. Chvykov et al., Science 371, 90 (2021) (rattling); R. Landauer, J. Stat.
    Phys. 53, 233 (1988) (barriers matter out of equilibrium).
    """
    E = _check_value(energies, "energies", "finite", _finite)
    B = _check_value(barriers, "barriers", "finite", _finite)
    f = _check_value(drive, "drive", "finite", _finite)
    T = _check_value(temperature, "temperature", "finite and > 0", _positive)
    if E.ndim != 1 or E.shape[0] < 3:
        raise ValueError(f"`energies` must have shape [n] with n >= 3 (a ring), got {E.shape}")
    n = E.shape[0]
    if B.shape != (n,):
        raise ValueError(
            f"`barriers` must have shape [{n}] (entry i between states i and i+1), got {B.shape}"
        )
    if f.ndim not in (0, 1) or (f.ndim == 1 and f.shape != (n,)):
        raise ValueError(f"`drive` must be a scalar or have shape [{n}], got {f.shape}")
    if T.ndim != 0:
        raise ValueError(f"`temperature` must be a scalar, got shape {T.shape}")
    dtype = jnp.result_type(E, B, f, T)  # Python numbers are weakly typed
    E, B, f, T = (a.astype(dtype) for a in (E, B, f, T))
    f = jnp.broadcast_to(f, (n,))
    nxt = jnp.roll(E, -1)
    forward = jnp.exp(-(B - E - 0.5 * f) / T)  # i -> i+1
    backward = jnp.exp(-(B - nxt + 0.5 * f) / T)  # i+1 -> i
    i = jnp.arange(n)
    j = (i + 1) % n
    rates = jnp.zeros((n, n), dtype)
    return rates.at[i, j].add(forward).at[j, i].add(backward)


def random_driven_ring(
    key: PRNGKeyArray,
    n_states: int,
    *,
    well_spread: float | Float[ArrayLike, ""] = 1.0,
    barrier_spread: float | Float[ArrayLike, ""] = 0.0,
    drive: float | Float[ArrayLike, ""] = 0.0,
    temperature: float | Float[ArrayLike, ""] = 1.0,
) -> Float[Array, "n n"]:
    r"""A random driven ring: Gaussian well depths and barrier heights, uniform drive.

    $E_i = \sigma_E\,\xi_i$ and $B_i = \sigma_B\,\eta_i$ with independent standard normal
    $\xi, \eta$ (drawn from `key` as `jax.random.normal(key, (2, n))`), then
    `driven_ring(E, B, drive, temperature)`. At `barrier_spread = 0` the rattling law holds
    exactly ($\gamma = 1$) for any drive; the ratio `barrier_spread / well_spread` and the
    drive control how badly it fails. The same key gives the same $\xi, \eta$ whatever the
    spreads, so a sweep over spreads and drives compares like with like.

    **Arguments:**

    - `key`: a JAX PRNG key.
    - `n_states`: number of wells, a Python int >= 3.
    - `well_spread`: $\sigma_E \ge 0$ (default 1).
    - `barrier_spread`: $\sigma_B \ge 0$ (default 0).
    - `drive`: work per forward jump $f$, a finite scalar (default 0).
    - `temperature`: $T > 0$ (default 1).

    **Returns:** dense rates `[n_states, n_states]` (zero diagonal); differentiable in the
    spreads, the drive and the temperature; `jax.vmap` over keys and parameters gives a
    sweep of thousands of chains in one call.

    **Example:**

    ```python
    keys = jax.random.split(jax.random.key(0), 1000)
    rates = jax.vmap(lambda k: jn.models.random_driven_ring(k, 16, barrier_spread=1.0,
                                                            drive=3.0))(keys)
    ```

    Reference: P. Chvykov et al., Science 371, 90 (2021).
    """
    n = _check_n_states(n_states)
    nonneg = "finite and >= 0"
    well_spread = _check_value(well_spread, "well_spread", nonneg, _non_negative)
    barrier_spread = _check_value(barrier_spread, "barrier_spread", nonneg, _non_negative)
    for name, v in (("well_spread", well_spread), ("barrier_spread", barrier_spread)):
        if v.ndim != 0:
            raise ValueError(f"`{name}` must be a scalar, got shape {v.shape}; sweep with jax.vmap")
    drive = as_inexact(drive, "drive")
    if drive.ndim != 0:
        raise ValueError(f"`drive` must be a scalar, got shape {drive.shape}; sweep with jax.vmap")
    dtype = jnp.result_type(well_spread, barrier_spread, drive)
    xi = jax.random.normal(key, (2, n), dtype)
    return driven_ring(
        well_spread.astype(dtype) * xi[0], barrier_spread.astype(dtype) * xi[1], drive, temperature
    )

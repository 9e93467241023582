r"""Landauer's blowtorch on Arrhenius chains: a heated double-well lattice and a heated ring.

Units: k_B = 1. A particle hops between the states of a chain with Arrhenius rates
$r_{ij} = e^{-(B_{ij} - E_i)/T}$ (`jaxneq.markov.arrhenius_rates`). At one temperature the
stationary state is the Boltzmann distribution $p_i \propto e^{-E_i/T}$, whatever the
barriers. Heating one region (a "blowtorch") breaks detailed balance and moves probability
between wells without touching any energy: the stationary state is a non-local function of
the rates. Two canonical chains:

- `blowtorch_double_well_chain`: an open lattice in the double well $h(x^2 - 1)^2$ with a
  Gaussian hot spot, the test bed of gradient-based inverse design ("where should the heat
  go so that the left well holds 90 %?");
- `blowtorch_ring` (and its landscape `blowtorch_ring_energies`): a ring with two wells and
  two barriers, one slope of one barrier heated; a ring, so it carries a steady current.

Reference: R. Landauer, Phys. Rev. A 12, 636 (1975); M. Büttiker, Z. Phys. B 68, 161 (1987).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact, is_concrete
from ..markov import EdgeRates, arrhenius_edge_rates, arrhenius_rates


def _check_scalar(value, name: str, low: float, *, strict: bool, dtype=None) -> Array:
    """A scalar checked against `> low` (strict) or `>= low`: ValueError when concrete,
    `eqx.error_if` when traced."""
    v = as_inexact(value, name)
    if dtype is not None:
        v = v.astype(dtype)
    if v.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar, got shape {v.shape}; for a sweep use vmap")
    allowed = f"> {low:g}" if strict else f">= {low:g}"
    if is_concrete(v):  # NumPy, so that the check also runs eagerly inside a jit trace
        c = float(np.asarray(v))
        if not (np.isfinite(c) and (c > low if strict else c >= low)):
            raise ValueError(f"`{name}` must be finite and {allowed}, got {c}")
        return v
    bad = ~((v > low) if strict else (v >= low)) | ~jnp.isfinite(v)
    return eqx.error_if(v, bad, f"`{name}` must be finite and {allowed}")


def hot_spot_temperature(
    x: Float[ArrayLike, " n"],
    amplitude: Float[ArrayLike, ""],
    centre: Float[ArrayLike, ""],
    *,
    width: float | Float[ArrayLike, ""] = 0.25,
    temperature: float | Float[ArrayLike, ""] = 1.0,
) -> Float[Array, " n"]:
    r"""The temperature profile of a Gaussian hot spot (a blowtorch) at the points `x`.

    $$T(x) = T_0 + a\, e^{-(x - c)^2 / 2w^2}.$$

    **Arguments:** `x` (points, any shape); `amplitude` $a \ge 0$; `centre` $c$; `width`
    $w > 0$ and `temperature` $T_0 > 0$ (keywords). Concrete values out of range raise
    `ValueError`, traced ones an `eqx.error_if`.

    **Returns:** $T$ at each point, the shape and dtype of `x`.

    **Example:** `T = jn.models.hot_spot_temperature(x, 3.0, 0.5)`, the site temperatures
    of `blowtorch_double_well_chain(x, 3.0, 0.5)`.

    Reference: R. Landauer, Phys. Rev. A 12, 636 (1975).
    """
    x = as_inexact(x, "x")
    dtype = x.dtype
    amplitude = _check_scalar(amplitude, "amplitude", 0.0, strict=False, dtype=dtype)
    centre = as_inexact(centre, "centre").astype(dtype)
    if centre.ndim != 0:
        raise ValueError(f"`centre` must be a scalar, got shape {centre.shape}")
    width = _check_scalar(width, "width", 0.0, strict=True, dtype=dtype)
    temperature = _check_scalar(temperature, "temperature", 0.0, strict=True, dtype=dtype)
    return temperature + amplitude * jnp.exp(-((x - centre) ** 2) / (2 * width**2))


def blowtorch_double_well_chain(
    x: Float[ArrayLike, " n"],
    amplitude: Float[ArrayLike, ""],
    centre: Float[ArrayLike, ""],
    *,
    width: float | Float[ArrayLike, ""] = 0.25,
    height: float | Float[ArrayLike, ""] = 4.0,
    temperature: float | Float[ArrayLike, ""] = 1.0,
) -> Float[Array, "n n"]:
    r"""Dense Arrhenius rates of a double-well lattice heated by a Gaussian hot spot.

    Sites $x_0 < x_1 < \dots < x_{n-1}$ with energies $E_i = h (x_i^2 - 1)^2$; a particle
    hops to a nearest neighbour over the higher of the two energies,
    $B_{i,i\pm1} = \max(E_i, E_{i\pm1})$, with the rate
    $r_{i \to i\pm1} = e^{-(B_{i,i\pm1} - E_i)/T_i}$, where the site temperature is

    $$T_i = T_0 + a\, e^{-(x_i - c)^2 / 2w^2}.$$

    With $a = 0$ the chain obeys detailed balance and $p_i \propto e^{-E_i/T_0}$ (each well
    holds half the probability); with $a > 0$ heating the sites around $c$ raises their exit
    rates and so moves probability away from them, without changing any energy. The chain
    is a tree (a path), so its stationary state has the closed form
    $p_{i+1}/p_i = r_{i \to i+1} / r_{i+1 \to i}$ (Kolmogorov's criterion holds trivially).

    **Arguments:**

    - `x`: the lattice sites `[n]`, increasing, n >= 2.
    - `amplitude`: $a \ge 0$, the extra temperature at the centre of the hot spot.
    - `centre`: $c$, its position.
    - `width`: $w > 0$ (keyword, default 0.25).
    - `height`: $h \ge 0$, the barrier height of the double well (keyword, default 4).
    - `temperature`: $T_0 > 0$, the temperature away from the hot spot (keyword, default 1).

    **Returns:** rates `[n, n]` (zero diagonal), differentiable in `x`, `amplitude`,
    `centre`, `width`, `height` and `temperature`; works under `jit` and `vmap` (out-of-range
    traced values raise through `eqx.error_if`).

    **Example:**

    ```python
    x = jnp.linspace(-1.6, 1.6, 41)
    left = lambda a, c: jnp.sum(jnp.where(
        x < 0, jn.markov.stationary(jn.models.blowtorch_double_well_chain(x, a, c)), 0.0))
    left(2.0, 1.0), jax.grad(left, argnums=(0, 1))(2.0, 1.0)  # heat the right well
    ```

    Reference: R. Landauer, Phys. Rev. A 12, 636 (1975).
    """
    x = as_inexact(x, "x")
    if x.ndim != 1 or x.shape[0] < 2:
        raise ValueError(f"`x` must be a 1D array of at least 2 lattice sites, got {x.shape}")
    if is_concrete(x) and not np.all(np.diff(np.asarray(x)) > 0):
        raise ValueError("`x` must be strictly increasing (the sites of a 1D lattice)")
    height = _check_scalar(height, "height", 0.0, strict=False, dtype=x.dtype)
    site_temperature = hot_spot_temperature(
        x, amplitude, centre, width=width, temperature=temperature
    )
    energies = height * (x**2 - 1.0) ** 2
    n = x.shape[0]
    neighbour = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]) == 1
    saddle = jnp.maximum(energies[:, None], energies[None, :])
    barriers = jnp.where(neighbour, saddle, jnp.inf)
    return arrhenius_rates(energies, barriers, site_temperature, temperature_at="state")


def _check_ring_size(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 8 or n % 4:
        raise ValueError(f"`n` must be an int >= 8 divisible by 4 (wells at n/4, 3n/4), got {n!r}")
    return int(n)


def blowtorch_ring_energies(
    n: int = 32,
    *,
    depth: float | Float[ArrayLike, ""] = 2.0,
    tilt: float | Float[ArrayLike, ""] = 0.3,
) -> Float[Array, " n"]:
    r"""Energies of the states of `blowtorch_ring`: a tilted double well on a ring.

    $E_i = \mathrm{depth}\,\cos 2\theta_i + \mathrm{tilt}\,\sin\theta_i$ with
    $\theta_i = 2\pi i / n$: barrier tops at states 0 and n/2, well A at state n/4, well B at
    state 3n/4 (the tilt makes A higher than B by $2\,\mathrm{tilt}$).

    **Arguments:** `n`: number of states (an int >= 8 divisible by 4); `depth` >= 0 and
    `tilt` (keywords).

    **Returns:** energies `[n]` (default float dtype, or the dtype of `depth`/`tilt`).

    **Example:** `E = jn.models.blowtorch_ring_energies(16)`; the Boltzmann ratio of the
    wells is `jnp.exp(E[12] - E[4])`.

    Reference: R. Landauer, Phys. Rev. A 12, 636 (1975).
    """
    return _ring_energies(n, depth, tilt)


def _ring_energies(n, depth, tilt, *others) -> Array:
    """Energies in the dtype of `depth`, `tilt` and `others` (weak Python numbers give way)."""
    n = _check_ring_size(n)
    depth = _check_scalar(depth, "depth", 0.0, strict=False)
    tilt = as_inexact(tilt, "tilt")
    if tilt.ndim != 0:
        raise ValueError(f"`tilt` must be a scalar, got shape {tilt.shape}")
    dtype = jnp.result_type(depth, tilt, *others)
    theta = jnp.asarray(2 * np.pi * np.arange(n) / n, dtype)
    return depth.astype(dtype) * jnp.cos(2 * theta) + tilt.astype(dtype) * jnp.sin(theta)


def blowtorch_ring(
    hot_temperature: Float[ArrayLike, ""],
    n: int = 32,
    *,
    temperature: float | Float[ArrayLike, ""] = 1.0,
    depth: float | Float[ArrayLike, ""] = 2.0,
    tilt: float | Float[ArrayLike, ""] = 0.3,
    barrier_offset: float | Float[ArrayLike, ""] = 0.5,
) -> EdgeRates:
    r"""Arrhenius rates on a ring double well with one heated slope (Landauer's blowtorch).

    States $i = 0, \dots, n-1$ on a ring with energies $E_i$ (`blowtorch_ring_energies`:
    wells A at $n/4$ and B at $3n/4$, barrier tops at 0 and $n/2$). Link $\ell$ joins states
    $\ell$ and $\ell + 1 \pmod n$; both jumps across it go over the transition state
    $B_\ell = \max(E_\ell, E_{\ell+1}) + \mathrm{barrier\_offset}$ with the Arrhenius rate
    $r_{i \to j} = e^{-(B_\ell - E_i)/T_\ell}$. The links of the slope from the barrier top
    at state 0 down to well A ($\ell = 0, \dots, n/4 - 1$) are at `hot_temperature`, all
    others at `temperature`.

    At `hot_temperature == temperature` the chain obeys detailed balance and
    $p_A/p_B = e^{-(E_A - E_B)/T}$ (Boltzmann). Heating the slope makes it easier to climb
    out of A over the barrier at state 0 and leaves every rate next to the bottom of B
    unchanged, yet $p_A/p_B$ moves: the stationary state is non-local in the rates. On the
    ring the heated slope also drives a steady probability current
    (`jaxneq.markov.currents`). The exact stationary state is given by the Markov chain
    tree theorem (spanning trees of a cycle: remove one link, orient the rest).

    **Arguments:**

    - `hot_temperature`: temperature of the heated slope (> 0; differentiable, vmappable).
    - `n`: number of states (an int >= 8 divisible by 4).
    - `temperature`: temperature of the other links (> 0, keyword).
    - `depth`, `tilt`: the landscape (see `blowtorch_ring_energies`, keywords).
    - `barrier_offset`: extra height of every transition state (>= 0, keyword).

    **Returns:** `EdgeRates` with `2 n` edges: `src = [0..n-1, 1..n-1, 0]` (the
    anticlockwise jumps $i \to i + 1$, then the clockwise ones).

    **Example:**

    ```python
    def ratio(t):  # wells A = n/4 and B = 3n/4
        p = jn.markov.stationary(jn.models.blowtorch_ring(t, 16))
        return p[4] / p[12]

    ratio(1.0), ratio(4.0), jax.grad(ratio)(1.0)
    ```

    Reference: R. Landauer, Phys. Rev. A 12, 636 (1975).
    """
    hot = _check_scalar(hot_temperature, "hot_temperature", 0.0, strict=True)
    cold = _check_scalar(temperature, "temperature", 0.0, strict=True)
    offset = _check_scalar(barrier_offset, "barrier_offset", 0.0, strict=False)
    energy = _ring_energies(n, depth, tilt, hot, cold, offset)
    n, dtype = energy.shape[0], energy.dtype
    hot, cold, offset = hot.astype(dtype), cold.astype(dtype), offset.astype(dtype)
    i = np.arange(n)
    src = np.concatenate([i, (i + 1) % n])
    dst = np.concatenate([(i + 1) % n, i])
    link = np.concatenate([i, i])
    barrier = jnp.maximum(energy[src], energy[dst]) + offset
    link_temperature = jnp.where(jnp.asarray(link < n // 4), hot, cold)
    return arrhenius_edge_rates(src, dst, energy, barrier, link_temperature, temperature_at="edge")

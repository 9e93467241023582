r"""Rates from energies and barriers: Arrhenius kinetics and the discrete blowtorch.

Units: k_B = 1. A jump i -> j crosses a transition state of energy $B_{ij}$ and has the
Arrhenius (Kramers-like) rate

$$r_{ij} = \nu_{ij} \exp\!\left(-\frac{B_{ij} - E_i}{T}\right),$$

where $E_i$ is the energy of the state left, $\nu_{ij}$ an attempt frequency (`prefactor`)
and $T$ the temperature of the jump. With symmetric barriers ($B_{ij} = B_{ji}$), symmetric
prefactors and one temperature everywhere, the rates obey detailed balance and the
stationary distribution is Boltzmann, $p_i \propto e^{-E_i/T}$.

A temperature that varies from place to place breaks detailed balance: the discrete form of
Landauer's blowtorch. It can sit on the states (`temperature[i]` is used by every jump out
of state i, i.e. the state is "heated") or on the edges (`temperature[i, j]`, or one value
per edge of an edge list: a heated barrier). Everything is differentiable in the energies,
the barriers, the temperatures and the prefactors.
"""

from __future__ import annotations

from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact, first_bad_index, is_concrete
from ._rates import EdgeRates

_WHERE = ("state", "edge")


_MESSAGES = {
    "energies": "energies must be finite",
    "barriers": "barriers must not be NaN or -inf (use +inf for a missing edge)",
    "edge_barriers": "barriers must be finite",
    "temperature": "temperatures must be finite and > 0",
    "prefactor": "prefactors must be finite and >= 0",
}


def _raise_or_flag(out, masks: dict, where: dict):
    """Check the `bad` masks computed with the rates: eagerly raise `ValueError` naming the
    argument and the first bad entry, or attach `eqx.error_if` checks under `jit`.

    `where[key]` says what an index of `masks[key]` means: "state" (one entry per state),
    "pair" (an `[n, n]` entry, the jump i -> j) or "edge" (an entry of the edge list)."""
    for key, bad in masks.items():
        name = "barriers" if key == "edge_barriers" else key
        what = _MESSAGES[key]
        if is_concrete(bad):
            b = np.asarray(bad)
            if b.any():
                loc = ""
                if b.ndim:
                    idx = first_bad_index(b)
                    loc = f" at {where[key]} {idx[0] if len(idx) == 1 else idx}"
                raise ValueError(f"`{name}` has an invalid entry{loc}: {what}")
        else:
            out = eqx.error_if(out, jnp.any(bad), f"`{name}` has an invalid entry: {what}")
    return out


def _resolve_temperature_kind(t: Array, n: int, edge_shape: tuple, temperature_at) -> str:
    """'scalar', 'state' or 'edge', from `temperature_at` or else from the shape of `t`."""
    if temperature_at is not None and temperature_at not in _WHERE:
        raise ValueError(
            f"`temperature_at` must be 'state', 'edge' or None, got {temperature_at!r}"
        )
    if t.ndim == 0:
        return "scalar"
    shapes = {"state": (n,), "edge": edge_shape}
    if temperature_at is None:
        fits = [k for k in _WHERE if t.shape == shapes[k]]
        if len(fits) == 2:
            raise ValueError(
                f"`temperature` has shape {t.shape}, which fits both one value per state and "
                "one value per edge; pass temperature_at='state' or temperature_at='edge'"
            )
        temperature_at = fits[0] if fits else None
    if temperature_at is None or t.shape != shapes[temperature_at]:
        raise ValueError(
            f"`temperature` must be a scalar, one value per state (shape {(n,)}) or one value "
            f"per edge (shape {edge_shape}), got shape {t.shape}"
        )
    return temperature_at


def _energies(energies: ArrayLike) -> Array:
    e = as_inexact(energies, "energies")
    if e.ndim != 1:
        raise ValueError(f"`energies` must be 1D [n] (one energy per state), got {e.shape}")
    return e


def _bad_temperature(t):
    return ~((t > 0) & jnp.isfinite(t))


@partial(jax.jit, static_argnums=(4,))
def _dense_core(e, b, t, nu, kind):
    n = e.shape[0]
    dtype = e.dtype
    offdiag = ~jnp.eye(n, dtype=bool)
    bad_b = offdiag & (jnp.isnan(b) | (b == -jnp.inf))
    edge = offdiag & (b < jnp.inf)
    if kind == "scalar":
        t_ij = jnp.broadcast_to(t, (n, n))
    elif kind == "state":
        t_ij = jnp.broadcast_to(t[:, None], (n, n))
    else:
        t_ij = t
    # Double `where`: non-edges see safe values, so their (zero) gradients are never NaN.
    one = jnp.ones((), dtype)
    safe_b = jnp.where(edge, b, e[:, None])
    safe_t = jnp.where(edge, t_ij, one)
    rate = jnp.broadcast_to(nu, (n, n)) * jnp.exp(-(safe_b - e[:, None]) / safe_t)
    rate = jnp.where(edge, rate, jnp.zeros((), dtype))
    bad_t = edge & _bad_temperature(t_ij)
    if kind == "state":  # report the state whose temperature is bad, not a pair
        bad_t = jnp.any(bad_t, axis=1)
    elif kind == "scalar":
        bad_t = jnp.any(bad_t)
    masks = {
        "energies": ~jnp.isfinite(e),
        "barriers": bad_b,
        "temperature": bad_t,
        "prefactor": ~jnp.isfinite(nu) | (nu < 0),
    }
    return rate, masks


@partial(jax.jit, static_argnums=(5,))
def _edge_core(src, e, b, t, nu, kind):
    m = b.shape[0]
    t_k = {"scalar": lambda: jnp.broadcast_to(t, (m,)), "state": lambda: t[src]}.get(
        kind, lambda: t
    )()
    rate = jnp.broadcast_to(nu, (m,)) * jnp.exp(-(b - e[src]) / t_k)
    masks = {
        "energies": ~jnp.isfinite(e),
        "edge_barriers": ~jnp.isfinite(b),
        "temperature": _bad_temperature(t),
        "prefactor": ~jnp.isfinite(nu) | (nu < 0),
    }
    return rate, masks


def arrhenius_rates(
    energies: Float[ArrayLike, " n"],
    barriers: Float[ArrayLike, "n n"],
    temperature: float | Float[ArrayLike, " n"] | Float[ArrayLike, "n n"] = 1.0,
    *,
    prefactor: float | Float[ArrayLike, "n n"] = 1.0,
    temperature_at: str | None = None,
) -> Float[Array, "n n"]:
    r"""Dense Arrhenius rates $r_{ij} = \nu_{ij} e^{-(B_{ij} - E_i)/T}$ from a barrier matrix.

    **Arguments:**

    - `energies`: `[n]`, the energy $E_i$ of each state (finite).
    - `barriers`: `[n, n]`, `barriers[i, j]` is the energy $B_{ij}$ of the transition state
      crossed by the jump i -> j; `+inf` means "no edge" (rate exactly 0). Symmetric
      barriers give detailed balance at uniform temperature. The diagonal is ignored.
    - `temperature`: `T > 0`. A scalar; one value per state `[n]` (every jump out of state
      i uses `temperature[i]`: a heated state); or one value per pair `[n, n]` (the jump
      i -> j uses `temperature[i, j]`; make it symmetric to heat a barrier). Only entries on
      edges are used and checked.
    - `prefactor`: attempt frequency $\nu_{ij} \ge 0$, scalar or `[n, n]`.
    - `temperature_at`: `"state"` or `"edge"` to say how to read `temperature`; by default
      it is inferred from its shape (unambiguous here, since `[n]` and `[n, n]` differ).

    **Returns:** rates `[n, n]` with a zero diagonal, dtype of the inputs. Differentiable in
    `energies`, `barriers`, `temperature` and `prefactor` (non-edges get zero gradient,
    never NaN).

    **Errors:** NaN or `-inf` barriers, non-finite energies, non-positive or non-finite
    temperatures on an edge, negative prefactors: `ValueError` naming the argument and the
    first bad entry in the argument's own terms (`at state i` for energies and per-state
    temperatures, `at pair (i, j)` for barriers, per-pair temperatures and prefactors), or an
    `eqx.error_if` under `jit`; wrong shapes raise at trace time.

    **Example:**

    ```python
    E = jnp.array([0.0, 1.0, 0.5])
    B = jnp.full((3, 3), 2.0)                      # one saddle at energy 2 between all pairs
    hot = jn.markov.arrhenius_rates(E, B, jnp.array([1.0, 3.0, 1.0]))  # state 1 is heated
    p = jn.markov.stationary(hot)                  # not Boltzmann any more
    ```

    Reference: R. Landauer, Phys. Rev. A 12, 636 (1975) (the blowtorch); H. A. Kramers,
    Physica 7, 284 (1940).
    """
    e = _energies(energies)
    n = e.shape[0]
    b = as_inexact(barriers, "barriers")
    if b.shape != (n, n):
        raise ValueError(
            f"`barriers` must have shape [n, n] = {(n, n)} to match `energies`, got {b.shape}"
        )
    dtype = jnp.result_type(e, b)
    e, b = e.astype(dtype), b.astype(dtype)
    t = as_inexact(temperature, "temperature").astype(dtype)
    kind = _resolve_temperature_kind(t, n, (n, n), temperature_at)
    nu = as_inexact(prefactor, "prefactor").astype(dtype)
    if nu.ndim not in (0, 2) or (nu.ndim == 2 and nu.shape != (n, n)):
        raise ValueError(f"`prefactor` must be a scalar or [n, n] = {(n, n)}, got {nu.shape}")

    rate, masks = _dense_core(e, b, t, nu, kind)
    t_where = {"edge": "pair"}.get(kind, kind)
    where = {"energies": "state", "barriers": "pair", "temperature": t_where, "prefactor": "pair"}
    return _raise_or_flag(rate, masks, where)


def arrhenius_edge_rates(
    src: ArrayLike,
    dst: ArrayLike,
    energies: Float[ArrayLike, " n"],
    barriers: Float[ArrayLike, " m"],
    temperature: float | Float[ArrayLike, " n"] | Float[ArrayLike, " m"] = 1.0,
    *,
    prefactor: float | Float[ArrayLike, " m"] = 1.0,
    temperature_at: str | None = None,
) -> EdgeRates:
    r"""Arrhenius rates on an edge list: `EdgeRates` with rate $\nu_k e^{-(B_k - E_{src_k})/T}$.

    The sparse twin of `arrhenius_rates`, for large chains. Edge k is the jump
    `src[k] -> dst[k]`; list both directions to make a reversible chain (and give both the
    same barrier for detailed balance).

    **Arguments:**

    - `src`, `dst`: integer `[m]`, the states each jump leaves and enters.
    - `energies`: `[n]`, the energy of each state; `n` is the number of states.
    - `barriers`: `[m]`, the transition-state energy $B_k$ of each edge (finite).
    - `temperature`: `T > 0`: a scalar, one value per state `[n]` (jumps use the temperature
      of the state they leave) or one value per edge `[m]`.
    - `prefactor`: $\nu_k \ge 0$, scalar or `[m]`.
    - `temperature_at`: `"state"` or `"edge"`; inferred from the shape by default, and
      required when `m == n` makes the shape ambiguous.

    **Returns:** `EdgeRates(src, dst, rate, n)`, differentiable in `energies`, `barriers`,
    `temperature` and `prefactor`.

    **Errors:** as `arrhenius_rates`, with indices in the argument's own terms: `at state i`
    for energies and per-state temperatures (every state's temperature is checked), `at
    edge k` for barriers, per-edge temperatures and prefactors.

    **Example:**

    ```python
    src, dst = jnp.array([0, 1, 1, 2]), jnp.array([1, 0, 2, 1])
    rates = jn.markov.arrhenius_edge_rates(src, dst, jnp.array([0.0, 1.0, 0.0]),
                                           jnp.array([2.0, 2.0, 1.5, 1.5]))
    ```

    Reference: R. Landauer, Phys. Rev. A 12, 636 (1975).
    """
    e = _energies(energies)
    n = e.shape[0]
    src, dst = jnp.asarray(src), jnp.asarray(dst)
    b = as_inexact(barriers, "barriers")
    if src.ndim != 1 or b.shape != src.shape:
        raise ValueError(
            f"`barriers` must be 1D [m] with one value per edge (m = len(src) = "
            f"{src.shape[0] if src.ndim == 1 else src.shape}), got shape {b.shape}"
        )
    m = b.shape[0]
    # Builds and validates the indices (out-of-range src/dst raise here).
    EdgeRates(src, dst, jnp.zeros((m,), b.dtype), n)
    dtype = jnp.result_type(e, b)
    e, b = e.astype(dtype), b.astype(dtype)
    t = as_inexact(temperature, "temperature").astype(dtype)
    kind = _resolve_temperature_kind(t, n, (m,), temperature_at)
    nu = as_inexact(prefactor, "prefactor").astype(dtype)
    if nu.ndim not in (0, 1) or (nu.ndim == 1 and nu.shape != (m,)):
        raise ValueError(f"`prefactor` must be a scalar or [m] = {(m,)}, got {nu.shape}")
    rate, masks = _edge_core(src, e, b, t, nu, kind)
    where = {
        "energies": "state",
        "edge_barriers": "edge",
        "temperature": kind,
        "prefactor": "edge",
    }
    return EdgeRates(src, dst, _raise_or_flag(rate, masks, where), n)

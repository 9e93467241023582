r"""Argument checks shared by the master-equation observables (units: k_B = 1).

Shape and dtype problems raise at trace time; value problems raise eagerly with the index
when the input is concrete, and through `eqx.error_if` under `jit`/`vmap`.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._util import as_inexact, first_bad_index, is_concrete
from ._rates import EdgeRates, Rates


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


DENSE_MAX_STATES = 8192
"""Largest `EdgeRates` chain that `mean_first_passage_times` and `relaxation_rates` densify."""


def _check_densifiable(rates: Rates, name: str) -> None:
    if isinstance(rates, EdgeRates) and rates.n_states > DENSE_MAX_STATES:
        raise ValueError(
            f"`{name}` densifies `EdgeRates` (O(n^2) memory, O(n^3) time) and n_states = "
            f"{rates.n_states} exceeds DENSE_MAX_STATES = {DENSE_MAX_STATES}; coarse-grain the "
            "chain or pass rates.to_dense() explicitly if you have the memory"
        )

"""Small helpers shared by several jaxneq sub-packages (units: k_B = 1).

Everything here is private. A helper used by two packages lives here, never sideways.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(*xs) -> bool:
    """True when none of `xs` is a JAX tracer, so values can be inspected eagerly."""
    return not any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(xs))


def as_inexact(x, name: str) -> jax.Array:
    """Convert `x` to a floating (or complex) JAX array, keeping float32/float64 as given.

    Integers and bools become the default float dtype (float32 unless x64 is enabled).
    Raises `ValueError` naming `name` when `x` cannot be converted.
    """
    try:
        arr = jnp.asarray(x)
    except TypeError as e:  # pragma: no cover - defensive
        raise ValueError(f"`{name}` must be array-like, got {type(x).__name__}") from e
    if not jnp.issubdtype(arr.dtype, jnp.inexact):
        arr = arr.astype(jnp.result_type(float))
    return arr


def first_bad_index(mask) -> tuple[int, ...]:
    """Index (as a tuple) of the first True entry of a concrete boolean array."""
    idx = np.argwhere(np.asarray(mask))
    return tuple(int(i) for i in idx[0])


def tiny(dtype) -> jax.Array:
    """Smallest positive normal number of `dtype`."""
    return jnp.asarray(jnp.finfo(dtype).tiny, dtype)


def error_if_tied(tree, pred, msg, index=None):
    """`tree` after an `equinox` error check on the scalar `pred`, without touching its arrays.

    `eqx.error_if(tree, pred, msg)` ties the check to every leaf, which makes XLA gather a
    sharded array onto one device. Here the check runs on a scalar token (-0.0, or 0 for
    integers) that each leaf then adds: x + (-0.0) == x bitwise for every float (also -0.0,
    inf and NaN), so the numbers are unchanged and the check cannot be optimised away. With
    `index` and a sequence of messages, `eqx.branched_error_if` is used.
    """
    token = jnp.asarray(-0.0)
    if index is None:
        token = eqx.error_if(token, pred, msg)
    else:
        token = eqx.branched_error_if(token, pred, index, msg)

    def tie(a):
        a = jnp.asarray(a)
        if jnp.issubdtype(a.dtype, jnp.inexact):
            return a + token.astype(a.dtype)
        if jnp.issubdtype(a.dtype, jnp.integer):
            return a + token.astype(a.dtype)  # -0.0 -> 0
        return a

    return jax.tree_util.tree_map(tie, tree)

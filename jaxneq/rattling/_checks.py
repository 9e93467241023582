"""Argument checks shared by the rattling functions (units: k_B = 1). Private."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._util import first_bad_index, is_concrete


def check_where(values: Array, bad: Array, message: str) -> Array:
    """Raise `ValueError` (concrete) or `eqx.error_if` (traced) where `bad` holds.

    `message` is completed with the first bad index when the values are concrete.
    """
    if is_concrete(values, bad):
        b = np.asarray(bad)
        if b.any():
            idx = first_bad_index(b)
            loc = idx[0] if len(idx) == 1 else idx
            raise ValueError(f"{message} (first at index {loc})")
        return values
    return eqx.error_if(values, jnp.any(bad), message)

"""Input checks shared by the estimators of `jaxneq.thermo` (units: k_B = 1)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._util import as_inexact, is_concrete

TEMPERATURE_MESSAGE = (
    "`temperature` must be > 0 (and finite): it is the bath temperature in units k_B = 1"
)


def finite_message(name: str) -> str:
    return f"`{name}` has a NaN or infinite entry: every sample must be finite"


def positive_time_message(name: str) -> str:
    return f"`{name}` must be > 0 (and finite): it is a duration"


def eager_checks(finite=(), positive=()):
    """Raise `ValueError` at once for concrete (non-traced) bad values, before compiling.

    `finite`: (name, array) pairs that must be finite; `positive`: (name, scalar, message)
    triples that must be > 0 and finite. Traced values are left to the `eqx.error_if`
    checks inside the compiled estimators.
    """
    for name, x in finite:
        if is_concrete(x) and not np.all(np.isfinite(np.asarray(x))):
            raise ValueError(finite_message(name))
    for _, x, message in positive:
        if is_concrete(x) and np.size(x) == 1:
            value = float(np.asarray(x).reshape(()))
            if not (value > 0 and np.isfinite(value)):
                raise ValueError(message)


def check_samples(x, name: str, *, ndim: int = 1, what: str = "samples") -> Array:
    """A non-empty floating array of `ndim` dimensions with finite entries (checked under jit)."""
    x = as_inexact(x, name)
    if x.ndim != ndim:
        raise ValueError(
            f"`{name}` must be a {ndim}-D array of {what}, got shape {x.shape}; "
            "use `jax.vmap` for a batch of independent problems"
        )
    if x.size == 0:
        raise ValueError(f"`{name}` is empty: at least one sample is needed, got shape {x.shape}")
    return eqx.error_if(
        x,
        ~jnp.all(jnp.isfinite(x)),
        finite_message(name),
    )


def check_temperature(temperature, dtype) -> Array:
    """A positive scalar temperature in `dtype` (checked under jit)."""
    temperature = as_inexact(temperature, "temperature")
    if temperature.ndim != 0:
        raise ValueError(
            f"`temperature` must be a scalar, got shape {temperature.shape}; use `jax.vmap` "
            "for several temperatures"
        )
    temperature = temperature.astype(dtype)
    return eqx.error_if(
        temperature,
        ~((temperature > 0) & jnp.isfinite(temperature)),
        TEMPERATURE_MESSAGE,
    )


def common_dtype(*xs):
    return jnp.result_type(*(x.dtype for x in xs))

r"""Integrators: one pure step each, `step(system, state, t, dt, key) -> state` (units: k_B = 1).

A step acts on the BATCHED state (leading axis `b`) and draws its noise in bulk for the whole
ensemble with `jax.random.normal(key, shape)`, so that the numbers depend only on the key and
the global ensemble shape (never on chunking or on the number of devices). System methods,
which describe one member, are `jax.vmap`-ed over the ensemble axis.

Registered by name in `INTEGRATORS`:

- `"euler_maruyama"`: strong order 1/2, weak order 1; generic (uses `drift`/`diffusion`).
- `"heun"`: stochastic Heun (predictor–corrector with the trapezoidal rule for drift and
  noise). It converges to the STRATONOVICH solution of the SDE it is given, so it is fed the
  system's `stratonovich_drift` ($a - \tfrac12 b\,\partial b$): `Overdamped` supplies it for
  every convention, so `"heun"` solves the same equation as `"euler_maruyama"`, also with a
  temperature or mobility field. Systems with multiplicative noise that do not override
  `stratonovich_drift` would be solved in the Stratonovich sense.
- `"baoab"`: the BAOAB splitting for `Underdamped` systems (Leimkuhler–Matthews), with the
  O-step at the local temperature.

Reference: P. E. Kloeden and E. Platen, Numerical Solution of Stochastic Differential
Equations (Springer, 1992); B. Leimkuhler and C. Matthews, Appl. Math. Res. Express 2013, 34.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
from jaxtyping import Array, PyTree

from ._systems import AbstractSystem, Underdamped, UnderdampedState

Step = Callable[[AbstractSystem, PyTree, Array, Array, Array], PyTree]


def normal_like(key: Array, tree: PyTree) -> PyTree:
    """Standard normal noise shaped like every leaf of the batched `tree`, drawn in bulk."""
    leaves, treedef = jtu.tree_flatten(tree)
    keys = [key] if len(leaves) == 1 else list(jr.split(key, len(leaves)))
    pairs = zip(keys, leaves, strict=True)
    noise = [jr.normal(k, jnp.shape(x), jnp.result_type(x)) for k, x in pairs]
    return jtu.tree_unflatten(treedef, noise)


def _batched(method, state, t):
    return jax.vmap(method, in_axes=(0, None))(state, t)


def euler_maruyama(system: AbstractSystem, state: PyTree, t: Array, dt: Array, key: Array):
    r"""One Euler–Maruyama step, $s' = s + a\,\mathrm{d}t + b \sqrt{\mathrm{d}t}\,\xi$."""
    a = _batched(system.drift, state, t)
    b = _batched(system.diffusion, state, t)
    xi = normal_like(key, state)
    sqrt_dt = jnp.sqrt(dt)
    return jtu.tree_map(lambda s, a, b, w: s + a * dt + b * (sqrt_dt * w), state, a, b, xi)


def heun(system: AbstractSystem, state: PyTree, t: Array, dt: Array, key: Array):
    r"""One stochastic Heun step (converges to the Stratonovich solution; see module doc)."""
    sqrt_dt = jnp.sqrt(dt)
    dw = jtu.tree_map(lambda w: sqrt_dt * w, normal_like(key, state))
    a0 = _batched(system.stratonovich_drift, state, t)
    b0 = _batched(system.diffusion, state, t)
    pred = jtu.tree_map(lambda s, a, b, w: s + a * dt + b * w, state, a0, b0, dw)
    a1 = _batched(system.stratonovich_drift, pred, t + dt)
    b1 = _batched(system.diffusion, pred, t + dt)
    return jtu.tree_map(
        lambda s, a0, a1, b0, b1, w: s + 0.5 * (a0 + a1) * dt + 0.5 * (b0 + b1) * w,
        state,
        a0,
        a1,
        b0,
        b1,
        dw,
    )


def baoab(system: Underdamped, state: UnderdampedState, t: Array, dt: Array, key: Array):
    r"""One BAOAB step of underdamped Langevin dynamics.

    B: $v \mathrel{+}= \tfrac{dt}{2} F/m$; A: $x \mathrel{+}= \tfrac{dt}{2} v$;
    O: $v \leftarrow c v + \sqrt{(1 - c^2) T(x)/m}\,\xi$ with $c = e^{-\zeta dt/m}$;
    A; B (force at $t + dt$).
    """
    if not isinstance(system, Underdamped):
        raise ValueError(
            f'method="baoab" needs an Underdamped system, got {type(system).__name__}; use '
            'method="euler_maruyama" (or "heun") for it'
        )
    x, v = state.x, state.v
    dtype = x.dtype
    m = jnp.asarray(system.mass, dtype)
    zeta = jnp.asarray(system.friction, dtype)
    half = 0.5 * dt
    force = lambda y, s: _batched(system.total_force, y, s)
    v = v + half * force(x, t) / m
    x = x + half * v
    c = jnp.exp(-zeta * dt / m)
    T = jax.vmap(system.temperature_at)(x)
    v = c * v + jnp.sqrt((1 - c * c) * T / m) * jr.normal(key, v.shape, dtype)
    x = x + half * v
    v = v + half * force(x, t + dt) / m
    return UnderdampedState(x, v)


INTEGRATORS: dict[str, Step] = {
    "euler_maruyama": euler_maruyama,
    "heun": heun,
    "baoab": baoab,
}
"""Integrators by name; `simulate(..., method=name)` looks them up here."""


def resolve_method(method: str | Step | None, system: AbstractSystem) -> Step:
    """The step function for `method` (a name, a callable, or None for the default)."""
    if method is None:
        method = system.default_method
    if callable(method):
        return method
    if method not in INTEGRATORS:
        raise ValueError(
            f"`method` must be one of {', '.join(map(repr, INTEGRATORS))} or a step callable "
            f"step(system, state, t, dt, key) -> state, got {method!r}"
        )
    if method == "baoab" and not isinstance(system, Underdamped):
        raise ValueError(
            f'method="baoab" needs an Underdamped system, got {type(system).__name__}; use '
            'method="euler_maruyama" (or "heun") for it'
        )
    return INTEGRATORS[method]

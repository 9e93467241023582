r"""Hold a physical budget exactly during gradient-based design (units: k_B = 1).

`scale_to_budget` solves a scalar equality constraint for one amplitude: given a design
`params` and a budget (an entropy-production rate, a total heat, a power), it returns the
scale $s^*(\theta)$ at which `constraint(params, s) == budget`. An optimiser then moves
`params` freely while the budget is met to solver precision at every step, and the gradient
of $s^*$ comes from the implicit function theorem (one extra derivative of the constraint,
no unrolled iteration).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact


def _bisect(constraint, params, budget, lower, upper, iterations):
    """Bisection on the sign of constraint - budget, then one safeguarded Newton step."""

    def gap(s):
        return constraint(params, s) - budget

    g_lower = gap(lower)

    def step(_, bracket):
        lo, hi, g_lo = bracket
        mid = 0.5 * (lo + hi)
        g_mid = gap(mid)
        same = jnp.sign(g_mid) == jnp.sign(g_lo)
        return jnp.where(same, mid, lo), jnp.where(same, hi, mid), jnp.where(same, g_mid, g_lo)

    lo, hi, _ = jax.lax.fori_loop(0, iterations, step, (lower, upper, g_lower))
    s = 0.5 * (lo + hi)
    value, slope = jax.value_and_grad(gap)(s)
    newton = s - value / jnp.where(slope == 0, jnp.ones_like(slope), slope)
    inside = (newton >= lo) & (newton <= hi) & jnp.isfinite(newton) & (slope != 0)
    return jnp.where(inside, newton, s)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 5))
def _root(constraint, params, budget, lower, upper, iterations):
    return _bisect(constraint, params, budget, lower, upper, iterations)


def _root_fwd(constraint, params, budget, lower, upper, iterations):
    s = _bisect(constraint, params, budget, lower, upper, iterations)
    return s, (params, budget, lower, upper, s)


def _root_bwd(constraint, iterations, residuals, g):
    # implicit function theorem: dc/dparams dparams + dc/ds ds = dbudget
    params, budget, lower, upper, s = residuals
    dc_ds = jax.grad(lambda x: constraint(params, x))(s)
    weight = g / dc_ds
    _, pullback = jax.vjp(lambda p: constraint(p, s), params)
    (d_params,) = pullback(-weight)
    return d_params, weight.astype(budget.dtype), jnp.zeros_like(lower), jnp.zeros_like(upper)


_root.defvjp(_root_fwd, _root_bwd)
# compiled once per constraint function (and per shape), also when called eagerly
_root_jit = jax.jit(_root, static_argnums=(0, 5))


def scale_to_budget(
    constraint: Callable[[Any, Array], Array],
    params: Any,
    budget: Float[ArrayLike, ""],
    *,
    bracket: tuple[float, float] = (0.0, 100.0),
    iterations: int = 64,
) -> Float[Array, ""]:
    r"""The amplitude $s^*$ at which a constraint meets its budget, differentiable in `params`.

    Solves $c(\theta, s^*) = b$ for $s^*$ in `bracket` by bisection (then one safeguarded
    Newton step), where $c$ is `constraint`, $\theta$ the design `params` and $b$ the
    `budget`. Its derivative is the implicit function theorem's,
    $\mathrm{d}s^*/\mathrm{d}\theta = -(\partial c/\partial\theta)/(\partial c/\partial s)$,
    so `jax.grad` of an objective of $(\theta, s^*(\theta))$ is the gradient *on the
    constraint surface*: an unconstrained optimiser (optax) on $\theta$ then solves the
    constrained problem with the constraint held to solver precision at every step (a
    reparametrisation, not a penalty). Works under `jit`, `vmap` and `grad` (reverse mode,
    like `jaxneq.markov.stationary`).

    Typical use: the drive of a driven chain at a fixed entropy-production budget (the
    Schnakenberg rate grows with the drive amplitude from 0 at equilibrium), or the height
    of a hot spot at a fixed total heat.

    **Arguments:**

    - `constraint`: `constraint(params, s) -> scalar`, smooth in both, with
      `constraint(params, lower) - budget` and `constraint(params, upper) - budget` of
      opposite signs (e.g. increasing in $s$). Every quantity that gradients must reach has
      to come in through `params`: values captured by the closure are constants.
    - `params`: the design, any pytree of arrays.
    - `budget`: the target value $b$ (differentiable too).
    - `bracket`: `(lower, upper)` with the root inside (keyword, Python floats).
    - `iterations`: bisection steps (keyword, default 64: the bracket shrinks by $2^{-64}$,
      below float64's resolution of $s^*$ for a bracket of width up to ~100 $s^*$).

    **Returns:** $s^*$, a scalar in `bracket`, in the dtype of `budget` promoted with the
    bracket. Where the bracket holds no sign change it returns an end of the bracket:
    check `constraint(params, s)` against the budget when that can happen.

    **Example:** the uniform drive of a driven ring at an entropy-production budget of 0.5

    ```python
    def ep(energies, f):
        rates = jn.models.driven_ring(energies, jnp.ones(4), drive=f)
        return jn.markov.entropy_production_rate(rates)

    f = jn.fokker_planck.scale_to_budget(ep, jnp.zeros(4), 0.5)
    ```

    Reference: J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed. (Springer,
    2006), §15.3 (elimination of equality constraints); S. G. Krantz and H. R. Parks, *The
    Implicit Function Theorem* (Birkhäuser, 2002).
    """
    if not callable(constraint):
        raise TypeError(
            f"`constraint` must be a callable (params, s) -> scalar, got {constraint!r}"
        )
    try:
        lower, upper = (float(v) for v in bracket)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"`bracket` must be two Python floats (lower, upper), got {bracket!r}"
        ) from e
    if not lower < upper:
        raise ValueError(f"`bracket` must have lower < upper, got {bracket!r}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"`iterations` must be a Python int >= 1, got {iterations!r}")
    budget = as_inexact(budget, "budget")
    if budget.ndim != 0:
        raise ValueError(f"`budget` must be a scalar, got shape {budget.shape}")
    dtype = budget.dtype
    lo, hi = jnp.asarray(lower, dtype), jnp.asarray(upper, dtype)
    shape = jax.eval_shape(constraint, params, lo).shape
    if shape != ():
        raise ValueError(f"`constraint(params, s)` must return a scalar, got shape {shape}")
    return _root_jit(constraint, params, budget, lo, hi, iterations)

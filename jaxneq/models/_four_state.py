r"""The four-state chain of Landauer's blowtorch theorem in Markov form (units: k_B = 1).

States 1, 2, 3, 4 (array indices 0, 1, 2, 3) sit on a ring 1-2-3-4-1 with unit rates in
both directions, except the rate $r_{34}$ of the jump 3 -> 4. No rate into or out of states
1 and 2 depends on $r_{34}$, yet their stationary ratio does: the stationary distribution
is a non-local function of the rates, so there is no "local" nonequilibrium Boltzmann law.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from .._util import is_concrete
from ..markov import EdgeRates

_SRC = (0, 1, 1, 2, 2, 3, 3, 0)
_DST = (1, 0, 2, 1, 3, 2, 0, 3)
_R34_EDGE = 4  # position of the edge 2 -> 3 (states 3 -> 4) in the edge list


def four_state_chain(
    r34: float | Float[ArrayLike, ""] = 1.0, *, sparse: bool = False
) -> Float[Array, "4 4"] | EdgeRates:
    r"""Rates of the seed's four-state ring, as a function of the rate $r_{34}$.

    Ring 1-2-3-4-1 (indices 0-1-2-3-0), every jump with rate 1 except 3 -> 4 (index
    2 -> 3), which has rate `r34`. By the Markov chain tree theorem the stationary
    distribution is

    $$p \propto \bigl(2(r_{34} + 1),\; r_{34} + 3,\; 4,\; 3 r_{34} + 1\bigr),\qquad
    \frac{p_1}{p_2} = \frac{2 (r_{34} + 1)}{r_{34} + 3},\qquad
    \frac{d}{dr_{34}}\frac{p_1}{p_2} = \frac{4}{(r_{34} + 3)^2},$$

    so $p_1/p_2$ moves from 2/3 ($r_{34} \to 0$) through 1 ($r_{34} = 1$, equilibrium) to 2
    ($r_{34} \to \infty$) while every rate touching states 1 and 2 stays 1: Landauer's
    blowtorch theorem for Markov chains. For $r_{34} \ne 1$ the chain carries a net
    probability current around the ring.

    **Arguments:**

    - `r34`: the rate of the jump 3 -> 4 (a finite scalar >= 0; differentiable, vmappable;
      a concrete value out of range raises `ValueError`, a traced one an `eqx.error_if`).
    - `sparse`: return an `EdgeRates` (8 edges) instead of a dense `[4, 4]` matrix.

    **Returns:** dense rates `[4, 4]` (zero diagonal) or `EdgeRates`, dtype of `r34` (the
    default float dtype for a Python number).

    **Example:**

    ```python
    ratio = lambda r: (lambda p: p[0] / p[1])(jn.markov.stationary(jn.models.four_state_chain(r)))
    ratio(3.0), jax.grad(ratio)(3.0)   # 4/3 and 4/36
    ```

    Reference: R. Landauer, Phys. Rev. A 12, 636 (1975); T. L. Hill, J. Theor. Biol. 10, 442
    (1966) (the tree theorem).
    """
    r = _check_r34(r34)
    rate = jnp.ones((len(_SRC),), r.dtype).at[_R34_EDGE].set(r)
    edges = EdgeRates(jnp.asarray(_SRC), jnp.asarray(_DST), rate, 4)
    return edges if sparse else edges.to_dense()


def _check_r34(r34) -> Array:
    r = jnp.asarray(r34)
    if not jnp.issubdtype(r.dtype, jnp.inexact):
        r = r.astype(jnp.result_type(float))
    if r.ndim != 0:
        raise ValueError(f"`r34` must be a scalar, got shape {r.shape}; for a sweep use jax.vmap")
    what = "`r34` (the rate of the jump 3 -> 4) must be finite and >= 0"
    if is_concrete(r):  # NumPy, so that the check also runs eagerly inside a jit trace
        c = float(np.asarray(r))
        if not (np.isfinite(c) and c >= 0):
            raise ValueError(f"{what}, got {c}")
        return r
    return eqx.error_if(r, ~(jnp.isfinite(r) & (r >= 0)), what)


def four_state_stationary(r34: float | Float[ArrayLike, ""] = 1.0) -> Float[Array, "4"]:
    r"""Exact stationary distribution of `four_state_chain`, from the Markov chain tree theorem.

    $$p = \frac{\bigl(2(r_{34} + 1),\; r_{34} + 3,\; 4,\; 3 r_{34} + 1\bigr)}{6 r_{34} + 10}.$$

    Each weight is the sum, over the four spanning trees of the ring directed towards that
    state, of the product of their rates. So $p_1/p_2 = 2(r_{34}+1)/(r_{34}+3)$ and, by
    `jax.grad` of this closed form, $d(p_1/p_2)/dr_{34} = 4/(r_{34}+3)^2$: the exact values
    that `jaxneq.markov.stationary(four_state_chain(r34))` and its implicit-adjoint gradient
    are checked against.

    **Arguments:** `r34`: the rate of the jump 3 -> 4 (a scalar, >= 0; differentiable,
    vmappable).

    **Returns:** $p$, `[4]`, dtype of `r34` (the default float dtype for a Python number).

    **Example:**

    ```python
    p = jn.models.four_state_stationary(3.0)      # (8, 6, 4, 10) / 28
    jax.grad(lambda r: (lambda p: p[0] / p[1])(jn.models.four_state_stationary(r)))(3.0)  # 1/9
    ```

    Reference: T. L. Hill, J. Theor. Biol. 10, 442 (1966); R. Landauer, Phys. Rev. A 12, 636
    (1975).
    """
    r = _check_r34(r34)
    weights = jnp.stack([2 * (r + 1), r + 3, jnp.full_like(r, 4.0), 3 * r + 1])
    return weights / (6 * r + 10)

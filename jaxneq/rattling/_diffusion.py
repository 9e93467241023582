r"""Rattling of a diffusion tensor, $R = \tfrac12 \log\det D$ (units: k_B = 1)."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact
from ._checks import check_where

_KINDS = ("scalar", "diagonal", "full")


def from_diffusion(
    diffusion: Float[ArrayLike, "..."], *, kind: str | None = None, dim: int = 1
) -> Float[Array, "..."]:
    r"""Rattling $R = \tfrac12 \log\det D$ of a diffusion tensor, batched over states.

    Rattling (Chvykov et al. 2021) is the log-volume that the noise explores per unit time
    at a state $x$: for $\mathrm{d}x = \dots + \sqrt{2 D(x)}\,\mathrm{d}W$ the short-time
    displacement covariance is $2 D(x)\,\mathrm{d}t$, and

    $$\mathcal R(x) = \tfrac12 \log\det D(x).$$

    Only differences of $R$ matter (the claim is $p_{ss} \approx e^{-\gamma R}/Z$), so the
    factor 2 and the units of $D$ drop out into $Z$. For an overdamped system $D = \mu T$.

    The layout of `diffusion` is never guessed from its shape (a `[n, 2]` array could hold
    n diagonal tensors in 2D or n x 2 isotropic coefficients): an array needs a `kind`.

    **Arguments:**

    - `diffusion`: the diffusion coefficient(s), > 0 (positive definite for `"full"`).
    - `kind`: `"scalar"` (an array `[...]` of isotropic coefficients $D\,I_d$, $d$ = `dim`),
      `"diagonal"` (`[..., d]`, the diagonal of $D$) or `"full"` (`[..., d, d]`, symmetric
      positive definite). May be omitted only for a 0-d scalar.
    - `dim`: the dimension $d$ for `kind="scalar"` (default 1): $R = \tfrac d2 \log D$.

    **Returns:** $R$ with the batch shape `[...]` and the dtype of `diffusion`.
    Differentiable; works under `jit` and `vmap`. Non-positive entries (or a matrix that is
    not positive definite) raise a `ValueError` (an `eqx.error_if` under `jit`).

    **Example:**

    ```python
    T = lambda x: 1.0 + 0.5 * jnp.sin(2 * jnp.pi * x)
    x = jnp.linspace(0.0, 1.0, 50)
    R = jn.rattling.from_diffusion(T(x), kind="scalar")                # 1/2 log T
    R2 = jn.rattling.from_diffusion(jnp.stack([T(x), 2 * T(x)], -1), kind="diagonal")
    ```

    Reference: P. Chvykov, T. A. Berrueta, A. Vardhan, W. Savoie, A. Samland, T. D. Murphey,
    K. Wiesenfeld, D. I. Goldman and J. L. England, Science 371, 90 (2021).
    """
    d = as_inexact(diffusion, "diffusion")
    if kind is None:
        if d.ndim != 0:
            raise ValueError(
                f"`diffusion` has shape {d.shape}: pass kind='scalar' (one isotropic "
                "coefficient per state), kind='diagonal' (last axis: the diagonal of D) or "
                "kind='full' (last two axes: the d x d tensor); the layout is not guessed"
            )
        kind = "scalar"
    if kind not in _KINDS:
        raise ValueError(f"`kind` must be one of {_KINDS}, got {kind!r}")
    if kind == "scalar":
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"`dim` must be a Python int >= 1, got {dim!r}")
        d = check_where(d, ~(d > 0) | ~jnp.isfinite(d), "`diffusion` must be finite and > 0")
        return 0.5 * dim * jnp.log(d)
    if kind == "diagonal":
        if d.ndim < 1:
            raise ValueError("`diffusion` with kind='diagonal' must have shape [..., d]")
        d = check_where(d, ~(d > 0) | ~jnp.isfinite(d), "`diffusion` must be finite and > 0")
        return 0.5 * jnp.sum(jnp.log(d), axis=-1)
    if d.ndim < 2 or d.shape[-1] != d.shape[-2]:
        raise ValueError(f"`diffusion` with kind='full' must have shape [..., d, d], got {d.shape}")
    d = check_where(d, ~jnp.isfinite(d), "`diffusion` must be finite")
    sym = 0.5 * (d + jnp.swapaxes(d, -1, -2))
    chol = jnp.linalg.cholesky(sym)
    diag = jnp.diagonal(chol, axis1=-2, axis2=-1)
    bad = ~jnp.all(jnp.isfinite(diag) & (diag > 0), axis=-1)
    diag = check_where(
        diag,
        bad,
        "`diffusion` (kind='full') must be symmetric positive definite",
    )
    return jnp.sum(jnp.log(diag), axis=-1)

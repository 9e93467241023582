r"""Fit of the rattling law $p \approx e^{-\gamma R}/Z$: exponent, normaliser, goodness of
fit and standard error (units: k_B = 1)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .._util import as_inexact
from ._checks import check_where


class GammaFit(eqx.Module):
    r"""Result of `fit_gamma`: the law $p \approx e^{-\gamma R}/Z$ and how well it holds.

    **Fields:**

    - `gamma`: the fitted exponent $\gamma$ (also `.value`; `float(fit)` works unbatched).
    - `log_z`: $\log Z$, minus the intercept of the regression of $\log p$ on $R$ (in the
      units of `p`: densities or probabilities).
    - `stderr`: standard error of `gamma` (see `fit_gamma` for the noise model).
    - `r_squared`: weighted coefficient of determination of $\log p$ against $R$ (1: a
      perfect straight line; meaningless when $\log p$ hardly varies, use `kl` then).
    - `kl`: $D_{KL}(p \,\|\, q)$, in nats, with $p$ and $q = e^{-\gamma R}/\sum e^{-\gamma R}$
      normalised over the fitted entries (0 for a perfect fit).
    """

    gamma: Float[Array, ""]
    log_z: Float[Array, ""]
    stderr: Float[Array, ""]
    r_squared: Float[Array, ""]
    kl: Float[Array, ""]

    @property
    def value(self) -> Float[Array, ""]:
        """The estimate, $\\gamma$ (the common name of jaxneq estimators)."""
        return self.gamma

    def __float__(self) -> float:
        return float(self.gamma)


def _as_same_shape(x, name, shape, dtype):
    x = as_inexact(x, name).astype(dtype)
    if x.shape != shape:
        raise ValueError(
            f"`{name}` must have the shape of `p` {shape}, got {x.shape}; for a batch of "
            "fits use jax.vmap"
        )
    return x


def fit_gamma(
    p: Float[ArrayLike, "..."],
    R: Float[ArrayLike, "..."],
    weights: Float[ArrayLike, "..."] | None = None,
    *,
    counts: Float[ArrayLike, "..."] | None = None,
) -> GammaFit:
    r"""Fit $p \approx e^{-\gamma R}/Z$ by weighted least squares of $\log p$ on $R$.

    With weights $w_i \ge 0$ (entries with $w_i = 0$ are left out, whatever their $p$ and
    $R$), $y = \log p$, weighted means $\bar R, \bar y$ and
    $S_{RR} = \sum_i w_i (R_i - \bar R)^2$:

    $$\gamma = -\frac{\sum_i w_i (R_i - \bar R)(y_i - \bar y)}{S_{RR}}, \qquad
      \log Z = -\bar y - \gamma \bar R .$$

    Goodness of fit: `r_squared` $= 1 - \sum w e^2 / \sum w (y - \bar y)^2$ (residuals $e$),
    and `kl` $= \sum_i \hat p_i \log(\hat p_i / q_i)$ with $\hat p = p/\sum p$ and
    $q = e^{-\gamma R}/\sum e^{-\gamma R}$ over the fitted entries (entries of equal volume:
    cells of a uniform grid, states of a chain). `kl` says how much probability the law
    misplaces; `r_squared` how straight $\log p$ against $R$ is.

    **Standard error.** Two noise models:

    - `counts` given (p estimated from $N$ samples, `counts[i]` of them in entry $i$, so
      $p_i \propto$ `counts[i]`): multinomial sampling gives
      $\mathrm{Var}\log\hat p_i \approx 1/n_i$ plus a shift common to all entries, which only
      moves $\log Z$. The weights default to `counts` (inverse variances, the efficient
      choice) and `stderr` $= \sqrt{\sum_i w_i^2 (R_i - \bar R)^2 / n_i}\,/\,S_{RR}$, which is
      $1/\sqrt{S_{RR}}$ for $w = n$. Entries with zero count need zero weight. For correlated
      samples (a trajectory), pass counts divided by the integrated autocorrelation time
      (effective counts). `R` is taken as exact.
    - `counts` omitted: the classical regression error, $\log p_i$ scattered about the line
      with variance $\sigma^2/w_i$ and $\sigma^2$ estimated from the residuals,
      `stderr` $= \sqrt{\sum w e^2 / ((m - 2) S_{RR})}$ over the $m$ fitted entries
      (0 for a perfect fit; for an exact `p` it measures the misfit, not a sampling error).

    **Arguments:**

    - `p`: probabilities or densities, any shape (a chain's `[n]`, a grid's `grid.shape`),
      finite and > 0 wherever the weight is > 0 (it need not be normalised).
    - `R`: rattling, the shape of `p`, finite where the weight is > 0.
    - `weights`: optional non-negative weights, the shape of `p` (default: 1 everywhere, or
      `counts` when given).
    - `counts`: optional sample counts per entry (see above), the shape of `p`.

    **Returns:** a `GammaFit` (`gamma`, `log_z`, `stderr`, `r_squared`, `kl`).
    Differentiable in `p`, `R` and `weights` (a fit quality can sit in a loss; the gradient
    with respect to an entry of weight exactly 0 is 0: that entry is out), works under
    `jit` and `vmap` (a sweep of thousands of systems is one call), float32 and float64.
    Bad values (p <= 0 or non-finite where weighted, negative weights, fewer than two
    distinct weighted `R`) raise a `ValueError` (an `eqx.error_if` under `jit`).

    **Example:**

    ```python
    rates = jax.random.uniform(jax.random.key(0), (4096, 32, 32))
    fits = jax.vmap(lambda r: jn.rattling.fit_gamma(jn.markov.stationary(r),
                                                     jn.rattling.from_rates(r)))(rates)
    fits.gamma.mean(), fits.r_squared.min()
    ```

    Reference: P. Chvykov, T. A. Berrueta, A. Vardhan, W. Savoie, A. Samland, T. D. Murphey,
    K. Wiesenfeld, D. I. Goldman and J. L. England, "Low rattling: a predictive principle
    for self-organization in active collectives", Science 371, 90 (2021).
    """
    p = as_inexact(p, "p")
    R = as_inexact(R, "R")
    dtype = jnp.result_type(p.dtype, R.dtype)
    p = p.astype(dtype)
    R = _as_same_shape(R, "R", p.shape, dtype)
    if p.size < 2:
        raise ValueError(f"`p` needs at least 2 entries to fit a line, got shape {p.shape}")
    if counts is not None:
        counts = _as_same_shape(counts, "counts", p.shape, dtype)
        counts = check_where(
            counts, ~(counts >= 0) | ~jnp.isfinite(counts), "`counts` must be finite and >= 0"
        )
    if weights is None:
        w = jnp.ones_like(p) if counts is None else counts
    else:
        w = _as_same_shape(weights, "weights", p.shape, dtype)
        w = check_where(w, ~(w >= 0) | ~jnp.isfinite(w), "`weights` must be finite and >= 0")
    p, R, w = p.ravel(), R.ravel(), w.ravel()
    used = w > 0
    p = check_where(
        p,
        used & ~((p > 0) & jnp.isfinite(p)),
        "`p` must be finite and > 0 wherever its weight is > 0 (log p is fitted); give empty "
        "entries weight 0",
    )
    R = check_where(R, used & ~jnp.isfinite(R), "`R` must be finite wherever the weight is > 0")
    if counts is not None:
        c = counts.ravel()
        c = check_where(c, used & ~(c > 0), "`counts` must be > 0 wherever the weight is > 0")
    zero = jnp.zeros((), dtype)
    w = jnp.where(used, w, zero)
    y = jnp.log(jnp.where(used, p, jnp.ones((), dtype)))
    R = jnp.where(used, R, zero)
    W = w.sum()
    R_mean = jnp.sum(w * R) / W
    y_mean = jnp.sum(w * y) / W
    dR = jnp.where(used, R - R_mean, zero)
    dy = jnp.where(used, y - y_mean, zero)
    S_RR = jnp.sum(w * dR**2)
    # a constant R (relative to its size) leaves gamma undefined
    scale = jnp.sum(w * R**2) + jnp.finfo(dtype).tiny
    S_RR = check_where(
        S_RR,
        ~(S_RR > 16 * jnp.finfo(dtype).eps * scale) | ~jnp.isfinite(W),
        "`R` takes a single value over the weighted entries: gamma is undefined (give "
        "weight to states with different rattling)",
    )
    slope = jnp.sum(w * dR * dy) / S_RR
    gamma = -slope
    log_z = -(y_mean - slope * R_mean)
    residual = jnp.where(used, dy - slope * dR, zero)
    ss_res = jnp.sum(w * residual**2)
    ss_tot = jnp.sum(w * dy**2)
    safe_tot = jnp.where(ss_tot > 0, ss_tot, jnp.ones((), dtype))
    r_squared = jnp.where(ss_tot > 0, 1 - ss_res / safe_tot, jnp.ones((), dtype))
    if counts is None:
        m = jnp.sum(used).astype(dtype)
        dof = jnp.maximum(m - 2, jnp.ones((), dtype))
        variance = ss_res / (dof * S_RR)
    else:
        c = jnp.where(used, c, jnp.ones((), dtype))
        variance = jnp.sum(w**2 * dR**2 / c) / S_RR**2
    positive = variance > 0  # double `where`: no NaN gradient from sqrt at 0
    stderr = jnp.where(positive, jnp.sqrt(jnp.where(positive, variance, 1)), zero)
    neg_inf = jnp.asarray(-jnp.inf, dtype)
    log_p = jnp.where(used, y - jax.nn.logsumexp(jnp.where(used, y, neg_inf)), zero)
    log_q_un = jnp.where(used, -gamma * R, neg_inf)
    log_q = jnp.where(used, log_q_un - jax.nn.logsumexp(log_q_un), zero)
    kl = jnp.sum(jnp.where(used, jnp.exp(log_p) * (log_p - log_q), zero))
    return GammaFit(gamma, log_z, stderr, r_squared, kl)

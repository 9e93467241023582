r"""Curves: estimates with error bars against exact values, optimisation traces, the
rattling law $p \approx e^{-\gamma \mathcal R}/Z$ (units: k_B = 1)."""

from __future__ import annotations

import numpy as np

from ._layout import as_float_array, axes_or_new, legend


def _exact_curve(exact, x, xscale):
    """(x, y, style) of the exact values: a callable on a fine grid, an `(x, y)` pair as a
    curve, or values at the measured `x` as markers."""
    if callable(exact):
        lo, hi = float(x.min()), float(x.max())
        fine = np.geomspace(lo, hi, 200) if xscale == "log" and lo > 0 else np.linspace(lo, hi, 200)
        return fine, as_float_array(exact(fine), "exact(x)", 1), "k-"
    if isinstance(exact, tuple):
        if len(exact) != 2:
            raise ValueError("`exact` as a tuple must be (x, y) of the exact curve")
        xe, ye = as_float_array(exact[0], "exact[0]", 1), as_float_array(exact[1], "exact[1]", 1)
        if xe.shape != ye.shape:
            raise ValueError(f"`exact` = (x, y) must have equal lengths, got {xe.size}, {ye.size}")
        return xe, ye, "k-"
    ye = as_float_array(exact, "exact", 1)
    if ye.shape != x.shape:
        raise ValueError(
            f"`exact` as an array must hold one value per point of `x` ({x.size}), got "
            f"{ye.size}; pass (x, y) for a curve on its own points"
        )
    return x, ye, "kx"


def estimates(
    x,
    measured,
    stderr=None,
    *,
    exact=None,
    ax=None,
    label: str = "measured",
    exact_label: str = "exact",
    xlabel: str = "x",
    ylabel: str = "estimate",
    n_se: float = 1.0,
    xscale: str = "linear",
    yscale: str = "linear",
    title: str | None = None,
    fmt: str = "o",
):
    r"""Measured values with error bars of `n_se` standard errors against exact values.

    **Arguments:**

    - `x`: `[n]` where each value was measured; `measured`: `[n]`.
    - `stderr`: `[n]` standard errors (>= 0), or None for deterministic values (no bars).
    - `exact`: optional reference: a callable `y(x)` (drawn as a curve over the range of
      `x`), a pair `(x_exact, y_exact)` (a curve), or `[n]` values at `x` (crosses).
    - `ax`, `label`, `exact_label`, `xlabel`, `ylabel` (say the units), `title`, `fmt`.
    - `n_se`: bar half-width in standard errors (the legend says how many).
    - `xscale`, `yscale`: "linear" or "log".

    **Returns:** the axes.

    **Example:**

    ```python
    jn.plot.estimates(ratios, speed, stderr, exact=(fine, exact_speed),
                      xlabel="T_hot / T_cold", ylabel="speed (length / time)")
    ```
    """
    x = as_float_array(x, "x", 1)
    y = as_float_array(measured, "measured", 1)
    if y.shape != x.shape:
        raise ValueError(f"`measured` must have one value per `x` ({x.size}), got {y.size}")
    if not float(n_se) > 0:
        raise ValueError(f"`n_se` must be > 0 (error bar half-width in SE), got {n_se}")
    ax = axes_or_new(ax)
    if exact is not None:
        xe, ye, style = _exact_curve(exact, x, xscale)
        ax.plot(xe, ye, style, lw=1.2, ms=8, label=exact_label, zorder=1)
    if stderr is None:
        ax.plot(x, y, fmt, label=label, zorder=2)
    else:
        se = as_float_array(stderr, "stderr", (0, 1))
        se = np.broadcast_to(se, x.shape) if se.ndim == 0 else se
        if se.shape != x.shape:
            raise ValueError(f"`stderr` must have one value per `x` ({x.size}), got {se.size}")
        if not np.all(np.isfinite(se) & (se >= 0)):
            raise ValueError("`stderr` must be finite and >= 0 (standard errors)")
        ax.errorbar(
            x,
            y,
            yerr=n_se * se,
            fmt=fmt,
            capsize=3,
            elinewidth=1.2,
            zorder=2,
            label=f"{label} (± {n_se:g} SE)",
        )
    ax.set(xlabel=xlabel, ylabel=ylabel, xscale=xscale, yscale=yscale)
    if title:
        ax.set_title(title, fontsize=9)
    legend(ax)
    return ax


def optimisation_trace(
    values,
    *,
    reference: float | None = None,
    reference_label: str = "optimum",
    ax=None,
    label: str | None = None,
    xlabel: str = "optimiser step",
    ylabel: str = "loss",
    log: bool = False,
    title: str | None = None,
):
    r"""A loss (or any estimate) per optimiser step, with the known optimum as a line.

    **Arguments:**

    - `values`: `[n_steps]` finite values, one per step.
    - `reference`: optional optimum, a horizontal line labelled `reference_label`.
    - `ax`, `label`, `xlabel`, `ylabel`, `title`; `log`: logarithmic y axis (values > 0).

    **Returns:** the axes.

    **Example:**

    ```python
    jn.plot.optimisation_trace(history, reference=w_star, ylabel="mean work (k_B T)")
    ```
    """
    v = as_float_array(values, "values", 1)
    if v.size == 0:
        raise ValueError("`values` is empty: pass one value per optimiser step")
    bad = ~np.isfinite(v)
    if bad.any():
        raise ValueError(f"`values` is not finite at step {int(np.argmax(bad))}")
    if log and not np.all(v > 0):
        raise ValueError("`log=True` needs `values` > 0; plot the excess over the optimum")
    ax = axes_or_new(ax)
    ax.plot(np.arange(v.size), v, lw=1.0, label=label)
    if reference is not None:
        ax.axhline(float(reference), color="k", ls="--", lw=1.0, label=reference_label)
    ax.set(xlabel=xlabel, ylabel=ylabel, yscale="log" if log else "linear")
    if title:
        ax.set_title(title, fontsize=9)
    legend(ax)
    return ax


def rattling_law(
    p,
    rattling,
    fit,
    *,
    where=None,
    ax=None,
    label: str = "states / bins",
    xlabel: str = r"$e^{-\gamma \mathcal{R}}/Z$",
    ylabel: str = "probability p",
    title: str | None = None,
):
    r"""Probabilities against the rattling law $e^{-\gamma \mathcal R}/Z$ on log axes.

    With the line $p = e^{-\gamma \mathcal R}/Z$ (points on it obey the law).

    **Arguments:**

    - `p`: probabilities (or densities) of states or bins, any shape.
    - `rattling`: $\mathcal R$ of the same entries, same shape.
    - `fit`: the result of `jaxneq.rattling.fit_gamma` (its `.gamma`, `.log_z`; the legend
      shows $\gamma$ and, if present, `.r_squared`), or a pair `(gamma, log_z)`.
    - `where`: optional boolean mask of the entries to show (e.g. the fitted bins);
      entries with p <= 0 or non-finite values are left out.
    - `ax`, `label`, `xlabel`, `ylabel`, `title`.

    **Returns:** the axes.

    **Example:**

    ```python
    fit = jn.rattling.fit_gamma(p, R)
    jn.plot.rattling_law(p, R, fit)
    ```
    """
    pp, R = as_float_array(p, "p"), as_float_array(rattling, "rattling")
    if pp.shape != R.shape:
        raise ValueError(f"`rattling` must have the shape of `p` {pp.shape}, got {R.shape}")
    if isinstance(fit, tuple):
        gamma, log_z, r2 = float(fit[0]), float(fit[1]), None
    elif hasattr(fit, "gamma") and hasattr(fit, "log_z"):
        gamma, log_z = float(fit.gamma), float(fit.log_z)
        r2 = float(fit.r_squared) if hasattr(fit, "r_squared") else None
    else:
        raise TypeError("`fit` must be a fit_gamma result or a pair (gamma, log_z)")
    keep = np.isfinite(pp) & np.isfinite(R) & (pp > 0)
    if where is not None:
        mask = np.asarray(where, dtype=bool)
        if mask.shape != pp.shape:
            raise ValueError(f"`where` must have the shape of `p` {pp.shape}, got {mask.shape}")
        keep &= mask
    if not keep.any():
        raise ValueError("nothing to draw: no entry with p > 0 and finite rattling is selected")
    law = np.exp(-gamma * R[keep] - log_z)
    ax = axes_or_new(ax)
    ax.loglog(law, pp[keep], "o", ms=4, label=label, zorder=2)
    lims = [min(law.min(), pp[keep].min()), max(law.max(), pp[keep].max())]
    quality = "" if r2 is None else f", $R^2$ = {r2:.2f}"
    ax.plot(lims, lims, "k-", lw=1.0, label=rf"law, $\gamma$ = {gamma:.3g}{quality}", zorder=1)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    legend(ax)
    return ax

"""Result containers shared by the estimators of `jaxneq.thermo` (units: k_B = 1)."""

from __future__ import annotations

import equinox as eqx
from jaxtyping import Array, Float


def _scalar_float(value, cls_name: str) -> float:
    if getattr(value, "ndim", 0) != 0:
        raise TypeError(
            f"float() of a {cls_name} needs a scalar estimate, got `value` of shape "
            f"{value.shape}: index the result first (e.g. `result.value[i]`)"
        )
    return float(value)


class Estimate(eqx.Module):
    """An estimate with its standard error (`.value`, `.stderr`); `float()` gives the value.

    **Fields:**

    - `value`: the estimate (a scalar, or an array for a batch under `vmap`).
    - `stderr`: its asymptotic standard error, same shape.
    """

    value: Float[Array, "..."]
    stderr: Float[Array, "..."]

    def __float__(self) -> float:
        return _scalar_float(self.value, type(self).__name__)


class JarzynskiEstimate(eqx.Module):
    r"""A Jarzynski (exponential averaging) free-energy estimate with its error and bias.

    **Fields:**

    - `value`: $\hat{\Delta F}$.
    - `stderr`: the delta-method standard error of $\hat{\Delta F}$.
    - `bias`: the leading finite-sample bias $E[\hat{\Delta F}] - \Delta F \approx
      T\,\mathrm{Var}[e^{-W/T}] / (2 N \langle e^{-W/T}\rangle^2)$ (always $\geq 0$: the
      estimator overestimates $\Delta F$); subtract it for a first-order bias correction.
    """

    value: Float[Array, "..."]
    stderr: Float[Array, "..."]
    bias: Float[Array, "..."]

    def __float__(self) -> float:
        return _scalar_float(self.value, type(self).__name__)


class MBAREstimate(eqx.Module):
    """Free energies of K states from MBAR, relative to state 0, with their covariance.

    **Fields:**

    - `value`: `[K]` free energies $f_k - f_0$ (reduced units, $f = F / T$), `value[0] = 0`.
    - `stderr`: `[K]` standard errors of `value` (`stderr[0] = 0`).
    - `covariance`: `[K, K]` asymptotic covariance of `value`.
    """

    value: Float[Array, "... K"]
    stderr: Float[Array, "... K"]
    covariance: Float[Array, "... K K"]

    def __float__(self) -> float:
        return _scalar_float(self.value, type(self).__name__)


class CrooksCheck(eqx.Module):
    r"""Forward/reverse work histograms compared with the Crooks relation, bin by bin.

    **Fields:**

    - `work`: `[n_bins]` bin centres $W$.
    - `log_ratio`: `[n_bins]` $\ln[P_F(W) / P_R(-W)]$ from the histograms (NaN where a bin
      is empty in either direction).
    - `stderr`: `[n_bins]` its standard error from the counts,
      $\sqrt{1/n_F(W) + 1/n_R(-W)}$ (multinomial, to leading order).
    - `expected`: `[n_bins]` the Crooks line $(W - \Delta F) / T$.
    - `valid`: `[n_bins]` True where both histograms have counts.
    - `delta_f`: the $\Delta F$ used for `expected`.
    """

    work: Float[Array, " n_bins"]
    log_ratio: Float[Array, " n_bins"]
    stderr: Float[Array, " n_bins"]
    expected: Float[Array, " n_bins"]
    valid: Array
    delta_f: Float[Array, ""]

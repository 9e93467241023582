"""Deprecated location of the closed forms for linear (Ornstein–Uhlenbeck) systems.

The theory now lives in `jaxneq.thermo` (`jaxneq/thermo/_linear.py`); these names are the
same objects re-exported, kept so that `jn.models.linear_*` keeps working. New code should
use `jn.thermo.linear_*`. Units: k_B = 1.
"""

from __future__ import annotations

from .. import thermo

linear_coefficients = thermo.linear_coefficients
linear_entropy_production_rate = thermo.linear_entropy_production_rate
linear_heat_rates = thermo.linear_heat_rates
linear_stationary_covariance = thermo.linear_stationary_covariance
linear_stationary_samples = thermo.linear_stationary_samples

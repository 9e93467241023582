"""Deprecated location of the density, current and circulation of linear (OU) systems.

The theory now lives in `jaxneq.thermo` (`jaxneq/thermo/_linear_currents.py`); these names
are the same objects re-exported, kept so that `jn.models.linear_*` keeps working. New code
should use `jn.thermo.linear_*`. Units: k_B = 1.
"""

from __future__ import annotations

from .. import thermo

linear_current_circulation = thermo.linear_current_circulation
linear_euler_maruyama_stationary = thermo.linear_euler_maruyama_stationary
linear_stationary_current = thermo.linear_stationary_current
linear_stationary_density = thermo.linear_stationary_density

r"""jaxneq.thermo: estimators of stochastic thermodynamics on samples (units: k_B = 1).

- Free energy from work and from samples of several states: `jarzynski` (exponential
  averaging), `bar` (Bennett's acceptance ratio), `mbar` (multistate BAR), and the Crooks
  check `crooks`.
- Entropy production from data: `tur_bound` (the thermodynamic uncertainty relation for one
  current), `short_time_tur` (the short-time TUR with an optimal current from a basis), and
  `plug_in_entropy_production` (jump statistics of Markov runs).
- Theory for linear (Ornstein–Uhlenbeck) systems, the exact values the estimators are
  checked against: `linear_stationary_covariance`, `linear_entropy_production_rate`,
  `linear_heat_rates`, `linear_stationary_density`, `linear_stationary_current`,
  `linear_current_circulation`, `linear_euler_maruyama_stationary`, with
  `linear_coefficients` and `linear_stationary_samples` (moved from `jaxneq.models`, which
  keeps the same objects as deprecated aliases).
- Optimal finite-time protocols: `optimal_trap_protocol`, `optimal_trap_work` (Schmiedl and
  Seifert's minimum-work protocol for moving a harmonic trap) and
  `harmonic_trap_mean_work` (the exact mean work of a piecewise-linear trap protocol).

Every estimator returns a small pytree with `.value` and `.stderr`, runs under `jit` and
`vmap`, and is differentiable with respect to its samples.
"""

from ._free_energy import (
    bar as bar,
    crooks as crooks,
    jarzynski as jarzynski,
    mbar as mbar,
)
from ._linear import (
    linear_coefficients as linear_coefficients,
    linear_entropy_production_rate as linear_entropy_production_rate,
    linear_heat_rates as linear_heat_rates,
    linear_stationary_covariance as linear_stationary_covariance,
    linear_stationary_samples as linear_stationary_samples,
)
from ._linear_currents import (
    linear_current_circulation as linear_current_circulation,
    linear_euler_maruyama_stationary as linear_euler_maruyama_stationary,
    linear_stationary_current as linear_stationary_current,
    linear_stationary_density as linear_stationary_density,
)
from ._plug_in import plug_in_entropy_production as plug_in_entropy_production
from ._protocols_theory import (
    harmonic_trap_mean_work as harmonic_trap_mean_work,
    optimal_trap_protocol as optimal_trap_protocol,
    optimal_trap_work as optimal_trap_work,
)
from ._results import (
    CrooksCheck as CrooksCheck,
    Estimate as Estimate,
    JarzynskiEstimate as JarzynskiEstimate,
    MBAREstimate as MBAREstimate,
)
from ._tur import (
    ShortTimeTUREstimate as ShortTimeTUREstimate,
    linear_basis as linear_basis,
    short_time_tur as short_time_tur,
    tur_bound as tur_bound,
)

"""jaxneq.thermo: estimators of stochastic thermodynamics on samples (units: k_B = 1).

- Free energy from work and from samples of several states: `jarzynski` (exponential
  averaging), `bar` (Bennett's acceptance ratio), `mbar` (multistate BAR), and the Crooks
  check `crooks`.
- Entropy production from data: `tur_bound` (the thermodynamic uncertainty relation for one
  current), `short_time_tur` (the short-time TUR with an optimal current from a basis), and
  `plug_in_entropy_production` (jump statistics of Markov runs).

Every estimator returns a small pytree with `.value` and `.stderr`, runs under `jit` and
`vmap`, and is differentiable with respect to its samples.
"""

from ._free_energy import (
    bar as bar,
    crooks as crooks,
    jarzynski as jarzynski,
    mbar as mbar,
)
from ._plug_in import plug_in_entropy_production as plug_in_entropy_production
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

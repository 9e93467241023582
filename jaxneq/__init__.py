"""jaxneq: differentiable, GPU-ready nonequilibrium statistical physics in JAX.

Units: k_B = 1 throughout. jaxneq never flips `jax_enable_x64`; enable it yourself
(`jax.config.update("jax_enable_x64", True)`) where float64 is needed (stiff chains,
gradients checked by finite differences).

Sub-packages:

- `jaxneq.markov`: master equations (dense and sparse rates), stationary solvers with an
  implicit adjoint, currents, entropy production, first passage, Gillespie simulation.
- `jaxneq.langevin`: overdamped, underdamped and active Langevin systems, integrators,
  many-body interactions and `simulate` for large ensembles.
- `jaxneq.observables`: streaming accumulators used inside `simulate`.
- `jaxneq.fokker_planck`: Fokker–Planck equations of overdamped systems on grids:
  stationary densities, current fields, entropy production, first passage.
- `jaxneq.rattling`: rattling from diffusion tensors, rates and trajectories; `fit_gamma`.
- `jaxneq.thermo`: free energies (Jarzynski, BAR, MBAR, Crooks) and TUR/EP estimators.
- `jaxneq.models`: canonical systems (four-state blowtorch chain, two-temperature pair, ...).
- `jaxneq.plot`: matplotlib figures of densities, currents, estimates (the `plot` extra;
  matplotlib loads on first use).
"""

from . import (
    fokker_planck as fokker_planck,
    langevin as langevin,
    markov as markov,
    models as models,
    observables as observables,
    plot as plot,
    rattling as rattling,
    thermo as thermo,
)

__version__ = "0.1.0"

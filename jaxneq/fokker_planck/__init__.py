r"""Fokker–Planck equations on grids: densities, currents and entropy production (k_B = 1).

A finite-volume discretisation of the Fokker–Planck equation of an overdamped system
$\mathrm{d}x = \mu F\,\mathrm{d}t + \sqrt{2\mu T(x)} \circ_\alpha \mathrm{d}W$, with
Scharfetter–Gummel (exponentially fitted) fluxes between neighbouring cells, is itself a
master equation with non-negative rates: `rates(system, grid)` returns the
`jaxneq.markov.EdgeRates` a hand-built chain would, and the Markov machinery (stationary
solvers with their implicit adjoint, evolution, first passage) does the rest. So a
continuous system's density, its current field and its entropy production are
differentiable in every parameter of the system, and steady states can be designed by
gradient descent.

Units: k_B = 1. A density has shape `grid.shape` and is per unit volume
(`p.sum() * grid.volume == 1`). Second-order accurate in the grid spacing.

Scope: `jaxneq.langevin.Overdamped` systems, with a potential and/or a non-conservative
force, a scalar, per-dof or field temperature (and mobility), and any of the three
conventions (`"ito"`, the default, is the physical small-mass limit at constant friction in
a temperature field, van Kampen's and Landauer's case: see DESIGN.md, "The physics it must
get right"). Underdamped and active systems (whose Fokker–Planck equation needs velocities
or orientations as coordinates) are out of scope and raise a `TypeError`.

Where things live: `_closed_form` (`stationary_state_1d`: the exact 1D stationary state by
quadrature, the continuum reference grids and simulations converge to), `_grid` (`Grid`),
`_discretise` (the fluxes and `rates`), `_density` (`stationary_density`, `evolve_density`),
`_observables` (`face_fluxes`, `current_field`, `cross_section_current`,
`entropy_production_rate`, `mean_first_passage_time`), `_design` (`region_probability`,
`mean_circulation`, `bounded`, `unbounded`: pieces for inverse design), `_constraints`
(`scale_to_budget`: an equality constraint, such as an entropy-production budget, held
exactly during an optimisation).

References: D. L. Scharfetter and H. K. Gummel, IEEE Trans. Electron Devices 16, 64 (1969);
M. Büttiker, Z. Phys. B 68, 161 (1987); R. Landauer, J. Stat. Phys. 53, 233 (1988);
N. G. van Kampen, IBM J. Res. Dev. 32, 107 (1988).
"""

from ._closed_form import (
    StationaryState1D as StationaryState1D,
    stationary_state_1d as stationary_state_1d,
)
from ._constraints import scale_to_budget as scale_to_budget
from ._density import evolve_density as evolve_density, stationary_density as stationary_density
from ._design import (
    bounded as bounded,
    mean_circulation as mean_circulation,
    region_probability as region_probability,
    unbounded as unbounded,
)
from ._discretise import krylov_plan as krylov_plan, rates as rates
from ._grid import Grid as Grid
from ._observables import (
    cross_section_current as cross_section_current,
    current_field as current_field,
    entropy_production_rate as entropy_production_rate,
    face_fluxes as face_fluxes,
    mean_first_passage_time as mean_first_passage_time,
)

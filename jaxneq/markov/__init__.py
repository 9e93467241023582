r"""Master equations: continuous-time Markov chains (units: k_B = 1).

`rates[i, j]` is the rate of the jump i -> j (diagonal ignored); distributions are row
vectors with $\dot p = p Q$. Dense `[n, n]` arrays and `EdgeRates` edge lists are both
accepted everywhere.

Where things live: `_rates` (representations, validation), `_builders` (Arrhenius rates),
`_stationary`/`_krylov` (stationary solvers), `_currents` (currents, entropy production,
cycle affinities), `_first_passage` (mean first-passage times), `_spectrum` (relaxation
rates), `_evolution` (p(t)), `_gillespie` (stochastic simulation), `_checks` (argument
checks shared by these).
"""

from ._builders import (
    arrhenius_edge_rates as arrhenius_edge_rates,
    arrhenius_rates as arrhenius_rates,
)
from ._currents import (
    currents as currents,
    cycle_affinity as cycle_affinity,
    entropy_production_rate as entropy_production_rate,
)
from ._evolution import evolve as evolve
from ._first_passage import mean_first_passage_times as mean_first_passage_times
from ._gillespie import (
    JumpStatistics as JumpStatistics,
    JumpTrajectory as JumpTrajectory,
    gillespie as gillespie,
    gillespie_statistics as gillespie_statistics,
)
from ._krylov_plan import KrylovPlan as KrylovPlan, krylov_plan as krylov_plan
from ._rates import (
    EdgeRates as EdgeRates,
    generator as generator,
    to_dense as to_dense,
    validate_rates as validate_rates,
)
from ._spectrum import relaxation_rates as relaxation_rates
from ._stationary import stationary as stationary

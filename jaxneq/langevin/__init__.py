"""jaxneq.langevin (units: k_B = 1)."""

from ._active import (
    ActiveBrownian as ActiveBrownian,
    ActiveBrownianState as ActiveBrownianState,
    ActiveOU as ActiveOU,
    ActiveOUState as ActiveOUState,
)
from ._integrators import (
    INTEGRATORS as INTEGRATORS,
    baoab as baoab,
    euler_maruyama as euler_maruyama,
    heun as heun,
)
from ._interactions import (
    WCA as WCA,
    AbstractPairPotential as AbstractPairPotential,
    AllPairs as AllPairs,
    Box as Box,
    CellList as CellList,
    HarmonicBonds as HarmonicBonds,
    PairEnergy as PairEnergy,
    SoftRepulsion as SoftRepulsion,
)
from ._simulate import SimulationResult as SimulationResult, simulate as simulate
from ._systems import (
    AbstractSystem as AbstractSystem,
    Overdamped as Overdamped,
    Underdamped as Underdamped,
    UnderdampedState as UnderdampedState,
)

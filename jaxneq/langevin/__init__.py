"""jaxneq.langevin (units: k_B = 1)."""

from ._active import (
    ActiveBrownian as ActiveBrownian,
    ActiveBrownianState as ActiveBrownianState,
    ActiveOU as ActiveOU,
    ActiveOUState as ActiveOUState,
)
from ._adjoint import (
    AbstractAdjoint as AbstractAdjoint,
    DirectAdjoint as DirectAdjoint,
    RecursiveCheckpointAdjoint as RecursiveCheckpointAdjoint,
)
from ._integrators import (
    BAOAB as BAOAB,
    INTEGRATORS as INTEGRATORS,
    METHODS as METHODS,
    AbstractIntegrator as AbstractIntegrator,
    EulerMaruyama as EulerMaruyama,
    Heun as Heun,
    LeimkuhlerMatthews as LeimkuhlerMatthews,
    StepFunction as StepFunction,
    baoab as baoab,
    euler_maruyama as euler_maruyama,
    heun as heun,
    resolve_method as resolve_method,
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
from ._noise import standard_normal as standard_normal
from ._simulate import SimulationResult as SimulationResult, simulate as simulate
from ._systems import (
    AbstractSystem as AbstractSystem,
    Overdamped as Overdamped,
    TimeDependent as TimeDependent,
    Underdamped as Underdamped,
    UnderdampedState as UnderdampedState,
)

"""jaxneq.models (units: k_B = 1)."""

from ._blowtorch import Blowtorch as Blowtorch, blowtorch as blowtorch
from ._blowtorch_chains import (
    blowtorch_double_well_chain as blowtorch_double_well_chain,
    blowtorch_ring as blowtorch_ring,
    blowtorch_ring_energies as blowtorch_ring_energies,
    hot_spot_temperature as hot_spot_temperature,
)
from ._four_state import (
    four_state_chain as four_state_chain,
    four_state_stationary as four_state_stationary,
)
from ._grid_chains import grid_chain as grid_chain
from ._langevin_models import (
    bead_chain as bead_chain,
    buttiker_landauer_ratchet as buttiker_landauer_ratchet,
    double_well as double_well,
    dragged_trap as dragged_trap,
    ornstein_uhlenbeck as ornstein_uhlenbeck,
    two_temperature_pair as two_temperature_pair,
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
from ._phenomenology import (
    RunAndChase as RunAndChase,
    RunAndChaseResult as RunAndChaseResult,
    SawtoothPotential as SawtoothPotential,
    demixing_order_parameter as demixing_order_parameter,
    hot_cold_mixture as hot_cold_mixture,
    hot_cold_pair as hot_cold_pair,
    hot_cold_pair_chase_speed as hot_cold_pair_chase_speed,
    sawtooth_ratchet_pair as sawtooth_ratchet_pair,
)
from ._protocols import (
    ErasureProtocol as ErasureProtocol,
    PiecewiseLinearTrap as PiecewiseLinearTrap,
    StiffnessRamp as StiffnessRamp,
    bit_erasure as bit_erasure,
    stiffness_change as stiffness_change,
    szilard_engine as szilard_engine,
    trap_protocol as trap_protocol,
)
from ._random_chains import (
    driven_ring as driven_ring,
    random_driven_ring as random_driven_ring,
)
from ._random_grids import (
    FourierField as FourierField,
    LogNormalField as LogNormalField,
    UniformForce as UniformForce,
    random_grid_system as random_grid_system,
)

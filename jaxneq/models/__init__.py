"""jaxneq.models (units: k_B = 1)."""

from ._four_state import four_state_chain as four_state_chain
from ._grid_chains import grid_chain as grid_chain
from ._langevin_models import (
    bead_chain as bead_chain,
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

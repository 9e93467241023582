"""Fokker–Planck grids against closed forms: temperature fields in each convention,
second-order convergence, the Büttiker–Landauer ratchet, the two-temperature pair, Kramers
escape times and transient relaxation."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from _stats import assert_within_stderr, mean_and_stderr
from scipy import integrate

import jaxneq as jn
from jaxneq import fokker_planck as fp

try:
    blowtorch = jn.models.blowtorch
except AttributeError:  # until models/__init__.py re-exports it
    pass

ALPHA = {"ito": 0.0, "stratonovich": 0.5, "isothermal": 1.0}


# ----------------------------------------------------------------------------------------
# 1D: a double well in a temperature field


def _tilted_field_system(convention):
    return jn.langevin.Overdamped(
        lambda x: jnp.sum((x**2 - 1) ** 2),
        temperature=lambda x: 1 + 0.5 * jnp.tanh(2 * x[0]),
        convention=convention,
    )


def _field_density_by_quadrature(x, alpha, lower, upper):
    """p ∝ T^(alpha-1) exp(-∫_0^x U'/T), normalised on [lower, upper] (scipy quad)."""

    def temperature(y):
        return 1 + 0.5 * np.tanh(2 * y)

    def unnormalised(y):
        exponent = integrate.quad(lambda u: 4 * u * (u**2 - 1) / temperature(u), 0.0, y)[0]
        return temperature(y) ** (alpha - 1) * np.exp(-exponent)

    norm = integrate.quad(unnormalised, lower, upper, limit=200, epsabs=1e-13)[0]
    return np.array([unnormalised(v) for v in x]) / norm


def _field_error(convention, n):
    grid = fp.Grid(-2.0, 2.0, n)
    p = np.asarray(fp.stationary_density(_tilted_field_system(convention), grid))
    exact = _field_density_by_quadrature(np.asarray(grid.axes[0]), ALPHA[convention], -2, 2)
    return np.max(np.abs(p - exact)) / np.max(exact)


@pytest.mark.parametrize("convention", ["ito", "stratonovich", "isothermal"])
def test_density_in_a_temperature_field_matches_t_power_alpha_minus_one_formula(convention):
    # second order: max error / max p ~ C h^2 with C ~ 0.05 measured (h = 0.01); the bound
    # 0.1 h^2 = 1e-5 is far below the differences between the conventions (~10 %)
    assert _field_error(convention, 400) < 0.1 * 0.01**2


def test_density_converges_at_second_order_in_the_grid_spacing():
    errors = [_field_error("stratonovich", n) for n in (100, 200, 400)]
    ratios = errors[0] / errors[1], errors[1] / errors[2]
    assert all(3.6 < r < 4.4 for r in ratios), (errors, ratios)


def test_uniform_temperature_gives_the_boltzmann_distribution_on_the_cells_exactly():
    grid = fp.Grid(-2.5, 2.5, 101)
    system = jn.langevin.Overdamped(lambda x: jnp.sum((x**2 - 1) ** 2) * 3.0, temperature=0.7)
    p = np.asarray(fp.stationary_density(system, grid))
    x = np.asarray(grid.axes[0])
    boltzmann = np.exp(-3 * (x**2 - 1) ** 2 / 0.7)
    boltzmann /= boltzmann.sum() * float(grid.volume)
    np.testing.assert_allclose(p, boltzmann, rtol=1e-12)


# ----------------------------------------------------------------------------------------
# 1D periodic: the Büttiker–Landauer ratchet


def _ratchet(phase, amplitude=0.5, convention="ito"):
    def temperature(x):
        return 1.0 + amplitude * jnp.sin(2 * jnp.pi * x[0] + phase)

    return jn.langevin.Overdamped(
        lambda x: jnp.sum(jnp.sin(2 * jnp.pi * x) + 0.3 * jnp.sin(4 * jnp.pi * x)),
        temperature=temperature,
        convention=convention,
    )


def _ratchet_current_by_quadrature(phase, amplitude, alpha, m=40_001):
    """J = 1 / ∫_0^1 D^(alpha-1) e^psi [I_1/(1 - e^-psi_1) - I(x)] dx, psi = ∫ F/T,
    I = ∫ D^-alpha e^-psi (zero-flux-free solution of J = D^alpha ((F/T) g - g'),
    g = D^(1-alpha) p, periodic g, mobility 1)."""
    x = np.linspace(0.0, 1.0, m)
    force = -(2 * np.pi * np.cos(2 * np.pi * x) + 0.3 * 4 * np.pi * np.cos(4 * np.pi * x))
    temperature = 1.0 + amplitude * np.sin(2 * np.pi * x + phase)
    psi = integrate.cumulative_simpson(force / temperature, x=x, initial=0.0)
    inner = integrate.cumulative_simpson(temperature**-alpha * np.exp(-psi), x=x, initial=0.0)
    bracket = inner[-1] / (-np.expm1(-psi[-1])) - inner
    return 1.0 / integrate.simpson(temperature ** (alpha - 1) * np.exp(psi) * bracket, x=x)


@pytest.mark.parametrize("phase", [0.7, -0.7, 2.5])
@pytest.mark.parametrize("convention", ["ito", "isothermal"])
def test_buttiker_landauer_ratchet_current_matches_quadrature_with_its_sign(phase, convention):
    grid = fp.Grid(0.0, 1.0, 400, periodic=True)
    system = _ratchet(phase, convention=convention)
    p = fp.stationary_density(system, grid)
    current = np.asarray(fp.current_field(system, grid, p))[:, 0]
    exact = _ratchet_current_by_quadrature(phase, 0.5, ALPHA[convention])
    assert abs(exact) > 1e-3  # a real ratchet effect, not rounding
    np.testing.assert_allclose(current, current.mean(), rtol=1e-9)  # constant on a ring
    # O(h^2) with h = 1/400: 1e-3 relative is ~100 h^2 (the current is a small difference)
    np.testing.assert_allclose(current.mean(), exact, rtol=1e-3)


def test_ratchet_current_vanishes_for_uniform_temperature():
    grid = fp.Grid(0.0, 1.0, 200, periodic=True)
    system = _ratchet(0.7, amplitude=0.0)
    p = fp.stationary_density(system, grid)
    current = np.asarray(fp.current_field(system, grid, p))
    # the particle would otherwise cross a few hundred cells per unit time: |J| ~ rounding
    assert np.max(np.abs(current)) < 1e-10


def test_tilted_washboard_current_matches_the_stratonovich_formula_for_drift():
    # uniform T, U(x) = sin(2 pi x) - f x: the classic Stratonovich formula (quadrature)
    force = 0.8
    grid = fp.Grid(0.0, 1.0, 400, periodic=True)
    system = jn.langevin.Overdamped(
        lambda x: jnp.sum(0.5 * jnp.sin(2 * jnp.pi * x)), force=lambda x: jnp.full_like(x, force)
    )
    p = fp.stationary_density(system, grid)
    current = float(np.asarray(fp.current_field(system, grid, p))[:, 0].mean())
    x = np.linspace(0.0, 1.0, 40_001)
    u = 0.5 * np.sin(2 * np.pi * x) - force * x
    inner = integrate.cumulative_simpson(np.exp(u), x=x, initial=0.0)
    bracket = inner[-1] / (-np.expm1(-force)) - inner
    exact = 1.0 / integrate.simpson(np.exp(-u) * bracket, x=x)
    np.testing.assert_allclose(current, exact, rtol=1e-4)


# ----------------------------------------------------------------------------------------
# 2D: the two-temperature harmonic pair

K, LAM, T1, T2 = 1.0, 1.0, 2.0, 1.0
PAIR_GRID = fp.Grid(-6.0, 6.0, (32, 32))


def _pair():
    return jn.models.two_temperature_pair(K, LAM, T1, T2)  # event shape [2, 1]


def _pair_drift_matrix():
    return jnp.array([[K + LAM, -K], [-K, K + LAM]])


@pytest.fixture(scope="module")
def pair_density():
    return fp.stationary_density(_pair(), PAIR_GRID, event_shape=(2, 1))


def test_two_temperature_pair_density_matches_the_lyapunov_gaussian(pair_density):
    x = PAIR_GRID.centres
    exact = np.asarray(
        jn.models.linear_stationary_density(_pair_drift_matrix(), jnp.array([T1, T2]), x)
    )
    err = np.max(np.abs(np.asarray(pair_density) - exact)) / np.max(exact)
    # O(h^2) with h = 0.375: h^2 / 10 ~ 1.4e-2 bounds it with room (measured 4e-3)
    assert err < 0.1 * 0.375**2, err


def test_two_temperature_pair_current_field_matches_the_rotating_linear_current(pair_density):
    x = PAIR_GRID.centres
    current = np.asarray(fp.current_field(_pair(), PAIR_GRID, pair_density, event_shape=(2, 1)))
    exact = np.asarray(
        jn.models.linear_stationary_current(_pair_drift_matrix(), jnp.array([T1, T2]), x)
    )
    err = np.max(np.abs(current - exact)) / np.max(np.abs(exact))
    # O(h^2) with h = 0.375 (measured 5.8 %, 1.5 % at h/2): 0.6 h^2 = 8.4 %
    assert err < 0.6 * 0.375**2, err
    # the circulation has the sign of the exact one (heat flows from bath 1 to bath 2)
    curl = lambda j: np.sum(x[..., 0] * j[..., 1] - x[..., 1] * j[..., 0])  # noqa: E731
    assert np.sign(curl(current)) == np.sign(curl(exact)) != 0


@pytest.mark.slow
def test_two_temperature_pair_entropy_production_converges_to_the_formula():
    exact = K**2 * (T1 - T2) ** 2 / (2 * T1 * T2 * (K + LAM))
    values = []
    for n in (24, 48):
        grid = fp.Grid(-6.0, 6.0, (n, n))
        p = fp.stationary_density(_pair(), grid, event_shape=(2, 1), method="krylov")
        values.append(float(fp.entropy_production_rate(_pair(), grid, p, event_shape=(2, 1))))
    errors = [v / exact - 1 for v in values]
    assert 3.0 < errors[0] / errors[1] < 5.0, errors  # second order
    richardson = (4 * values[1] - values[0]) / 3
    assert abs(richardson / exact - 1) < 0.01, (values, exact)


def test_two_temperature_pair_entropy_production_is_close_on_a_coarse_grid(pair_density):
    exact = K**2 * (T1 - T2) ** 2 / (2 * T1 * T2 * (K + LAM))
    sigma = float(fp.entropy_production_rate(_pair(), PAIR_GRID, pair_density, event_shape=(2, 1)))
    # O(h^2), measured -8.6 % at h = 0.375 (-2.3 % at h/2): within 12 %, and below
    assert -0.12 < sigma / exact - 1 < 0.0


def test_equal_temperatures_give_zero_current_and_entropy_production():
    system = jn.models.two_temperature_pair(K, LAM, 1.5, 1.5)
    p = fp.stationary_density(system, PAIR_GRID, event_shape=(2, 1))
    current = fp.current_field(system, PAIR_GRID, p, event_shape=(2, 1))
    assert float(jnp.max(jnp.abs(current))) < 1e-12
    assert float(fp.entropy_production_rate(system, PAIR_GRID, p, event_shape=(2, 1))) < 1e-20


# ----------------------------------------------------------------------------------------
# Kramers escape and transients


def _mfpt_by_quadrature(barrier, wall, start, end):
    """tau = ∫_start^end dy e^U(y) ∫_wall^y e^-U(z) dz (T = mu = 1, reflecting wall)."""

    def potential(y):
        return barrier * (y**2 - 1) ** 2

    def outer(y):
        return np.exp(potential(y)) * integrate.quad(lambda z: np.exp(-potential(z)), wall, y)[0]

    return integrate.quad(outer, start, end, limit=200, epsrel=1e-12)[0]


@pytest.mark.parametrize("barrier", [2.0, 4.0, 6.0])
def test_escape_time_from_a_double_well_matches_the_kramers_quadrature(barrier):
    # cell centres at -1 and +1 exactly: h = 0.02, lower wall at -2.99
    grid = fp.Grid(-2.99, 3.01, 300)
    system = jn.langevin.Overdamped(lambda x: barrier * jnp.sum((x**2 - 1) ** 2))
    tau = fp.mean_first_passage_time(system, grid, lambda x: x[0] > 1.0 - 1e-9)
    x = np.asarray(grid.axes[0])
    start = int(np.argmin(np.abs(x + 1.0)))
    exact = _mfpt_by_quadrature(barrier, -2.99, -1.0, 1.0)
    # O(h^2) = 4e-4 with h = 0.02, times the curvature scale of the well (~barrier)
    np.testing.assert_allclose(float(tau[start]), exact, rtol=2e-3 * barrier / 2)
    # Kramers' asymptotic rate, sqrt(U''(-1) |U''(0)|) e^-barrier / (2 pi), is the leading
    # term for barrier >> T (corrections of relative order T / barrier)
    kramers = 2 * np.pi / np.sqrt(8 * barrier * 4 * barrier) * np.exp(barrier)
    assert abs(exact / kramers - 1) < 1.0 / barrier


def test_evolve_density_relaxes_an_ornstein_uhlenbeck_gaussian():
    # dx = -x dt + sqrt(2 T) dW: mean m0 e^-t, variance T + (s0 - T) e^-2t
    temperature, m0, s0 = 0.5, 1.0, 0.05
    grid = fp.Grid(-4.0, 4.0, 160)
    system = jn.langevin.Overdamped(lambda x: 0.5 * jnp.sum(x**2), temperature=temperature)
    x = grid.axes[0]
    p0 = jnp.exp(-((x - m0) ** 2) / (2 * s0))
    p0 = p0 / (p0.sum() * grid.volume)
    t = jnp.array([0.2, 1.0])
    p = fp.evolve_density(system, grid, p0, t)
    assert p.shape == (2, 160)
    w = np.asarray(p) * float(grid.volume)
    mean = w @ np.asarray(x)
    var = w @ np.asarray(x) ** 2 - mean**2
    # the discrete initial moments differ from (m0, s0) by O(h^2): h^2/12 = 2e-4
    np.testing.assert_allclose(mean, m0 * np.exp(-np.asarray(t)), atol=2e-3)
    exact_var = temperature + (s0 - temperature) * np.exp(-2 * np.asarray(t))
    np.testing.assert_allclose(var, exact_var, atol=2e-3)
    np.testing.assert_allclose(np.asarray(p).sum(axis=1) * float(grid.volume), 1.0, rtol=1e-12)


@pytest.mark.slow
def test_grid_and_langevin_simulation_agree_on_a_double_well_with_a_hot_spot():
    # no closed form: the grid's well share against an Euler–Maruyama ensemble (Ito)

    blowtorch = jn.models.blowtorch
    system = jn.langevin.Overdamped(
        lambda x: jnp.sum((x**2 - 1) ** 2),
        temperature=blowtorch(centre=-0.6, width=0.3, height=2.0),
    )
    grid = fp.Grid(-3.0, 3.0, 600)
    p = fp.stationary_density(system, grid)
    left = float(jnp.sum(jnp.where(grid.centres[..., 0] < 0, p, 0.0)) * grid.volume)
    assert left < 0.35  # the hot spot empties the left well
    share = jn.observables.Mean(lambda x: (x[..., 0] < 0).astype(x.dtype), burn_in=2000)
    result = jn.langevin.simulate(
        system,
        jnp.zeros((2000, 1)),
        key=jr.key(0),
        dt=2e-3,
        n_steps=20_000,
        observables={"left": share},
    )
    mean, stderr = mean_and_stderr(result.observables["left"])
    # members are independent, so the standard error over members is honest; the allowance
    # 1e-3 covers the O(dt) weak error of Euler–Maruyama (dt = 2e-3 times O(1) rates) and the
    # grid's O(h^2) error (h = 0.01, ~1e-5 in 1D)
    assert_within_stderr(mean, stderr, left, bias=1e-3)

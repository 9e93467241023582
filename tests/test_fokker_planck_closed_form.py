"""jn.fokker_planck.stationary_state_1d: the exact 1D stationary density and ring current against
scipy quadrature of the textbook formulas (Reimann, Phys. Rep. 361, 57 (2002), eq. (2.37);
p ∝ T^(alpha-1) exp(-∫U'/T)), the Fokker–Planck grid's O(h^2) convergence to it, and the
symmetries of the Büttiker–Landauer ratchet."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate

import jaxneq as jn

ALPHA = {"ito": 0.0, "stratonovich": 0.5, "isothermal": 1.0}
QUAD = dict(epsabs=1e-12, epsrel=1e-12, limit=200)


def _ratchet_current_by_quadrature(barrier, T0, a, phase, alpha, L=1.0, tilt=0.0):
    """J = (1 - e^Phi) / int_0^L dx e^-psi(x) int_x^{x+L} dy e^psi(y) / T(y), psi = int -F/T
    + (1 - alpha) ln T (mobility 1), Phi = psi(x + L) - psi(x): scipy quad, nested."""
    k = 2 * np.pi / L

    def f(y):  # F / T
        return (-0.5 * barrier * k * np.sin(k * y) + tilt) / (T0 * (1 + a * np.cos(k * y - phase)))

    def temperature(y):
        return T0 * (1 + a * np.cos(k * y - phase))

    def psi(x):
        return -scipy.integrate.quad(f, 0, x, **QUAD)[0] + (1 - alpha) * np.log(temperature(x))

    phi = psi(L) - psi(0.0)

    def inner(x):
        px = psi(x)
        return scipy.integrate.quad(lambda y: np.exp(psi(y) - px) / temperature(y), x, x + L)[0]

    z = scipy.integrate.quad(inner, 0, L, epsrel=1e-10)[0]
    return (1 - np.exp(phi)) / z


@pytest.mark.parametrize("convention", ["stratonovich"])  # (1 - alpha) ln T: 0 < alpha < 1
def test_ratchet_current_matches_scipy_quadrature_of_the_closed_form(convention):
    system = jn.models.buttiker_landauer_ratchet(
        barrier=2.0, modulation=0.5, phase=1.0, convention=convention
    )
    exact = jn.fokker_planck.stationary_state_1d(system, 0.0, 1.0, 64, periodic=True)
    reference = _ratchet_current_by_quadrature(2.0, 1.0, 0.5, 1.0, ALPHA[convention])
    np.testing.assert_allclose(float(exact.current), reference, rtol=1e-8)
    np.testing.assert_allclose(float(exact.velocity), reference, rtol=1e-8)  # L = 1
    assert float(jnp.mean(exact.density)) == pytest.approx(1.0, rel=1e-12)  # periodic rule


def test_ratchet_current_vanishes_at_uniform_temperature_and_in_phase_and_flips_sign():
    def current(modulation, phase):
        system = jn.models.buttiker_landauer_ratchet(
            barrier=2.0, modulation=modulation, phase=phase
        )
        return float(jn.fokker_planck.stationary_state_1d(system, 0.0, 1.0, periodic=True).current)

    forward = current(0.5, np.pi / 2)
    assert forward > 0.1  # hot uphill slopes towards +x push the particle to +x
    assert current(0.5, -np.pi / 2) == pytest.approx(-forward, rel=1e-12)
    assert abs(current(0.0, np.pi / 2)) < 1e-13  # uniform temperature: equilibrium
    assert abs(current(0.5, 0.0)) < 1e-13  # T a function of U: no current


def test_fokker_planck_grid_current_converges_to_it_at_second_order():
    system = jn.models.buttiker_landauer_ratchet(barrier=2.0, modulation=0.5)
    exact = float(jn.fokker_planck.stationary_state_1d(system, 0.0, 1.0, periodic=True).current)
    errors = []
    for n in (50, 100):
        grid = jn.fokker_planck.Grid(0.0, 1.0, n, periodic=True)
        p = jn.fokker_planck.stationary_density(system, grid)
        errors.append(abs(float(jnp.mean(jn.fokker_planck.current_field(system, grid, p))) - exact))
    assert errors[0] / errors[1] == pytest.approx(4, rel=0.1)


def _blowtorch_double_well(convention):
    hot = jn.models.blowtorch(centre=0.5, width=0.3, height=2.0)
    return jn.models.double_well(1.0, temperature=hot, convention=convention), hot


@pytest.mark.parametrize("convention", list(ALPHA))
def test_interval_density_is_T_to_the_alpha_minus_one_times_exp_minus_int_U_prime_over_T(
    convention,
):
    system, _ = _blowtorch_double_well(convention)
    alpha = ALPHA[convention]
    exact = jn.fokker_planck.stationary_state_1d(system, -2.0, 2.0, 128)
    assert float(exact.current) == 0.0

    def temperature(y):  # the hot spot of `_blowtorch_double_well`, in numpy
        return 1.0 + 2.0 * np.exp(-((y - 0.5) ** 2) / (2 * 0.3**2))

    def weight(x):
        exponent = scipy.integrate.quad(
            lambda y: 4 * y * (y**2 - 1) / temperature(y), 0, x, **QUAD
        )[0]
        return temperature(x) ** (alpha - 1) * np.exp(-exponent)

    z = scipy.integrate.quad(weight, -2.0, 2.0, points=[-1, 0, 0.5, 1], **QUAD)[0]
    xs = np.asarray(exact.x)[::16]
    np.testing.assert_allclose(
        np.asarray(exact.density)[::16], [weight(x) / z for x in xs], rtol=1e-9
    )


def test_interval_density_is_the_limit_of_the_fokker_planck_grid():
    system, _ = _blowtorch_double_well("stratonovich")
    errors = []
    for n in (100, 200):
        grid = jn.fokker_planck.Grid(-2.0, 2.0, n)
        p = jn.fokker_planck.stationary_density(system, grid)
        exact = jn.fokker_planck.stationary_state_1d(system, -2.0, 2.0, n)
        # the grid's cells against the exact density averaged over the same cells (the
        # mean of the edge values: O(h^2) like the grid itself)
        cell = 0.5 * (np.asarray(exact.density)[1:] + np.asarray(exact.density)[:-1])
        errors.append(np.abs(np.asarray(p) - cell).max())
    assert errors[0] / errors[1] == pytest.approx(4, rel=0.15)


def test_jit_vmap_grad_and_float32():
    def current(modulation, bounds=(0.0, 1.0)):
        system = jn.models.buttiker_landauer_ratchet(barrier=2.0, modulation=modulation)
        return jn.fokker_planck.stationary_state_1d(system, *bounds, 64, periodic=True).current

    a = jnp.array([0.0, 0.25, 0.5])
    batched = jax.jit(jax.vmap(current))(a)
    np.testing.assert_allclose(batched[2], current(0.5), rtol=1e-12)
    h = 1e-5
    slope = (current(0.25 + h) - current(0.25 - h)) / (2 * h)
    np.testing.assert_allclose(jax.grad(current)(0.25), slope, rtol=1e-6)
    f32 = current(jnp.float32(0.5), (jnp.float32(0.0), jnp.float32(1.0)))
    assert f32.dtype == jnp.float32
    np.testing.assert_allclose(f32, current(0.5), rtol=1e-4)


def test_bad_arguments_are_named():
    system = jn.models.buttiker_landauer_ratchet()
    with pytest.raises(ValueError, match="`upper` must be > `lower`"):
        jn.fokker_planck.stationary_state_1d(system, 1.0, 0.0)
    with pytest.raises(ValueError, match="`n` must be"):
        jn.fokker_planck.stationary_state_1d(system, 0.0, 1.0, 1)
    with pytest.raises(TypeError, match="`system` must be"):
        jn.fokker_planck.stationary_state_1d(object(), 0.0, 1.0)
    with pytest.raises(ValueError, match="`modulation` must be in"):
        jn.models.buttiker_landauer_ratchet(modulation=1.0)


def test_interval_cumulative_probability_gives_the_left_well_share_by_quadrature():
    system, _ = _blowtorch_double_well("ito")
    exact = jn.fokker_planck.stationary_state_1d(system, -2.0, 2.0, 128)
    assert float(exact.cumulative[-1]) == pytest.approx(1.0, rel=1e-13)

    def weight(x):  # Ito: p ~ exp(-int U'/T) / T, hot spot of `_blowtorch_double_well`
        temperature = lambda y: 1.0 + 2.0 * np.exp(-((y - 0.5) ** 2) / (2 * 0.3**2))  # noqa: E731
        exponent = scipy.integrate.quad(
            lambda y: 4 * y * (y**2 - 1) / temperature(y), 0, x, **QUAD
        )[0]
        return np.exp(-exponent) / temperature(x)

    left = scipy.integrate.quad(weight, -2.0, 0.0, points=[-1], **QUAD)[0]
    right = scipy.integrate.quad(weight, 0.0, 2.0, points=[0.5, 1], **QUAD)[0]
    np.testing.assert_allclose(float(exact.cumulative[64]), left / (left + right), rtol=1e-9)

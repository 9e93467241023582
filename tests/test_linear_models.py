"""Exact linear (Ornstein–Uhlenbeck) results: Lyapunov covariance, entropy production, heat."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import jaxneq as jn  # noqa: F401  (the package imports)
from jaxneq.models import (
    linear_entropy_production_rate,
    linear_heat_rates,
    linear_stationary_covariance,
)


def _random_stable(n, seed):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(n, n))
    S = rng.normal(size=(n, n))
    A = M @ M.T / n + 0.5 * np.eye(n) + 0.7 * (S - S.T)  # positive-definite symmetric part
    B = rng.normal(size=(n, n))
    D = B @ B.T / n + 0.3 * np.eye(n)
    return A, D


def _pair_matrices(k, lam, T1, T2):
    A = np.array([[k + lam, -k], [-k, k + lam]])
    return A, np.array([T1, T2])


@pytest.mark.parametrize("n", [1, 2, 5, 12])
def test_stationary_covariance_matches_scipy_lyapunov_solver(n):
    A, D = _random_stable(n, seed=n)
    C = linear_stationary_covariance(jnp.asarray(A), jnp.asarray(D))
    C_ref = scipy.linalg.solve_continuous_lyapunov(A, 2 * D)
    np.testing.assert_allclose(np.asarray(C), C_ref, rtol=1e-9, atol=1e-12)


def test_stationary_covariance_accepts_diagonal_diffusion_vector():
    A, T = _pair_matrices(1.3, 0.7, 2.0, 0.5)
    C_vec = linear_stationary_covariance(A, T)
    C_mat = linear_stationary_covariance(A, np.diag(T))
    np.testing.assert_allclose(np.asarray(C_vec), np.asarray(C_mat), rtol=1e-12)


def test_two_temperature_entropy_production_matches_closed_form():
    for k, lam, T1, T2 in [(1.0, 1.0, 2.0, 1.0), (2.5, 0.3, 0.7, 4.0), (0.4, 3.0, 1.0, 1.5)]:
        A, T = _pair_matrices(k, lam, T1, T2)
        sigma = linear_entropy_production_rate(A, T)
        exact = k**2 * (T1 - T2) ** 2 / (2 * T1 * T2 * (k + lam))
        np.testing.assert_allclose(float(sigma), exact, rtol=1e-10)


def test_two_temperature_heat_flow_matches_closed_form_and_first_law():
    k, lam, T1, T2 = 1.5, 0.5, 3.0, 1.0
    A, T = _pair_matrices(k, lam, T1, T2)
    q = np.asarray(linear_heat_rates(A, T))
    current = k**2 * (T1 - T2) / (2 * (k + lam))
    np.testing.assert_allclose(q, [-current, current], rtol=1e-10)
    np.testing.assert_allclose(
        q[0] / T1 + q[1] / T2, float(linear_entropy_production_rate(A, T)), rtol=1e-10
    )


def test_entropy_production_rate_equals_total_rate_of_local_mean_velocity():
    # sigma = <v^T D^-1 v> with v = (-A + D C^-1) x, computed here with numpy/scipy only.
    A, D = _random_stable(6, seed=3)
    C = scipy.linalg.solve_continuous_lyapunov(A, 2 * D)
    G = -A + D @ np.linalg.inv(C)
    total = np.trace(G.T @ np.linalg.inv(D) @ G @ C)
    sigma = linear_entropy_production_rate(A, D)
    np.testing.assert_allclose(float(sigma), total, rtol=1e-8)


def test_entropy_production_vanishes_under_detailed_balance():
    # Equal temperatures: D^-1 A symmetric, equilibrium.
    A, T = _pair_matrices(1.0, 0.5, 1.7, 1.7)
    assert abs(float(linear_entropy_production_rate(A, T))) < 1e-12
    # A gradient system with a non-diagonal mobility: A = M K, D = M T.
    rng = np.random.default_rng(0)
    B = rng.normal(size=(4, 4))
    K = B @ B.T + np.eye(4)
    M = np.diag([0.5, 1.0, 2.0, 3.0])
    sigma = linear_entropy_production_rate(M @ K, 1.3 * M)
    assert abs(float(sigma)) < 1e-10


def test_bead_chain_entropy_production_is_positive_with_a_temperature_gradient():
    N = 5
    A = np.diag(np.full(N, 2.0 + 0.5)) - np.diag(np.ones(N - 1), 1) - np.diag(np.ones(N - 1), -1)
    A[0, 0] = A[-1, -1] = 1.5
    T = np.linspace(1.0, 3.0, N)
    q = np.asarray(linear_heat_rates(A, T))
    assert float(linear_entropy_production_rate(A, T)) > 0
    np.testing.assert_allclose(q.sum(), 0.0, atol=1e-12)  # first law in the steady state


def test_entropy_production_gradient_matches_closed_form_derivative():
    k, lam, T2 = 1.2, 0.8, 1.0

    def sigma(T1):
        A = jnp.array([[k + lam, -k], [-k, k + lam]])
        return linear_entropy_production_rate(A, jnp.stack([T1, jnp.asarray(T2)]))

    T1 = 2.5
    # d/dT1 of k^2 (T1 - T2)^2 / (2 T1 T2 (k + lam)) = k^2 (T1^2 - T2^2) / (2 T1^2 T2 (k + lam))
    exact = k**2 * (T1**2 - T2**2) / (2 * T1**2 * T2 * (k + lam))
    np.testing.assert_allclose(float(jax.grad(sigma)(jnp.asarray(T1))), exact, rtol=1e-8)


def test_linear_helpers_work_under_jit_and_vmap_over_temperatures():
    A = jnp.array([[2.0, -1.0], [-1.0, 2.0]])
    T1 = jnp.linspace(0.5, 3.0, 7)
    Ts = jnp.stack([T1, jnp.ones_like(T1)], axis=1)
    sig = jax.jit(jax.vmap(lambda T: linear_entropy_production_rate(A, T)))(Ts)
    exact = (T1 - 1.0) ** 2 / (4 * T1)
    np.testing.assert_allclose(np.asarray(sig), np.asarray(exact), rtol=1e-10, atol=1e-14)


def test_linear_helpers_float32_smoke():
    A = jnp.array([[2.0, -1.0], [-1.0, 2.0]], dtype=jnp.float32)
    T = jnp.array([2.0, 1.0], dtype=jnp.float32)
    C = linear_stationary_covariance(A, T)
    s = linear_entropy_production_rate(A, T)
    q = linear_heat_rates(A, T)
    assert C.dtype == s.dtype == q.dtype == jnp.float32
    np.testing.assert_allclose(float(s), 0.125, rtol=1e-5)


def test_unstable_drift_matrix_raises():
    A = jnp.array([[1.0, 0.0], [0.0, -0.5]])
    with pytest.raises(eqx.EquinoxRuntimeError, match="positive real part"):
        eqx.filter_jit(linear_stationary_covariance)(A, jnp.ones(2))
    with pytest.raises(eqx.EquinoxRuntimeError, match="positive real part"):
        linear_entropy_production_rate(A, jnp.ones(2))


def test_bad_shapes_raise_value_error_naming_the_argument():
    with pytest.raises(ValueError, match="`A`"):
        linear_stationary_covariance(jnp.ones((2, 3)), jnp.ones(2))
    with pytest.raises(ValueError, match="`D`"):
        linear_stationary_covariance(jnp.eye(2), jnp.ones(3))
    with pytest.raises(ValueError, match="`D`"):
        linear_heat_rates(jnp.eye(2), jnp.eye(2))

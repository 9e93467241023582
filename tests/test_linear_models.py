"""Exact linear (Ornstein–Uhlenbeck) results: Lyapunov covariance, entropy production, heat.

Deterministic tolerances are the forward-error bound of the dense solves behind them (see
`_solve_rtol`); statistical ones come from the sample size via `tests/_stats.py`.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from _stats import (
    assert_within_stderr,
    central_difference,
    central_difference_step,
    unit_roundoff,
)

import jaxneq as jn
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


def _solve_rtol(A, dtype=np.float64):
    """Relative forward error allowed between two backward-stable solutions of the
    Lyapunov equation A C + C A^T = 2 D: the n^2 x n^2 Kronecker system I (x) A + A (x) I
    solved densely has backward error ~ m u (m = n^2) and so forward error <= m u cond; x2
    because jaxneq and the reference each carry one such error."""
    A = np.asarray(A, np.float64)
    n = A.shape[0]
    op = np.kron(np.eye(n), A) + np.kron(A, np.eye(n))
    return 2 * n * n * unit_roundoff(dtype) * np.linalg.cond(op)


def _sigma_atol(A, D, dtype=np.float64):
    """sigma = tr(A^T D^-1 A C) - tr(A) cancels to 0 at equilibrium: its absolute error is
    _solve_rtol times the size of the two traces."""
    A, D = np.asarray(A, np.float64), np.asarray(D, np.float64)
    D = np.diag(D) if D.ndim == 1 else D
    C = scipy.linalg.solve_continuous_lyapunov(A, 2 * D)
    scale = abs(np.trace(A.T @ np.linalg.solve(D, A @ C))) + abs(np.trace(A))
    return _solve_rtol(A, dtype) * scale


# A coefficient taken by autodiff of a polynomial drift, and its reference written out here,
# are each a handful (<= 8) of roundings away from the inputs.
COEFFICIENT_RTOL = 16 * unit_roundoff(np.float64)


def _pair_matrices(k, lam, T1, T2):
    A = np.array([[k + lam, -k], [-k, k + lam]])
    return A, np.array([T1, T2])


@pytest.mark.parametrize("n", [1, 2, 5, 12])
def test_stationary_covariance_matches_scipy_lyapunov_solver(n):
    A, D = _random_stable(n, seed=n)
    C = linear_stationary_covariance(jnp.asarray(A), jnp.asarray(D))
    C_ref = scipy.linalg.solve_continuous_lyapunov(A, 2 * D)
    np.testing.assert_allclose(
        np.asarray(C), C_ref, rtol=0, atol=_solve_rtol(A) * np.abs(C_ref).max()
    )


def test_stationary_covariance_accepts_diagonal_diffusion_vector():
    A, T = _pair_matrices(1.3, 0.7, 2.0, 0.5)
    C_vec = linear_stationary_covariance(A, T)
    C_mat = linear_stationary_covariance(A, np.diag(T))
    np.testing.assert_allclose(np.asarray(C_vec), np.asarray(C_mat), rtol=_solve_rtol(A))


def test_two_temperature_entropy_production_matches_closed_form():
    for k, lam, T1, T2 in [(1.0, 1.0, 2.0, 1.0), (2.5, 0.3, 0.7, 4.0), (0.4, 3.0, 1.0, 1.5)]:
        A, T = _pair_matrices(k, lam, T1, T2)
        sigma = linear_entropy_production_rate(A, T)
        exact = k**2 * (T1 - T2) ** 2 / (2 * T1 * T2 * (k + lam))
        np.testing.assert_allclose(float(sigma), exact, rtol=0, atol=_sigma_atol(A, T))


def test_two_temperature_heat_flow_matches_closed_form_and_first_law():
    k, lam, T1, T2 = 1.5, 0.5, 3.0, 1.0
    A, T = _pair_matrices(k, lam, T1, T2)
    q = np.asarray(linear_heat_rates(A, T))
    current = k**2 * (T1 - T2) / (2 * (k + lam))
    np.testing.assert_allclose(q, [-current, current], rtol=_solve_rtol(A))
    np.testing.assert_allclose(
        q[0] / T1 + q[1] / T2, float(linear_entropy_production_rate(A, T)), atol=_sigma_atol(A, T)
    )


def test_entropy_production_rate_equals_total_rate_of_local_mean_velocity():
    # sigma = <v^T D^-1 v> with v = (-A + D C^-1) x, computed here with numpy/scipy only.
    A, D = _random_stable(6, seed=3)
    C = scipy.linalg.solve_continuous_lyapunov(A, 2 * D)
    G = -A + D @ np.linalg.inv(C)
    total = np.trace(G.T @ np.linalg.inv(D) @ G @ C)
    sigma = linear_entropy_production_rate(A, D)
    np.testing.assert_allclose(float(sigma), total, rtol=0, atol=_sigma_atol(A, D))


def test_entropy_production_vanishes_under_detailed_balance():
    # Equal temperatures: D^-1 A symmetric, equilibrium.
    A, T = _pair_matrices(1.0, 0.5, 1.7, 1.7)
    assert abs(float(linear_entropy_production_rate(A, T))) <= _sigma_atol(A, T)
    # A gradient system with a non-diagonal mobility: A = M K, D = M T.
    rng = np.random.default_rng(0)
    B = rng.normal(size=(4, 4))
    K = B @ B.T + np.eye(4)
    M = np.diag([0.5, 1.0, 2.0, 3.0])
    sigma = linear_entropy_production_rate(M @ K, 1.3 * M)
    assert abs(float(sigma)) <= _sigma_atol(M @ K, 1.3 * M)


def test_bead_chain_entropy_production_is_positive_with_a_temperature_gradient():
    N = 5
    A = np.diag(np.full(N, 2.0 + 0.5)) - np.diag(np.ones(N - 1), 1) - np.diag(np.ones(N - 1), -1)
    A[0, 0] = A[-1, -1] = 1.5
    T = np.linspace(1.0, 3.0, N)
    q = np.asarray(linear_heat_rates(A, T))
    assert float(linear_entropy_production_rate(A, T)) > _sigma_atol(A, T)
    # first law in the steady state: the heat flows cancel, to the error of each flow
    np.testing.assert_allclose(q.sum(), 0.0, atol=_solve_rtol(A) * np.abs(q).sum())


def test_entropy_production_gradient_matches_closed_form_derivative():
    k, lam, T2 = 1.2, 0.8, 1.0

    def sigma(T1):
        A = jnp.array([[k + lam, -k], [-k, k + lam]])
        return linear_entropy_production_rate(A, jnp.stack([T1, jnp.asarray(T2)]))

    T1 = 2.5
    # d/dT1 of k^2 (T1 - T2)^2 / (2 T1 T2 (k + lam)) = k^2 (T1^2 - T2^2) / (2 T1^2 T2 (k + lam))
    exact = k**2 * (T1**2 - T2**2) / (2 * T1**2 * T2 * (k + lam))
    A = np.array([[k + lam, -k], [-k, k + lam]])
    np.testing.assert_allclose(
        float(jax.grad(sigma)(jnp.asarray(T1))), exact, rtol=0, atol=_sigma_atol(A, [T1, T2])
    )


def test_linear_helpers_work_under_jit_and_vmap_over_temperatures():
    A = jnp.array([[2.0, -1.0], [-1.0, 2.0]])
    T1 = jnp.linspace(0.5, 3.0, 7)
    Ts = jnp.stack([T1, jnp.ones_like(T1)], axis=1)
    sig = jax.jit(jax.vmap(lambda T: linear_entropy_production_rate(A, T)))(Ts)
    exact = (T1 - 1.0) ** 2 / (4 * T1)
    atol = max(_sigma_atol(A, T) for T in np.asarray(Ts))
    np.testing.assert_allclose(np.asarray(sig), np.asarray(exact), rtol=0, atol=atol)


def test_linear_helpers_float32_smoke():
    A = jnp.array([[2.0, -1.0], [-1.0, 2.0]], dtype=jnp.float32)
    T = jnp.array([2.0, 1.0], dtype=jnp.float32)
    C = linear_stationary_covariance(A, T)
    s = linear_entropy_production_rate(A, T)
    q = linear_heat_rates(A, T)
    assert C.dtype == s.dtype == q.dtype == jnp.float32
    np.testing.assert_allclose(float(s), 0.125, rtol=0, atol=_sigma_atol(A, T, np.float32))


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


# --------------------------------------------------------------------------------------
# the model factories and their linear coefficients


def test_two_temperature_pair_coefficients_are_the_spring_and_trap_matrices():
    k, lam, T1, T2, mobility = 1.3, 0.4, 2.5, 0.5, 0.7
    system = jn.models.two_temperature_pair(k, lam, T1, T2, dim=2, mobility=mobility)
    A, D = jn.models.linear_coefficients(system, jnp.zeros((2, 2)))
    # flattened order (r1x, r1y, r2x, r2y): each spatial component couples to its partner
    A_ref = mobility * np.kron(np.array([[k + lam, -k], [-k, k + lam]]), np.eye(2))
    np.testing.assert_allclose(np.asarray(A), A_ref, rtol=COEFFICIENT_RTOL)
    D_ref = mobility * np.array([T1, T1, T2, T2])
    np.testing.assert_allclose(np.asarray(D), D_ref, rtol=COEFFICIENT_RTOL)
    # sigma is additive over the spatial dimensions and independent of the mobility scale
    exact = 2 * k**2 * (T1 - T2) ** 2 / (2 * T1 * T2 * (k + lam)) * mobility
    np.testing.assert_allclose(
        float(linear_entropy_production_rate(A, D)), exact, rtol=0, atol=_sigma_atol(A_ref, D_ref)
    )


def test_bead_chain_coefficients_are_a_tridiagonal_rouse_matrix():
    T = np.array([0.5, 1.0, 2.0, 4.0])
    A, D = jn.models.linear_coefficients(jn.models.bead_chain(T, k=2.0, lam=0.3), jnp.zeros((4, 1)))
    A_ref = 2.0 * (2 * np.eye(4) - np.eye(4, k=1) - np.eye(4, k=-1)) + 0.3 * np.eye(4)
    A_ref[0, 0] -= 2.0
    A_ref[-1, -1] -= 2.0
    np.testing.assert_allclose(np.asarray(A), A_ref, rtol=COEFFICIENT_RTOL)
    np.testing.assert_allclose(np.asarray(D), T, rtol=COEFFICIENT_RTOL)
    # a chain of two beads is the two-temperature pair
    pair = jn.models.two_temperature_pair(1.0, 0.5, 3.0, 1.0)
    chain = jn.models.bead_chain(np.array([3.0, 1.0]), k=1.0, lam=0.5)
    x = jr.normal(jr.key(0), (2, 1))
    np.testing.assert_allclose(
        np.asarray(pair.drift(x, 0.0)), np.asarray(chain.drift(x, 0.0)), rtol=COEFFICIENT_RTOL
    )


def test_ornstein_uhlenbeck_coefficients_and_equilibrium_covariance():
    system = jn.models.ornstein_uhlenbeck(stiffness=jnp.array([1.0, 4.0]), temperature=0.5)
    A, D = jn.models.linear_coefficients(system, jnp.zeros(2))
    np.testing.assert_allclose(np.asarray(A), np.diag([1.0, 4.0]), rtol=COEFFICIENT_RTOL)
    C = linear_stationary_covariance(A, D)
    C_ref = np.diag([0.5, 0.125])  # T / k
    np.testing.assert_allclose(np.asarray(C), C_ref, rtol=0, atol=_solve_rtol(A) * 0.5)
    assert abs(float(linear_entropy_production_rate(A, D))) <= _sigma_atol(A, D)


def test_stationary_samples_have_the_lyapunov_mean_and_covariance():
    system = jn.models.two_temperature_pair(1.0, 0.5, 3.0, 1.0)
    n = 20_000
    x = jn.models.linear_stationary_samples(system, jnp.zeros((2, 1)), key=jr.key(1), n=n)
    assert x.shape == (n, 2, 1)
    flat = np.asarray(x).reshape(n, 2)
    A, D = jn.models.linear_coefficients(system, jnp.zeros((2, 1)))
    C = np.asarray(linear_stationary_covariance(A, D))
    # standard errors for Gaussian data: of a sample mean sqrt(C_ii / n), of a covariance
    # entry sqrt((C_ii C_jj + C_ij^2) / n)
    assert_within_stderr(flat.mean(0), np.sqrt(np.diag(C) / n), 0.0)
    se_cov = np.sqrt((np.outer(np.diag(C), np.diag(C)) + C**2) / n)
    assert_within_stderr(np.cov(flat.T), se_cov, C)


def test_stationary_samples_follow_a_constant_force_offset():
    # a0 - A x with a constant force: the mean is A^-1 a0
    system = jn.langevin.Overdamped(
        lambda x: jnp.sum(x**2), force=lambda x: jnp.array([1.0, -2.0]), temperature=0.3
    )
    n = 4000
    x = jn.models.linear_stationary_samples(system, jnp.zeros(2), key=jr.key(2), n=n)
    # U = |x|^2: stiffness 2, variance T / 2 = 0.15 per coordinate
    assert_within_stderr(np.asarray(x).mean(0), np.sqrt(0.15 / n), [0.5, -1.0])


def test_sigma_from_a_system_under_jit_vmap_and_grad_over_temperature():
    def sigma(T1):
        system = jn.models.two_temperature_pair(1.0, 1.0, T1, 1.0)
        return linear_entropy_production_rate(
            *jn.models.linear_coefficients(system, jnp.zeros((2, 1)))
        )

    T1 = jnp.array([0.5, 1.0, 2.0, 4.0])
    A = np.array([[2.0, -1.0], [-1.0, 2.0]])
    atol = max(_sigma_atol(A, [t, 1.0]) for t in np.asarray(T1))
    np.testing.assert_allclose(
        np.asarray(jax.jit(jax.vmap(sigma))(T1)),
        np.asarray((T1 - 1) ** 2 / (4 * T1)),
        rtol=0,
        atol=atol,
    )
    # d sigma / d T1 = (T1^2 - 1) / (4 T1^2)
    np.testing.assert_allclose(float(jax.grad(sigma)(2.0)), 3 / 16, rtol=0, atol=atol)


def test_models_float32_smoke():
    f32 = jnp.float32
    pair = jn.models.two_temperature_pair(f32(1.0), f32(1.0), f32(2.0), f32(1.0))
    A, D = jn.models.linear_coefficients(pair, jnp.zeros((2, 1), f32))
    assert A.dtype == D.dtype == f32
    atol = _sigma_atol(np.asarray(A), np.asarray(D), np.float32)
    np.testing.assert_allclose(float(linear_entropy_production_rate(A, D)), 0.125, atol=atol)
    x = jn.models.linear_stationary_samples(pair, jnp.zeros((2, 1), f32), key=jr.key(3), n=8)
    assert x.dtype == f32
    chain = jn.models.bead_chain(jnp.array([1.0, 2.0, 3.0], f32))
    assert chain.drift(jnp.ones((3, 1), f32), 0.0).dtype == f32
    well = jn.models.double_well(barrier=f32(2.0), tilt=f32(0.1))
    assert well.drift(jnp.ones(1, f32), 0.0).dtype == f32
    trap = jn.models.dragged_trap(stiffness=f32(1.0), speed=f32(0.5))
    assert trap.drift(jnp.ones(1, f32), f32(0.3)).dtype == f32
    ou = jn.models.ornstein_uhlenbeck(stiffness=f32(2.0))
    assert ou.drift(jnp.ones(2, f32), 0.0).dtype == f32


def test_double_well_and_dragged_trap_forces():
    well = jn.models.double_well(barrier=2.0, tilt=0.0)
    np.testing.assert_allclose(np.asarray(well.total_force(jnp.array([1.0, -1.0, 0.0]))), 0.0)
    np.testing.assert_allclose(float(well.potential_at(jnp.array([0.0]))), 2.0)  # barrier h
    tilted = jn.models.double_well(barrier=2.0, tilt=0.3)
    np.testing.assert_allclose(np.asarray(tilted.total_force(jnp.array([1.0]))), [0.3])
    trap = jn.models.dragged_trap(stiffness=2.0, speed=0.5, start=1.0)
    # the trap centre is at 1 + 0.5 t: force -k (x - c(t))
    np.testing.assert_allclose(np.asarray(trap.total_force(jnp.array([0.0]), 2.0)), [4.0])


def test_model_factories_reject_bad_arguments():
    with pytest.raises(ValueError, match="`T1`"):
        jn.models.two_temperature_pair(T1=jnp.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="`dim`"):
        jn.models.two_temperature_pair(dim=0)
    with pytest.raises(ValueError, match="`temperatures`"):
        jn.models.bead_chain(jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="`T1`"):
        jn.models.two_temperature_pair(T1=-1.0)


# --------------------------------------------------------------------------------------
# the linear-theory closed forms the two-temperature demo prints (moved from test_tour.py)

A_PAIR = np.array([[2.0, -1.0], [-1.0, 2.0]])  # two-temperature pair, k = lam = 1
D_PAIR = np.array([4.0, 1.0])


def test_linear_stationary_density_is_the_gaussian_of_the_lyapunov_covariance():
    C = scipy.linalg.solve_continuous_lyapunov(A_PAIR, 2 * np.diag(D_PAIR))
    x = np.random.default_rng(0).normal(size=(5, 7, 2)) * 2
    p = jn.models.linear_stationary_density(jnp.asarray(A_PAIR), jnp.asarray(D_PAIR), x)
    np.testing.assert_allclose(p, scipy.stats.multivariate_normal(cov=C).pdf(x), rtol=1e-12)


def test_linear_stationary_current_is_the_fokker_planck_current_of_the_density():
    A, D = jnp.asarray(A_PAIR), jnp.asarray(D_PAIR)
    x = np.random.default_rng(1).normal(size=(6, 2))
    J = jn.models.linear_stationary_current(A, D, x)
    density = lambda y: jn.models.linear_stationary_density(A, D, y)
    # Step and error bound of the central difference of p along a coordinate e: on that
    # line p is a Gaussian in t of precision q = e^T C^-1 e and height <= p_max, so
    # |d^3 p / dt^3| <= 1.4 p_max q^(3/2) (1.4 > max |He_3(z)| e^(-z^2/2)); each evaluation of p
    # (a 2x2 solve, slogdet and exp) is correct to 64 u p_max.
    C = scipy.linalg.solve_continuous_lyapunov(A_PAIR, 2 * np.diag(D_PAIR))
    p_max = 1 / (2 * np.pi * np.sqrt(np.linalg.det(C)))
    q_max = np.max(np.diag(np.linalg.inv(C)))
    h, bound = central_difference_step(
        1.4 * p_max * q_max**1.5, 64 * unit_roundoff(np.float64) * p_max
    )
    for k, point in enumerate(x):
        # J = -A x p - D grad p, grad p by central differences
        grad_p = central_difference(density, point, h=h)
        p = float(density(point))
        expected = -A_PAIR @ point * p - D_PAIR * grad_p
        # the difference's bound times D, plus the rounding of J and of -A x p (64 u each)
        tol = D_PAIR * bound + 64 * unit_roundoff(np.float64) * p_max * (1 + np.abs(A_PAIR @ point))
        np.testing.assert_array_less(np.abs(np.asarray(J[k]) - expected), tol)
    # and it is divergence-free (stationary): d J_1/d x_1 + d J_2/d x_2 = 0
    div = jax.jacfwd(lambda y: jn.models.linear_stationary_current(A, D, y))(jnp.asarray(x[0]))
    assert abs(float(jnp.trace(div))) < 1e-12


def test_euler_maruyama_stationary_values_converge_to_the_continuous_ones_as_dt_to_0():
    sigma = float(jn.models.linear_entropy_production_rate(A_PAIR, D_PAIR))
    errors = []
    for dt in (0.02, 0.01, 0.005):
        em = jn.models.linear_euler_maruyama_stationary(A_PAIR, D_PAIR, dt)
        M = np.eye(2) - A_PAIR * dt
        C_dt = scipy.linalg.solve_discrete_lyapunov(M, 2 * np.diag(D_PAIR) * dt)
        np.testing.assert_allclose(em["covariance"], C_dt, rtol=1e-10)
        np.testing.assert_allclose(np.sum(em["heat_rates"]), 0.0, atol=1e-12)  # first law
        errors.append(float(em["entropy_production_rate"]) - sigma)
    # first order in dt: halving dt halves the bias. The ratio is 2 + O(dt) (2.015 at
    # dt = 0.02/0.01 here); 5 % is above that and tells order 1 (ratio 2) from orders 0
    # and 2 (ratios 1 and 4) by a wide margin.
    np.testing.assert_allclose(np.asarray(errors[:-1]) / np.asarray(errors[1:]), 2.0, rtol=0.05)
    with pytest.raises(ValueError, match="`dt` must be > 0"):
        jn.models.linear_euler_maruyama_stationary(A_PAIR, D_PAIR, 0.0)

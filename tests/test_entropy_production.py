"""EntropyProduction and Heat along Langevin trajectories against exact results.

Statistical tests: fixed keys; every ensemble member is an independent trajectory started in
the exact stationary state, so the standard error of the rate is the spread of the per-member
Sigma/t over sqrt(b). Tolerance: N_SE standard errors plus the O(dt) bias of Euler–Maruyama,
computed exactly for linear systems by `jn.models.linear_euler_maruyama_stationary` (the
discrete-time Lyapunov equation). Resolution guards require the standard error to resolve
the effect under test: se < |effect| / (2 N_SE).
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from _stats import N_SE, assert_within_stderr, central_difference, mean_and_stderr

import jaxneq as jn


def _stationary_run(system, event, *, b, dt, n_steps, key, observables, dtype=jnp.float64):
    x0 = jn.models.linear_stationary_samples(
        system, jnp.zeros(event, dtype), key=jr.fold_in(key, 1), n=b
    )
    return jn.langevin.simulate(
        system, x0, key=jr.fold_in(key, 2), dt=dt, n_steps=n_steps, observables=observables
    )


def _euler_maruyama_rate(A, D, dt):
    """Exact stationary mean of the midpoint entropy-production estimator under Euler–Maruyama."""
    return float(jn.models.linear_euler_maruyama_stationary(A, D, dt)["entropy_production_rate"])


@pytest.mark.parametrize("dim", [1, 2])
def test_two_temperature_pair_entropy_production_matches_closed_form(dim):
    k, lam, T1, T2 = 1.0, 1.0, 2.0, 1.0
    system = jn.models.two_temperature_pair(k, lam, T1, T2, dim=dim)
    dt, n_steps = 0.01, 2000
    res = _stationary_run(
        system,
        (2, dim),
        b=2048 // (2 * dim),
        dt=dt,
        n_steps=n_steps,
        key=jr.key(10 + dim),
        observables={"ep": jn.observables.EntropyProduction(rate=True)},
    )
    sigma, se = mean_and_stderr(res.observables["ep"])
    exact = dim * k**2 * (T1 - T2) ** 2 / (2 * T1 * T2 * (k + lam))
    A, D = jn.models.linear_coefficients(system, jnp.zeros((2, dim)))
    bias = _euler_maruyama_rate(A, D, dt) - exact
    assert_within_stderr(sigma, se, exact, bias=bias)
    assert se < exact / (2 * N_SE)  # the test resolves sigma


def test_entropy_production_vanishes_at_equal_temperatures():
    system = jn.models.two_temperature_pair(1.0, 1.0, 1.5, 1.5)
    res = _stationary_run(
        system,
        (2, 1),
        b=1024,  # the shapes of the dim = 1 test above: its compiled run is reused
        dt=0.01,
        n_steps=2000,
        key=jr.key(3),
        observables={"ep": jn.observables.EntropyProduction(rate=True)},
    )
    sigma, se = mean_and_stderr(res.observables["ep"])
    assert_within_stderr(sigma, se, 0.0)
    assert se < (1 / 8) / (2 * N_SE)  # it resolves the rate at T1 = 2 T2, 1/8


def test_two_temperature_pair_heat_current_matches_closed_form():
    k, lam, T1, T2 = 1.5, 0.5, 3.0, 1.0
    system = jn.models.two_temperature_pair(k, lam, T1, T2)
    dt = 0.01
    res = _stationary_run(
        system,
        (2, 1),
        b=2048,
        dt=dt,
        n_steps=2000,
        key=jr.key(4),
        observables={
            "q": jn.observables.Heat(per_dof=True, rate=True),
            "ep": jn.observables.EntropyProduction(rate=True),
        },
    )
    q = np.asarray(res.observables["q"]).reshape(-1, 2)
    (q1, q2), (se1, se2) = mean_and_stderr(q)
    current = k**2 * (T1 - T2) / (2 * (k + lam))  # heat from bath 1 to bath 2 per unit time
    A, D = jn.models.linear_coefficients(system, jnp.zeros((2, 1)))
    # the exact O(dt) bias of the scheme
    em1, em2 = np.asarray(jn.models.linear_euler_maruyama_stationary(A, D, dt)["heat_rates"])
    assert_within_stderr(q1, se1, -current, bias=em1 + current)
    assert_within_stderr(q2, se2, current, bias=em2 - current)
    assert max(se1, se2) < current / (2 * N_SE)
    # Sigma = sum_i Q_i / T_i for constant temperatures, member by member
    np.testing.assert_allclose(
        np.asarray(res.observables["ep"]), q[:, 0] / T1 + q[:, 1] / T2, rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("n_beads", [2, 5, pytest.param(20, marks=pytest.mark.slow)])
def test_bead_chain_entropy_production_matches_lyapunov_formula(n_beads):
    temperatures = np.linspace(0.5, 3.0, n_beads)  # a temperature gradient along the chain
    system = jn.models.bead_chain(temperatures, k=1.0, lam=0.5)
    A, D = jn.models.linear_coefficients(system, jnp.zeros((n_beads, 1)))
    exact = float(jn.models.linear_entropy_production_rate(A, D))
    dt = 0.01
    res = _stationary_run(
        system,
        (n_beads, 1),
        b=1024 if n_beads < 20 else 8192,
        dt=dt,
        n_steps=1500 if n_beads < 20 else 2000,
        key=jr.key(20 + n_beads),
        observables={"ep": jn.observables.EntropyProduction(rate=True)},
    )
    sigma, se = mean_and_stderr(res.observables["ep"])
    assert_within_stderr(sigma, se, exact, bias=_euler_maruyama_rate(A, D, dt) - exact)
    assert se < exact / (2 * N_SE)


def test_bead_chain_of_twenty_entropy_production_fast_version():
    # The fast companion of the N = 20 case: a shorter run, the same N_SE band.
    n_beads = 20
    temperatures = np.where(np.arange(n_beads) % 2 == 0, 3.0, 0.5)
    system = jn.models.bead_chain(temperatures, k=1.0, lam=0.5)
    A, D = jn.models.linear_coefficients(system, jnp.zeros((n_beads, 1)))
    exact = float(jn.models.linear_entropy_production_rate(A, D))
    dt = 0.01
    res = _stationary_run(
        system,
        (n_beads, 1),
        b=256,
        dt=dt,
        n_steps=500,
        key=jr.key(40),
        observables={"ep": jn.observables.EntropyProduction(rate=True)},
    )
    sigma, se = mean_and_stderr(res.observables["ep"])
    assert_within_stderr(sigma, se, exact, bias=_euler_maruyama_rate(A, D, dt) - exact)
    assert se < exact / (2 * N_SE)


def _tilted_periodic_velocity(f, V0, T, mobility, L=2 * np.pi, n=4001):
    """Exact mean velocity in U = V0 cos(x) tilted by a constant force f (Stratonovich 1958).

    With Phi(x) = V0 cos x - f x, the stationary current through a point is
    J = mu T (1 - exp(-f L / T)) / int_0^L dx exp(-Phi(x)/T) int_x^{x+L} dy exp(Phi(y)/T),
    and <xdot> = J L for the density normalised on one period.
    """
    x = np.linspace(0.0, L, n)
    y = np.linspace(0.0, L, n)
    phi = lambda z: V0 * np.cos(z) - f * z
    inner = np.trapezoid(np.exp((phi(x[:, None] + y[None, :]) - phi(x[:, None])) / T), y, axis=1)
    J = mobility * T * (1 - np.exp(-f * L / T)) / np.trapezoid(inner, x)
    return J * L


@pytest.mark.parametrize("V0", [0.0, 1.0])
def test_driven_ring_entropy_production_is_force_times_velocity_over_temperature(V0):
    f, T, mobility = 1.3, 0.8, 0.7
    system = jn.langevin.Overdamped(
        lambda x: V0 * jnp.sum(jnp.cos(x)),
        force=lambda x: jnp.full_like(x, f),
        temperature=T,
        mobility=mobility,
    )
    velocity = _tilted_periodic_velocity(f, V0, T, mobility)
    if V0 == 0.0:
        np.testing.assert_allclose(velocity, mobility * f, rtol=1e-6)
    exact = f * velocity / T  # free ring: f^2 mu / T
    b, dt, n_steps, burn_in = 2048, 0.01, 2500, 500
    x0 = jr.uniform(jr.key(5), (b, 1), minval=0.0, maxval=2 * np.pi)
    res = jn.langevin.simulate(
        system,
        x0,
        key=jr.key(6),
        dt=dt,
        n_steps=n_steps,
        observables={"ep": jn.observables.EntropyProduction(burn_in=burn_in, rate=True)},
    )
    sigma, se = mean_and_stderr(res.observables["ep"])
    # Euler–Maruyama: exact for the free case; O(dt) bias otherwise, measured 0.4(3) % at this
    # dt by halving dt on 8192 x 4000 steps. Allowed: the upper end of that measurement's
    # two-standard-error interval, 0.4 + 2 x 0.3 = 1 %.
    assert_within_stderr(sigma, se, exact, bias=0.0 if V0 == 0.0 else 0.01 * exact)
    assert se < exact / (2 * N_SE)


def test_temperature_field_in_one_dimension_produces_no_medium_entropy():
    # A confined 1D system has no stationary current, so <F o xdot / T(x)> = int F J / T = 0
    # for any temperature field; an Ito (pre-point) evaluation would give a nonzero value.
    system = jn.langevin.Overdamped(
        lambda x: jnp.sum(x**2) / 2, temperature=lambda x: 1.0 + 0.5 * jnp.tanh(x[0])
    )
    b, dt = 2048, 0.005
    x0 = jr.normal(jr.key(7), (b, 1))
    res = jn.langevin.simulate(
        system,
        x0,
        key=jr.key(8),
        dt=dt,
        n_steps=3000,
        observables={"ep": jn.observables.EntropyProduction(burn_in=1000, rate=True)},
    )
    sigma, se = mean_and_stderr(res.observables["ep"])
    assert_within_stderr(sigma, se, 0.0)
    # The effect to resolve: a pre-point evaluation would measure <F^2 / T> under the
    # stationary (Ito) density p ~ exp(-int x/T) / T, by quadrature here.
    x = np.linspace(-12.0, 12.0, 24001)
    T = 1.0 + 0.5 * np.tanh(x)
    integrand = x / T
    log_p = -np.concatenate([[0.0], np.cumsum(0.5 * (integrand[1:] + integrand[:-1]))])
    log_p = log_p * (x[1] - x[0]) - np.log(T)
    p = np.exp(log_p - log_p.max())
    pre_point = np.trapezoid(x**2 / T * p, x) / np.trapezoid(p, x)
    assert se < pre_point / (2 * N_SE)


def test_rate_option_divides_total_by_the_measured_time():
    system = jn.models.two_temperature_pair(1.0, 1.0, 2.0, 1.0)
    x0 = jnp.zeros((64, 2, 1))
    dt, n_steps, burn_in = 0.01, 300, 100
    res = jn.langevin.simulate(
        system,
        x0,
        key=jr.key(9),
        dt=dt,
        n_steps=n_steps,
        observables={
            "total": jn.observables.EntropyProduction(burn_in=burn_in),
            "rate": jn.observables.EntropyProduction(burn_in=burn_in, rate=True),
            "all": jn.observables.EntropyProduction(),
        },
    )
    obs = {k: np.asarray(v) for k, v in res.observables.items()}
    assert obs["total"].shape == (64,)
    np.testing.assert_allclose(obs["rate"], obs["total"] / ((n_steps - burn_in) * dt), rtol=1e-12)
    assert not np.allclose(obs["total"], obs["all"])  # burn_in really skips the first steps


def test_entropy_production_gradient_matches_finite_differences():
    # Pathwise derivative of the estimator with common random numbers.
    x0 = jnp.zeros((32, 2, 1))

    def sigma(T1):
        system = jn.models.two_temperature_pair(1.0, 1.0, T1, 1.0)
        res = jn.langevin.simulate(
            system,
            x0,
            key=jr.key(11),
            dt=0.01,
            n_steps=200,
            observables={"ep": jn.observables.EntropyProduction(rate=True)},
        )
        return jnp.mean(res.observables["ep"])

    T1 = 2.0
    grad = jax.grad(sigma)(jnp.asarray(T1))
    fd = central_difference(sigma, T1, h=1e-5)
    # float64: the rounding of sigma (a sum of 32 x 200 O(1) terms, ~1e-13 absolute) over
    # h = 1e-5 is ~1e-8 relative and the truncation (h^2 / 6 times the third derivative)
    # smaller still; rtol 1e-5 is far above both and far below a wrong derivative's error.
    np.testing.assert_allclose(float(grad), float(fd), rtol=1e-5)


def test_entropy_production_under_jit_and_vmap_over_temperatures():
    x0 = jnp.zeros((256, 2, 1))

    @jax.jit
    @jax.vmap
    def sweep(T1):
        system = jn.models.two_temperature_pair(1.0, 1.0, T1, 1.0)
        res = jn.langevin.simulate(
            system,
            x0,
            key=jr.key(12),
            dt=0.01,
            n_steps=100,
            observables={"ep": jn.observables.EntropyProduction()},
        )
        return res.observables["ep"]

    T1 = jnp.array([1.0, 2.0, 4.0])
    out = sweep(T1)
    assert out.shape == (3, 256)
    assert np.all(np.isfinite(np.asarray(out)))
    # the same numbers as an eager run at one parameter point
    system = jn.models.two_temperature_pair(1.0, 1.0, 2.0, 1.0)
    eager = jn.langevin.simulate(
        system,
        x0,
        key=jr.key(12),
        dt=0.01,
        n_steps=100,
        observables={"ep": jn.observables.EntropyProduction()},
    ).observables["ep"]
    np.testing.assert_allclose(np.asarray(out[1]), np.asarray(eager), rtol=1e-9, atol=1e-12)


def test_entropy_production_float32_smoke():
    system = jn.models.two_temperature_pair(1.0, 1.0, 2.0, 1.0)
    res = _stationary_run(
        system,
        (2, 1),
        b=1024,
        dt=0.01,
        n_steps=1000,
        key=jr.key(13),
        dtype=jnp.float32,
        observables={
            "ep": jn.observables.EntropyProduction(rate=True),
            "q": jn.observables.Heat(per_dof=True),
        },
    )
    ep = res.observables["ep"]
    assert ep.dtype == jnp.float32 and ep.shape == (1024,)
    assert res.observables["q"].dtype == jnp.float32
    assert res.observables["q"].shape == (1024, 2, 1)
    sigma, se = mean_and_stderr(ep)
    # the reference: the exact Euler–Maruyama rate at this dt (closed form, float64)
    A, D = jn.models.linear_coefficients(system, jnp.zeros((2, 1)))
    assert_within_stderr(sigma, se, _euler_maruyama_rate(A, D, 0.01))


def test_entropy_production_rejects_underdamped_systems():
    system = jn.langevin.Underdamped(lambda x: jnp.sum(x**2) / 2)
    with pytest.raises(ValueError, match="EntropyProduction.*overdamped"):
        jn.langevin.simulate(
            system,
            jnp.zeros((4, 1)),
            key=jr.key(0),
            dt=0.01,
            n_steps=2,
            observables={"ep": jn.observables.EntropyProduction()},
        )


def test_bad_burn_in_raises_value_error():
    with pytest.raises(ValueError, match="burn_in"):
        jn.observables.EntropyProduction(burn_in=-1)
    with pytest.raises(ValueError, match="burn_in"):
        jn.observables.Heat(burn_in=1.5)

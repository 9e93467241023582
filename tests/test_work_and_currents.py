"""Work and CurrentField along Langevin trajectories against exact results.

Statistical tests use fixed keys and tolerances of N_SE standard errors computed from the
sample. Where Euler–Maruyama has an O(dt) bias, the reference is the exact expectation of the
discrete scheme (linear systems: mean and covariance propagated exactly through the
recursion, or `jn.models.linear_euler_maruyama_stationary` for stationary values), and the
run is also checked against the continuous closed form with that bias as the allowance.
Resolution guards require the standard error to resolve the effect: se < |effect|/(2 N_SE).
"""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from _stats import N_SE, assert_within_stderr, central_difference, mean_and_stderr

import jaxneq as jn

# --------------------------------------------------------------------------------------
# Work: a harmonic trap dragged at constant speed (1D)


def _dragged_trap_work_continuous(k, v, mobility, t):
    """<W>(t) from equilibrium: the lag y = x - v t relaxes as <y> = -v (1 - e^{-mu k t})/(mu k)
    and dW/dt = -k v y, so <W> = (v^2 / mu) [t - (1 - e^{-mu k t}) / (mu k)]."""
    r = mobility * k
    return v**2 / mobility * (t - (1 - np.exp(-r * t)) / r)


def _dragged_trap_work_euler_maruyama(k, v, mobility, T, dt, n_steps):
    """Exact mean and variance of the trapezoid work under Euler–Maruyama, from equilibrium.

    The lag obeys y' = a y - v dt + s xi (a = 1 - mu k dt, s = sqrt(2 mu T dt)), and each step
    adds -k v dt (y + y')/2 to W (the trapezoid rule of `Work` for this potential). The pair
    (y, W) is a linear Gaussian recursion; its mean and covariance are propagated exactly.
    """
    a = 1 - mobility * k * dt
    s = np.sqrt(2 * mobility * T * dt)
    G = np.array([[a, 0.0], [-k * v * dt * (1 + a) / 2, 1.0]])
    c = np.array([-v * dt, k * v**2 * dt**2 / 2])
    h = np.array([s, -k * v * dt * s / 2])
    m = np.zeros(2)
    P = np.diag([T / k, 0.0])
    for _ in range(n_steps):
        m = G @ m + c
        P = G @ P @ G.T + np.outer(h, h)
    return m[1], P[1, 1]


def _dragged_trap_run(k, v, T, *, b, dt, n_steps, key, dtype=jnp.float64, observables=None):
    system = jn.models.dragged_trap(stiffness=k, speed=v, temperature=T)
    x0 = (jnp.sqrt(T / k) * jr.normal(jr.fold_in(key, 1), (b, 1))).astype(dtype)
    observables = observables or {"w": jn.observables.Work()}
    res = jn.langevin.simulate(
        system, x0, key=jr.fold_in(key, 2), dt=dt, n_steps=n_steps, observables=observables
    )
    return system, x0, res


def test_dragged_trap_mean_work_matches_closed_form():
    k, v, T, dt, n_steps = 1.0, 1.0, 1.0, 0.01, 100
    _, _, res = _dragged_trap_run(k, v, T, b=16384, dt=dt, n_steps=n_steps, key=jr.key(1))
    w, se = mean_and_stderr(res.observables["w"])
    exact = _dragged_trap_work_continuous(k, v, 1.0, n_steps * dt)
    em_mean, em_var = _dragged_trap_work_euler_maruyama(k, v, 1.0, T, dt, n_steps)
    assert_within_stderr(w, se, em_mean)  # the exact value of the scheme
    assert_within_stderr(w, se, exact, bias=em_mean - exact)  # the closed form, + O(dt) bias
    assert se < exact / (2 * N_SE)
    # the spread too: Var W = 2 T <W> for a Gaussian work distribution obeying Jarzynski
    # (standard error of a Gaussian sample variance: var sqrt(2 / (b - 1)))
    var = np.var(np.asarray(res.observables["w"]), ddof=1)
    var_se = em_var * np.sqrt(2 / (16384 - 1))
    assert_within_stderr(var, var_se, em_var)
    assert_within_stderr(var, var_se, 2 * T * exact, bias=em_var - 2 * T * exact)


def test_dragged_trap_obeys_jarzynski_equality():
    # Delta F = 0 (the trap only moves): <exp(-W/T)> = 1.
    k, v, T, dt, n_steps = 1.0, 1.0, 1.0, 0.01, 100
    _, _, res = _dragged_trap_run(k, v, T, b=16384, dt=dt, n_steps=n_steps, key=jr.key(2))
    weights = np.exp(-np.asarray(res.observables["w"]) / T)
    mean, se = mean_and_stderr(weights)
    # exact value for the discrete scheme (W is Gaussian): exp(-m/T + var/(2 T^2)), 1 + O(dt)
    em_mean, em_var = _dragged_trap_work_euler_maruyama(k, v, 1.0, T, dt, n_steps)
    em_exact = np.exp(-em_mean / T + em_var / (2 * T**2))
    assert_within_stderr(mean, se, em_exact)
    assert_within_stderr(mean, se, 1.0, bias=em_exact - 1.0)
    # resolved: the naive exp(-<W>/T) (no fluctuations) is excluded, and <W> > 0
    w, w_se = mean_and_stderr(res.observables["w"])
    assert se < abs(1 - np.exp(-em_mean / T)) / (2 * N_SE)
    assert w > 2 * N_SE * w_se


def test_steady_state_work_rate_of_dragged_trap_is_speed_squared_over_mobility():
    k, v, T, mobility = 2.0, 0.7, 0.5, 1.5
    dt, n_steps, burn_in = 0.01, 1500, 500  # burn-in: 5 relaxation times 1 / (mu k)
    system = jn.models.dragged_trap(stiffness=k, speed=v, temperature=T, mobility=mobility)
    x0 = jnp.sqrt(T / k) * jr.normal(jr.key(3), (2048, 1))
    res = jn.langevin.simulate(
        system,
        x0,
        key=jr.key(4),
        dt=dt,
        n_steps=n_steps,
        observables={"w": jn.observables.Work(burn_in=burn_in, rate=True)},
    )
    rate, se = mean_and_stderr(res.observables["w"])
    # exact for the scheme: the difference of the discrete mean works at n_steps and burn_in
    em = [
        _dragged_trap_work_euler_maruyama(k, v, mobility, T, dt, n)[0] for n in (n_steps, burn_in)
    ]
    em_rate = (em[0] - em[1]) / ((n_steps - burn_in) * dt)
    exact = v**2 / mobility
    assert_within_stderr(rate, se, em_rate)
    assert_within_stderr(rate, se, exact, bias=em_rate - exact)
    assert se < exact / (2 * N_SE)


def test_first_law_work_equals_energy_change_plus_heat_along_each_trajectory():
    # Quadratic U, linear in t: the trapezoid work and the midpoint heat are exact, so
    # W = Delta U + Q holds member by member to rounding.
    k, v, T, dt, n_steps = 1.5, 0.8, 0.7, 0.01, 300
    system, x0, res = _dragged_trap_run(
        k,
        v,
        T,
        b=256,
        dt=dt,
        n_steps=n_steps,
        key=jr.key(5),
        observables={"w": jn.observables.Work(), "q": jn.observables.Heat()},
    )
    energy = jax.vmap(system.potential_at, in_axes=(0, None))
    delta_u = energy(res.x, n_steps * dt) - energy(x0, 0.0)
    w, q = np.asarray(res.observables["w"]), np.asarray(res.observables["q"])
    np.testing.assert_allclose(w, np.asarray(delta_u) + q, rtol=0, atol=1e-10)
    assert np.std(w) > 0.1  # the identity is not trivially 0 = 0


def test_work_of_a_constant_force_is_force_times_displacement():
    f = jnp.array([0.7, -1.2])
    system = jn.langevin.Overdamped(
        lambda x: jnp.sum(jnp.cos(x)), force=lambda x: f, temperature=0.9
    )
    x0 = jr.normal(jr.key(6), (128, 2))
    res = jn.langevin.simulate(
        system, x0, key=jr.key(7), dt=0.01, n_steps=200, observables={"w": jn.observables.Work()}
    )
    expected = (res.x - x0) @ f
    np.testing.assert_allclose(np.asarray(res.observables["w"]), np.asarray(expected), atol=1e-10)


def test_work_gradient_with_respect_to_speed_matches_finite_differences():
    # Pathwise derivative with common random numbers.
    x0 = jr.normal(jr.key(8), (64, 1))

    def mean_work(v):
        system = jn.models.dragged_trap(stiffness=1.0, speed=v)
        res = jn.langevin.simulate(
            system,
            x0,
            key=jr.key(9),
            dt=0.01,
            n_steps=100,
            observables={"w": jn.observables.Work()},
        )
        return jnp.mean(res.observables["w"])

    # At a fixed key the mean work is a quadratic polynomial in v (the lag is affine in v and
    # each step adds -k v dt times it): its third derivative is 0, so the central difference
    # is exact up to rounding, and h = 1e-2 keeps that below 1e-12 relative.
    v = 0.8
    grad = jax.grad(mean_work)(jnp.asarray(v))
    fd = central_difference(mean_work, v, h=1e-2)
    np.testing.assert_allclose(float(grad), float(fd), rtol=1e-10)


def test_work_under_jit_and_vmap_over_speeds_matches_eager_runs():
    x0 = jr.normal(jr.key(10), (128, 1))
    work = lambda v: jn.langevin.simulate(
        jn.models.dragged_trap(stiffness=1.0, speed=v),
        x0,
        key=jr.key(11),
        dt=0.01,
        n_steps=50,
        observables={"w": jn.observables.Work()},
    ).observables["w"]
    speeds = jnp.array([0.0, 0.5, 1.0])
    out = jax.jit(jax.vmap(work))(speeds)
    assert out.shape == (3, 128)
    np.testing.assert_allclose(np.asarray(out[0]), 0.0, atol=1e-12)  # a trap at rest: no work
    np.testing.assert_allclose(np.asarray(out[2]), np.asarray(work(1.0)), rtol=1e-9, atol=1e-12)


def test_work_float32_smoke():
    k, v, T, dt, n_steps = 1.0, 1.0, 1.0, 0.01, 100
    _, _, res = _dragged_trap_run(
        k, v, T, b=4096, dt=dt, n_steps=n_steps, key=jr.key(12), dtype=jnp.float32
    )
    w = res.observables["w"]
    assert w.dtype == jnp.float32 and w.shape == (4096,)
    mean, se = mean_and_stderr(w)
    em_mean, _ = _dragged_trap_work_euler_maruyama(k, v, 1.0, T, dt, n_steps)
    # float32 rounding of a 100-step sum is ~1e-5 relative, far below se (~1 %)
    assert_within_stderr(mean, se, em_mean)


# --------------------------------------------------------------------------------------
# CurrentField


def _pair_current_reference(system, edges, m=8):
    """Bin averages of the exact stationary current J and density p of a linear 2D system.

    `jn.models.linear_stationary_current`/`_density` at an m x m midpoint rule in each bin
    (what the binned estimator converges to is the bin average of J), and the circulation
    <x1 J2 - x2 J1> from `jn.models.linear_current_circulation`.
    """
    A, D = jn.models.linear_coefficients(system, jnp.zeros((2, 1)))
    e = np.asarray(edges)
    h = e[1] - e[0]
    n = e.shape[0] - 1
    pts = (e[:-1, None] + (np.arange(m) + 0.5)[None, :] * h / m).ravel()
    P = jnp.asarray(np.stack(np.meshgrid(pts, pts, indexing="ij"), axis=-1))
    p = np.asarray(jn.models.linear_stationary_density(A, D, P))
    J = np.asarray(jn.models.linear_stationary_current(A, D, P))
    p_bins = p.reshape(n, m, n, m).mean(axis=(1, 3))
    J_bins = J.reshape(n, m, n, m, 2).mean(axis=(1, 3))
    circulation = float(jn.models.linear_current_circulation(A, D)[0, 1])
    return J_bins, p_bins, np.asarray(D), circulation


def test_two_temperature_current_field_matches_linear_theory():
    k, lam, T1, T2 = 1.0, 1.0, 4.0, 1.0
    system = jn.models.two_temperature_pair(k, lam, T1, T2)
    edges = np.linspace(-4.5, 4.5, 19)
    b, dt, n_steps = 2048, 0.01, 2000
    x0 = jn.models.linear_stationary_samples(system, jnp.zeros((2, 1)), key=jr.key(20), n=b)
    field = jn.observables.CurrentField((edges, edges), coordinates=(0, 1))
    res = jn.langevin.simulate(
        system, x0, key=jr.key(21), dt=dt, n_steps=n_steps, observables={"J": field}
    )
    J = np.asarray(res.observables["J"])
    assert J.shape == (18, 18, 2)
    J_ref, p_ref, diffusion, circulation = _pair_current_reference(system, edges)
    # per-bin standard error: n samples in a bin each add a velocity with variance 2 D / dt
    n_samples = b * n_steps
    vol = (edges[1] - edges[0]) ** 2
    n_bin = n_samples * p_ref * vol
    se = np.sqrt(2 * diffusion * n_bin[..., None] / dt) / (n_samples * vol)
    used = n_bin > 1000  # bins with enough samples for the Gaussian error model
    chi2 = (((J - J_ref) / se) ** 2)[used].sum()
    dof = 2 * used.sum()
    assert chi2 < dof + N_SE * np.sqrt(2 * dof), (chi2, dof)
    # the field is resolved: a zero field (chi2 noncentral, mean dof + lam, variance
    # 2 dof + 4 lam) would fail the same test, N_SE of its own standard deviations beyond it
    lam = ((J_ref / se) ** 2)[used].sum()
    assert dof + lam - N_SE * np.sqrt(2 * dof + 4 * lam) > dof + N_SE * np.sqrt(2 * dof)
    # rotation: sign and magnitude of <x1 J2 - x2 J1>, with the bin centres as weights
    c = 0.5 * (edges[1:] + edges[:-1])
    X1, X2 = np.meshgrid(c, c, indexing="ij")
    rotation = lambda F: np.sum(X1 * F[..., 1] - X2 * F[..., 0]) * vol
    rotation_se = np.sqrt(np.sum(X1**2 * se[..., 1] ** 2 + X2**2 * se[..., 0] ** 2)) * vol
    # the binned reference against the library's circulation: deterministic, -2.1 % here
    # (the window truncates the Gaussian at ~2.8 standard deviations, where x J weighs the
    # tails, and the bin centres stand in for the points); 5 % bounds that with margin and
    # still fails a wrong factor or sign of either library function.
    assert abs(rotation(J_ref) - circulation) < 0.05 * circulation
    assert circulation > 0  # hot particle 1: the current turns counter-clockwise in (r1, r2)
    assert_within_stderr(rotation(J), rotation_se, rotation(J_ref))
    assert rotation_se < circulation / (2 * N_SE)


def test_current_field_vanishes_in_equilibrium():
    system = jn.models.two_temperature_pair(1.0, 1.0, 1.5, 1.5)
    edges = np.linspace(-4.0, 4.0, 9)
    b, dt, n_steps = 1024, 0.01, 1000
    x0 = jn.models.linear_stationary_samples(system, jnp.zeros((2, 1)), key=jr.key(22), n=b)
    res = jn.langevin.simulate(
        system,
        x0,
        key=jr.key(23),
        dt=dt,
        n_steps=n_steps,
        observables={"J": jn.observables.CurrentField((edges, edges))},
    )
    J = np.asarray(res.observables["J"])
    _, p_ref, diffusion, _ = _pair_current_reference(system, edges)
    vol = (edges[1] - edges[0]) ** 2
    n_bin = b * n_steps * p_ref * vol
    se = np.sqrt(2 * diffusion * n_bin[..., None] / dt) / (b * n_steps * vol)
    used = n_bin > 1000
    chi2 = ((J / se) ** 2)[used].sum()
    dof = 2 * used.sum()
    assert chi2 < dof + N_SE * np.sqrt(2 * dof), (chi2, dof)


def test_one_dimensional_current_field_integrates_to_the_mean_velocity():
    # Free drift mu f: every step lands in the grid, so sum_j J_j dx_j = <dx>/dt = mu f.
    f, mobility, T = 0.8, 1.5, 0.5
    system = jn.langevin.Overdamped(
        force=lambda x: jnp.full_like(x, f), mobility=mobility, temperature=T
    )
    b, dt, n_steps = 4096, 0.01, 100
    x0 = jr.uniform(jr.key(24), (b, 1), minval=-1.0, maxval=1.0)
    edges = jnp.linspace(-10.0, 10.0, 41)
    res = jn.langevin.simulate(
        system,
        x0,
        key=jr.key(25),
        dt=dt,
        n_steps=n_steps,
        observables={"J": jn.observables.CurrentField(edges)},
    )
    J = np.asarray(res.observables["J"])
    assert J.shape == (40, 1)
    total = float(np.sum(J[:, 0] * np.diff(np.asarray(edges))))
    se = np.sqrt(2 * mobility * T / (b * n_steps * dt))  # the noise of the mean displacement
    assert_within_stderr(total, se, mobility * f)
    # and the same number as the displacement itself (the estimator is a sum of steps)
    np.testing.assert_allclose(total, float(jnp.mean(res.x - x0)) / (n_steps * dt), rtol=1e-10)


def test_current_field_burn_in_and_coordinates_select_steps_and_axes():
    system = jn.models.bead_chain(jnp.array([2.0, 1.0, 0.5]), dim=1)
    x0 = jr.normal(jr.key(26), (64, 3, 1))
    edges = jnp.linspace(-20.0, 20.0, 5)  # wide: every step counts
    obs = {
        "all": jn.observables.CurrentField(edges, coordinates=2),
        "late": jn.observables.CurrentField(edges, coordinates=2, burn_in=30),
    }
    res = jn.langevin.simulate(system, x0, key=jr.key(27), dt=0.01, n_steps=100, observables=obs)
    width = 10.0
    total = float(np.sum(np.asarray(res.observables["all"])) * width)
    np.testing.assert_allclose(total, float(jnp.mean(res.x[:, 2, 0] - x0[:, 2, 0])), rtol=1e-9)
    assert not np.allclose(np.asarray(res.observables["all"]), np.asarray(res.observables["late"]))


def test_current_field_under_jit_and_vmap_over_temperatures():
    edges = jnp.linspace(-3.0, 3.0, 7)
    x0 = jnp.zeros((256, 2, 1))

    def field(T1):
        res = jn.langevin.simulate(
            jn.models.two_temperature_pair(1.0, 1.0, T1, 1.0),
            x0,
            key=jr.key(28),
            dt=0.01,
            n_steps=100,
            observables={"J": jn.observables.CurrentField((edges, edges))},
        )
        return res.observables["J"]

    out = jax.jit(jax.vmap(field))(jnp.array([1.0, 3.0]))
    assert out.shape == (2, 6, 6, 2)
    np.testing.assert_allclose(np.asarray(out[1]), np.asarray(field(3.0)), rtol=1e-9, atol=1e-12)


def test_current_field_gradient_matches_finite_differences():
    # The field is piecewise smooth in the parameters (bin membership is locally constant),
    # so the pathwise gradient of a smooth functional matches central differences.
    edges = jnp.linspace(-6.0, 6.0, 4)
    x0 = jr.normal(jr.key(29), (32, 2, 1))

    def summary(T1):
        res = jn.langevin.simulate(
            jn.models.two_temperature_pair(1.0, 1.0, T1, 1.0),
            x0,
            key=jr.key(30),
            dt=0.01,
            n_steps=50,
            observables={"J": jn.observables.CurrentField((edges, edges))},
        )
        return jnp.sum(res.observables["J"] ** 2)

    T1 = 2.0
    grad = jax.grad(summary)(jnp.asarray(T1))
    fd = central_difference(summary, T1, h=1e-6)
    # float64 rounding of the summary (~1e-13 relative) over h = 1e-6 is ~1e-7 relative;
    # rtol 1e-5 sits above it and far below the error of a wrong derivative.
    np.testing.assert_allclose(float(grad), float(fd), rtol=1e-5)


def test_current_field_float32_smoke():
    system = jn.models.two_temperature_pair(1.0, 1.0, 4.0, 1.0)
    edges = jnp.linspace(-4.0, 4.0, 9, dtype=jnp.float32)
    x0 = jn.models.linear_stationary_samples(
        system, jnp.zeros((2, 1), jnp.float32), key=jr.key(31), n=512
    )
    res = jn.langevin.simulate(
        system,
        x0,
        key=jr.key(32),
        dt=0.01,
        n_steps=400,
        observables={"J": jn.observables.CurrentField((edges, edges))},
    )
    J = res.observables["J"]
    assert J.dtype == jnp.float32 and J.shape == (8, 8, 2)
    assert np.all(np.isfinite(np.asarray(J)))
    c = 0.5 * (np.asarray(edges)[1:] + np.asarray(edges)[:-1])
    X1, X2 = np.meshgrid(c, c, indexing="ij")
    rotation = np.sum(X1 * np.asarray(J)[..., 1] - X2 * np.asarray(J)[..., 0]) * 1.0
    assert rotation > 0  # counter-clockwise (exact 1.5, resolved to about 25 % here)


def test_current_field_rejects_bad_edges_and_coordinates():
    with pytest.raises(ValueError, match="strictly increasing"):
        jn.observables.CurrentField(jnp.array([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="one or two"):
        jn.observables.CurrentField((jnp.arange(3.0),) * 3)
    with pytest.raises(ValueError, match="coordinates"):
        jn.observables.CurrentField(jnp.arange(3.0), coordinates=(0, 1))
    with pytest.raises(ValueError, match="burn_in"):
        jn.observables.CurrentField(jnp.arange(3.0), burn_in=-2)
    system = jn.models.ornstein_uhlenbeck()
    with pytest.raises(ValueError, match="out of range"):
        jn.langevin.simulate(
            system,
            jnp.zeros((4, 1)),
            key=jr.key(0),
            dt=0.01,
            n_steps=2,
            observables={"J": jn.observables.CurrentField(jnp.arange(3.0), coordinates=3)},
        )


def test_work_rejects_underdamped_systems():
    system = jn.langevin.Underdamped(
        jn.langevin.TimeDependent(lambda x, t: jnp.sum((x - t) ** 2) / 2)
    )
    with pytest.raises(ValueError, match="Work.*overdamped"):
        jn.langevin.simulate(
            system,
            jnp.zeros((4, 1)),
            key=jr.key(0),
            dt=0.01,
            n_steps=2,
            observables={"w": jn.observables.Work()},
        )


def _rotational_trap(k, omega, T):
    """Overdamped particle (mu = 1) in a trap with a rotational non-conservative force:
    F = -k x + omega (-x_2, x_1). The stationary density is isotropic and Gaussian, and the
    local mean velocity J/p is the rotational part omega (-x_2, x_1) alone."""
    return jn.langevin.Overdamped(
        lambda x: 0.5 * k * jnp.sum(x**2),
        force=lambda x: omega * jnp.stack([-x[1], x[0]]),
        temperature=T,
    )


def test_current_over_histogram_is_the_exact_local_mean_velocity_of_a_rotating_trap():
    # Euler–Maruyama x' = M x + sqrt(2 T dt) xi with M = (1 - k dt) I + omega dt R (R the
    # quarter turn) has the isotropic stationary variance s2 = 2 T / (2 k - (k^2 + omega^2) dt),
    # and E[x' - x | x] = dt (-k + omega R) x, E[x' - x | x'] = dt (k + omega R) x'. Binning
    # each step's velocity half at x and half at x' (as CurrentField does) over the states
    # that Histogram bins gives J/p = omega R E[x | bin] exactly, without O(dt) bias, so a
    # large dt is allowed (other binnings, e.g. at midpoints, are biased by O(dt)).
    from scipy import stats

    k, omega, T, dt = 1.0, 1.0, 1.0, 0.1
    s2 = 2 * T / (2 * k - (k**2 + omega**2) * dt)
    # the same variance from the library's exact Euler–Maruyama law (A = k I - omega R)
    em = jn.models.linear_euler_maruyama_stationary(
        jnp.array([[k, omega], [-omega, k]]), jnp.array([T, T]), dt
    )
    np.testing.assert_allclose(em["covariance"], s2 * np.eye(2), rtol=1e-12, atol=1e-14)
    system = _rotational_trap(k, omega, T)
    edges = np.linspace(-2.0, 2.0, 5)
    groups, b, n_steps = 16, 256, 400
    x0 = np.sqrt(s2) * jr.normal(jr.key(40), (groups, b, 2))  # the discrete stationary law
    obs = {
        "J": jn.observables.CurrentField((edges, edges)),
        "p": jn.observables.Histogram((edges, edges)),
    }

    @jax.jit
    @jax.vmap
    def velocity(x0, key):
        res = jn.langevin.simulate(system, x0, key=key, dt=dt, n_steps=n_steps, observables=obs)
        return res.observables["J"] / res.observables["p"][..., None], res.observables["p"]

    v, p = velocity(x0, jr.split(jr.key(41), groups))
    mean, se = mean_and_stderr(v)
    # exact: omega R applied to the conditional mean of x in each bin (separable Gaussian)
    law = stats.norm(scale=np.sqrt(s2))
    a, c = edges[:-1], edges[1:]
    m = s2 * (law.pdf(a) - law.pdf(c)) / (law.cdf(c) - law.cdf(a))
    X1, X2 = np.meshgrid(m, m, indexing="ij")
    exact = np.stack([-omega * X2, omega * X1], axis=-1)
    assert_within_stderr(mean, se, exact)
    assert np.all(np.abs(exact) > 2 * N_SE * se)  # the velocity is resolved in every bin
    # and the histogram is the (discrete-time) density per unit volume over all samples
    mass = np.outer(np.diff(law.cdf(edges)), np.diff(law.cdf(edges)))
    p_mean, p_se = mean_and_stderr(p)
    assert_within_stderr(p_mean, p_se + 1e-12, mass)


def test_current_field_and_histogram_pool_the_same_default_coordinates():
    # [b, 3, 1]: three particles in 1D, pooled by both; the current integrates to the mean
    # displacement of all particles, the histogram to the fraction of samples in range.
    system = jn.langevin.Overdamped(force=lambda x: jnp.full_like(x, 0.5))
    x0 = jr.uniform(jr.key(42), (64, 3, 1), minval=-1.0, maxval=1.0)
    edges = jnp.linspace(-20.0, 20.0, 9)
    obs = {"J": jn.observables.CurrentField(edges), "p": jn.observables.Histogram(edges)}
    res = jn.langevin.simulate(system, x0, key=jr.key(43), dt=0.01, n_steps=50, observables=obs)
    width = 5.0
    J, p = np.asarray(res.observables["J"]), np.asarray(res.observables["p"])
    np.testing.assert_allclose(J.sum() * width, float(jnp.mean(res.x - x0)) / 0.5, rtol=1e-9)
    np.testing.assert_allclose(p.sum() * width, 1.0, rtol=1e-12)

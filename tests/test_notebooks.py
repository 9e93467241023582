"""The notebooks in notebooks/ run top to bottom (code cells executed in order, Agg backend)
and their results are what the text says, checked here against references computed without
jaxneq's solvers (closed forms, numpy linear algebra)."""

import json
import pathlib

import matplotlib
import numpy as np
import pytest
from _stats import N_SE, assert_within_stderr, unit_roundoff

NOTEBOOK_DIR = pathlib.Path(__file__).parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _run(path):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = json.loads(path.read_text())["cells"]
    assert any(c["cell_type"] == "code" for c in cells)
    namespace: dict = {}
    try:
        for cell in cells:
            if cell["cell_type"] == "code":
                exec(compile("".join(cell["source"]), f"{path.name}", "exec"), namespace)
    finally:
        plt.close("all")
    return namespace


def _bordered(rates):
    """[Q^T; 1 ... 1]: p Q = 0 with sum(p) = 1 is this matrix times p = (0, ..., 0, 1)."""
    rates = np.asarray(rates, np.float64)
    Q = rates - np.diag(rates.sum(1))
    return np.vstack([Q.T, np.ones(len(Q))])


def _numpy_stationary(rates):
    B = _bordered(rates)
    rhs = np.zeros(B.shape[0])
    rhs[-1] = 1.0
    return np.linalg.lstsq(B, rhs, rcond=None)[0], np.linalg.cond(B)


def _check_master_equations(ns):
    import jaxneq as jn

    u = unit_roundoff(np.float64)
    gth_rtol = 8 * 4**3 * u  # O'Cinneide's entrywise bound for GTH on n = 4 states
    # 1. the tree theorem, typed here: p ∝ (2(r+1), r+3, 4, 3r+1)
    r = float(ns["r34"])
    tree = np.array([2 * (r + 1), r + 3, 4.0, 3 * r + 1])
    tree /= tree.sum()
    np.testing.assert_allclose(ns["p"], tree, rtol=2 * gth_rtol)
    # 2. currents, affinity and Schnakenberg's sum, with numpy on the exact p
    rates = np.asarray(ns["rates"], np.float64)
    flux = tree[:, None] * rates
    np.testing.assert_allclose(ns["J"], flux - flux.T, atol=4 * gth_rtol)
    assert abs(ns["affinity"] - np.log(r)) <= 8 * u
    edges = rates > 0
    schnakenberg = 0.5 * np.sum((flux - flux.T)[edges] * np.log(flux[edges] / flux.T[edges]))
    np.testing.assert_allclose(ns["sigma"], schnakenberg, rtol=16 * gth_rtol)
    np.testing.assert_allclose(
        ns["ring_current"] * ns["affinity"], schnakenberg, rtol=16 * gth_rtol
    )
    # 3. MFPT to state 0 by a numpy solve; spectra by numpy eigenvalues and the closed form
    # of the uniform driven ring
    Q = rates - np.diag(rates.sum(1))
    tau = np.zeros(4)
    tau[1:] = np.linalg.solve(Q[1:, 1:], -np.ones(3))
    np.testing.assert_allclose(ns["tau"], tau, rtol=1e3 * u)

    def nonzero_eigenvalues(q):
        lam = np.linalg.eigvals(-q)
        lam = np.delete(lam, np.argmin(np.abs(lam)))
        return lam[np.lexsort((lam.imag, lam.real))]

    np.testing.assert_allclose(ns["spectrum"], nonzero_eigenvalues(Q), atol=1e3 * u)
    a, b = np.exp(ns["drive"] / 2), np.exp(-ns["drive"] / 2)
    theta = 2 * np.pi * np.arange(1, 6) / 6
    ring = (a + b) * (1 - np.cos(theta)) + 1j * (b - a) * np.sin(theta)
    ring = ring[np.lexsort((ring.imag, ring.real))]
    np.testing.assert_allclose(ns["spectrum_driven"], ring, atol=1e3 * u)
    assert np.abs(np.asarray(ns["spectrum_driven"]).imag).max() > 0.1  # it oscillates
    # the distance to p decays with the gap (the tail of evolve against the eigenvalue;
    # the next rate is 1.3 times faster, so by t = 2 its share is below e^-0.6 ~ 1e-3)
    d, t = np.asarray(ns["distance"]), np.asarray(ns["times"])
    decay = -np.log(d[-1] / d[20]) / (t[-1] - t[20])
    np.testing.assert_allclose(decay, nonzero_eigenvalues(Q)[0].real, rtol=1e-3)
    # 4. Gillespie: occupation fractions and the medium entropy flow of each run, averaged
    # over the independent runs with numpy, within N_SE standard errors of the exact values
    occupation = np.asarray(ns["occupation"])
    assert_within_stderr(
        occupation.mean(0), occupation.std(0, ddof=1) / np.sqrt(len(occupation)), tree
    )
    counts = np.asarray(ns["stats"].jump_counts, np.float64)
    safe = np.where(edges, rates, 1.0)
    per_run = (counts * np.log(safe / safe.T)).sum((1, 2)) / np.asarray(ns["stats"].total_time)
    assert_within_stderr(per_run.mean(), per_run.std(ddof=1) / np.sqrt(per_run.size), schnakenberg)
    np.testing.assert_allclose(float(ns["sigma_hat"].value), per_run.mean(), rtol=1e-10)

    # 5. the blowtorch ring: numpy null vectors of the same rates; Boltzmann at T_hot = 1;
    # the adjoint slope against a central difference of the numpy ratio
    def numpy_ratio(t_hot):
        q, _ = _numpy_stationary(jn.markov.to_dense(jn.models.blowtorch_ring(t_hot, 16)))
        return q[ns["A"]] / q[ns["B"]]

    kappa = max(
        np.linalg.cond(_bordered(jn.markov.to_dense(jn.models.blowtorch_ring(t, 16))))
        for t in (1.0, 6.0)
    )
    ref = np.array([numpy_ratio(float(t)) for t in np.asarray(ns["hot"])])
    np.testing.assert_allclose(ns["ratios"], ref, rtol=8 * kappa * u)
    energies = np.asarray(jn.models.blowtorch_ring_energies(16), np.float64)
    boltzmann = np.exp(energies[ns["B"]] - energies[ns["A"]])
    np.testing.assert_allclose(ns["ratios"][0], boltzmann, rtol=8 * kappa * u)
    h = 1e-5  # truncation h^2 |f'''| / 6 ~ 1e-10; rounding kappa u / h ~ 1e-8
    slope = (numpy_ratio(1.0 + h) - numpy_ratio(1.0 - h)) / (2 * h)
    np.testing.assert_allclose(ns["slope_at_1"], slope, rtol=1e-6)
    assert float(ns["ratios"][-1]) < 0.5 * float(ns["ratios"][0])  # heating A's slope empties A


def _check_langevin_ensembles(ns):
    T, dt, b = ns["T"], ns["dt"], ns["b"]
    k = np.asarray(ns["stiffness"], np.float64)
    # the Euler-Maruyama chain x' = (1 - k dt) x + sqrt(2 T dt) xi: variance 2 T dt / (1 - (1 -
    # k dt)^2); Leimkuhler-Matthews samples the OU variance T / k exactly
    chain = 2 * T * dt / (1 - (1 - k * dt) ** 2)
    np.testing.assert_allclose(ns["var_em"], chain, rtol=1e-12)
    np.testing.assert_allclose(ns["var_continuum"], T / k, rtol=1e-12)
    for method, exact in (("euler_maruyama", chain), ("leimkuhler_matthews", T / k)):
        samples = np.asarray(ns["x2"][method], np.float64)  # [k, b] time averages per member
        mean, se = samples.mean(1), samples.std(1, ddof=1) / np.sqrt(b)
        assert_within_stderr(mean, se, exact)
        np.testing.assert_allclose(ns["x2_mean"][method], mean, rtol=1e-12)
    # the time-step bias is resolved: at k dt = 0.2 Euler-Maruyama is many SE above T / k
    em = np.asarray(ns["x2"]["euler_maruyama"][-1], np.float64)
    assert em.mean() - T / k[-1] > 10 * em.std(ddof=1) / np.sqrt(b)
    # streaming: <x^4> of the Gaussian chain is 3 C_dt^2; the histogram holds all but the
    # samples beyond 4 standard deviations (Gaussian tail 2 Phi(-4 / sqrt(C_dt)) ~ 1e-4)
    x4 = np.asarray(ns["x4"], np.float64)
    assert_within_stderr(x4.mean(), x4.std(ddof=1) / np.sqrt(b), 3 * chain[1] ** 2)
    width = float(ns["edges"][1] - ns["edges"][0])
    assert 1 - 1e-3 < np.sum(ns["density"]) * width <= 1 + 1e-12
    # checkpoints: resumed and checkpointed runs are bitwise the plain run
    for name in ("first", "again"):
        np.testing.assert_array_equal(ns[name].x, ns["plain"].x)
        np.testing.assert_array_equal(ns[name].observables["x2"], ns["plain"].observables["x2"])
    assert ns["same"] is True


def _check_temperature_fields(ns):
    from scipy import integrate

    # reference without jaxneq's solvers: p_alpha ∝ T^(alpha - 1) exp(-∫_0^x U'/T), left share
    # by quadrature on the grid's box (the tails beyond |x| = 2.5 weigh ~e^-27)
    def temperature(y):
        return 1 + 3 * np.exp(-((y + 1) ** 2) / (2 * 0.3**2))

    def share(alpha):
        def weight(x):
            phase = integrate.quad(lambda y: 4 * y * (y**2 - 1) / temperature(y), 0, x)[0]
            return temperature(x) ** (alpha - 1) * np.exp(-phase)

        left = integrate.quad(weight, -2.5, 0, limit=200, points=[-1.0])[0]
        return left / (left + integrate.quad(weight, 0, 2.5, limit=200)[0])

    exact = {c: share(a) for c, a in (("ito", 0.0), ("stratonovich", 0.5), ("isothermal", 1.0))}
    assert exact["ito"] < exact["stratonovich"] - 0.05 < exact["isothermal"] - 0.1
    x = np.asarray(ns["grid"].axes[0], np.float64)
    for convention, value in exact.items():
        # the library's quadrature of the closed form, to the accuracy of scipy's quad
        assert abs(ns["exact_share"][convention] - value) < 1e-8
        # second-order grid (h = 0.02): the share to well below 1e-3
        assert abs(ns["grid_share"][convention] - value) < 1e-3
        # each member's time share is one independent sample (they start in the steady state);
        # Euler-Maruyama's O(dt) bias at dt = 2e-3 is below a standard error (stated in the text)
        left = np.asarray(ns["left_samples"][convention], np.float64)
        assert_within_stderr(left.mean(), left.std(ddof=1) / np.sqrt(left.size), value)
    # the factor T^(alpha - 1) is exact at the cells: p_ito T / p_isothermal is constant
    ratio = ns["grid_density"]["ito"] * temperature(x) / ns["grid_density"]["isothermal"]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-10)
    # the small-mass underdamped particle is Ito's, clearly not the others'
    under = np.asarray(ns["left_under"], np.float64)
    se = under.std(ddof=1) / np.sqrt(under.size)
    distance = {c: abs(under.mean() - v) for c, v in exact.items()}
    assert distance["ito"] < distance["stratonovich"] - 2 * N_SE * se
    assert distance["stratonovich"] < distance["isothermal"]


def _check_two_temperatures(ns):
    from scipy import linalg

    k, lam, T1, T2, dt = ns["k"], ns["lam"], ns["T1"], ns["T2"], ns["dt"]
    # linear theory with numpy/scipy: A C + C A^T = 2 D, and the Euler-Maruyama chain
    # x' = M x + sqrt(2 D dt) xi with M C M^T + 2 D dt = C (Stratonovich heat per bath)
    A = np.array([[k + lam, -k], [-k, k + lam]])
    D = np.diag([T1, T2])
    sigma = k**2 * (T1 - T2) ** 2 / (2 * T1 * T2 * (k + lam))
    heat_to_cold = k**2 * (T1 - T2) / (2 * (k + lam))
    M = np.eye(2) - A * dt
    C_dt = linalg.solve_discrete_lyapunov(M, 2 * D * dt)
    heat_dt = -np.diag((M @ C_dt - C_dt @ M.T) @ A.T) / (2 * dt)
    sigma_dt = heat_dt[0] / T1 + heat_dt[1] / T2
    np.testing.assert_allclose(ns["sigma_exact"], sigma, rtol=1e-12)
    np.testing.assert_allclose(ns["heat_exact"], [-heat_to_cold, heat_to_cold], rtol=1e-12)
    np.testing.assert_allclose(ns["sigma_chain"], sigma_dt, rtol=1e-10)
    np.testing.assert_allclose(ns["heat_chain"], heat_dt, rtol=1e-10)
    # measured per member (independent members): within N_SE standard errors of the chain
    s = np.asarray(ns["sigma_samples"], np.float64)
    h = np.asarray(ns["heat_samples"], np.float64)
    n = len(s)
    assert_within_stderr(s.mean(), s.std(ddof=1) / np.sqrt(n), sigma_dt)
    assert_within_stderr(h.mean(0), h.std(0, ddof=1) / np.sqrt(n), heat_dt)
    assert_within_stderr(h.sum(1).mean(), h.sum(1).std(ddof=1) / np.sqrt(n), 0.0)
    # the circulation of the binned current over the window, against the exact current
    # J = (-A + D C^-1) x p(x) summed over the same bins (one value per sub-ensemble)
    C = linalg.solve_continuous_lyapunov(A, 2 * D)
    X1, X2 = np.asarray(ns["X1"]), np.asarray(ns["X2"])
    x = np.stack([X1, X2], -1)
    p = np.exp(-0.5 * np.einsum("...i,ij,...j", x, np.linalg.inv(C), x))
    p /= 2 * np.pi * np.sqrt(np.linalg.det(C))
    J = (x @ (-A + D @ np.linalg.inv(C)).T) * p[..., None]
    window = np.sum(X1 * J[..., 1] - X2 * J[..., 0]) * ns["volume"]
    np.testing.assert_allclose(ns["circulation_window"], window, rtol=1e-10)
    plane = ((-A + D @ np.linalg.inv(C)) @ C)[1, 0] - ((-A + D @ np.linalg.inv(C)) @ C)[0, 1]
    np.testing.assert_allclose(ns["circulation_plane"], plane, rtol=1e-10)
    groups = np.asarray(ns["circulation_groups"], np.float64)
    assert_within_stderr(groups.mean(), groups.std(ddof=1) / np.sqrt(len(groups)), window)
    # the short-time TUR from positions alone: sigma within its standard error (its O(2 dt)
    # bias is stated in the text)
    assert_within_stderr(float(ns["tur"].value), float(ns["tur"].stderr), sigma)


def _check_work_free_energy(ns):
    from scipy import optimize, special

    T, b = ns["T"], ns["b"]
    delta_f = 0.5 * T * np.log(ns["k1"] / ns["k0"])  # Gaussian partition functions
    w_f = np.asarray(ns["work"]["forward"], np.float64)
    w_r = np.asarray(ns["work"]["reverse"], np.float64)
    assert w_f.mean() - N_SE * w_f.std(ddof=1) / np.sqrt(b) > delta_f  # second law
    # EXP and BAR recomputed with numpy/scipy (log-sum-exp; Bennett's equation by brentq),
    # then against the exact dF within their delta-method standard errors (the O(k dt) ~ 1 %
    # time-step bias of the dissipated work, ~0.003, is far below them)
    exp_value = -T * (special.logsumexp(-w_f / T) - np.log(b))
    x = np.exp(-(w_f - w_f.min()) / T)
    exp_se = T * x.std() / (np.sqrt(b) * x.mean())
    np.testing.assert_allclose(float(ns["exp_estimate"].value), exp_value, rtol=1e-10)
    assert_within_stderr(exp_value, exp_se, delta_f, bias=float(ns["exp_estimate"].bias))

    def bennett(f):  # equal sample sizes: sum_F fermi(w - f) = sum_R fermi(w + f)
        return np.sum(special.expit(-(w_f - f) / T)) - np.sum(special.expit(-(w_r + f) / T))

    bar_value = optimize.brentq(bennett, -10, 10, xtol=1e-14)
    np.testing.assert_allclose(float(ns["bar_estimate"].value), bar_value, atol=1e-9)
    assert_within_stderr(bar_value, float(ns["bar_estimate"].stderr), delta_f)
    check = ns["check"]
    valid = np.asarray(check.valid)
    assert valid.sum() >= 5
    line = (np.asarray(check.work) - delta_f) / T
    assert_within_stderr(
        np.asarray(check.log_ratio)[valid], np.asarray(check.stderr)[valid], line[valid]
    )
    # MBAR: numpy self-consistent iteration on the same u_kn, and the exact 1/2 ln(k / k0)
    u = np.asarray(ns["u_kn"], np.float64)
    n_k = np.full(len(u), ns["n_per_state"])
    f = np.zeros(len(u))
    for _ in range(300):  # overlapping states: converges to ~1e-12 well before
        log_den = special.logsumexp(f[:, None] - u, b=n_k[:, None], axis=0)
        f = -special.logsumexp(-u - log_den, axis=1)
        f -= f[0]
    np.testing.assert_allclose(ns["mbar_estimate"].value, f, atol=1e-8)
    stiffness = np.asarray(ns["stiffnesses"], np.float64)
    exact_f = 0.5 * np.log(stiffness / stiffness[0])
    assert_within_stderr(f[1:], np.asarray(ns["mbar_estimate"].stderr)[1:], exact_f[1:])
    # Landauer: <W> >= T [ln 2 - H(p_left)] within errors, decreasing with the duration, and
    # the slowest protocol erases the bit
    for _tau, mean, se, p_left in ns["erasure"]:
        entropy = (
            0.0 if p_left == 0 else -(p_left * np.log(p_left) + (1 - p_left) * np.log1p(-p_left))
        )
        assert mean >= T * (np.log(2) - entropy) - N_SE * se
    for (_, m1, s1, _), (_, m2, s2, _) in zip(ns["erasure"], ns["erasure"][1:], strict=False):
        assert m2 < m1 + N_SE * np.hypot(s1, s2)
    assert ns["erasure"][-1][3] < 0.05
    # minimum work: the fit lands on Schmiedl-Seifert's (1 + t) / 3 with jumps of 1/3, W* = 1/3
    t = np.asarray(ns["times"], np.float64)
    np.testing.assert_allclose(ns["values"], (1 + t) / 3, atol=1e-6)
    np.testing.assert_allclose(ns["w_star"], 1 / 3, rtol=1e-12)
    np.testing.assert_allclose(float(ns["mean_work"](ns["values"])), 1 / 3, rtol=1e-9)
    w = np.asarray(ns["w_sim"], np.float64)
    # simulated: within N_SE standard errors plus the stated O(mu k dt) time-step allowance
    assert_within_stderr(
        w.mean(), w.std(ddof=1) / np.sqrt(w.size), 1 / 3, bias=ns["dt_trap"] * ns["w_star"]
    )
    # the fit through simulate: judged by the exact work of the protocol it found, which the
    # optimum bounds from below; it must recover most of the linear protocol's excess work
    w_linear, w_fit = ns["history"][0], ns["w_fit_exact"]
    assert 1 / 3 - 1e-12 <= w_fit < 1 / 3 + 0.2 * (w_linear - 1 / 3)


def _check_scaling_out(ns):
    # four devices in a fresh process: bitwise the single-device numbers, sharded over all four
    assert int(ns["four"]["devices_holding_x"]) == 4
    for name in ("x", "x2"):
        np.testing.assert_array_equal(ns["four"][name], np.asarray(ns["cpu_single"][name]))
        np.testing.assert_array_equal(np.asarray(ns["here"][name]), np.asarray(ns["single"][name]))
    assert ns["bitwise_here"] is True and ns["bitwise_four"] is True
    # the physics survives: the Euler-Maruyama chain's variance T / (k (1 - k dt / 2))
    k, T, dt = 2.0, 0.5, 0.05
    exact = T / (k * (1 - k * dt / 2))
    np.testing.assert_allclose(ns["c_dt"], exact, rtol=1e-12)
    x2 = np.asarray(ns["x2"], np.float64)
    assert_within_stderr(x2.mean(), x2.std(ddof=1) / np.sqrt(x2.size), exact)


# the checks of each notebook, by file stem; a notebook without checks fails the test below
def _check_blowtorch_inverse_design(ns):
    import jaxneq as jn

    # 1. p1/p2 = 2(r+1)/(r+3) and its slope 4/(r+3)^2 (tree theorem). GTH is entrywise
    # relatively accurate to 8 n^3 u (O'Cinneide 1993), so a ratio of two entries to twice
    # that; the adjoint slope loses at most the condition number of the bordered generator.
    r = np.asarray(ns["r34"], np.float64)
    n = 4
    gth_rtol = 8 * n**3 * unit_roundoff(np.float64)
    np.testing.assert_allclose(ns["values"], 2 * (r + 1) / (r + 3), rtol=2 * gth_rtol)
    kappa = max(np.linalg.cond(_bordered(jn.models.four_state_chain(v))) for v in r)
    np.testing.assert_allclose(ns["slopes"], 4 / (r + 3) ** 2, rtol=2 * kappa * gth_rtol)

    # 2. the fitted hot spot: the stationary state the notebook plots is the null vector
    # of the generator (numpy least squares, accurate to cond * u), and its left well holds
    # the stated 90 % (to the two digits the text states)
    rates = jn.models.blowtorch_double_well_chain(ns["x"], ns["amplitude"], ns["centre"])
    p_ref, cond = _numpy_stationary(rates)
    np.testing.assert_allclose(
        ns["p"], p_ref, rtol=0, atol=4 * cond * unit_roundoff(np.float64) * p_ref.max()
    )
    left = p_ref[np.asarray(ns["x"]) < 0].sum()
    assert round(100 * left) == 90, left
    assert float(ns["amplitude"]) > 0  # a hot spot, not a cold one


def _check_rattling(ns):
    import jax

    import jaxneq as jn

    u = unit_roundoff(np.float64)
    # 1. equal barriers: pi is proportional to 1/exit rate exactly, so gamma = 1
    assert abs(ns["gamma_equal_barriers"] - 1) <= 1e4 * u
    # 2. the sweep's mean gamma at one parameter point, refitted with numpy on the numpy
    # null vectors of the same chains (same keys)
    i, k = len(ns["barrier_spreads"]) - 1, 0
    gammas = []
    for key in jax.random.split(jax.random.key(0), ns["n_chains"]):
        rates = np.asarray(
            jn.models.random_driven_ring(
                key, ns["n_states"], barrier_spread=ns["barrier_spreads"][i], drive=ns["drives"][k]
            )
        )
        p, _ = _numpy_stationary(rates)
        gammas.append(-np.polyfit(np.log(rates.sum(1)), np.log(p), 1)[0])
    np.testing.assert_allclose(ns["gamma_mean"][i, k], np.mean(gammas), rtol=1e-8)
    np.testing.assert_allclose(ns["gamma_mean"][0], 1.0, atol=1e4 * u)
    # 3. design: the printed exact steady state is the null vector of the designed generator,
    # and its most probable state is the target
    p_ref, cond = _numpy_stationary(ns["rates_design"])
    np.testing.assert_allclose(ns["p_design"], p_ref, rtol=0, atol=16 * cond * u)
    assert int(np.argmax(p_ref)) == ns["target"] == int(np.argmax(ns["q_design"]))
    # 4. from trajectories: R is 1/2 log T + const (unit slope) and gamma is near 2
    used = np.asarray(ns["used"])
    slope = np.polyfit(ns["R_exact"][used], np.asarray(ns["field"].rattling)[used], 1)[0]
    assert abs(slope - 1) < 0.1, slope
    assert 1.5 < float(ns["fit_traj"].gamma) < 2.5


def _check_blowtorch_design_fp(ns):
    from scipy import integrate, optimize

    # reference without jaxneq's solvers: the Ito closed form p ∝ T^-1 exp(-∫_0^x U'/T),
    # left share by quadrature; its maximiser by scipy's bounded scalar search
    def share(c):
        def temperature(y):
            return 1 + 3 * np.exp(-((y - c) ** 2) / (2 * 0.3**2))

        def weight(x):
            phase = integrate.quad(lambda y: 4 * y * (y**2 - 1) / temperature(y), 0, x)[0]
            return np.exp(-phase) / temperature(x)

        left = integrate.quad(weight, -2, 0, limit=200)[0]
        return left / (left + integrate.quad(weight, 0, 2, limit=200)[0])

    best = optimize.minimize_scalar(
        lambda c: -share(c), bounds=(0.3, 1.0), method="bounded", options={"xatol": 1e-5}
    )
    assert abs(float(ns["centre"]) - best.x) <= 0.01  # the scan's resolution
    assert abs(float(ns["scan"][int(np.argmax(ns["shares"]))]) - best.x) <= 0.01
    # second-order grid (h = 0.02): |share_grid - share_exact| well below 1e-3
    assert abs(ns["share_opt"] - share(float(ns["centre"]))) < 1e-3


CHECKS = {
    "scaling_out": _check_scaling_out,
    "work_free_energy": _check_work_free_energy,
    "two_temperatures": _check_two_temperatures,
    "temperature_fields": _check_temperature_fields,
    "langevin_ensembles": _check_langevin_ensembles,
    "master_equations": _check_master_equations,
    "blowtorch_design_fp": _check_blowtorch_design_fp,
    "blowtorch_inverse_design": _check_blowtorch_inverse_design,
    "rattling": _check_rattling,
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_and_states_true_numbers(path):
    assert path.stem in CHECKS, f"add the checks of {path.name} to CHECKS in this file"
    CHECKS[path.stem](_run(path))


def test_every_notebook_is_found():
    assert NOTEBOOKS, f"no notebooks under {NOTEBOOK_DIR}"

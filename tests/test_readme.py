"""The README's Python examples run as written and give the numbers they state.

References are computed here, independently of jaxneq: the Markov chain tree theorem for the
four-state ring, and the exact moments of the Euler–Maruyama recursion of the linear
two-temperature pair (so the only tolerance of the simulated number is its sampling error).
"""

import pathlib
import re

import numpy as np
import pytest
from _stats import assert_samples_match, assert_within_stderr, unit_roundoff

import jaxneq as jn

README = pathlib.Path(__file__).parent.parent / "README.md"


def _run_readme():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    ns: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), ns)
    return ns


def _euler_maruyama_entropy_production(A, T, dt, n_steps, burn_in):
    """Mean of the midpoint-rule entropy production rate of x' = M x + sqrt(2 T dt) xi,
    M = 1 - A dt (unit mobility, F = -A x), from x = 0, over the steps burn_in..n_steps-1.

    Per step E[F(mid) . dx / T] = -1/2 tr(W (M C - C M^T + C' - C)), W = A^T T^-1, with the
    covariance C of x before the step and C' = M C M^T + 2 T dt after it."""
    n = A.shape[0]
    M = np.eye(n) - A * dt
    W = A.T @ np.diag(1 / T)
    C = np.zeros((n, n))
    total = 0.0
    for step in range(n_steps):
        C_next = M @ C @ M.T + 2 * dt * np.diag(T)
        if step >= burn_in:
            total += -0.5 * np.trace(W @ (M @ C - C @ M.T + C_next - C))
        C = C_next
    return total / ((n_steps - burn_in) * dt)


def test_readme_examples_run_and_give_the_numbers_they_state(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the figure example writes driven_trap.png
    ns = _run_readme()
    # Figures: a rotating force leaves the trap's Gaussian exp(-r^2/2)/2pi unchanged (the
    # rotational force is divergence-free and orthogonal to grad U); the README states the
    # grid's largest deviation along its cut as 8e-4, which is what the grid gives
    assert (tmp_path / "driven_trap.png").stat().st_size > 0
    x_cut, y0 = np.asarray(ns["x_cut"]), float(ns["y0"])
    gauss = np.exp(-(x_cut**2 + y0**2) / 2) / (2 * np.pi)
    assert round(float(np.abs(np.asarray(ns["p_trap"])[:, 15] - gauss).max()), 4) == 8e-4
    # Exact 1D references: the printed numbers; the grid's ring current converges to the
    # closed form at second order (tests/test_fokker_planck_closed_form.py), here within 1e-4
    v_exact, v_grid = float(ns["ratchet_exact"].velocity), float(ns["v_grid"])
    assert round(v_exact, 4) == round(v_grid, 4) == 0.9402
    assert round(float(ns["well_state"].cumulative[100]), 4) == 0.6606
    # Design under a budget: the amplitude holds sigma = 0.5 exactly, and the printed currents
    uniform, designed = (float(ns["current_at_budget"](v)) for v in (np.ones(4), ns["w"]))
    amplitude = jn.fokker_planck.scale_to_budget(ns["entropy_production"], ns["w"], 0.5)
    assert float(ns["entropy_production"](ns["w"], amplitude)) == pytest.approx(0.5, rel=1e-10)
    assert (round(uniform, 4), round(designed, 4)) == (0.0835, 0.0838)
    rates = np.asarray(ns["rates"], np.float64)
    n = rates.shape[0]
    # four-state ring at r34 = 2: p ∝ (2(r+1), r+3, 4, 3r+1) (Markov chain tree theorem).
    # GTH is entrywise relatively accurate to O(n^3) u (O'Cinneide, Numer. Math. 65, 109
    # (1993): at most 8 n^3 u to first order).
    r = 2.0
    exact = np.array([2 * (r + 1), r + 3, 4, 3 * r + 1])
    exact = exact / exact.sum()
    gth_rtol = 8 * n**3 * unit_roundoff(np.float64)
    np.testing.assert_allclose(ns["p"], exact, rtol=gth_rtol)
    # Schnakenberg entropy production and currents of the exact distribution: each is a
    # sum of n^2 terms built from p, so its relative error is a few gth_rtol
    flux = exact[:, None] * rates
    J = flux - flux.T
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(flux > 0, np.log(flux / flux.T), 0.0)
    sigma = 0.5 * np.sum(J * log_ratio)
    assert sigma > 0  # the ring is driven (r34 != 1), so the comparison is not 0 == 0
    np.testing.assert_allclose(float(ns["sigma"]), sigma, rtol=4 * n**2 * gth_rtol)
    np.testing.assert_allclose(np.asarray(ns["J"]), J, rtol=0, atol=4 * gth_rtol * flux.max())
    # the implicit-adjoint slope d(p1/p2)/dr34 = 4/(r+3)^2; one adjoint solve loses at most
    # the condition number of the bordered generator [Q^T; 1] on top of the forward error
    Q = rates - np.diag(rates.sum(1))
    kappa = np.linalg.cond(np.vstack([Q.T, np.ones(n)]))
    np.testing.assert_allclose(ns["slope"], 4 / (r + 3) ** 2, rtol=kappa * gth_rtol)
    # Gillespie: one trajectory of n_jumps + 1 states starting at time 0 in state 0
    traj = ns["traj"]
    assert traj.states.shape == traj.times.shape == (1001,)
    assert int(traj.states[0]) == 0 and float(traj.times[0]) == 0.0
    assert np.all(np.diff(np.asarray(traj.times)) > 0)
    assert np.all(rates[np.asarray(traj.states[:-1]), np.asarray(traj.states[1:])] > 0)

    # Langevin: the two-temperature pair's entropy production. The README's "exact 1/8" is
    # the dt -> 0 value; the simulation converges to the Euler–Maruyama chain's own value at
    # dt = 0.01, computed exactly here, so only the sampling error remains.
    k, lam, T1, T2 = 1.0, 1.0, 2.0, 1.0
    A = np.array([[k + lam, -k], [-k, k + lam]])
    T = np.array([T1, T2])
    system = ns["system"]
    lin = jn.models.linear_entropy_production_rate(
        *jn.models.linear_coefficients(system, ns["x0"][0])
    )
    np.testing.assert_allclose(float(lin), 1 / 8, rtol=64 * unit_roundoff(np.float64))
    ep = np.asarray(ns["result"].observables["ep"])
    assert ep.shape == (ns["x0"].shape[0],)
    em = _euler_maruyama_entropy_production(A, T, dt=1e-2, n_steps=2000, burn_in=500)
    assert_samples_match(ep, em)

    # Gillespie ensembles: a batch of initial states with one key
    ens = ns["ens"]
    assert ens.states.shape == ens.times.shape == (256, 101)
    assert np.all(np.asarray(ens.states[:, 0]) == 0)

    # Work and free energy: Delta F = (T/2) ln(k1/k0) recovered within the stated errors
    exact_df = 0.5 * np.log(4.0)
    for estimate in (ns["exp_estimate"], ns["bar_estimate"]):
        assert_within_stderr(float(estimate.value), float(estimate.stderr), exact_df)
    assert np.mean(np.asarray(ns["work"]["forward"])) > exact_df  # second law
    # Schmiedl-Seifert: W* = lambda_f^2 / (mu (t_f + 2 / (mu k))) = 1/3 for unit parameters
    np.testing.assert_allclose(float(ns["w_min"]), 1 / 3, rtol=16 * unit_roundoff(np.float64))

    # Rattling: gamma = 1 chain by chain for equal barriers (pi ∝ 1/exit rate, exactly);
    # for spread barriers the batched fit equals a numpy refit on numpy null vectors
    u = unit_roundoff(np.float64)
    np.testing.assert_allclose(np.asarray(ns["equal"]), 1.0, atol=1e4 * u)
    keys = ns["keys"]
    gammas, r2 = [], []
    for key in keys:
        rates_k = np.asarray(
            jn.models.random_driven_ring(key, 16, barrier_spread=2.0, drive=0.0), np.float64
        )
        Q = rates_k - np.diag(rates_k.sum(1))
        _, _, vt = np.linalg.svd(Q.T)
        p_k = np.abs(vt[-1]) / np.abs(vt[-1]).sum()
        R = np.log(rates_k.sum(1))
        slope, intercept = np.polyfit(R, np.log(p_k), 1)
        gammas.append(-slope)
        resid = np.log(p_k) - (slope * R + intercept)
        r2.append(1 - resid.var() / np.log(p_k).var())
    np.testing.assert_allclose(np.asarray(ns["spread"]), gammas, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.asarray(ns["fits"].r_squared[256:]), r2, rtol=1e-6, atol=1e-8)
    assert 0.2 < np.mean(gammas) < 0.4 and 0.25 < np.mean(r2) < 0.45  # the README's "~"

    # Fokker–Planck inverse design: Adam's optimum agrees with the brute-force scan within
    # the scan's spacing, and is at least as good as the best scanned point
    assert abs(float(ns["centre"]) - float(ns["scan_best"])) <= 0.01
    best_scanned = float(ns["left_share"](ns["scan_best"]))
    assert float(ns["left_share"](ns["centre"])) >= best_scanned - 1e-9

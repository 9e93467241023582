"""`jaxneq tour`: every demo runs and the numbers it prints agree with exact values within
the error the demo states.

Ground truth, computed here independently of jaxneq: the tree theorem's closed forms for the
four-state ring, Boltzmann weights, scipy's continuous and discrete Lyapunov solvers for the
two-temperature pair (the exact stationary values for dt -> 0 and for the Euler–Maruyama
chain at the demo's dt), and the accuracy GTH promises, entrywise relative error
8 n^3 u (C. A. O'Cinneide, Numer. Math. 65, 109 (1993)).
"""

import importlib
import json

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
from _stats import N_SE, unit_roundoff

from jaxneq import cli
from jaxneq._tour import DEMOS

U = unit_roundoff(np.float64)  # tests/conftest.py enables float64


def gth_relative_error_bound(n_states):
    """Entrywise relative accuracy of a GTH stationary solve, 8 n^3 u (O'Cinneide 1993)."""
    return 8 * n_states**3 * U


# The demos checked in this file; the others have their own test files
# (tests/test_tour_*.py), which run them once each, so no demo runs twice in the suite.
CHECKED_HERE = ["blowtorch_chain", "hot_cold", "inverse_design", "two_temperature"]


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    """Run the quick tour of CHECKED_HERE once through the command line (folder, numbers)."""
    out = tmp_path_factory.mktemp("tour")
    assert cli.main(["tour", "--quick", "--out", str(out), "--only", *CHECKED_HERE]) == 0
    return out, json.loads((out / "tour.json").read_text())


def test_every_demo_has_a_test_file_that_checks_its_numbers():
    import pathlib

    tests = pathlib.Path(__file__).parent
    others = " ".join(p.read_text() for p in tests.glob("test_tour_*.py"))
    for name in DEMOS:
        assert name in CHECKED_HERE or f'"{name}"' in others or f"{name}." in others, name


def test_every_demo_module_follows_the_protocol():
    for name in DEMOS:
        module = importlib.import_module(f"jaxneq._tour.{name}")
        assert module.NAME == name
        assert isinstance(module.TITLE, str) and module.TITLE
        assert callable(module.run)


def test_every_demo_writes_its_figure_and_its_numbers(tour):
    out, numbers = tour
    assert set(numbers) == set(CHECKED_HERE)
    for name in CHECKED_HERE:
        assert (out / f"{name}.png").stat().st_size > 0, name


def test_blowtorch_chain_demo_matches_the_tree_theorem(tour):
    got = tour[1]["blowtorch_chain"]
    assert got["dtype"] == "float64"
    bound = gth_relative_error_bound(4)
    assert got["max_rel_err_ratio_vs_tree_theorem"] <= 2 * bound  # a ratio of two entries
    assert got["max_rel_err_grad_vs_tree_theorem"] <= 2 * bound
    for r34, key in ((0.01, "p1_over_p2_at_r34_0.01"), (1.0, "p1_over_p2_at_r34_1")):
        assert got[key] == pytest.approx(2 * (r34 + 1) / (r34 + 3), rel=2 * bound)
    assert got["dratio_dr34_at_r34_1"] == pytest.approx(4 / 16, rel=2 * bound)
    # ring at one temperature: Boltzmann, p_A/p_B = exp(-(E_A - E_B)) = exp(-2 tilt)
    n = got["ring_states"]
    assert got["ring_pA_over_pB_boltzmann"] == pytest.approx(np.exp(-0.6), rel=1e-14)
    assert got["ring_pA_over_pB_cold"] == pytest.approx(
        np.exp(-0.6), rel=2 * gth_relative_error_bound(n)
    )
    assert got["ring_rel_err_cold_vs_boltzmann"] <= 2 * gth_relative_error_bound(n)
    # the blowtorch: heating A's slope empties A
    assert got["ring_pA_over_pB_hottest"] < got["ring_pA_over_pB_cold"]
    assert got["ring_dratio_dT_at_T1"] < 0


def test_inverse_design_demo_reaches_its_target_from_boltzmann(tour):
    got = tour[1]["inverse_design"]
    x = np.linspace(-1.6, 1.6, 41)
    boltzmann = np.exp(-4.0 * (x**2 - 1.0) ** 2)
    left = boltzmann[x < 0].sum() / boltzmann.sum()
    assert got["left_population_start"] == pytest.approx(left, rel=gth_relative_error_bound(41))
    assert abs(got["left_population_fitted"] - got["target_left_population"]) < 0.01
    assert got["final_loss"] == pytest.approx(
        (got["left_population_fitted"] - got["target_left_population"]) ** 2, rel=0.05
    )
    assert got["blowtorch_amplitude"] > 0 and got["blowtorch_centre"] > 0  # heat the right well


def two_temperature_exact(k, lam, T1, T2, dt):
    """scipy: stationary covariance, heat into bath 2 and entropy production, for dt -> 0 and
    for the Euler–Maruyama chain x' = (1 - A dt) x + sqrt(2 D dt) xi (midpoint rule)."""
    A = np.array([[k + lam, -k], [-k, k + lam]])
    D = np.diag([T1, T2])
    C = scipy.linalg.solve_continuous_lyapunov(A, 2 * D)
    heat = np.diag(A @ C @ A.T - A @ D)  # <F_i o dx_i>/dt with F = -A x
    M = np.eye(2) - A * dt
    C_dt = scipy.linalg.solve_discrete_lyapunov(M, 2 * D * dt)
    S = M @ C_dt - C_dt @ M.T  # 2 E[dx xbar^T]
    heat_dt = -np.diag(S @ A.T) / (2 * dt)
    T = np.array([T1, T2])
    GC = -A @ C + D
    # the exact current (-A + D C^-1) x p(x) summed over the demo's bins of [-4.5, 4.5]^2
    c = np.linspace(-4.25, 4.25, 18)
    X = np.stack(np.meshgrid(c, c, indexing="ij"), axis=-1)
    p = np.exp(-0.5 * np.einsum("...i,ij,...j", X, np.linalg.inv(C), X))
    p /= 2 * np.pi * np.sqrt(np.linalg.det(C))
    J = np.einsum("ij,...j->...i", -A + D @ np.linalg.inv(C), X) * p[..., None]
    window = np.sum(X[..., 0] * J[..., 1] - X[..., 1] * J[..., 0]) * 0.5**2
    return {
        "heat": heat[1],
        "sigma": np.sum(heat / T),
        "heat_dt": heat_dt[1],
        "sigma_dt": np.sum(heat_dt / T),
        "circulation": GC[1, 0] - GC[0, 1],  # integral of x1 J2 - x2 J1
        "circulation_window": window,
    }


def test_two_temperature_demo_agrees_with_the_exact_discrete_chain_within_its_stderr(tour):
    got = tour[1]["two_temperature"]
    exact = two_temperature_exact(1.0, 1.0, 4.0, 1.0, got["dt"])
    # closed forms for dt -> 0: sigma = k^2 (T1 - T2)^2 / (2 T1 T2 (k + lam)) = 9/16 here
    assert exact["sigma"] == pytest.approx(9 / 16, rel=1e-12)
    assert got["sigma_exact_dt_to_0"] == pytest.approx(exact["sigma"], rel=1e-12)
    assert got["heat_to_cold_bath_exact_dt_to_0"] == pytest.approx(exact["heat"], rel=1e-12)
    assert got["sigma_exact_euler_maruyama_dt"] == pytest.approx(exact["sigma_dt"], rel=1e-10)
    assert got["heat_to_cold_bath_exact_euler_maruyama_dt"] == pytest.approx(
        exact["heat_dt"], rel=1e-10
    )
    assert got["circulation_exact"] == pytest.approx(exact["circulation"], rel=1e-12)
    assert got["circulation_exact_in_window"] == pytest.approx(exact["circulation_window"], 1e-12)
    # measured values: within N_SE standard errors of the exact values at the demo's dt
    assert abs(got["sigma_measured"] - exact["sigma_dt"]) <= N_SE * got["sigma_stderr"]
    assert (
        abs(got["heat_to_cold_bath_measured"] - exact["heat_dt"])
        <= N_SE * got["heat_to_cold_bath_stderr"]
    )
    # the circulation of the measured field, against the exact one over the same bins (its
    # O(dt) bias, ~1 %, is below the standard error at the demo's dt)
    assert (
        abs(got["circulation_measured"] - got["circulation_exact_in_window"])
        <= N_SE * got["circulation_stderr"]
    )


def chase_speed_by_quadrature(T_hot, T_cold, k=10.0, sigma=1.0, box=3.0):
    """<v_R . f> / <|f|> over p(r) ~ exp(-2 U(r) / (T_hot + T_cold)) on the 2D torus, with
    v_R = (T_hot - T_cold) / (T_hot + T_cold) f (the docstring of hot_cold_pair)."""
    out = []
    for th in np.atleast_1d(T_hot):

        def moment(power, th=th):
            def integrand(r):
                weight = 2 * np.pi * r * np.exp(-k * (1 - r / sigma) ** 2 / (th + T_cold))
                return weight * (k / sigma * (1 - r / sigma)) ** power

            return scipy.integrate.quad(integrand, 0, sigma)[0]

        norm = moment(0) + box**2 - np.pi * sigma**2
        mean_f, mean_f2 = moment(1) / norm, moment(2) / norm
        out.append((th - T_cold) / (th + T_cold) * mean_f2 / mean_f)
    return np.asarray(out)


def test_hot_cold_demo_chase_speeds_agree_with_the_exact_speed_within_five_stderr(tour):
    got = tour[1]["hot_cold"]
    speed = np.asarray(got["chase_speed"])
    stderr = np.asarray(got["chase_speed_stderr"])
    exact = np.asarray(got["chase_speed_exact"])
    ratios = np.asarray(got["temperature_ratios"])
    np.testing.assert_allclose(exact, chase_speed_by_quadrature(ratios * 0.1, 0.1), rtol=1e-5)
    assert exact[0] == 0.0  # equal temperatures: no chase
    assert np.all(np.abs(speed - exact) <= N_SE * stderr), (speed, exact, stderr)
    assert np.all(np.diff(exact) > 0) and np.all(speed[1:] > N_SE * stderr[1:])


def test_unknown_demo_is_rejected_with_the_list_of_demos(tmp_path, capsys):
    assert cli.main(["tour", "--out", str(tmp_path), "--only", "no_such_demo"]) == 2
    assert "no_such_demo" in capsys.readouterr().err

"""`jaxneq tour`: every demo runs and the numbers it prints agree with exact values within
the error the demo states.

Ground truth, computed here independently of jaxneq: the tree theorem's closed forms for the
four-state ring, Boltzmann weights, scipy's continuous and discrete Lyapunov solvers for the
two-temperature pair (the exact stationary values for dt -> 0 and for the Euler–Maruyama
chain at the demo's dt), and the accuracy GTH promises, entrywise relative error
8 n^3 u (C. A. O'Cinneide, Numer. Math. 65, 109 (1993)).
"""

import importlib
import inspect
import json

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
from _stats import N_SE, unit_roundoff

from jaxneq import cli
from jaxneq._tour import DEMOS, _figures

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
    assert cli.main(["tour", "--quick", "--out", str(out), *CHECKED_HERE]) == 0
    return out, json.loads((out / "tour.json").read_text())


def table_row(result, quantity):
    """The row of a demo's table whose quantity starts with `quantity` (exactly one)."""
    rows = [r for r in result["table"] if r["quantity"].startswith(quantity)]
    assert len(rows) == 1, (quantity, [r["quantity"] for r in result["table"]])
    return rows[0]


def test_every_table_row_has_the_protocol_keys_and_numbers(tour):
    keys = {"quantity", "measured", "stderr", "reference", "reference_label", "unit"}
    for name, result in tour[1].items():
        assert result["table"], name
        for r in result["table"]:
            assert set(r) == keys, (name, r)
            assert isinstance(r["measured"], (int, float)), (name, r)
            assert r["stderr"] is None or r["stderr"] > 0, (name, r)


def test_every_demo_has_a_test_file_that_checks_its_numbers():
    import pathlib

    tests = pathlib.Path(__file__).parent
    files = [*tests.glob("test_tour_*.py"), tests / "test_fp_design.py"]
    others = " ".join(p.read_text() for p in files)
    for name in DEMOS:
        assert name in CHECKED_HERE or f'"{name}"' in others or f"{name}." in others, name


def test_every_demo_module_follows_the_protocol():
    for name in DEMOS:
        module = importlib.import_module(f"jaxneq._tour.{name}")
        assert module.NAME == name
        assert isinstance(module.TITLE, str) and module.TITLE
        assert callable(module.run)
        # the command passes these keywords to every demo (no signature sniffing there)
        params = inspect.signature(module.run).parameters
        assert {"progress", "full"} <= set(params), name


def test_demos_run_in_readme_order():
    import pathlib
    import re

    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    table = re.findall(r"^\| `([a-z_0-9]+)` \|", readme, flags=re.M)
    assert table == DEMOS


def test_every_demo_writes_its_figure_and_its_numbers(tour):
    out, numbers = tour
    assert set(numbers) == set(CHECKED_HERE)
    for name in CHECKED_HERE:
        _figures.wait()  # figures are written in the background
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
    # the ring is solved by LU (normwise): relative error <= a few n u cond of the generator
    import jaxneq as jn

    edges = jn.models.blowtorch_ring(1.0, n)  # an edge list: densify it
    rates = np.zeros((n, n))
    np.add.at(rates, (np.asarray(edges.src), np.asarray(edges.dst)), np.asarray(edges.rate))
    Q = rates - np.diag(rates.sum(1))
    lu_bound = 8 * n * U * np.linalg.cond(np.vstack([Q.T, np.ones(n)]))
    assert got["ring_pA_over_pB_cold"] == pytest.approx(np.exp(-0.6), rel=lu_bound)
    assert got["ring_rel_err_cold_vs_boltzmann"] <= lu_bound
    # the blowtorch: heating A's slope empties A
    assert got["ring_pA_over_pB_hottest"] < got["ring_pA_over_pB_cold"]
    assert got["ring_dratio_dT_at_T1"] < 0
    # the printed table: the same numbers, against the same closed forms
    for quantity, key, r34 in (
        ("p1/p2 at r34 = 0.01", "p1_over_p2_at_r34_0.01", 0.01),
        ("p1/p2 at r34 = 100", "p1_over_p2_at_r34_100", 100.0),
    ):
        r = table_row(got, quantity)
        assert r["measured"] == got[key] and r["stderr"] is None
        assert r["reference"] == pytest.approx(2 * (r34 + 1) / (r34 + 3), rel=2 * bound)
    r = table_row(got, "d(p1/p2)/dr34")
    assert r["measured"] == got["dratio_dr34_at_r34_1"]
    assert r["reference"] == pytest.approx(4 / 16, rel=2 * bound)
    r = table_row(got, "ring p_A/p_B, T = 1")
    assert r["measured"] == got["ring_pA_over_pB_cold"]
    assert r["reference"] == pytest.approx(np.exp(-0.6), rel=1e-14)


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
    r = table_row(got, "left well, uniform T")
    assert r["measured"] == got["left_population_start"]
    assert r["reference"] == pytest.approx(left, rel=gth_relative_error_bound(41))
    r = table_row(got, "left well, fitted")
    assert r["measured"] == got["left_population_fitted"] and r["reference"] == 0.9


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
    # the printed table: measured ± SE against the exact value of the discrete chain
    for quantity, key, exact_key in (
        ("entropy production rate", "sigma", "sigma_dt"),
        ("heat into the cold bath", "heat_to_cold_bath", "heat_dt"),
        ("current circulation", "circulation", "circulation_window"),
    ):
        r = table_row(got, quantity)
        assert r["measured"] == got[f"{key}_measured"] and r["stderr"] == got[f"{key}_stderr"]
        assert r["reference"] == pytest.approx(exact[exact_key], rel=1e-10)
        assert abs(r["measured"] - r["reference"]) <= N_SE * r["stderr"]


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
    quadrature = chase_speed_by_quadrature(ratios * 0.1, 0.1)
    for ratio, v, se, q in zip(ratios, speed, stderr, quadrature, strict=True):
        r = table_row(got, f"chase speed, T_hot/T_cold = {ratio:g}")
        assert (r["measured"], r["stderr"]) == (v, se)
        assert r["reference"] == pytest.approx(q, rel=1e-5, abs=1e-12)
    # the extra row: the last ratio at the demo's dt alone, against the same exact speed
    r = table_row(got, "chase speed at dt")
    assert (r["measured"], r["stderr"]) == (
        got["chase_speed_at_dt"][-1],
        got["chase_speed_at_dt_stderr"][-1],
    )
    assert r["reference"] == pytest.approx(quadrature[-1], rel=1e-5)


def test_hot_cold_demo_mixture_demixes_far_beyond_the_random_mixture_spread(tour):
    """psi is 0 in expectation for a random mixture (exchangeable labels), and the spread of
    psi over random relabellings of the same configurations is its null distribution: the
    random start agrees with 0 within it, the late mean lies N_SE spreads above it."""
    got = tour[1]["hot_cold"]
    psi = np.asarray(got["demixing_order_parameter"])
    null_start = np.asarray(got["demixing_order_parameter_initial_relabelled"])
    null_late = np.asarray(got["demixing_order_parameter_late_relabelled"])
    times = np.asarray(got["demixing_times"])
    for null in (null_start, null_late):  # the relabelled values average to 0
        assert abs(null.mean()) <= N_SE * null.std(ddof=1) / np.sqrt(null.size)
    assert abs(psi[0]) <= N_SE * null_start.std(ddof=1)
    late = times >= got["demixing_late_from"]
    assert got["demixing_order_parameter_late"] == pytest.approx(psi[late].mean(), rel=1e-12)
    assert got["demixing_order_parameter_late"] > N_SE * null_late.std(ddof=1)
    r = table_row(got, "demixing order parameter psi, mean")
    assert (r["measured"], r["reference"]) == (got["demixing_order_parameter_late"], 0.0)
    assert r["stderr"] == pytest.approx(null_late.std(ddof=1), rel=1e-12)
    r = table_row(got, "demixing order parameter psi at t = 0")
    assert (r["measured"], r["reference"]) == (psi[0], 0.0)
    assert r["stderr"] == pytest.approx(null_start.std(ddof=1), rel=1e-12)


def test_unknown_demo_is_an_error_that_lists_every_demo(tmp_path, capsys):
    assert cli.main(["tour", "--out", str(tmp_path), "blowtorch_chain", "no_such_demo"]) == 2
    err = capsys.readouterr().err
    assert "no_such_demo" in err and all(name in err for name in DEMOS)
    assert not (tmp_path / "tour.json").exists()  # nothing ran
    assert cli.main(["tour", "--out", str(tmp_path), "--only", "no_such_demo"]) == 2


def test_only_without_a_name_is_an_error_not_the_whole_tour(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["tour", "--out", str(tmp_path), "--only"])
    assert exit_.value.code == 2 and "--only" in capsys.readouterr().err
    assert not (tmp_path / "tour.json").exists()


def test_list_prints_every_demo_with_its_title_in_readme_order(capsys):
    assert cli.main(["tour", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == DEMOS
    for line, name in zip(lines, DEMOS, strict=True):
        assert importlib.import_module(f"jaxneq._tour.{name}").TITLE in line


def test_version_prints_the_package_version(capsys):
    import jaxneq

    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"jaxneq {jaxneq.__version__}"


def test_no_command_prints_the_help_and_fails(capsys):
    assert cli.main([]) == 2
    assert "tour" in capsys.readouterr().err


def test_the_command_prints_tables_progress_and_the_output_paths_but_no_json(tmp_path, capsys):
    assert cli.main(["tour", "--quick", "--out", str(tmp_path), "inverse_design"]) == 0
    out = capsys.readouterr().out
    assert "100 %  done" in out  # progress lines (stdout is not a terminal here)
    assert "quantity" in out and "agreement" in out and "design target" in out
    assert str((tmp_path / "tour.json").resolve()) in out and str(tmp_path.resolve()) in out
    assert "{" not in out  # no raw JSON on the terminal
    numbers = json.loads((tmp_path / "tour.json").read_text())
    assert numbers["inverse_design"]["seconds"] > 0


def test_a_failing_demo_is_reported_and_the_tour_goes_on(tmp_path, capsys, monkeypatch):
    from jaxneq._tour import inverse_design

    def broken(out_dir, quick, progress=None, full=False):
        raise RuntimeError("boom")

    monkeypatch.setattr(inverse_design, "run", broken)
    assert cli.main(["tour", "--out", str(tmp_path), "inverse_design"]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.out and "boom" in captured.err
    assert json.loads((tmp_path / "tour.json").read_text()) == {}


def test_table_rounds_measured_values_to_their_standard_error():
    from jaxneq._tour._table import agreement, format_measured, format_reference, format_table, row

    assert format_measured(0.126234, 0.001149) == "0.1262 ± 0.0011"
    assert format_measured(1234.5678, 12.3) == "1235 ± 12"
    assert format_measured(1.2345e-5, 3.4e-7) == "(1.234 ± 0.034)e-5"
    assert format_measured(0.671096123, None) == "0.671096"
    assert format_reference(0.125912, 0.0011) == "0.12591"
    r = row("sigma", 0.1262, 0.0011, 0.1259, "exact", "k_B / time")
    assert agreement(r) == f"{abs(0.1262 - 0.1259) / 0.0011:.1f} SE"
    assert agreement(row("p", 1.0 + 1e-9, None, 1.0)) == "rel. err 1.0e-09"
    assert agreement(row("state", 5, None, 5)) == "equal"
    assert agreement(row("gamma", 1.0)) == "—"
    lines = format_table([r, row("a much longer quantity", 2.0, None, 2.0)]).splitlines()
    assert len(lines) == 3
    # the columns line up: the label column starts under its header
    assert lines[1].index("exact") == lines[0].index("reference is")
    assert lines[1].index("k_B / time") == lines[0].index("unit")


def test_progress_on_a_terminal_rewrites_one_line_with_the_elapsed_seconds():
    import io
    import time

    stream = io.StringIO()
    progress = cli._Progress(stream, tty=True)
    progress(0.5, "half way")
    time.sleep(0.6)  # the line is redrawn every 0.25 s
    progress.close()
    text = stream.getvalue()
    assert "\n" not in text and text.count("\r") >= 2
    assert "50 %  half way" in text and " s]" in text
    plain = io.StringIO()
    progress = cli._Progress(plain, tty=False)
    progress(1.0, "done")
    progress.close()
    assert plain.getvalue().endswith("100 %  done\n")

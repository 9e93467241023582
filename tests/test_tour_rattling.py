"""The rattling tour demos (`rattling_fit`, `rattling_typicality`, `rattling_design`) run in
quick mode and state true numbers. Ground truth computed here: numpy null vectors of the
generators and numpy least-squares fits (chains), the exact theorem gamma = 1 for equal
barriers, Boltzmann's law without drive, and, for the Langevin demo, the exact rattling
1/2 log det D and the Fokker-Planck stationary density fitted the same way."""

import importlib

import jax
import numpy as np
import pytest
from _stats import N_SE, unit_roundoff

import jaxneq as jn
from jaxneq._tour import DEMOS, _figures

U = unit_roundoff(np.float64)
NAMES = ("rattling_fit", "rattling_typicality", "rattling_design")


def numpy_stationary(rates):
    rates = np.asarray(rates, np.float64)
    Q = rates - np.diag(rates.sum(1))
    B = np.vstack([Q.T, np.ones(len(Q))])
    rhs = np.zeros(len(Q) + 1)
    rhs[-1] = 1
    return np.linalg.lstsq(B, rhs, rcond=None)[0], np.linalg.cond(B)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour_rattling")
    numbers = {}
    for name in NAMES:
        stages = []
        run = importlib.import_module(f"jaxneq._tour.{name}").run
        numbers[name] = run(out, True, progress=lambda f, m, s=stages: s.append(f))
        assert stages[-1] == 1.0 and stages == sorted(stages), name  # progress, in order
    return out, numbers


def row(result, quantity):
    (found,) = [r for r in result["table"] if r["quantity"].startswith(quantity)]
    return found


def test_the_demos_are_registered_and_write_their_figures(results):
    out, _ = results
    for name in NAMES:
        assert name in DEMOS
        _figures.wait()  # figures are written in the background
        assert (out / f"{name}.png").stat().st_size > 0


def test_typicality_sweep_matches_numpy_fits_of_the_exact_stationary_laws(results):
    got = results[1]["rattling_typicality"]
    assert got["dtype"] == "float64"
    keys = jax.random.split(jax.random.key(got["seed"]), got["n_chains_per_point"])
    spreads, drives = got["barrier_spreads"], got["drives"]
    for i, k in ((len(spreads) - 1, 0), (1, len(drives) - 1)):
        gammas = []
        for key in keys:
            rates = np.asarray(
                jn.models.random_driven_ring(
                    key, got["n_states"], barrier_spread=spreads[i], drive=drives[k]
                )
            )
            p, _ = numpy_stationary(rates)
            gammas.append(-np.polyfit(np.log(rates.sum(1)), np.log(p), 1)[0])
        # LU stationary solve of a well-conditioned 12-state chain: far below 1e-8
        np.testing.assert_allclose(got["gamma_mean"][i][k], np.mean(gammas), rtol=1e-8)
    r = row(got, f"gamma, barrier spread {spreads[-1]:g}, drive 0")
    assert (r["measured"], r["stderr"]) == (got["gamma_mean"][-1][0], got["gamma_stderr"][-1][0])


def test_typicality_equal_barriers_obey_the_law_exactly_and_spread_breaks_it(results):
    got = results[1]["rattling_typicality"]
    assert got["barrier_spreads"][0] == 0.0
    np.testing.assert_allclose(got["gamma_mean"][0], 1.0, atol=1e4 * U)
    np.testing.assert_allclose(got["r_squared_mean"][0], 1.0, atol=1e4 * U)
    np.testing.assert_allclose(got["kl_mean"][0], 0.0, atol=1e4 * U)
    for k, drive in enumerate(got["drives"]):
        r = row(got, f"gamma, equal barriers, drive {drive:g}")
        assert r["measured"] == got["gamma_mean"][0][k] and r["reference"] == 1.0
    # without drive the largest barrier spread pulls gamma below 1, by many standard errors
    gamma, se = got["gamma_mean"][-1][0], got["gamma_stderr"][-1][0]
    assert gamma < 1 - N_SE * se


def test_design_makes_the_target_the_most_probable_state_of_the_exact_steady_state(results):
    got = results[1]["rattling_design"]
    energies, target = np.array(got["energies"]), got["target"]
    rates = jn.models.driven_ring(energies, np.array(got["barriers"]), np.array(got["drives"]))
    p, cond = numpy_stationary(rates)
    np.testing.assert_allclose(got["exact_stationary_after"], p, rtol=0, atol=16 * cond * U)
    assert int(np.argmax(p)) == target == got["predicted_most_probable_after"]
    boltzmann = np.exp(-energies) / np.exp(-energies).sum()
    np.testing.assert_allclose(got["exact_target_before"], boltzmann[target], rtol=1e-10)
    assert int(np.argmin(boltzmann)) == target  # it started as the least probable state
    assert p[target] > 5 * boltzmann[target]
    # the law it was designed with holds: gamma > 0 and the prediction is close
    assert got["gamma_after"] > 0
    assert abs(got["predicted_target_after"] - p[target]) < 0.1
    r = row(got, f"p(state {target}), designed")
    assert (r["measured"], r["reference"]) == (
        got["exact_target_after"],
        got["predicted_target_after"],
    )
    r = row(got, f"p(state {target}), no drive")
    np.testing.assert_allclose(r["reference"], boltzmann[target], rtol=1e-12)
    assert row(got, "most probable state")["measured"] == int(np.argmax(p))


def test_rattling_fit_from_trajectories_agrees_with_the_exact_references(results):
    got = results[1]["rattling_fit"]
    assert got["n_bins_fitted"] >= 20
    assert got["gamma_stderr"] > 0
    # the group spread is the standard error's source: consistent with it by construction,
    # and the exact fit (Fokker-Planck density, 1/2 log det D) lies within N_SE of gamma;
    # allowance for the grid: FP cells of width h = 0.25 give an O(h^2) density error,
    # a relative 0.05 of gamma at most here (|d^2 log p| h^2 / 8 with |d^2 log p| <= 6)
    bias = 0.05 * abs(got["gamma_exact_density_and_rattling"])
    assert abs(got["gamma"] - got["gamma_exact_density_and_rattling"]) <= (
        N_SE * got["gamma_stderr"] + bias
    )
    groups = np.array(got["gamma_groups"])
    np.testing.assert_allclose(
        got["gamma_stderr"], groups.std(ddof=1) / np.sqrt(len(groups)), rtol=1e-12
    )
    # R from trajectories is 1/2 log det D up to a constant: unit slope, tiny scatter
    # (drift bias |F|^2 dt / (2 T_min) ~ 0.03 with |F| <= 2.5, dt = 2e-3, T_min = 0.2)
    assert abs(got["rattling_slope_vs_exact"] - 1) < 0.05
    assert got["rattling_offset_spread"] < 0.05
    assert got["r_squared"] > 0.5  # the law holds moderately here, as the figure shows
    r = row(got, "gamma from trajectories")
    assert (r["measured"], r["stderr"], r["reference"]) == (
        got["gamma"],
        got["gamma_stderr"],
        got["gamma_exact_density_and_rattling"],
    )
    assert row(got, "slope of estimated")["measured"] == got["rattling_slope_vs_exact"]


def test_typicality_random_grid_landscapes_obey_the_law_exactly_when_flat(results):
    # no potential, no drive: p ∝ 1/T on the grid exactly (Ito), so gamma = 2 and R^2 = 1
    # for every landscape; the 1D grid solve is exact up to O(n) roundoff
    out, numbers = results
    got = numbers["rattling_typicality"]
    assert got["grid_potential_spreads"][0] == 0.0 and got["grid_drives"][0] == 0.0
    n = got["grid_cells"]
    assert got["grid_gamma_mean"][0][0] == pytest.approx(2.0, abs=1e3 * n * U)
    assert got["grid_r_squared_mean"][0][0] == pytest.approx(1.0, abs=1e3 * n * U)
    # one landscape refitted here with numpy from the grid density: the demo's fit agrees
    grid = jn.fokker_planck.Grid(0.0, 1.0, n, periodic=True)
    keys = jax.random.split(jax.random.key(got["seed"] + 1), got["grid_systems_per_point"])
    spread = got["grid_potential_spreads"][-1]
    gammas = []
    for key in keys:
        system = jn.models.random_grid_system(key, grid, potential_spread=spread)
        p = np.asarray(jn.fokker_planck.stationary_density(system, grid))
        T = np.asarray(jax.vmap(system.temperature)(grid.centres.reshape(-1, 1)))
        gammas.append(-np.polyfit(0.5 * np.log(T), np.log(p), 1)[0])  # unweighted, as fit_gamma
    np.testing.assert_allclose(got["grid_gamma_mean"][-1][0], np.mean(gammas), rtol=1e-8)
    # a potential breaks the law: log p is no longer a straight line in R
    assert got["grid_r_squared_mean"][-1][0] < 1 - 0.05
    _figures.wait()  # figures are written in the background
    assert (out / "rattling_typicality_grids.png").stat().st_size > 0

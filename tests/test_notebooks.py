"""The notebooks in notebooks/ run top to bottom (code cells executed in order, Agg backend)
and their results are what the text says, checked here against references computed without
jaxneq's solvers (closed forms, numpy linear algebra)."""

import json
import pathlib

import matplotlib
import numpy as np
import pytest
from _stats import unit_roundoff

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

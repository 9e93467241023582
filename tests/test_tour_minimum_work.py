"""The minimum-work tour demo: optax through `simulate` finds Schmiedl and Seifert's optimal
protocol for moving a harmonic trap. Ground truth here: W* = k lf^2 / (2 + mu k tf), the
interior lf (1 + mu k t) / (2 + mu k tf) with jumps lf / (2 + mu k tf) at both ends (PRL 98,
108301 (2007)), and the constant-speed work v^2/mu [tf - tau (1 - e^(-tf/tau))]."""

import json

import numpy as np
import pytest
from _stats import N_SE

from jaxneq._tour import DEMOS, _figures, minimum_work

LAM_F, T_F, K, MU = 1.0, 1.0, 1.0, 1.0
W_STAR = K * LAM_F**2 / (2 + MU * K * T_F)
JUMP = LAM_F / (2 + MU * K * T_F)


@pytest.fixture(scope="module")
def numbers(tmp_path_factory):
    out = tmp_path_factory.mktemp("minimum_work")
    stages = []
    got = minimum_work.run(out, quick=True, progress=lambda f, m: stages.append(f))
    _figures.wait()  # figures are written in the background
    assert (out / "minimum_work.png").stat().st_size > 0
    assert stages[-1] == 1.0 and stages == sorted(stages)  # progress reported, in order
    json.dumps(got)  # JSON-serialisable
    return got


def test_demo_is_registered():
    assert "minimum_work" in DEMOS
    assert minimum_work.NAME == "minimum_work"


def test_reference_values_are_the_closed_forms(numbers):
    np.testing.assert_allclose(numbers["work_optimum_exact"], W_STAR, rtol=1e-12)
    np.testing.assert_allclose(numbers["jump_exact"], JUMP, rtol=1e-12)
    tau = 1 / (MU * K)
    linear = (LAM_F / T_F) ** 2 / MU * (T_F - tau * (1 - np.exp(-T_F / tau)))
    np.testing.assert_allclose(numbers["work_linear_protocol_exact"], linear, rtol=1e-10)


def test_optimised_protocol_reaches_the_minimum_work(numbers):
    w = numbers["work_optimised_exact"]
    assert w >= W_STAR * (1 - 1e-12)  # W* is the minimum
    assert w - W_STAR <= 0.01 * W_STAR  # within 1 % of it
    # and it removes >= 90 % of the excess work of the linear protocol without jumps
    assert w - W_STAR <= 0.1 * (numbers["work_linear_protocol_exact"] - W_STAR)


def test_optimised_protocol_has_the_jumps_and_the_interior_of_the_optimum(numbers):
    for jump in (numbers["jump_start"], numbers["jump_end"]):
        assert abs(jump - JUMP) <= 0.3 * JUMP
    times = np.linspace(0, T_F, numbers["knots"])
    interior = LAM_F * (1 + MU * K * times) / (2 + MU * K * T_F)
    values = np.asarray(numbers["protocol_at_grid"])
    assert np.abs(values - interior)[1:-1].max() <= 0.1 * LAM_F


def test_simulated_work_agrees_with_the_optimum_within_its_stated_error(numbers):
    bias = numbers["time_step_bias_bound"]
    np.testing.assert_allclose(bias, MU * K * numbers["dt"] * W_STAR)
    for name in ("work_optimised_simulated", "work_optimum_simulated"):
        se = numbers[f"{name}_stderr"]
        assert abs(numbers[name] - W_STAR) <= N_SE * se + bias + (
            numbers["work_optimised_exact"] - W_STAR if "optimised" in name else 0.0
        )
    # paired (same noise): the difference is the exact excess within its small stderr
    excess = numbers["work_optimised_exact"] - W_STAR
    assert abs(numbers["work_difference_simulated"] - excess) <= (
        N_SE * numbers["work_difference_simulated_stderr"] + bias
    )


def row(numbers, quantity):
    (found,) = [r for r in numbers["table"] if r["quantity"].startswith(quantity)]
    return found


def test_table_prints_the_same_numbers_against_the_closed_forms(numbers):
    r = row(numbers, "exact mean work of the optimised protocol")
    assert r["measured"] == numbers["work_optimised_exact"]
    np.testing.assert_allclose(r["reference"], W_STAR, rtol=1e-12)
    r = row(numbers, "simulated work, exact optimum")
    assert (r["measured"], r["stderr"]) == (
        numbers["work_optimum_simulated"],
        numbers["work_optimum_simulated_stderr"],
    )
    np.testing.assert_allclose(r["reference"], W_STAR, rtol=1e-12)
    r = row(numbers, "paired difference")
    assert r["stderr"] == numbers["work_difference_simulated_stderr"]
    np.testing.assert_allclose(r["reference"], numbers["work_optimised_exact"] - W_STAR)
    for quantity, key in (("jump at t = 0", "jump_start"), ("jump at t = t_f", "jump_end")):
        r = row(numbers, quantity)
        assert r["measured"] == numbers[key]
        np.testing.assert_allclose(r["reference"], JUMP, rtol=1e-12)

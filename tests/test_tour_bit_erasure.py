"""The bit_erasure tour demo: the mean work of erasing one bit against Landauer's bound.
Ground truth here: T ln 2 and the generalised bound T [ln 2 - H(p_fail)] (H the binary
entropy, computed here), the 1/tau law by numpy's weighted polyfit, and zero time-step bias
within its standard error."""

import json

import numpy as np
import pytest
from _stats import N_SE, assert_within_stderr

from jaxneq._tour import _figures, bit_erasure as demo

LN2 = np.log(2.0)  # T = 1


def _binary_entropy(p):
    return 0.0 if p in (0.0, 1.0) else -(p * np.log(p) + (1 - p) * np.log(1 - p))


@pytest.fixture(scope="module")
def numbers(tmp_path_factory):
    out = tmp_path_factory.mktemp("bit_erasure")
    got = demo.run(out, quick=True)
    _figures.wait()  # figures are written in the background
    assert (out / "bit_erasure.png").stat().st_size > 0
    json.dumps(got)
    return got


def _series(numbers, name, suffix=""):
    return np.array([numbers[f"{name}_tau_{d:g}{suffix}"] for d in numbers["durations"]])


def test_mean_work_respects_the_generalised_landauer_bound_at_every_duration(numbers):
    work, se = _series(numbers, "work"), _series(numbers, "work", "_stderr")
    success = _series(numbers, "success")
    bound = np.array([LN2 - _binary_entropy(1 - s) for s in success])
    np.testing.assert_allclose(_series(numbers, "generalised_bound"), bound, rtol=1e-12)
    assert np.all(work >= bound - N_SE * se)
    assert numbers["landauer_bound"] == pytest.approx(LN2, rel=1e-15)


def test_mean_work_falls_with_the_duration_towards_T_ln_2(numbers):
    work, se = _series(numbers, "work"), _series(numbers, "work", "_stderr")
    assert np.all(np.diff(work) < N_SE * np.hypot(se[1:], se[:-1]))
    assert work[0] - work[-1] > N_SE * np.hypot(se[0], se[-1])
    assert work[-1] > LN2  # still above the bound at the slowest duration


def test_fit_is_weighted_least_squares_and_extrapolates_to_T_ln_2(numbers):
    tau = np.asarray(numbers["durations"])[1:]
    work, se = _series(numbers, "work")[1:], _series(numbers, "work", "_stderr")[1:]
    slope, intercept = np.polyfit(1 / tau, work, 1, w=1 / se)
    np.testing.assert_allclose(numbers["fit_intercept"], intercept, rtol=1e-10)
    np.testing.assert_allclose(numbers["fit_slope"], slope, rtol=1e-10)
    assert_within_stderr(numbers["fit_intercept"], numbers["fit_intercept_stderr"], LN2)
    assert numbers["fit_slope"] > N_SE * numbers["fit_slope_stderr"]  # a real 1/tau excess


def test_time_step_bias_is_below_the_statistical_error(numbers):
    assert_within_stderr(numbers["time_step_bias"], numbers["time_step_bias_stderr"], 0.0)


def test_the_bit_is_erased(numbers):
    success = _series(numbers, "success")
    assert np.all(success > 0.9)
    assert success[-1] > 0.97 and numbers["success_checked_half_dt"] > 0.97


def test_table_shows_the_bound_as_a_bound(numbers):
    rows = numbers["table"]
    assert len(rows) == len(numbers["durations"]) + 2
    for r in rows[: len(numbers["durations"])]:
        assert "BOUND" in r["reference_label"] and r["reference"] == pytest.approx(LN2)

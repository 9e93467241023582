"""The `blowtorch_design` tour demo: its optimum agrees with its brute-force scan within the
scan's resolution, and its Langevin check agrees with the grid within the stated errors."""

import pytest
from _stats import N_SE

from jaxneq._tour import DEMOS, _figures, blowtorch_design


@pytest.fixture(scope="module")
def numbers(tmp_path_factory):
    out = tmp_path_factory.mktemp("blowtorch_design")
    stages = []
    got = blowtorch_design.run(out, quick=True, progress=lambda f, m: stages.append(f))
    _figures.wait()  # figures are written in the background
    assert (out / "blowtorch_design.png").stat().st_size > 0
    assert stages[-1] == 1.0 and stages == sorted(stages)  # progress reported, in order
    return got


def test_demo_is_registered():
    assert "blowtorch_design" in DEMOS


def test_1d_adam_optimum_agrees_with_the_brute_force_scan(numbers):
    assert abs(numbers["centre_adam"] - numbers["centre_scan"]) <= numbers["scan_resolution"]
    assert numbers["left_share_adam"] >= numbers["left_share_scan"] - 1e-4
    assert numbers["left_share_adam"] > numbers["left_share_start"]


def test_1d_langevin_confirms_the_optimum_within_its_stderr(numbers):
    err = abs(numbers["left_share_langevin"] - numbers["left_share_adam"])
    assert err <= N_SE * numbers["left_share_langevin_stderr"] + numbers["left_share_grid_error"]


def test_2d_adam_optimum_agrees_with_the_brute_force_scan(numbers):
    for got, scan, resolution in zip(
        numbers["centre_2d_adam"],
        numbers["centre_2d_scan"],
        numbers["scan_2d_resolution"],
        strict=True,
    ):
        assert abs(got - scan) <= resolution
    assert numbers["left_share_2d_adam"] >= numbers["left_share_2d_scan"] - 1e-3
    assert numbers["max_current_2d"] > 0


def test_table_prints_the_same_numbers_as_the_checks_above(numbers):
    rows = {r["quantity"]: r for r in numbers["table"]}
    r = rows["1D hot-spot centre (Adam)"]
    assert (r["measured"], r["reference"]) == (numbers["centre_adam"], numbers["centre_scan"])
    r = rows["1D left share, Langevin at the optimum"]
    assert (r["measured"], r["stderr"], r["reference"]) == (
        numbers["left_share_langevin"],
        numbers["left_share_langevin_stderr"],
        numbers["left_share_adam"],
    )
    for k, axis in enumerate("xy"):
        r = rows[f"2D hot-spot {axis} (Adam)"]
        assert r["measured"] == numbers["centre_2d_adam"][k]
        assert r["reference"] == numbers["centre_2d_scan"][k]
    assert rows["2D left share at Adam's centre"]["reference"] == numbers["left_share_2d_scan"]

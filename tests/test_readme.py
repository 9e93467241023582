"""The README's Python examples run as written and say what they claim."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).parent.parent / "README.md"


def test_readme_examples_run_and_give_the_numbers_they_state():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    ns: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), ns)
    # four-state ring at r34 = 2: p ∝ (2(r+1), r+3, 4, 3r+1) (Markov chain tree theorem)
    r = 2.0
    exact = np.array([2 * (r + 1), r + 3, 4, 3 * r + 1])
    np.testing.assert_allclose(ns["p"], exact / exact.sum(), rtol=1e-12)
    np.testing.assert_allclose(ns["slope"], 4 / (r + 3) ** 2, rtol=1e-8)
    assert float(ns["sigma"]) > 0
    ep = np.asarray(ns["result"].observables["ep"])
    stderr = ep.std() / np.sqrt(ep.size)
    assert abs(ep.mean() - 1 / 8) < 5 * stderr + 0.01  # + O(dt) bias of the integrator

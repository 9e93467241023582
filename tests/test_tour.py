"""`jaxneq tour`: every registered demo runs, returns JSON numbers and writes a figure."""

import importlib
import json

import pytest

from jaxneq import cli
from jaxneq._tour import DEMOS


def test_every_demo_module_follows_the_protocol():
    for name in DEMOS:
        module = importlib.import_module(f"jaxneq._tour.{name}")
        assert module.NAME == name
        assert isinstance(module.TITLE, str) and module.TITLE
        assert callable(module.run)


@pytest.mark.parametrize("name", DEMOS)
def test_demo_runs_quick_and_writes_numbers_and_a_figure(name, tmp_path):
    assert cli.main(["tour", "--quick", "--out", str(tmp_path), "--only", name]) == 0
    summary = json.loads((tmp_path / "tour.json").read_text())
    assert set(summary) == {name}
    assert summary[name], "a demo must return the numbers it measured"
    figures = [p for p in tmp_path.iterdir() if p.suffix in {".png", ".pdf", ".svg"}]
    assert figures, f"demo {name!r} wrote no figure"


def test_unknown_demo_is_rejected_with_the_list_of_demos(tmp_path, capsys):
    assert cli.main(["tour", "--out", str(tmp_path), "--only", "no_such_demo"]) == 2
    assert "no_such_demo" in capsys.readouterr().err

"""Package-level claims: the public API contract exists and importing changes no JAX config."""

import subprocess
import sys

import jaxneq as jn


def test_importing_jaxneq_does_not_enable_x64():
    code = "import jax; import jaxneq; print(jax.config.jax_enable_x64)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_api_contract_names_exist():
    contract = {
        jn.markov: [
            "EdgeRates",
            "stationary",
            "currents",
            "entropy_production_rate",
            "mean_first_passage_times",
            "relaxation_rates",
            "evolve",
            "gillespie",
        ],
        jn.langevin: ["Overdamped", "Underdamped", "ActiveBrownian", "ActiveOU", "simulate"],
        jn.observables: ["EntropyProduction", "Histogram", "Mean", "CurrentField", "Work"],
    }
    missing = [
        f"{mod.__name__}.{name}"
        for mod, names in contract.items()
        for name in names
        if not hasattr(mod, name)
    ]
    assert not missing, f"public API names missing: {missing}"


def test_version_is_a_string():
    assert isinstance(jn.__version__, str) and jn.__version__.count(".") == 2


def test_cli_help_lists_the_tour():
    out = subprocess.run(
        [sys.executable, "-m", "jaxneq.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "tour" in out.stdout


def test_docstrings_hold_no_control_characters_from_unescaped_latex():
    # "$\top$" in a plain string is a tab, "$\varepsilon$" a vertical tab: escape as "\\".
    import importlib
    import pkgutil

    bad = []
    for info in pkgutil.walk_packages(jn.__path__, "jaxneq."):
        module = importlib.import_module(info.name)
        for name, obj in [("<module>", module), *vars(module).items()]:
            doc = getattr(obj, "__doc__", None)
            if isinstance(doc, str) and any(c in doc for c in "\a\b\t\v\f\r"):
                bad.append(f"{info.name}.{name}")
    assert not bad, bad

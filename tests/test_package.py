"""Package-level claims: the DESIGN.md API contract exists, every public name is documented,
nothing reaches into JAX's private modules, and importing changes no JAX config."""

import importlib
import inspect
import pathlib
import pkgutil
import re
import subprocess
import sys

import jaxneq as jn

PACKAGE_DIR = pathlib.Path(jn.__file__).parent

# The "Public API contract" table of DESIGN.md, name by name (sub-package -> names).
CONTRACT_BUILT = {
    "markov": [
        "EdgeRates",
        "stationary",
        "currents",
        "entropy_production_rate",
        "mean_first_passage_times",
        "relaxation_rates",
        "evolve",
        "gillespie",
    ],
    "langevin": ["Overdamped", "Underdamped", "ActiveBrownian", "simulate"],
    "observables": ["EntropyProduction", "Histogram", "Mean"],
    "thermo": ["tur_bound", "jarzynski", "bar", "mbar"],
    "fokker_planck": [
        "Grid",
        "rates",
        "stationary_density",
        "current_field",
        "entropy_production_rate",
        "evolve_density",
    ],
    "rattling": ["from_diffusion", "from_rates", "from_trajectories", "fit_gamma"],
}
# Keyword arguments the contract spells out (name -> parameters that must exist by name).
CONTRACT_PARAMETERS = {
    ("markov", "stationary"): ["rates", "method"],
    ("markov", "currents"): ["rates", "p"],
    ("markov", "entropy_production_rate"): ["rates", "p"],
    ("markov", "mean_first_passage_times"): ["rates", "target"],
    ("markov", "evolve"): ["rates", "p0", "t"],
    ("markov", "gillespie"): ["rates", "x0", "key", "n_jumps"],
    ("markov", "EdgeRates"): ["src", "dst", "rate", "n_states"],
    ("langevin", "Overdamped"): ["potential", "force", "temperature", "mobility", "convention"],
    ("langevin", "simulate"): ["system", "x0", "key", "dt", "n_steps", "observables", "save_every"],
    ("observables", "Histogram"): ["edges", "burn_in"],
    ("observables", "Mean"): ["fn", "burn_in"],
}
# Extra names beyond the table that the README and the tour rely on.
DOCUMENTED_EXTRAS = {
    "langevin": ["ActiveOU", "Box", "CellList", "PairEnergy", "SoftRepulsion", "WCA"],
    "observables": ["CurrentField", "Work", "Heat"],
}


def _missing(contract):
    missing = []
    for sub, names in contract.items():
        try:
            module = importlib.import_module(f"jaxneq.{sub}")
        except ImportError:
            missing += [f"jaxneq.{sub}.{name}" for name in names]
            continue
        missing += [f"jaxneq.{sub}.{name}" for name in names if not hasattr(module, name)]
    return missing


def _public_objects():
    """(qualified name, object) for every public function and class that a sub-package's
    `__init__` re-exports, plus the top-level package's."""
    for info in pkgutil.iter_modules(jn.__path__):
        if info.name.startswith("_") or not info.ispkg:
            continue
        module = importlib.import_module(f"jaxneq.{info.name}")
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if not getattr(obj, "__module__", "").startswith("jaxneq"):
                continue
            yield f"jaxneq.{info.name}.{name}", obj


def test_every_name_of_the_design_api_table_exists():
    missing = _missing(CONTRACT_BUILT) + _missing(DOCUMENTED_EXTRAS)
    assert not missing, f"public API names missing: {missing}"


def test_contract_keywords_exist_by_name():
    wrong = []
    for (sub, name), params in CONTRACT_PARAMETERS.items():
        obj = getattr(getattr(jn, sub), name)
        signature = inspect.signature(obj)
        wrong += [f"jaxneq.{sub}.{name}({p}=...)" for p in params if p not in signature.parameters]
    assert not wrong, f"keyword arguments of the API contract missing: {wrong}"


def test_contract_defaults_match_the_design_table():
    overdamped = inspect.signature(jn.langevin.Overdamped).parameters
    assert overdamped["temperature"].default == 1.0
    assert overdamped["mobility"].default == 1.0
    assert overdamped["convention"].default == "ito"
    assert inspect.signature(jn.markov.stationary).parameters["method"].default == "auto"


def test_every_public_function_and_class_has_its_own_docstring_with_a_summary():
    bad = []
    for qualname, obj in _public_objects():
        # a class's own docstring: not inherited, not the dataclass "Name(field: ...)" stub
        doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        doc = inspect.cleandoc(doc) if isinstance(doc, str) else ""
        summary = doc.split("\n\n", 1)[0].strip()
        if not summary or summary.startswith(f"{obj.__name__}(") or not summary.endswith("."):
            bad.append(qualname)
    assert not bad, f"public names without a one-sentence summary docstring: {bad}"


# Summaries that wrap onto a second line today; their owners are asked to shorten them. New
# public names must not join this list (remove a name once its summary fits on one line).
TWO_LINE_SUMMARIES: set[str] = set()


def test_docstring_summaries_fit_on_one_line():
    long = set()
    for qualname, obj in _public_objects():
        doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        summary = inspect.cleandoc(doc or "").split("\n\n", 1)[0]
        if "\n" in summary:
            long.add(qualname)
    new = long - TWO_LINE_SUMMARIES
    assert not new, f"docstring summaries must fit on one line: {sorted(new)}"


# Public functions whose docstring lacks an `**Arguments:**` section today; the owners are
# asked to add one. New public functions must not join this list (remove a name once its
# docstring has the section).
WITHOUT_ARGUMENTS_SECTION: set[str] = set()


def test_every_public_function_documents_its_arguments():
    missing = {
        qualname
        for qualname, obj in _public_objects()
        if inspect.isfunction(obj) and "**Arguments:**" not in (obj.__doc__ or "")
    }
    new = missing - WITHOUT_ARGUMENTS_SECTION
    assert not new, f"public functions without an **Arguments:** section: {sorted(new)}"


def test_no_module_imports_jax_private_internals():
    pattern = re.compile(r"\bjax\._src\b|from\s+jax\s+import\s+[^\n]*\b_src\b")
    offenders = [
        f"{path.relative_to(PACKAGE_DIR.parent)}:{lineno}"
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
        for lineno, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, f"jax._src is private and changes without notice: {offenders}"


def test_importing_jaxneq_and_every_submodule_does_not_enable_x64():
    code = (
        "import importlib, pkgutil, jax, jaxneq\n"
        "for m in pkgutil.walk_packages(jaxneq.__path__, 'jaxneq.'):\n"
        "    importlib.import_module(m.name)\n"
        "import jax.numpy as jnp\n"
        "print(jax.config.jax_enable_x64, jnp.zeros(1).dtype)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["False", "float32"], out.stdout


def test_version_is_a_string():
    assert isinstance(jn.__version__, str) and jn.__version__.count(".") == 2


def test_cli_help_lists_the_tour():
    out = subprocess.run(
        [sys.executable, "-m", "jaxneq.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "tour" in out.stdout


def test_docstrings_hold_no_control_characters_from_unescaped_latex():
    # "$\top$" in a plain string is a tab, "$\varepsilon$" a vertical tab: escape as "\\".
    bad = []
    for info in pkgutil.walk_packages(jn.__path__, "jaxneq."):
        module = importlib.import_module(info.name)
        for name, obj in [("<module>", module), *vars(module).items()]:
            doc = getattr(obj, "__doc__", None)
            if isinstance(doc, str) and any(c in doc for c in "\a\b\t\v\f\r"):
                bad.append(f"{info.name}.{name}")
    assert not bad, bad

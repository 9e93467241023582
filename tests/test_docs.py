"""The documentation site: `mkdocs build --strict` succeeds and has every page it promises.

The site is built once per test run (under pytest-xdist, once for all workers: the first
one builds under a file lock, the others read its result). Building needs the `docs` extra;
without it the tests fail (they do not skip), saying what to install.

Conventions of the Markdown pages checked here: ```` ```python ```` blocks in `docs/*.md` are
executed (they must run as written); code of other libraries (JAX MD, diffrax, deeptime,
pymbar) is fenced as ```` ```py ```` and is not run. Every `jn.<package>.<name>` written in
the pages must exist.
"""

from __future__ import annotations

import html
import importlib
import importlib.util
import json
import os
import pathlib
import pkgutil
import re
import subprocess
import sys
import time
import types

import pytest

import jaxneq

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
COMING_FROM = ["jax-md", "diffrax", "deeptime", "pymbar"]
BUILD_REQUIREMENTS = [
    "mkdocs",
    "material",
    "mkdocstrings",
    "mkdocstrings_handlers.python",
    "mkdocs_jupyter",
]

try:
    import fcntl
except ImportError:  # not POSIX: no lock, every xdist worker builds its own site
    fcntl = None


def _require_mkdocs() -> None:
    missing = [name for name in BUILD_REQUIREMENTS if importlib.util.find_spec(name) is None]
    if missing:
        pytest.fail(
            f"the documentation tests need {', '.join(missing)}: "
            'install the docs extra with `pip install -e ".[docs]"`',
            pytrace=False,
        )


def _build(site: pathlib.Path) -> dict:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return {
        "returncode": proc.returncode,
        "log": proc.stdout + proc.stderr,
        "seconds": time.perf_counter() - start,
    }


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> pathlib.Path:
    """The built site's folder (fails the test, with mkdocs' log, if the build failed)."""
    _require_mkdocs()
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run_id is None or fcntl is None:
        folder = tmp_path_factory.mktemp("docs")
    else:  # shared by the workers of this run only
        folder = tmp_path_factory.getbasetemp().parent / f"jaxneq-docs-{run_id}"
        folder.mkdir(exist_ok=True)
    result_file = folder / "build.json"
    with open(folder / "lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not result_file.exists():
            result_file.write_text(json.dumps(_build(folder / "site")))
    result = json.loads(result_file.read_text())
    if result["returncode"] != 0:
        pytest.fail(
            f"`mkdocs build --strict` failed (rc {result['returncode']}):\n{result['log'][-6000:]}",
            pytrace=False,
        )
    return folder / "site"


def _page(site: pathlib.Path, path: str) -> str:
    page = site / path / "index.html"
    assert page.exists(), f"the site has no page {path}/ ({page})"
    return page.read_text(encoding="utf-8")


def _public_packages() -> list[types.ModuleType]:
    return [
        importlib.import_module(f"jaxneq.{info.name}")
        for info in pkgutil.iter_modules(jaxneq.__path__)
        if info.ispkg and not info.name.startswith("_")
    ]


def _public_names(module: types.ModuleType) -> list[str]:
    """`__all__`, or the names a package re-exports (not private, not a module)."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    )


def test_site_builds_with_warnings_as_errors(site):
    assert (site / "index.html").exists()


def test_stationary_reference_renders_docstring_maths(site):
    page = _page(site, "api/markov")
    start = page.index('id="jaxneq.markov.stationary"')
    section = page[start : page.index('<div class="doc doc-object', start)]
    assert '<span class="arithmatex">\\(pQ = 0\\)</span>' in section
    assert "<strong>Arguments:</strong>" in section  # equinox-style headings kept as written
    assert "<code>rates</code>" in section


def test_concepts_page_covers_the_conventions(site):
    text = html.unescape(_page(site, "concepts"))
    for topic in [
        "Ito",
        "k_B = 1",
        "rates[i, j]",
        "float32",
        "fold_in",
        "RecursiveCheckpointAdjoint",
        "DirectAdjoint",
        "implicit",
    ]:
        assert topic in text, f"the concepts page does not mention {topic!r}"
    assert 'class="arithmatex"' in text


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_every_notebook_is_a_page(site, notebook):
    page = _page(site, f"notebooks/{notebook.stem}")
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]).strip() for c in cells if c["cell_type"] == "code"]
    first_line = next((s.splitlines()[0] for s in sources if s), None)
    if first_line is not None:
        assert "jp-CodeCell" in page
        # the source is shown (syntax-highlighted: compare the text without tags)
        assert first_line in html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.parametrize("peer", COMING_FROM)
def test_coming_from_pages_exist(site, peer):
    page = _page(site, f"coming-from/{peer}")
    assert "jn." in page


def test_every_public_name_is_in_the_api_reference(site):
    missing = []
    for package in _public_packages():
        short = package.__name__.split(".")[-1]
        page = _page(site, f"api/{short}")
        missing += [
            f"{package.__name__}.{name}"
            for name in _public_names(package)
            if f'id="{package.__name__}.{name}"' not in page
        ]
    assert not missing, f"public names missing from the API reference: {missing}"


def test_public_docstrings_are_not_damaged_by_escapes():
    """Maths in a docstring that is not a raw string loses its backslashes: `\\alpha` becomes
    a bell character and "lpha", `\\frac` a form feed. The reference would show garbage."""
    damaged = []
    for package in [jaxneq, *_public_packages()]:
        objects = [(package.__name__, package)]
        objects += [
            (f"{package.__name__}.{n}", getattr(package, n)) for n in _public_names(package)
        ]
        for name, obj in objects:
            doc = obj.__doc__ if isinstance(obj, types.ModuleType) or callable(obj) else None
            bad = sorted({repr(c) for c in doc or "" if ord(c) < 32 and c != "\n"})
            if bad:
                damaged.append(f'{name}: {", ".join(bad)} (use a raw docstring, r"""...)')
    assert not damaged, f"docstrings with control characters: {damaged}"


def test_every_top_level_name_has_a_reference_page(site):
    for name in _public_names(jaxneq) + [p.__name__.split(".")[-1] for p in _public_packages()]:
        _page(site, f"api/{name}")


def _markdown_pages() -> list[pathlib.Path]:
    return sorted(DOCS.rglob("*.md"))


def test_every_jn_name_in_the_pages_exists():
    unknown = []
    for page in _markdown_pages():
        for dotted in sorted(
            set(re.findall(r"\bjn\.([A-Za-z_][\w.]*[A-Za-z_0-9])", page.read_text()))
        ):
            obj = jaxneq
            for part in dotted.split("."):
                if not hasattr(obj, part):
                    unknown.append(f"{page.relative_to(ROOT)}: jn.{dotted}")
                    break
                obj = getattr(obj, part)
    assert not unknown, f"pages name jaxneq objects that do not exist: {unknown}"


PYTHON_BLOCKS = [
    (page, i, block)
    for page in _markdown_pages()
    for i, block in enumerate(re.findall(r"^```python\n(.*?)^```", page.read_text(), re.S | re.M))
]


@pytest.mark.parametrize(
    "page, index, code",
    PYTHON_BLOCKS,
    ids=[f"{p.relative_to(DOCS).with_suffix('')}-{i}" for p, i, _ in PYTHON_BLOCKS],
)
def test_python_blocks_of_the_pages_run(page, index, code):
    exec(compile(code, f"{page.relative_to(ROOT)} (python block {index})", "exec"), {})

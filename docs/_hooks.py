"""mkdocs hooks of the jaxneq site (see `hooks:` in mkdocs.yml).

- Every `notebooks/*.ipynb` becomes a page (rendered by mkdocs-jupyter, not executed) under
  the "Notebooks" section: adding a notebook to `notebooks/` needs no edit of the site.
- Every public subpackage of `jaxneq/` (a folder with an `__init__.py` whose name does not
  start with `_`) gets a page under "API reference": `docs/api/<name>.md` when it exists
  (an introduction followed by `::: jaxneq.<name>`), otherwise a generated page holding
  only `::: jaxneq.<name>` (its module docstring and every public name).

The notebooks stay where they are: the hook adds them to the site's files with the
repository root as their source folder, before mkdocs-jupyter wraps `.ipynb` files.
"""

from __future__ import annotations

import pathlib

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = "Notebooks"
API = "API reference"


def notebook_paths() -> list[str]:
    """The notebooks shown on the site, as paths relative to the repository root."""
    return sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("*.ipynb"))


def api_packages() -> list[str]:
    """The public subpackages of jaxneq, in alphabetical order."""
    package = ROOT / "jaxneq"
    return sorted(
        p.name
        for p in package.iterdir()
        if p.is_dir() and not p.name.startswith("_") and (p / "__init__.py").exists()
    )


def _fill_section(nav: list, title: str, entries: list) -> None:
    """Put `entries` into the nav section `title` (drop the section when they are none)."""
    for i, item in enumerate(nav):
        if isinstance(item, dict) and title in item:
            if entries:
                item[title] = entries
            else:
                del nav[i]
            return
    raise ValueError(f"mkdocs.yml: the nav has no {title!r} section for docs/_hooks.py to fill")


def on_config(config):
    notebooks = notebook_paths()
    _fill_section(config.nav, NOTEBOOKS, notebooks)
    api = [{"Overview": "api/index.md"}]
    api += [{f"jaxneq.{name}": f"api/{name}.md"} for name in api_packages()]
    _fill_section(config.nav, API, api)
    return config


@event_priority(100)  # before mkdocs-jupyter (priority 0) wraps the .ipynb files
def on_files(files: Files, config) -> Files:
    for path in notebook_paths():
        files.append(
            File(
                path,
                src_dir=str(ROOT),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    for name in api_packages():
        if files.get_file_from_path(f"api/{name}.md") is None:
            content = f"::: jaxneq.{name}\n"
            files.append(File.generated(config, f"api/{name}.md", content=content))
    return files

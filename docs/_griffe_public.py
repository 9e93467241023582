"""Griffe extension for the jaxneq API reference (loaded by mkdocstrings, see mkdocs.yml).

jaxneq's packages re-export their public names from private files with redundant aliases,
`from ._stationary import stationary as stationary` (PEP 484's explicit re-export), and
define no `__all__`. Griffe treats imported names as private unless told otherwise, so
this extension marks every redundant alias public: the reference then documents each
name at its public path (`jaxneq.markov.stationary`), and nothing else that a package
happens to import.
"""

from __future__ import annotations

import ast
from typing import Any

import griffe


class RedundantAliasIsPublic(griffe.Extension):
    """Mark `from m import x as x` / `import x as x` aliases public."""

    def on_alias_instance(self, *, node: Any, alias: griffe.Alias, **kwargs: Any) -> None:
        if not isinstance(node, ast.Import | ast.ImportFrom):
            return
        for imported in node.names:
            if imported.asname == alias.name and imported.name.split(".")[-1] == alias.name:
                alias.public = True

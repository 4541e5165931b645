"""The import-time overlay: a process imports a mutant's source for one file, the file itself untouched.

This is how ``pv mutate`` keeps the working tree clean whatever happens to it (even SIGKILL): no
mutant is ever written into the repository. A meta path finder placed first on ``sys.meta_path``
asks the other finders where a module lives; when that is a file in the overlay, it hands back a
loader that compiles the mutated text under the original file name (tracebacks point at the real
file) and never reads or writes bytecode, so no ``.pyc`` of a mutant can outlive the run.

Standard library only, and loaded by file path (the worker and ``pv/site_hooks/sitecustomize.py``),
because importing pv here would import the very modules a mutant may replace.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Mapping, Sequence

ENV = "PV_MUTANT_OVERLAY"  # a JSON file {absolute path of the original file: mutated source text}


class _MutantLoader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname: str, path: str, source: str) -> None:
        super().__init__(fullname, path)
        self._source = source

    def get_source(self, fullname: str) -> str:
        return self._source

    def get_code(self, fullname: str):  # type: ignore[no-untyped-def]
        return compile(self._source, self.path, "exec", dont_inherit=True)


class OverlayFinder(importlib.abc.MetaPathFinder):
    """Serves the overlay's text for the files it names; every other import is left to the other finders."""

    def __init__(self, overlay: Mapping[str, str]) -> None:
        self._sources = {os.path.realpath(path): text for path, text in overlay.items()}
        self._stems = {_module_stem(path) for path in self._sources}

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: object = None):  # type: ignore[no-untyped-def]
        if fullname.rpartition(".")[2] not in self._stems:
            return None  # cheap: only a module named like an overlaid file can be one
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            origin = spec.origin
            source = self._sources.get(os.path.realpath(origin)) if origin else None
            if source is None:
                return spec
            loader = _MutantLoader(fullname, origin, source)
            return importlib.util.spec_from_file_location(
                fullname, origin, loader=loader, submodule_search_locations=spec.submodule_search_locations)
        return None


def _module_stem(path: str) -> str:
    base = os.path.basename(path)
    stem = base[:-3] if base.endswith(".py") else base
    return os.path.basename(os.path.dirname(path)) if stem == "__init__" else stem


def install(overlay: Mapping[str, str]) -> None:
    """Put an overlay first on ``sys.meta_path`` of this process; never write bytecode from now on."""
    sys.dont_write_bytecode = True
    if overlay:
        sys.meta_path.insert(0, OverlayFinder(overlay))


def site_hook() -> None:
    """In a child process (``pv/site_hooks/sitecustomize.py``): install the overlay the environment names, if any."""
    path = os.environ.get(ENV)
    if path:
        with open(path, encoding="utf-8") as handle:
            install(json.load(handle))

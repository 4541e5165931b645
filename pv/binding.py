"""Falsifier ``test:`` bindings: parse the four forms and resolve them against the test index.

Forms:
  * ``falsifiers/test_x.py::test_name`` (a pytest node id; ``Class::method`` and ``[param]`` allowed)
  * ``test_name`` or ``name`` (a bare function name, found as ``name`` or ``test_name`` in
    the test folders (falsifiers/ or tests/ unless [tool.pv] test_dirs says otherwise); must be unique)
  * ``CMD: <command>`` (a shell command in any language, e.g. ``cargo test -p x --lib a::b``;
    ``pv verify`` runs it by default, from the repo root, and its exit code is the verdict)
  * ``LIVE: <command>`` (a shell command needing hardware or long runs; only ``pv verify --live``)

Both command forms are explicit: a bare command is not guessed to be one, so a typo in a test name
can never turn into a shell command.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from pv.commandline import looks_like_command
from pv.testscan import TestFunction, TestIndex

_NAME = re.compile(r"^[A-Za-z_]\w*$")
_PARAM = re.compile(r"\[.*\]$")


class BindingKind(StrEnum):
    NODE_ID = "node_id"
    NAME = "name"
    CMD = "cmd"
    LIVE = "live"
    UNBOUND = "unbound"
    INVALID = "invalid"


@dataclass(frozen=True)
class Binding:
    kind: BindingKind
    raw: str | None
    file: str | None = None
    qualname: str | None = None
    command: str | None = None


@dataclass(frozen=True)
class Resolution:
    binding: Binding
    target: TestFunction | None = None
    problem: str | None = None
    suggestion: str | None = None

    @property
    def resolved(self) -> bool:
        return self.target is not None


def parse_binding(raw: str | None) -> Binding:
    if raw is None or not raw.strip():
        return Binding(BindingKind.UNBOUND, raw)
    text = raw.strip()
    for prefix, kind in (("LIVE:", BindingKind.LIVE), ("CMD:", BindingKind.CMD)):
        if text.upper().startswith(prefix):
            command = text[len(prefix):].strip()
            return Binding(kind, raw, command=command) if command else Binding(BindingKind.INVALID, raw)
    if "::" in text:
        file, _, qual = text.partition("::")
        qual = _PARAM.sub("", qual)
        parts = qual.split("::")
        if file.endswith(".py") and not any(c.isspace() for c in file) and all(_NAME.match(p) for p in parts):
            return Binding(BindingKind.NODE_ID, raw, file=file, qualname=qual)
        return Binding(BindingKind.INVALID, raw)
    if _NAME.match(text):
        return Binding(BindingKind.NAME, raw, qualname=text)
    return Binding(BindingKind.INVALID, raw)


def resolve(binding: Binding, index: TestIndex) -> Resolution:
    if binding.kind is BindingKind.NODE_ID:
        return _resolve_node(binding, index)
    if binding.kind is BindingKind.NAME:
        return _resolve_name(binding, index)
    if binding.kind is BindingKind.INVALID:
        text = (binding.raw or "").strip()
        if text.upper() in ("CMD:", "LIVE:"):
            return Resolution(binding, problem=f"binding {text!r} has no command after the colon")
        return Resolution(
            binding,
            problem=f"binding {binding.raw!r} is not a node id, a test name, 'CMD: <command>' or 'LIVE: <command>'",
            suggestion=f"CMD: {text}" if looks_like_command(text) else None,
        )
    return Resolution(binding)


def _resolve_node(binding: Binding, index: TestIndex) -> Resolution:
    assert binding.file is not None and binding.qualname is not None
    path = PurePosixPath(posixpath.normpath(binding.file))
    if path.is_absolute() or path.parts[:1] == ("..",):
        return Resolution(binding, problem=f"test path {binding.file!r} leaves the repository")
    funcs = index.functions.get(path.as_posix())
    if funcs is None and path.as_posix() in index.refused:
        return Resolution(binding, problem=f"test file {binding.file!r} was refused: {index.refused[path.as_posix()]}")
    if funcs is None:
        known = list(index.functions)
        close = difflib.get_close_matches(path.as_posix(), known, n=1, cutoff=0.6)
        return Resolution(
            binding,
            problem=f"test file {binding.file!r} not found under {index.where}",
            suggestion=close[0] if close else _suggest(binding.qualname.rsplit("::", 1)[-1], index),
        )
    target = funcs.get(binding.qualname)
    if target is not None:
        return Resolution(binding, target=target)
    local = difflib.get_close_matches(binding.qualname, list(funcs), n=1, cutoff=0.6)
    suggestion = f"{path.as_posix()}::{local[0]}" if local else _suggest(binding.qualname, index)
    problem = f"no test function {binding.qualname!r} in {binding.file}"
    if suggestion is None and funcs:
        problem += f" (it defines: {', '.join(sorted(funcs)[:5])}{', ...' if len(funcs) > 5 else ''})"
    return Resolution(binding, problem=problem, suggestion=suggestion)


def _resolve_name(binding: Binding, index: TestIndex) -> Resolution:
    name = binding.qualname or ""
    candidates = list(index.by_name.get(name, ())) + (
        [] if name.startswith("test") else list(index.by_name.get(f"test_{name}", ()))
    )
    if len(candidates) == 1:
        return Resolution(binding, target=candidates[0])
    if candidates:
        where = ", ".join(c.node_id for c in candidates)
        return Resolution(binding, problem=f"test name {name!r} is ambiguous: {where}",
                          suggestion=candidates[0].node_id)
    return Resolution(binding, problem=f"no test function named {name!r} (or 'test_{name}') in {index.where}",
                      suggestion=_suggest(name, index))


def _suggest(name: str, index: TestIndex) -> str | None:
    """Nearest existing test name, written in the same style as the query (with or without test_)."""
    names = index.all_names()
    if name.startswith("test"):
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        return close[0] if close else None
    bare = {n.removeprefix("test_"): n for n in names}
    close = difflib.get_close_matches(name, list(bare), n=1, cutoff=0.6)
    return close[0] if close else None

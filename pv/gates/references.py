"""References that name repo files point at files (and symbols) that exist, inside the repo.

A reference is treated as a repo path when it has no spaces or URL scheme and either contains a
slash or ends in a source/data extension; ``path.py::name`` also checks the top-level symbol.
Citations ("Qwen2 technical report, arXiv:…") and URLs are left alone. A falsifier's ``subject:``
(what ``pv mutate`` mutates) is always a repo path: ``path.py`` or ``path.py::qualname``, checked
the same way, nested qualnames (``Class.method``) included.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

from pv.diagnostics import Diagnostic
from pv.fileio import read_bytes
from pv.lint_context import GateInfo, LintContext
from pv.mutate.subject import subject_problem
from pv.repo_path import UnsafePath, safe_repo_path

GATE = GateInfo(
    name="references",
    title="referenced repo files exist",
    fails_when="a referenced repo path, or a falsifier `subject:`, (`path.py::symbol`) is missing or leaves the repo",
)

_EXTENSIONS = (".py", ".yaml", ".yml", ".md", ".json", ".toml", ".txt", ".jsonl", ".tiktoken")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def looks_like_repo_path(ref: str) -> bool:
    if " " in ref or _SCHEME.match(ref):
        return False
    path = ref.split("::", 1)[0]
    return "/" in path or path.endswith(_EXTENSIONS)


def check(ctx: LintContext) -> list[Diagnostic]:
    out = []
    for lc, contract in ctx.valid:
        for i, ref in enumerate(contract.metadata.references):
            if not looks_like_repo_path(ref):
                continue
            problem = _problem(ctx.root, ref)
            if problem:
                out.append(ctx.diag(lc, ["metadata", "references", i], problem,
                                    hint="fix the path (repo-relative) or drop the reference", code=GATE.name))
        for i, ft in enumerate(contract.falsification_tests):
            for j, ref in enumerate(ft.subject):
                problem = subject_problem(ctx.root, ref)
                if problem:
                    out.append(ctx.diag(lc, ["falsification_tests", i, "subject", j], problem,
                                        hint="name a repo-relative `path.py` or `path.py::qualname` the test guards",
                                        code=GATE.name))
    return out


def _problem(root: Path, ref: str) -> str | None:
    file, _, symbol = ref.partition("::")
    try:
        path = safe_repo_path(root, file)
    except UnsafePath as exc:
        return f"reference {exc}"
    if not os.path.lexists(path):
        return f"referenced file {file!r} does not exist"
    if symbol and path.suffix == ".py":
        try:
            names = _top_level_names(read_bytes(path))
        except OSError as exc:
            return f"referenced file {file!r} cannot be read for `::{symbol}`: {exc.strerror}"
        if symbol not in names:
            return f"{file} defines no top-level {symbol!r}"
    return None


def _top_level_names(source: bytes) -> set[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names

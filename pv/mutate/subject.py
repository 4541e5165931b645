"""What a falsifier's mutants may touch: the code its bound test exercises.

Either the falsifier says so (``subject:``, a list of ``path.py`` or ``path.py::qualname``; lint
checks each resolves, like ``references:``), or it is measured: the repository source lines the
test executed in a clean run under ``coverage``, outside the test folders and ``benchmarks/``.
A line counts with the whole statement it starts (a call spread over five lines is one statement),
so a mutant in an argument on a continuation line is as much "executed" as the call.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from pv.repo_path import UnsafePath, safe_repo_path

NOT_SUBJECTS = ("benchmarks",)  # besides the configured test folders


def parse_subject(ref: str) -> tuple[str, str | None]:
    """``path.py::Class.method`` -> (``path.py``, ``Class.method``); a bare path -> (path, None)."""
    path, _, qualname = ref.partition("::")
    return path, qualname or None


def subject_problem(root: Path, ref: str) -> str | None:
    """Why ``ref`` names no Python code in the repository, or None when it resolves."""
    rel, qualname = parse_subject(ref)
    try:
        path = safe_repo_path(root, rel)
    except UnsafePath as exc:
        return f"subject {exc}"
    if PurePosixPath(rel).suffix != ".py":
        return f"subject {ref!r} is not a Python file (`path.py` or `path.py::qualname`)"
    if not path.is_file():
        return f"subject file {rel!r} does not exist"
    if qualname is not None:
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError) as exc:
            return f"{rel} does not parse: {exc}"
        if qualname_span(tree, qualname) is None:
            return f"{rel} defines no {qualname!r}"
    return None


def qualname_span(tree: ast.Module, qualname: str) -> range | None:
    """The lines of the def/class ``qualname`` (``Outer.inner``), decorators included."""
    body: list[ast.stmt] = tree.body
    node: ast.AST | None = None
    for part in qualname.split("."):
        node = next((n for n in body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                     and n.name == part), None)
        if node is None:
            return None
        body = node.body
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return range(first, (node.end_lineno or node.lineno) + 1)


def declared_lines(root: Path, refs: Iterable[str]) -> dict[str, set[int] | None]:
    """repo-relative file -> its lines named by ``subject:`` (None: the whole file)."""
    out: dict[str, set[int] | None] = {}
    for ref in refs:
        rel, qualname = parse_subject(ref)
        if qualname is None:
            out[rel] = None
            continue
        if rel in out and out[rel] is None:
            continue  # the whole file is named already
        span = qualname_span(ast.parse((root / rel).read_bytes()), qualname)
        out[rel] = (out.get(rel) or set()) | set(span or ())
    return out


def statement_lines(source: str) -> dict[int, range]:
    """First line of each simple statement (and compound header) -> every line it spans."""
    spans: dict[int, range] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.stmt):
            continue
        children = [c for field in ("body", "orelse", "finalbody", "handlers", "cases")
                    for c in getattr(node, field, None) or []]
        end = min((c.lineno for c in children), default=(node.end_lineno or node.lineno) + 1) - 1
        spans[node.lineno] = range(node.lineno, max(end, node.lineno) + 1)
    return spans


def executed_lines(root: Path, measured: Mapping[str, list[int]], candidates: set[str],
                   not_subjects: Iterable[str]) -> dict[str, set[int]]:
    """Coverage's ``{absolute file: executed lines}`` -> the subject: repo-relative file -> lines.

    Only files in ``candidates`` (the repository's non-ignored files) count, and none under
    ``not_subjects`` (the test folders, benchmarks).
    """
    real_root = root.resolve()
    skip = tuple(d.strip("/") + "/" for d in not_subjects)
    out: dict[str, set[int]] = {}
    for path, lines in measured.items():
        try:
            rel = Path(path).resolve().relative_to(real_root).as_posix()
        except ValueError:
            continue
        if rel not in candidates or rel.startswith(skip) or not rel.endswith(".py") or not lines:
            continue
        try:
            spans = statement_lines((root / rel).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        out[rel] = {n for line in lines for n in spans.get(line, (line,))}
    return out

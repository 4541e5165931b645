"""A static index of the repo's test functions and their ``falsifies`` markers.

Built from the AST alone, so linting never imports or runs project code: a contract can be
checked on a machine without torch, and a malicious test file cannot run at lint time.

The walk follows pv's one path rule (``pv.repo_path``): a symlink, to a file or a folder, is
followed only when it resolves inside the repository, each real folder is walked once (a symlink
loop ends there), and only regular files are read. Whatever is refused (a symlink leading out, a
FIFO or a device named ``*.py``) is kept in ``TestIndex.refused`` with the reason, so lint can
report it and a binding to it can say why it does not resolve.
"""

from __future__ import annotations

import ast
import os
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pv.fileio import read_bytes
from pv.repo_path import UnsafePath, safe_repo_path

TEST_DIRS = ("falsifiers", "tests")


@dataclass(frozen=True)
class TestFunction:
    file: str  # repo-relative, forward slashes
    qualname: str  # "test_x" or "TestClass::test_x"
    line: int
    start_line: int = 0  # first decorator line (== line when undecorated); 0 when unknown
    end_line: int = 0  # last line of the body; 0 when unknown

    @property
    def name(self) -> str:
        return self.qualname.rsplit("::", 1)[-1]

    @property
    def node_id(self) -> str:
        return f"{self.file}::{self.qualname}"


@dataclass(frozen=True)
class FalsifiesMarker:
    falsifier_id: str
    file: str
    line: int
    target: str  # the qualname or "<module>" it decorates


@dataclass
class TestIndex:
    functions: dict[str, dict[str, TestFunction]] = field(default_factory=dict)  # file -> qualname -> fn
    by_name: dict[str, list[TestFunction]] = field(default_factory=lambda: defaultdict(list))
    markers: list[FalsifiesMarker] = field(default_factory=list)
    syntax_errors: list[tuple[str, int, str]] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # repo-relative path -> why it was not read
    dirs: tuple[str, ...] = TEST_DIRS  # where the scan looked, for messages

    @property
    def where(self) -> str:
        return " or ".join(f"{d}/" for d in self.dirs)

    def all_names(self) -> list[str]:
        return sorted(self.by_name)


def scan_tests(root: Path, dirs: tuple[str, ...] = TEST_DIRS) -> TestIndex:
    index = TestIndex(dirs=tuple(dirs))
    for rel, real in _python_files(root, dirs, index.refused):
        try:
            source = read_bytes(real)
        except OSError as exc:
            index.refused[rel] = exc.strerror or str(exc)
            continue
        try:
            tree = ast.parse(source, filename=rel)
        except (SyntaxError, ValueError) as exc:
            index.syntax_errors.append((rel, getattr(exc, "lineno", None) or 1, str(exc)))
            continue
        _index_module(index, rel, tree)
    return index


def _python_files(root: Path, dirs: tuple[str, ...], refused: dict[str, str]) -> Iterator[tuple[str, Path]]:
    """``(repo-relative path, resolved path)`` of every ``*.py`` under ``dirs``.

    Each real folder is walked once, under its own name when it has one: folders reached through a
    symlink wait until every plainly reachable folder is done, so a link never renames a folder's
    tests, and a link back to an ancestor ends the walk there instead of looping.
    """
    walked: set[Path] = set()
    plain, linked = deque(dirs), deque[str]()
    while plain or linked:
        rel = plain.popleft() if plain else linked.popleft()
        try:
            real = safe_repo_path(root, rel)
        except UnsafePath as exc:
            refused[rel] = str(exc)
            continue
        if real in walked or not real.is_dir():
            continue
        walked.add(real)
        try:
            with os.scandir(real) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            refused[rel] = f"cannot list the folder: {exc.strerror}"
            continue
        for entry in entries:
            child = entry.name if rel in ("", ".") else f"{rel}/{entry.name}"
            try:
                is_link, is_dir = entry.is_symlink(), entry.is_dir()
            except OSError as exc:
                refused[child] = exc.strerror or str(exc)
                continue
            if is_dir:
                (linked if is_link else plain).append(child)
            elif entry.name.endswith(".py"):
                try:
                    yield child, safe_repo_path(root, child) if is_link else Path(entry.path)
                except UnsafePath as exc:
                    refused[child] = str(exc)


def scan_file(root: Path, rel: str) -> TestIndex | None:
    """An index of one Python test file anywhere in the repo (None when it is missing, leaves the
    repository, or is not a regular file: the same rule as the test scan)."""
    pure = Path(rel)
    try:
        source = read_bytes(safe_repo_path(root, rel))
    except (UnsafePath, OSError):
        return None
    index = TestIndex()
    try:
        tree = ast.parse(source, filename=rel)
    except (SyntaxError, ValueError) as exc:
        index.syntax_errors.append((pure.as_posix(), getattr(exc, "lineno", None) or 1, str(exc)))
        index.functions[pure.as_posix()] = {}
        return index
    _index_module(index, pure.as_posix(), tree)
    return index


def _index_module(index: TestIndex, rel: str, tree: ast.Module) -> None:
    funcs: dict[str, TestFunction] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            funcs[node.name] = _function(rel, node.name, node)
            _collect_markers(index, rel, node.decorator_list, node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            _collect_markers(index, rel, node.decorator_list, node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test"):
                    qual = f"{node.name}::{item.name}"
                    funcs[qual] = _function(rel, qual, item)
                    _collect_markers(index, rel, item.decorator_list, qual)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            values = node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
            _collect_markers(index, rel, values, "<module>")
    index.functions[rel] = funcs
    for fn in funcs.values():
        index.by_name[fn.name].append(fn)


def _function(rel: str, qualname: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> TestFunction:
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return TestFunction(rel, qualname, node.lineno, start, node.end_lineno or node.lineno)


def _collect_markers(index: TestIndex, rel: str, exprs: list[ast.expr], target: str) -> None:
    for expr in exprs:
        if not (isinstance(expr, ast.Call) and _is_falsifies(expr.func)):
            continue
        for arg in expr.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                index.markers.append(FalsifiesMarker(arg.value, rel, expr.lineno, target))


def _is_falsifies(func: ast.expr) -> bool:
    # pytest.mark.falsifies(...) or mark.falsifies(...)
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "falsifies"
        and isinstance(func.value, ast.Attribute | ast.Name)
        and (func.value.attr if isinstance(func.value, ast.Attribute) else func.value.id) == "mark"
    )

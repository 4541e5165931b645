"""The project's own import graph has no cycle, deferred or not, and pv never imports its subjects.

Built from the AST alone (nothing is imported), counting every import statement wherever it sits:
inside functions, under ``if TYPE_CHECKING:``, in ``try:`` blocks. A cycle hidden behind a
deferred import is still a cycle for the reader, who has to hold both modules in mind at once.

An edge points at the module an import names: ``from a.b import c`` is an edge to ``a.b.c`` when
that is a module, else to ``a.b``. The implicit import of a parent package (``a/b/__init__.py``
runs before ``a.b.c``) is not an edge: a package's ``__init__`` importing its own submodules is how
a package shows its API.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pv", "tokenizer", "trainer", "safeio", "apr")  # the project's own; absent ones are skipped
SUBJECTS = ("tokenizer", "trainer")


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Module name -> file, for every module of the project's packages under ``root``."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that module ``name`` imports anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(_deepest(alias.name, modules) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else _deepest(base, modules))
    found.discard(name)
    found.discard("")
    return found


def _deepest(dotted: str, modules: dict[str, Path]) -> str:
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in modules:
            return ".".join(parts[:n])
    return ""


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = project_modules(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of two or more modules, sorted (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(groups)


def test_the_project_has_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (each group imports itself through the others): " + "; ".join(
        " <-> ".join(group) for group in found)


def test_pv_never_imports_its_subjects() -> None:
    leaks = {f"{m} -> {t}" for m, targets in import_graph().items() if m.split(".")[0] == "pv"
             for t in targets if t.split(".")[0] in SUBJECTS}
    assert not leaks, sorted(leaks)


def test_the_check_sees_deferred_relative_and_type_checking_imports(tmp_path: Path) -> None:
    files = {
        "pv/__init__.py": "",
        "pv/a.py": "from pv.b import thing\n",
        "pv/b.py": "def f():\n    from . import c\n",  # deferred and relative
        "pv/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pv.a\n",
        "pv/d.py": "import pv.a\n",  # imports into the cycle, is not part of it
        "pv/pkg/__init__.py": "from pv.pkg import leaf\n",
        "pv/pkg/leaf.py": "from pv.pkg import other\n",  # a sibling via its package: no cycle
        "pv/pkg/other.py": "",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    graph = import_graph(tmp_path)
    assert graph["pv.b"] == {"pv.c"} and graph["pv.pkg.leaf"] == {"pv.pkg.other"}
    assert cycles(graph) == [["pv.a", "pv.b", "pv.c"]]

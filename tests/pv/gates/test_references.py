"""Gate references: references naming repo files point at files (and symbols) inside the repo."""

from __future__ import annotations

from tests.pv.conftest import Repo
from tests.pv.gates.conftest import gate, good


def test_existing_files_symbols_citations_and_urls_pass(repo: Repo) -> None:
    repo.write("pkg/mod.py", "def real():\n    pass\nCONST = 1\n")
    data = good(repo)
    data["metadata"]["references"] = ["pkg/mod.py", "pkg/mod.py::real", "pkg/mod.py::CONST",
                                      "Some paper, arXiv:2407.10671", "https://example.org/x.py"]
    repo.contract(data)
    assert gate(repo, "references").passed


def test_missing_files_symbols_and_escapes_fail(repo: Repo) -> None:
    repo.write("pkg/mod.py", "def real():\n    pass\n")
    data = good(repo)
    data["metadata"]["references"] = ["pkg/missing.py", "pkg/mod.py::gone", "../etc/passwd.txt"]
    repo.contract(data)
    messages = [d.message for d in gate(repo, "references").diagnostics]
    assert messages == [
        "referenced file 'pkg/missing.py' does not exist",
        "pkg/mod.py defines no top-level 'gone'",
        "reference '../etc/passwd.txt' leaves the repository",
    ]

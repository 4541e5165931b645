"""Gate references: references naming repo files point at files (and symbols) inside the repo."""

from __future__ import annotations

import os
from pathlib import Path

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
    assert messages[:2] == [
        "referenced file 'pkg/missing.py' does not exist",
        "pkg/mod.py defines no top-level 'gone'",
    ]
    assert messages[2].startswith("reference '../etc/passwd.txt' leaves the repository (resolves to ")
    assert len(messages) == 3


def test_a_symlink_leading_out_is_refused_like_dotdot(repo: Repo, tmp_path_factory) -> None:
    """Issue 16 item 9: one rule (resolve, then require inside the root), whatever the path looks like."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.py").write_text("def leaked():\n    pass\n")
    (repo.root / "pkg").mkdir()
    os.symlink(outside / "secret.py", repo.root / "pkg" / "link.py")
    os.symlink(outside, repo.root / "pkg" / "linkdir")
    os.symlink(repo.root / "pkg" / "real.py", repo.root / "pkg" / "inside.py")  # stays inside: fine
    repo.write("pkg/real.py", "def ok():\n    pass\n")
    data = good(repo)
    data["metadata"]["references"] = ["pkg/link.py::leaked", "pkg/linkdir/secret.py", "pkg/inside.py::ok"]
    repo.contract(data)
    diags = gate(repo, "references").diagnostics
    assert [(d.key_path, d.message.split(" through ")[0]) for d in diags] == [
        ("metadata.references[0]", "reference 'pkg/link.py' leads outside the repository"),
        ("metadata.references[1]", "reference 'pkg/linkdir/secret.py' leads outside the repository"),
    ]
    assert all(str(outside) in d.message and d.line is not None and d.hint for d in diags)


def test_unusable_reference_paths_are_located_findings_not_tracebacks(repo: Repo) -> None:
    """Issue 16 items 1 and 3: an over-long name, a ``*.py`` folder and a FIFO each get a located message."""
    (repo.root / "pkg" / "folder.py").mkdir(parents=True)
    os.mkfifo(repo.root / "pkg" / "pipe.py")  # reading it for ::symbol would block forever
    data = good(repo)
    data["metadata"]["references"] = ["a" * 300 + "/x.py", "pkg/folder.py::name", "pkg/pipe.py::name"]
    repo.contract(data)
    diags = gate(repo, "references").diagnostics
    assert [d.key_path for d in diags] == [f"metadata.references[{i}]" for i in range(3)]
    assert "path component of 300 bytes" in diags[0].message and "limited to 255" in diags[0].message
    assert diags[1].message == "referenced file 'pkg/folder.py' cannot be read for `::name`: is a directory, " \
                               "not a regular file"
    assert "is a FIFO (named pipe), not a regular file" in diags[2].message
    assert all(d.line is not None and d.hint for d in diags)
    assert Path(repo.root / "pkg" / "pipe.py").exists()


def test_falsifier_subjects_resolve_to_python_code_in_the_repo(repo: Repo) -> None:
    repo.write("pkg/mod.py", "class Gate:\n    def check(self):\n        pass\n\ndef real():\n    pass\n")
    data = good(repo)
    data["falsification_tests"][0]["subject"] = ["pkg/mod.py", "pkg/mod.py::real", "pkg/mod.py::Gate.check"]
    repo.contract(data)
    assert gate(repo, "references").passed
    data["falsification_tests"][0]["subject"] = ["pkg/mod.py::Gate.gone", "pkg/missing.py", "README.md",
                                                 "../outside.py"]
    repo.contract(data)
    diags = gate(repo, "references").diagnostics
    assert [d.message for d in diags[:3]] == [
        "pkg/mod.py defines no 'Gate.gone'",
        "subject file 'pkg/missing.py' does not exist",
        "subject 'README.md' is not a Python file (`path.py` or `path.py::qualname`)",
    ]
    assert diags[3].message.startswith("subject '../outside.py' leaves the repository") and len(diags) == 4
    assert diags[0].key_path == "falsification_tests[0].subject[0]"

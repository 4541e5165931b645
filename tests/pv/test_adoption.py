"""Adopt pv in a repository of your own: the README's "Use pv in your own project" steps, run for real.

A throwaway git repository with its own layout in ``[tool.pv]`` (contracts in specs/, tests in
checks/, the ledger and evidence elsewhere) goes through pv new -> validate -> lint -> verify (red)
-> write the tests -> verify (green) -> promote -> report, by running the very command lines the
README shows, in a shell, from the repository root.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PYPROJECT = """\
[project]
name = "parser-project"
version = "0.1.0"

[tool.pv]
contracts = ["specs/*.yaml"]
test_dirs = ["checks"]
evidence_dir = "records/evidence"
ledger = "build/pv-ledger.json"
coverage_floor = 2
"""

TESTS = '''\
"""Falsifiers of specs/parser-limits-v1.yaml."""

import pytest


def parse_depth(text: str, limit: int = 64) -> int:
    depth = best = 0
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        best = max(best, depth)
        if best > limit:
            raise ValueError(f"nesting deeper than {limit}")
    return best


@pytest.mark.falsifies("FALSIFY-LIMITS-001")
def test_falsify_limits_001():
    assert parse_depth("[[[]]]") == 3


@pytest.mark.falsifies("FALSIFY-LIMITS-002")
def test_falsify_limits_002():
    with pytest.raises(ValueError, match="deeper than 64"):
        parse_depth("[" * 65)
'''


LIVE_FALSIFIER = """\
  - id: FALSIFY-LIMITS-003
    rule: The parser benchmark runs to completion.
    prediction: The command exits 0.
    test: "LIVE: {python} -c 'print(1)'"
    if_fails: Read the evidence folder's stderr.
    ship_blocking: false
"""


def _readme_steps() -> list[str]:
    """The pv command lines of the README's adoption section, in order, comments stripped."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Use pv in your own project"):]
    block = re.findall(r"```bash\n(.*?)```", section, re.S)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.startswith("pv ")]


def _run(root: Path, command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["bash", "-c", command], cwd=root, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)


def test_readme_adoption_steps_in_a_throwaway_repository(tmp_path: Path) -> None:
    steps = _readme_steps()
    assert steps == [
        "pv new parser-limits-v1 --kind data --falsifiers 2",
        "pv validate specs/*.yaml",
        "pv lint --strict-test-binding",
        "pv verify",
        "pv verify",
        "pv promote specs/parser-limits-v1.yaml --to FUNCTIONAL",
        "pv report --output pv-report",
    ], "the README's adoption steps changed: keep this test running the same commands"
    root = tmp_path / "parser-project"
    root.mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / ".gitignore").write_text("build/\npv-report/\n__pycache__/\n")
    _git(root, "init", "-q")

    expected = iter([0, 0, 0, 1, 0, 0, 0])
    for i, step in enumerate(steps):
        if i == 4:  # "state the rules, write the tests"
            (root / "checks" / "test_parser_limits_v1.py").write_text(TESTS)
            _git(root, "add", ".")
            _git(root, "commit", "-qm", "parser limits: contract and falsifiers")
        proc = _run(root, step)
        assert proc.returncode == next(expected), f"{step}\n{proc.stdout}\n{proc.stderr}"
        if i == 0:
            assert (root / "specs" / "parser-limits-v1.yaml").is_file()  # [tool.pv] contracts
            assert (root / "checks" / "test_parser_limits_v1.py").is_file()  # [tool.pv] test_dirs
        if i == 3:
            assert "not written" in proc.stdout and (root / "build" / "pv-ledger.json").is_file()  # [tool.pv] ledger
    assert "status: FUNCTIONAL" in (root / "specs" / "parser-limits-v1.yaml").read_text()
    index = (root / "pv-report" / "index.html").read_text()
    assert "parser-limits-v1" in index and "FALSIFY-LIMITS-002" in index

    # LIVE evidence lands under [tool.pv] evidence_dir, and the report finds it there
    spec = root / "specs" / "parser-limits-v1.yaml"
    spec.write_text(spec.read_text() + LIVE_FALSIFIER.format(python=shlex.quote(sys.executable)))
    proc = _run(root, "pv verify --live -k FALSIFY-LIMITS-003")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (record,) = (root / "records" / "evidence" / "parser-limits-v1").glob("*/record.json")
    assert _run(root, "pv report --output pv-report").returncode == 0
    assert record.parent.name in (root / "pv-report" / "evidence.html").read_text()

    # coverage reads its floor from [tool.pv]: 3 falsifiers meet a floor of 3, not one of 4
    (root / "pyproject.toml").write_text(PYPROJECT.replace("coverage_floor = 2", "coverage_floor = 3"))
    assert _run(root, "pv coverage").returncode == 0
    (root / "pyproject.toml").write_text(PYPROJECT.replace("coverage_floor = 2", "coverage_floor = 4"))
    proc = _run(root, "pv coverage")
    assert proc.returncode == 1 and "fewer than the floor of 4" in proc.stdout + proc.stderr
    # a typo in [tool.pv] is a clear usage error, never a silently ignored setting
    (root / "pyproject.toml").write_text(PYPROJECT.replace("test_dirs", "test_dir"))
    proc = _run(root, "pv lint")
    assert proc.returncode == 2 and "unknown key 'test_dir' (did you mean `test_dirs`?)" in proc.stderr

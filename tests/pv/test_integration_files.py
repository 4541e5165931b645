"""The pre-commit hooks and the GitHub Actions example call pv the way pv actually parses its arguments."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from pv.cli import build_parser

REPO = Path(__file__).resolve().parents[2]


def _parses(command: str) -> None:
    argv = shlex.split(command)
    assert argv[0] == "pv", command
    try:
        build_parser().parse_args(argv[1:])
    except SystemExit as exc:  # argparse exits 2 on an unknown option or subcommand
        pytest.fail(f"pv cannot parse {command!r} (exit {exc.code})")


def test_pre_commit_hooks_call_real_pv_commands() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"pv-validate", "pv-lint", "pv-lint-since"}
    for hook in hooks.values():
        assert {"id", "name", "entry", "language"} <= set(hook)
        extra = " contracts/a.yaml" if hook.get("pass_filenames", True) else ""
        extra += " --since origin/main" if hook["id"] == "pv-lint-since" else ""
        _parses(hook["entry"] + extra)
    validate = re.compile(hooks["pv-validate"]["files"])
    assert validate.search("contracts/apr-x-v1.yaml") and validate.search("contracts/b.yml")
    assert not validate.search(".github/workflows/ci.yml") and not validate.search(".pre-commit-config.yaml")
    lint = re.compile(hooks["pv-lint"]["files"])
    assert lint.search("falsifiers/test_x.py") and lint.search("contracts/a.yaml")


def test_github_actions_example_lints_to_sarif_and_verifies_to_junit() -> None:
    workflow = yaml.safe_load((REPO / "examples" / "github-actions" / "pv.yml").read_text())
    steps = workflow["jobs"]["pv"]["steps"]
    runs = [line.strip() for s in steps for line in s.get("run", "").splitlines() if line.strip().startswith("pv ")]
    for command in runs:
        _parses(command.split(">")[0].replace('"origin/${{ github.base_ref }}"', "origin/main"))
    assert any("--format sarif" in r for r in runs) and any(r.startswith("pv verify --junit") for r in runs)
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    sarif_upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert sarif_upload["with"]["sarif_file"] == "pv-lint.sarif"
    assert workflow["permissions"]["security-events"] == "write"

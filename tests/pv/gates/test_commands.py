"""Gate cmd: a CMD: binding's program is on PATH (warning) and a test it names exists (error when strict)."""

from __future__ import annotations

from pv.diagnostics import Diagnostic, Severity
from pv.lint import lint
from pv.workspace import Workspace
from tests.pv.conftest import Repo, falsifier, valid_contract


def cmd_diagnostics(repo: Repo, test: str, *, strict: bool = True, **extra) -> list[Diagnostic]:
    path = repo.contract(valid_contract("cmd-v1", falsifiers=[falsifier("FALSIFY-CMD-001", test, **extra)]))
    report = lint(Workspace(repo.root), [path], strict_test_binding=strict)
    return [d for r in report.results if r.name == "cmd" for d in r.diagnostics]


def test_a_runnable_command_naming_an_existing_test_passes(repo: Repo) -> None:
    repo.write("crates/k/Cargo.toml", "[package]\nname = 'k'\n")
    repo.write("crates/k/src/lib.rs", "#[cfg(test)]\nmod tests {\n    #[test]\n    fn holds() {}\n}\n")
    assert cmd_diagnostics(repo, "CMD: sh -c 'cargo test -p k tests::holds'") == []


def test_a_missing_program_is_a_warning(repo: Repo) -> None:
    (diag,) = cmd_diagnostics(repo, "CMD: pv-no-such-tool-xyz --check")
    assert diag.severity is Severity.WARNING and "`pv-no-such-tool-xyz` is not on PATH here" in diag.message
    assert diag.key_path == "falsification_tests[0].test" and diag.line is not None


def test_a_named_test_that_does_not_exist_is_an_error_when_strict(repo: Repo) -> None:
    repo.write("crates/k/Cargo.toml", "[package]\nname = 'k'\n")
    repo.write("crates/k/src/lib.rs", "#[cfg(test)]\nmod tests {\n    #[test]\n    fn holds() {}\n}\n")
    found = [d for d in cmd_diagnostics(repo, "CMD: cargo test -p k -- tests::hold --exact")
             if "no Rust test matches" in d.message]
    assert found and found[0].severity is Severity.ERROR and found[0].hint == "did you mean `tests::holds`?"
    relaxed = cmd_diagnostics(repo, "CMD: cargo test -p k -- tests::hold --exact", strict=False)
    assert relaxed and all(d.severity is Severity.WARNING for d in relaxed)
    assert "cannot read the command" in cmd_diagnostics(repo, "CMD: echo 'unclosed")[0].message


def test_inputs_globs_must_match_and_belong_to_command_bindings(repo: Repo) -> None:
    repo.write("src/a.rs", "")
    assert cmd_diagnostics(repo, "CMD: true", inputs=["src/**/*.rs"]) == []
    (nothing,) = cmd_diagnostics(repo, "CMD: true", inputs=["src/**/*.go"])
    assert nothing.severity is Severity.ERROR and "matches no file" in nothing.message
    assert "leaves the repository" in cmd_diagnostics(repo, "CMD: true", inputs=["../x/*.rs"])[0].message
    repo.write("falsifiers/test_x.py", "def test_x():\n    pass\n")
    misplaced = cmd_diagnostics(repo, "falsifiers/test_x.py::test_x", inputs=["src/**/*.rs"], timeout_s=5)
    assert [d.severity for d in misplaced] == [Severity.WARNING, Severity.WARNING]
    assert "applies to CMD: and LIVE: bindings only" in misplaced[0].message

"""A ``CMD:`` binding can run here and names tests that exist.

Statically, nothing run: each simple command's program must be on PATH (a warning when it is
not: the contract may be checked on a machine without the toolchain, and ``pv verify`` records
an error there), and a command that names a test (``cargo test … NAME``, ``go test -run NAME``,
``pytest PATH::NAME``; see ``pv.cmd_targets``) must name one that exists: an error under
``--strict-test-binding``, a warning otherwise, as for pytest bindings. ``inputs:`` globs must
match a file, and ``inputs``/``timeout_s`` belong to command bindings.
"""

from __future__ import annotations

from pv.binding import BindingKind, parse_binding
from pv.cmd_inputs import glob_problem
from pv.cmd_targets import check_command
from pv.commandline import CommandSyntaxError, program_problem, split_commands
from pv.diagnostics import Diagnostic, Severity
from pv.lint_context import GateInfo, LintContext
from pv.models import FalsificationTest

GATE = GateInfo(
    name="cmd",
    title="CMD: bindings can run here and name existing tests",
    fails_when="a `CMD:` command names a test that does not exist (error under `--strict-test-binding`); its "
    "program is not on PATH (warning); an `inputs:` glob matches nothing",
)

Finding = tuple[list[str | int], str, str | None, Severity]  # key path, message, hint, severity


def check(ctx: LintContext) -> list[Diagnostic]:
    out = []
    named = Severity.ERROR if ctx.strict_test_binding else Severity.WARNING
    for lc, contract in ctx.valid:
        for i, ft in enumerate(contract.falsification_tests):
            for path, message, hint, severity in _findings(ctx, ft, named):
                out.append(ctx.diag(lc, ["falsification_tests", i, *path], f"{ft.id}: {message}", hint=hint,
                                    code=GATE.name, severity=severity))
    return out


def _findings(ctx: LintContext, ft: FalsificationTest, named: Severity) -> list[Finding]:
    binding = parse_binding(ft.test)
    if binding.kind not in (BindingKind.CMD, BindingKind.LIVE):
        return [([field], f"`{field}` applies to CMD: and LIVE: bindings only; this one is {binding.kind.value}",
                 f"remove `{field}`", Severity.WARNING) for field in ("inputs", "timeout_s") if getattr(ft, field)]
    out: list[Finding] = []
    for j, pattern in enumerate(ft.inputs):
        problem = glob_problem(ctx.root, pattern)
        if problem:
            out.append((["inputs", j], problem, "fix the glob (repo-relative, e.g. 'src/**/*.rs')", Severity.ERROR))
    if binding.kind is not BindingKind.CMD:
        return out
    try:
        commands = split_commands(binding.command or "")
    except CommandSyntaxError as exc:
        return [*out, (["test"], f"cannot read the command: {exc}", "check its quoting", Severity.ERROR)]
    for cmd in commands:
        problem = program_problem(cmd.program, ctx.root)
        if problem:
            out.append((["test"], f"{problem}; `pv verify` will record an error for it on this machine",
                        f"install {cmd.program} where the falsifier runs, or bind another command", Severity.WARNING))
        for p in check_command(cmd, ctx.root, ctx.test_index):
            hint = f"did you mean `{p.suggestion}`?" if p.suggestion else "name a test that exists"
            out.append((["test"], f"{p.runner}: {p.problem}", hint, named))
    return out

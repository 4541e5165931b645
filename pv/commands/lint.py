"""``pv lint [PATHS] [--strict-test-binding]``: run the named gates and print one row per gate."""

from __future__ import annotations

import argparse

from pv.commands.common import UsageError, add_contract_paths, add_format, add_root, contract_paths, workspace
from pv.gates import GATES
from pv.gitrev import GitError, resolve_ref
from pv.lint import LintReport, lint
from pv.render import formats, render


def register(sub: argparse._SubParsersAction) -> None:
    gate_list = "; ".join(f"{i}. {g.GATE.name}: {g.GATE.title}" for i, g in enumerate(GATES, 1))
    parser = sub.add_parser(
        "lint", help="run the lint gates over contracts",
        description=f"Run the lint gates ({gate_list}). Test bindings are resolved statically (AST): "
                    "lint never imports or runs project code, and never runs LIVE commands. "
                    "Exit 0 when every gate passes, 1 otherwise, 2 on a usage error.",
    )
    add_contract_paths(parser)
    parser.add_argument("--strict-test-binding", action="store_true",
                        help="an unresolved falsifier test binding is an error, not a warning")
    parser.add_argument("--since", metavar="GIT_REF", default=None,
                        help="also fail when a contract changed since GIT_REF without the semver bump and changelog "
                             "entry the change requires (see `pv diff`)")
    add_format(parser, formats(LintReport))
    add_root(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ws = workspace(args)
    since = None
    if args.since is not None:
        try:
            since = (args.since, resolve_ref(ws.root, args.since))
        except GitError as exc:
            raise UsageError(f"--since: {exc}") from None
    report = lint(ws, contract_paths(args.paths, ws, default_all=True), strict_test_binding=args.strict_test_binding,
                  since=since)
    render(report, args.format)
    return 0 if report.passed else 1

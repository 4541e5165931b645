"""``pv diff OLD NEW``: what changed between two versions of a contract, and the semver bump it needs."""

from __future__ import annotations

import argparse
from pathlib import Path

from pv.commands.common import UsageError, add_format, add_root, workspace
from pv.contract_diff import DiffReport, judge
from pv.gitrev import GitError, file_at, resolve_ref
from pv.loader import load_contract, load_contract_text
from pv.models import Contract
from pv.render import formats, render


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "diff", help="compare two versions of a contract and say which semver bump the change needs",
        description="Compare two versions of one contract: falsifiers added, removed or changed (rule, "
                    "prediction, binding, ship_blocking, check, if_fails), equations, obligations, status, "
                    "dependencies. Each change is classed major (the contract promises less: a falsifier "
                    "removed or made advisory or unbound, an equation or invariant removed, a precondition "
                    "added), minor (a new or changed claim: a falsifier, equation or obligation added; a rule, "
                    "formula, check or binding changed; the status changed) or patch (wording: if_fails, "
                    "descriptions, references). OLD and NEW are files, or REV:PATH for a file at a git "
                    "revision (HEAD~1:contracts/x.yaml). Exit 0 when NEW's version carries the required bump "
                    "and a new changelog entry, 1 when it does not, 2 on a usage error.",
    )
    parser.add_argument("old", metavar="OLD", help="the earlier contract: a file or REV:PATH")
    parser.add_argument("new", metavar="NEW", help="the later contract: a file or REV:PATH")
    add_format(parser, formats(DiffReport))
    add_root(parser)
    parser.set_defaults(func=run)


def _load(spec: str, root: Path) -> Contract:
    path = Path(spec)
    if path.exists() or ":" not in spec:
        if not path.is_file():
            raise UsageError(f"no such contract file: {spec}")
        lc = load_contract(path, spec)
    else:
        ref, _, rel = spec.partition(":")
        try:
            commit = resolve_ref(root, ref)
            text = file_at(root, commit, Path(rel))
        except GitError as exc:
            raise UsageError(str(exc)) from None
        if text is None:
            raise UsageError(f"{rel} does not exist at {ref}")
        lc = load_contract_text(text, Path(rel), spec)
    if lc.contract is None:
        raise UsageError(f"{spec} is not a valid contract: " + "; ".join(d.one_line() for d in lc.diagnostics))
    return lc.contract


def run(args: argparse.Namespace) -> int:
    root = workspace(args).root
    report = judge(_load(args.old, root), _load(args.new, root), old_name=args.old, new_name=args.new)
    render(report, args.format)
    return 0 if report.ok else 1

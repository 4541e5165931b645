"""``pv migrate PATHS… [--write | --diff]``: rewrite reference-format contracts into pv's schema."""

from __future__ import annotations

import argparse
from pathlib import Path

from pv.commands.common import add_date, add_format, add_root, contract_paths, workspace
from pv.enums import REFERENCE_KINDS, ContractKind
from pv.migrate import MigrationReport, migrate
from pv.render import formats, render


def register(sub: argparse._SubParsersAction) -> None:
    default_map = ", ".join(f"{ref}->{ours.value if ours else '(you choose)'}" for ref, ours in REFERENCE_KINDS.items())
    parser = sub.add_parser(
        "migrate", help="rewrite contracts written for the reference pv into this schema",
        description="Rewrite contracts written for the reference pv (provable-contracts) into this project's "
                    "schema, keeping comments and key order: metadata.id from the file name, the kind mapped "
                    f"({default_map}), bare test commands become `CMD:` bindings, ship_blocking is set from "
                    "--ship-blocking-default, a newest-first changelog is put oldest first, and a changelog entry "
                    "with a minor version bump records it all. What needs a person (a kind with no equivalent, "
                    "a prose `test:`, an unknown key) is listed and that file is left untouched. Without --write "
                    "nothing is written. Exit 0 when every file is migrated (or needed nothing), 1 when some "
                    "need a person, 2 on a usage error.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="contract files or folders")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write the migrated files")
    mode.add_argument("--diff", action="store_true", help="print a unified diff of each migration")
    parser.add_argument("--ship-blocking-default", choices=("true", "false"), default="true",
                        help="ship_blocking for falsifiers that lack it (default true: a failure blocks shipping "
                             "until a person says otherwise)")
    parser.add_argument("--kind", dest="kinds", action="append", default=[], type=_kind_pair, metavar="REF=KIND",
                        help="map the reference kind REF to KIND (one of "
                             f"{', '.join(k.value for k in ContractKind)}); repeatable")
    add_date(parser)
    add_format(parser, formats(MigrationReport))
    add_root(parser)
    parser.set_defaults(func=run)


def _kind_pair(text: str) -> tuple[str, ContractKind]:
    ref, sep, ours = text.partition("=")
    try:
        if not sep or not ref:
            raise ValueError
        return ref, ContractKind(ours)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not REF=KIND with KIND one of "
                                         f"{', '.join(k.value for k in ContractKind)}") from None


def run(args: argparse.Namespace) -> int:
    ws = workspace(args)
    report = migrate(ws, contract_paths(args.paths, ws, default_all=False),
                     ship_blocking_default=args.ship_blocking_default == "true", kind_map=dict(args.kinds),
                     date=args.date, write=args.write, show_diff=args.diff)
    render(report, args.format)
    return 0 if report.ok else 1

"""``pv schema``: print or check the JSON Schema generated from the contract models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pv.commands.common import add_root, workspace
from pv.fileio import read_text
from pv.schema_export import SCHEMA_PATH, render_schema


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "schema", help="print, write or check the contract JSON Schema",
        description=f"Print the JSON Schema generated from pv's models; --write updates {SCHEMA_PATH}; "
                    "--check exits 1 when the committed file differs.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help=f"write {SCHEMA_PATH} under the repo root")
    group.add_argument("--check", action="store_true", help=f"exit 1 if {SCHEMA_PATH} is stale")
    add_root(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    text = render_schema()
    if not (args.write or args.check):
        sys.stdout.write(text)
        return 0
    target: Path = workspace(args).root / SCHEMA_PATH
    if args.write:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
        return 0
    if _current(target) != text:
        print(f"{target} is stale: run `pv schema --write`", file=sys.stderr)
        return 1
    print(f"{target} is up to date")
    return 0


def _current(target: Path) -> str | None:
    """The committed schema's text, or None when it is missing or unreadable (both mean stale)."""
    try:
        return read_text(target)
    except (OSError, UnicodeDecodeError):
        return None

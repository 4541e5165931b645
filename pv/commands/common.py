"""Argument handling shared by the pv subcommands."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from pv.config import ConfigError, settings_for
from pv.models import FiniteFloat
from pv.workspace import Workspace, expand_paths, find_root

_FINITE = TypeAdapter(FiniteFloat)


class UsageError(Exception):
    """Bad invocation: reported on stderr with exit code 2."""


_FORMAT_HELP = {"text": "text for people", "json": "json for scripts", "sarif": "sarif for code-scanning UIs",
                "github": "github for Actions annotations", "markdown": "markdown for documents"}


def finite_number(text: str) -> float:
    """An argparse ``type`` for bounds (limits, thresholds): a finite number, by the same rule as the schema's."""
    try:
        return _FINITE.validate_python(text.strip())
    except ValidationError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number") from None


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...]) -> None:
    parser.add_argument("--format", choices=choices, default="text",
                        help="; ".join(_FORMAT_HELP[c] for c in choices))


def add_contract_paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="CONTRACT",
                        help="contract files or folders (default: contracts/*.yaml)")


def add_ledger(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ledger", type=Path, default=None, metavar="FILE",
                        help="ledger file (default: .pv/ledger.json under the root)")


def add_date(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", type=_date, default=None, metavar="YYYY-MM-DD",
                        help="date for `updated` and the changelog entry (default: today)")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=None,
                        help="repository root (default: nearest ancestor with contracts/ or pyproject.toml)")


def workspace(args: argparse.Namespace) -> Workspace:
    """The repository a command works on: --root (or the nearest one above the cwd), and --ledger if given."""
    if args.root is None:
        root = find_root()
    elif not args.root.is_dir():
        raise UsageError(f"--root {args.root} is not a directory")
    else:
        root = args.root.resolve()
    try:
        settings = settings_for(root)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return Workspace(root, settings, ledger_file=getattr(args, "ledger", None))


def contract_paths(raw: list[Path], ws: Workspace, *, default_all: bool) -> list[Path]:
    """Expand PATHS (files or folders); no PATHS means every contract in the repo when allowed."""
    if not raw:
        if not default_all:
            raise UsageError("give at least one contract file or folder")
        if not ws.contract_files:
            raise UsageError(f"no contracts match {', '.join(ws.settings.contracts)} under {ws.root}")
        return ws.contract_files
    missing = [str(p) for p in raw if not p.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    paths = expand_paths(raw)
    if not paths:
        raise UsageError("the given folders contain no *.yaml contracts")
    return paths

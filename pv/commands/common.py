"""Argument handling shared by the pv subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from pv.context import contract_files, expand_paths, find_root
from pv.render import FORMATS


class UsageError(Exception):
    """Bad invocation: reported on stderr with exit code 2."""


_FORMAT_HELP = {"text": "text for people", "json": "json for scripts", "sarif": "sarif for code-scanning UIs",
                "github": "github for Actions annotations"}


def add_format(parser: argparse.ArgumentParser, choices: tuple[str, ...] = FORMATS) -> None:
    parser.add_argument("--format", choices=choices, default="text",
                        help="; ".join(_FORMAT_HELP[c] for c in choices))


def add_contract_paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="CONTRACT",
                        help="contract files or folders (default: contracts/*.yaml)")


def add_ledger(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ledger", type=Path, default=None, metavar="FILE",
                        help="ledger file (default: .pv/ledger.json under the root)")


def add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=None,
                        help="repository root (default: nearest ancestor with contracts/ or pyproject.toml)")


def resolve_root(args: argparse.Namespace) -> Path:
    if args.root is not None:
        if not args.root.is_dir():
            raise UsageError(f"--root {args.root} is not a directory")
        return args.root.resolve()
    return find_root()


def contract_paths(raw: list[Path], root: Path, *, default_all: bool) -> list[Path]:
    """Expand PATHS (files or folders); no PATHS means every contract in the repo when allowed."""
    if not raw:
        if not default_all:
            raise UsageError("give at least one contract file or folder")
        paths = contract_files(root)
        if not paths:
            raise UsageError(f"no contracts found in {root / 'contracts'}")
        return paths
    missing = [str(p) for p in raw if not p.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    paths = expand_paths(raw)
    if not paths:
        raise UsageError("the given folders contain no *.yaml contracts")
    return paths

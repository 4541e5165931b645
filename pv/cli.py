"""The ``pv`` console script: a thin argparse layer over the pv library.

Every failure reaches the user as one located line and an exit code (0 ok, 1 check failed,
2 usage error), never as a traceback; only a bug in pv itself prints one, with exit 70.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from pv import __version__
from pv.commands import (
    coverage,
    diff,
    gates,
    graph,
    lint,
    migrate,
    mutate,
    new,
    promote,
    report,
    schema,
    status,
    validate,
    verify,
)
from pv.commands.common import UsageError

INTERNAL_ERROR = 70

COMMANDS = [validate, lint, gates, schema, verify, mutate, status, promote, coverage, report, graph, diff, new,
            migrate]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pv",
        description="Validate, lint and verify falsifiable contracts for ML training pipelines.",
    )
    parser.add_argument("--version", action="version", version=f"pv {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"pv {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pv: interrupted", file=sys.stderr)
        return 130
    except Exception:
        # Never let a pv bug read as exit 1 ("a check failed") in CI: it is exit 70 (EX_SOFTWARE).
        traceback.print_exc()
        print(f"pv {args.command}: internal error (exit {INTERNAL_ERROR}); please report the traceback above",
              file=sys.stderr)
        return INTERNAL_ERROR


if __name__ == "__main__":
    raise SystemExit(main())

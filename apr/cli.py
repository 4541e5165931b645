"""The ``apr`` console script: one argparse tree over the tokenizer and trainer CLIs.

Each subject contributes its subcommands through a ``register(subparsers)`` function that must not
import heavy modules (torch, tiktoken) at import time, so ``apr --help`` stays fast. Every subcommand
handler returns an int exit code.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from tokenizer.cli import register as register_tokenizer
from trainer.cli import register as register_trainer

INTERNAL_ERROR = 70


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="apr",
        description="Tokenize corpora into verified token shards and train causal LMs with checked invariants.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register_tokenizer(sub)
    register_trainer(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("apr: interrupted", file=sys.stderr)
        return 130
    except Exception:
        # Bad input is reported by the handlers with their own exit codes; anything reaching here
        # is a bug or an environment failure (out of memory, disk full). Exit 70 (EX_SOFTWARE) so it
        # is never mistaken for a verdict such as 1 = "target val_loss not reached".
        traceback.print_exc()
        print(f"apr {args.command}: internal error (exit {INTERNAL_ERROR}); the traceback above is a bug "
              "report or an environment failure", file=sys.stderr)
        return INTERNAL_ERROR


if __name__ == "__main__":
    raise SystemExit(main())

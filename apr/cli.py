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

from safeio import RefusedInputError
from tokenizer.cli import register as register_tokenizer

INTERNAL_ERROR = 70
BAD_INPUT = 2


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole tree, or only ``tokenize``'s when that is the command: encode-corpus's start-up is a
    budget (within 0.3 s of bare tiktoken), and the trainer's CLI costs tens of ms to import."""
    parser = argparse.ArgumentParser(
        prog="apr",
        description="Tokenize corpora into verified token shards and train causal LMs with checked invariants.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register_tokenizer(sub)
    if command != "tokenize":
        from trainer.cli import register as register_trainer

        register_trainer(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words[0] if words else None)
    args = parser.parse_args(words)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("apr: interrupted", file=sys.stderr)
        return 130
    except RefusedInputError as exc:  # safeio refused a file (a FIFO, a device, hostile JSON): bad input
        print(f"apr {args.command}: error: {exc}", file=sys.stderr)
        return BAD_INPUT
    except BaseException as exc:
        # Bad input is reported by the handlers with their own exit codes; anything reaching here
        # is a bug or an environment failure (out of memory, disk full). Exit 70 (EX_SOFTWARE) so it
        # is never mistaken for a verdict such as 1 = "target val_loss not reached". A Rust panic
        # (pyo3's PanicException) is a BaseException and would otherwise exit 1 by itself.
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise  # SystemExit and the like keep their meaning
        traceback.print_exc()
        print(f"apr {args.command}: internal error (exit {INTERNAL_ERROR}); the traceback above is a bug "
              "report or an environment failure", file=sys.stderr)
        return INTERNAL_ERROR


if __name__ == "__main__":
    raise SystemExit(main())

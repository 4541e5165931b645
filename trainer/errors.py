"""The trainer's two kinds of exception: bad input (exit 2) and a run that stopped early.

``TrainerInputError`` is the base of every error that means "the input is wrong, fix it and run
again" (config, tokenizer, shards, checkpoint file, launch environment, resume state); the CLI maps
it to exit 2 with the message and no traceback. It derives from ``ValueError`` so library callers
catching ``ValueError`` keep working.

``RunStopped`` is not an error in the input: training began and then could not honestly go on (a
NaN/Inf loss, the training windows ran out). The step, evaluation and data code raise it; the loop
catches it in one place and still writes the summary, with ``status`` deciding the exit code.
"""

from __future__ import annotations


class TrainerInputError(ValueError):
    """Bad input to ``apr pretrain`` / ``convert`` / ``inspect``; the message says what and how to fix it."""


class RunStopped(Exception):
    """Training stopped before its last step; ``status`` is the run's verdict (``non_finite``, ``data_exhausted``)."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

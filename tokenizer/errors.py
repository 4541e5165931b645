"""Errors a user can act on.

Every error says where the problem is (file, line), what is wrong, and how to fix it, because the
failure mode this package exists to prevent is a pipeline that "works" on the wrong input.
"""

from __future__ import annotations


class TokenizeError(Exception):
    """A problem with the user's input or environment, reported without a traceback by the CLI."""

    exit_code = 2

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.where}: {self.what}" if self.where else self.what
        return f"{head}\n  how to fix: {self.fix}" if self.fix else head


class CorpusLineError(TokenizeError):
    """A single bad JSONL line; with ``--on-error skip`` it is counted instead of raised."""

    def __init__(self, file: str, line: int, what: str, *, fix: str | None = None) -> None:
        self.file = file
        self.line = line
        super().__init__(what, where=f"{file}:{line}", fix=fix)


class VerificationError(TokenizeError):
    """The output would be wrong (ids out of range, lossy round trip, corrupt shards): never ignorable."""

    exit_code = 3

"""Errors a user can act on.

Every error says where the problem is (file, line), what is wrong, and how to fix it, because the
failure mode this package exists to prevent is a pipeline that "works" on the wrong input.
"""

from __future__ import annotations

from safeio import JSONInputError


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


class EngineError(TokenizeError):
    """An encoder's Rust code failed (a panic, or an error it raised) on this input; ``text`` is the document."""


def is_engine_panic(exc: BaseException) -> bool:
    """A Rust panic surfaced by pyo3 (``pyo3_runtime.PanicException``, a ``BaseException``; each extension
    module has its own class, so it is recognised by name)."""
    return type(exc).__name__ == "PanicException"


def engine_failure(exc: BaseException) -> str:
    """The first line of an engine's message (a panic's message is the Rust panic text)."""
    kind = "panic" if is_engine_panic(exc) else type(exc).__name__
    return f"{kind}: {(str(exc).strip().splitlines() or ['no message'])[0][:200]}"


def json_error(exc: JSONInputError) -> TokenizeError:
    """safeio's JSON refusal in this package's form: ``file:line:col`` (or ``file at `json.path```)."""
    if exc.line is not None:
        where = f"{exc.source}:{exc.line}:{exc.column}"
    else:
        where = f"{exc.source} at {exc.path}" if exc.path else exc.source
    return TokenizeError(exc.what, where=where, fix=exc.fix)

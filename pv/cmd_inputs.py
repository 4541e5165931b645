"""Which ``inputs:`` globs of a ``CMD:`` binding are usable (for lint).

A ``CMD:`` binding runs an opaque command, so pv cannot see what it reads. With ``inputs:`` the
contract says so (``crates/apr-cli/src/**/*.rs``): the verdict's recorded inputs are then one
``glob:<pattern>`` digest per declared glob (``pv.freshness``), and it stays fresh while the files
they match are byte-identical, across commits. Without ``inputs:`` the only safe assumption is that
the command reads anything, and the verdict records ``glob:**``: every non-ignored file.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from pv.freshness import repo_files


def _unsafe(pattern: str) -> str | None:
    pure = PurePosixPath(pattern)
    if pure.is_absolute() or pattern.startswith("~"):
        return f"inputs glob {pattern!r} is absolute; write it relative to the repository root"
    if ".." in pure.parts:
        return f"inputs glob {pattern!r} leaves the repository"
    return None


def glob_problem(root: Path, pattern: str) -> str | None:
    """Why an ``inputs:`` glob is unusable (None when it matches at least one non-ignored file)."""
    return _unsafe(pattern) or (None if repo_files(root, pattern) else f"inputs glob {pattern!r} matches no file")

"""The files a ``CMD:`` verdict depends on, from its ``inputs:`` globs, and their digest.

A ``CMD:`` binding runs an opaque command, so pv cannot see what it reads. With ``inputs:`` the
contract says so (``crates/apr-cli/src/**/*.rs``): the verdict stays fresh while those files are
byte-identical, across commits. Without ``inputs:`` the only safe assumption is that the command
reads anything tracked, and the ledger's commit + worktree digest already says that.

Meant to be absorbed by per-falsifier input digests (``pv.freshness``, branch pv-fresh, not landed
when this was written): there a CMD verdict's recorded inputs become ``{"glob:<pattern>": digest}``
for each declared glob, or ``{"glob:**": digest}`` (every non-ignored file) without ``inputs:``,
``freshness.why_stale`` replaces ``cmd_staleness`` (its entry digest covers a changed command),
and ``LedgerEntry.inputs_sha256`` goes; ``glob_problem`` stays for lint.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from pv.fileio import sha256_file
from pv.gitstate import RepoState
from pv.ledger import LedgerEntry, staleness


def _unsafe(pattern: str) -> str | None:
    pure = PurePosixPath(pattern)
    if pure.is_absolute() or pattern.startswith("~"):
        return f"inputs glob {pattern!r} is absolute; write it relative to the repository root"
    if ".." in pure.parts:
        return f"inputs glob {pattern!r} leaves the repository"
    return None


def input_files(root: Path, patterns: list[str]) -> list[str]:
    """Repo-relative paths of the regular files the globs match, sorted; unsafe globs match nothing."""
    top = root.resolve()
    found: set[str] = set()
    for pattern in patterns:
        if _unsafe(pattern):
            continue
        for path in root.glob(pattern):
            if ".git" in path.relative_to(root).parts or not path.is_file():
                continue
            try:
                rel = path.resolve().relative_to(top)
            except ValueError:
                continue  # a symlink out of the repository
            found.add(rel.as_posix())
    return sorted(found)


def glob_problem(root: Path, pattern: str) -> str | None:
    """Why an ``inputs:`` glob is unusable (None when it matches at least one file)."""
    return _unsafe(pattern) or (None if input_files(root, [pattern]) else
                                f"inputs glob {pattern!r} matches no file")


def inputs_digest(root: Path, patterns: list[str]) -> str:
    """sha256 over (path, content hash) of every matched file: any edit, addition or removal changes it."""
    digest = hashlib.sha256()
    for rel in input_files(root, patterns):
        digest.update(f"{rel}\0{sha256_file(root / rel) or 'unreadable'}\n".encode())
    return digest.hexdigest()


def cmd_staleness(entry: LedgerEntry, command_binding: str | None, patterns: list[str], root: Path,
                  state: RepoState) -> str | None:
    """Why a CMD verdict no longer describes the code in front of us (None when it is fresh)."""
    if entry.binding != command_binding:
        return "the command changed since it was recorded"
    if not patterns:
        return staleness(entry, state, current_test_sha=None, current_node_id=None)
    if entry.inputs_sha256 is None:
        return "recorded before `inputs:` was declared"
    if entry.inputs_sha256 != inputs_digest(root, patterns):
        return f"its inputs ({', '.join(patterns)}) changed since it was recorded"
    return None

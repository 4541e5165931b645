"""Which code a verdict is about: the git commit plus a digest of uncommitted tracked changes."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class RepoState(BaseModel):
    """The commit and worktree digest a verdict was recorded against; both None outside git."""

    model_config = ConfigDict(frozen=True)

    commit: str | None = None
    worktree: str | None = None


def repo_state(root: Path) -> RepoState:
    """The git commit and worktree digest of ``root``; both None outside git or without git."""
    root = root.resolve()
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return RepoState()
    diff = _git(root, "diff", "HEAD", "--binary", "--", ".", ":(exclude).pv", raw=True)
    worktree = "clean" if not diff else hashlib.sha256(diff.encode("utf-8", "surrogateescape")).hexdigest()
    return RepoState(commit=commit.strip(), worktree=worktree)


def _git(root: Path, *args: str, raw: bool = False) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30,
                              errors="surrogateescape", check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout if raw else proc.stdout.strip() or None

"""Read a file as it was at a git revision (for ``pv diff REF:PATH`` and ``pv lint --since REF``)."""

from __future__ import annotations

import subprocess
from pathlib import Path


class GitError(Exception):
    """Not a git checkout, git missing, or an unknown revision; the message says which."""


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, timeout=60, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {' '.join(args)} timed out") from None


def resolve_ref(root: Path, ref: str) -> str:
    """The commit ``ref`` names, or GitError."""
    if ref.startswith("-"):
        raise GitError(f"{ref!r} is not a git revision")
    proc = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if proc.returncode != 0:
        inside = _git(root, "rev-parse", "--git-dir").returncode == 0
        raise GitError(f"unknown git revision {ref!r}" if inside else f"{root} is not inside a git checkout")
    return proc.stdout.decode().strip()


def file_at(root: Path, commit: str, path: Path) -> str | None:
    """The text of ``path`` (absolute or relative to ``root``) at ``commit``; None when it did not exist."""
    full = path if path.is_absolute() else root / path
    proc = _git(full.parent, "show", f"{commit}:./{full.name}")
    if proc.returncode != 0:
        return None
    try:
        return proc.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise GitError(f"{path} at {commit[:10]} is not UTF-8 text") from None

"""The one rule for paths that come from a contract or a repository's configuration.

Resolve the path (every symlink followed), then require the result to be inside the repository
root. A ``..`` that climbs out and a symlink that leads out are the same escape and get the same
refusal, naming where the path really leads. Test bindings (through the test scan), references,
evidence folders, LIVE artifacts and metrics files all go through :func:`safe_repo_path`.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath

NAME_MAX = 255  # bytes in one path component, on every file system pv runs on
PATH_MAX = 4096


class UnsafePath(ValueError):
    """A contract- or config-supplied path pv refuses: absolute, unusable, or leading out of the repository."""


def safe_repo_path(root: Path, rel: str) -> Path:
    """``root / rel`` resolved, refusing absolute paths and anything (symlinks included) that escapes ``root``."""
    candidate = PurePath(rel)
    if candidate.is_absolute() or rel.startswith("~"):
        raise UnsafePath(f"{rel!r} is absolute; contract paths must be relative to the repository root")
    if "\0" in rel:
        raise UnsafePath(f"{rel!r} contains a NUL byte")
    for part in candidate.parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            raise UnsafePath(f"{_short(rel)} has a path component of {size} bytes ({_short(part)}); "
                             f"file names are limited to {NAME_MAX} bytes")
    if len(os.fsencode(rel)) > PATH_MAX:
        raise UnsafePath(f"{_short(rel)} is longer than {PATH_MAX} bytes")
    top = root.resolve()
    try:
        full = (top / candidate).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise UnsafePath(f"{rel!r} is not a usable path: {exc}") from None
    if full == top or top in full.parents:
        return full
    lexical = Path(os.path.normpath(top / candidate))
    if lexical == top or top in lexical.parents:
        raise UnsafePath(f"{rel!r} leads outside the repository through a symlink (to {full})")
    raise UnsafePath(f"{rel!r} leaves the repository (resolves to {full})")


def _short(text: str, limit: int = 60) -> str:
    return repr(text) if len(text) <= limit else repr(text[: limit - 1] + "…")

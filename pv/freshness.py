"""Per-falsifier freshness: a verdict stays fresh while nothing that can change its outcome changed.

A verdict records the *inputs* it was reached from, as a map ``repo-relative path -> sha256 of the
content`` (``None``: the file did not exist, e.g. a ``conftest.py`` pytest would have loaded), plus
the digest of the falsifier's own contract entry. For a pytest binding the inputs are what
``pv.inputs_hook`` saw the test import, read and run in child processes, with the test module and
the ``conftest.py`` / ``__init__.py`` files along its path; for a LIVE binding, what the command's
Python processes loaded plus the declared ``artifacts``. A key ``glob:<pattern>`` stands for every
non-ignored repository file matching the pattern (one digest over their paths and contents): the
fallback when a child process could not be followed, and the way to declare inputs by glob. A key
``dir:<folder>`` stands for the names a folder holds (a test that globbed it, such as a linter that
scans every test file, is stale when a file is added or removed there).

Content hashes, not commits: an uncommitted edit or an untracked file counts exactly like a
committed one, a README-only commit changes nothing, and a fresh clone of a commit reproduces the
digests of the ledger committed with it (paths are repo-relative; nothing machine-specific).

Library API (also for ``pv migrate``'s ``inputs:`` globs and ``pv mutate``):

- :class:`Digests` - per-run cache: ``digests.get(key)`` for a path or a ``glob:`` key;
- :func:`record_inputs` - turn recorded absolute paths into the ledger's ``{path: sha256}``;
- :func:`entry_digest` - digest of one falsifier's contract entry;
- :func:`changes` / :func:`why_stale` - what changed since a verdict, naming the file;
- :func:`depends_on` - falsifier ids whose recorded inputs include a file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from pv.inputs_hook import unrecorded

if TYPE_CHECKING:
    from pv.ledger import Ledger, LedgerEntry, MutationEntry

GLOB = "glob:"
DIR = "dir:"  # a directory's listing: which non-ignored files and folders it holds (not their content)
NOT_INPUTS = (".git/", ".pv/")  # never inputs: the ledger is written by the run it would describe


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry_digest(entry: BaseModel) -> str:
    """Digest of one falsifier's contract entry (canonical JSON), not of the whole file.

    Fields left at their defaults are left out, so a schema that gains an optional field does not
    make every recorded verdict stale; a value written in the entry, default or not, counts.
    """
    text = json.dumps(entry.model_dump(mode="json", exclude_defaults=True), sort_keys=True, separators=(",", ":"))
    return sha256_bytes(text.encode("utf-8"))


def inputs_digest(inputs: Mapping[str, str | None]) -> str:
    """One digest for a whole input map (for changelog entries and quick comparison)."""
    text = json.dumps(dict(sorted(inputs.items())), separators=(",", ":"))
    return sha256_bytes(text.encode("utf-8"))


def _git(root: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(["git", "-C", str(root), *args], input=stdin, capture_output=True, text=True,
                              timeout=60, errors="surrogateescape", check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def is_git(root: Path) -> bool:
    proc = _git(root, "rev-parse", "--show-toplevel")
    return proc is not None and proc.returncode == 0


def ignored(root: Path, rels: Iterable[str]) -> set[str]:
    """The paths git ignores (``.gitignore``); none outside a git checkout."""
    rels = sorted(set(rels))
    if not rels:
        return set()
    proc = _git(root, "check-ignore", "--stdin", stdin="\n".join(rels) + "\n")
    if proc is None or proc.returncode not in (0, 1):
        return set()
    return set(proc.stdout.splitlines())


def tracked(root: Path, rels: Iterable[str]) -> set[str]:
    """The paths git tracks (in the index: staged counts); none outside a git checkout."""
    rels = sorted(set(rels))
    if not rels:
        return set()
    proc = _git(root, "ls-files", "-z", "--", *rels)
    if proc is None or proc.returncode != 0:
        return set()
    return {p for p in proc.stdout.split("\0") if p}


def listing(root: Path) -> list[str]:
    """Every non-ignored file (tracked or not), repo-relative; outside git, every file but pv's and git's own."""
    proc = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if proc is not None and proc.returncode == 0:
        return sorted({p for p in proc.stdout.split("\0") if p and not p.startswith(NOT_INPUTS)})
    skip = {".git", ".pv", "__pycache__"}
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and not skip & set(p.relative_to(root).parts))


def repo_files(root: Path, pattern: str, candidates: list[str] | None = None) -> list[str]:
    """Non-ignored files (tracked or not) matching a glob such as ``**/*.py``, sorted, repo-relative."""
    candidates = listing(root) if candidates is None else candidates
    # fnmatch's `*` crosses `/`, so `**/` only needs its zero-folder form added: `src/**/*.rs` also
    # matches `src/main.rs`, as in pathlib and git.
    forms = {pattern, pattern.replace("/**/", "/")}
    forms |= {f.removeprefix("**/") for f in forms if f.startswith("**/")}
    out = [p for p in candidates if not p.startswith(NOT_INPUTS) and any(fnmatch.fnmatchcase(p, f) for f in forms)]
    return sorted(p for p in out if (root / p).is_file())


class Digests:
    """Content digests of repository files for one run, each file read at most once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, str | None] = {}
        self._listing: list[str] | None = None

    def get(self, key: str) -> str | None:
        if key not in self._cache:
            if key.startswith(GLOB):
                self._cache[key] = self._glob(key[len(GLOB):])
            elif key.startswith(DIR):
                self._cache[key] = self._dir(key[len(DIR):])
            else:
                self._cache[key] = self._file(key)
        return self._cache[key]

    def _files(self) -> list[str]:
        if self._listing is None:
            self._listing = listing(self.root)
        return self._listing

    def _dir(self, rel: str) -> str | None:
        """Digest of the names a folder holds (non-ignored files, and folders holding such files)."""
        if not (self.root / rel).is_dir():
            return None
        prefix = "" if rel == "." else rel.rstrip("/") + "/"
        names = sorted({p[len(prefix):].split("/", 1)[0] for p in self._files() if p.startswith(prefix)})
        return sha256_bytes("\n".join(names).encode("utf-8", "surrogateescape"))

    def of(self, keys: Iterable[str]) -> dict[str, str | None]:
        return {k: self.get(k) for k in sorted(set(keys))}

    def _file(self, rel: str) -> str | None:
        path = self.root / rel
        try:
            if not path.is_file():
                return None
            with unrecorded(), path.open("rb") as handle:
                return hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError:
            return None

    def _glob(self, pattern: str) -> str:
        h = hashlib.sha256()
        for rel in repo_files(self.root, pattern, self._files()):
            h.update(rel.encode("utf-8", "surrogateescape") + b"\0" + (self._file(rel) or "-").encode() + b"\n")
        return h.hexdigest()


def record_inputs(root: Path, paths: Iterable[str], digests: Digests) -> dict[str, str | None]:
    """Recorded paths (absolute, or ``glob:`` keys) -> the ledger's ``{repo-relative path: sha256}``.

    Paths outside the repository, under ``.git``/``.pv``, and files git ignores (caches, run
    outputs, an in-repo virtualenv) are dropped: they are not part of what a clone reproduces.
    """
    real_root = root.resolve()
    rels: set[str] = set()
    folders: set[str] = set()
    for p in paths:
        if p.startswith(GLOB):
            rels.add(p)
            continue
        folder = p.startswith(DIR)
        path = Path(p[len(DIR):] if folder else p)
        try:
            rel = path.resolve().relative_to(real_root).as_posix() if path.is_absolute() else path.as_posix()
        except (ValueError, OSError):
            continue
        if rel.startswith("../") or (rel + "/").startswith(NOT_INPUTS):
            continue
        if folder:
            folders.add(rel or ".")
        elif rel not in (".", ""):
            rels.add(rel)
    rels -= ignored(root, [r for r in rels if not r.startswith(GLOB)])
    shut = ignored(root, [f + "/" for f in folders if f != "."])
    rels |= {DIR + f for f in folders if f + "/" not in shut}
    return digests.of(rels)


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # changed | added | deleted

    def __str__(self) -> str:
        if self.path.startswith(GLOB):
            return f"a file matching {self.path[len(GLOB):]} changed"
        if self.path.startswith(DIR):
            return f"a file was added to or removed from {self.path[len(DIR):]}/"
        return f"{self.path} {'was ' if self.kind != 'changed' else ''}{self.kind}"


def changes(recorded: Mapping[str, str | None], digests: Digests) -> list[Change]:
    out = []
    for path, old in sorted(recorded.items()):
        new = digests.get(path)
        if new != old:
            kind = "added" if old is None else "deleted" if new is None else "changed"
            out.append(Change(path, kind))
    return out


def describe(found: list[Change], limit: int = 3) -> str:
    shown = ", ".join(str(c) for c in found[:limit])
    return shown + (f" (and {len(found) - limit} more)" if len(found) > limit else "")


def why_stale(entry: LedgerEntry | MutationEntry, falsifier: BaseModel, digests: Digests, *,
              node_id: str | None = None) -> str | None:
    """Why ``entry`` no longer describes the repository in front of us, or None while it is fresh."""
    if entry.inputs is None or entry.entry_sha256 is None:
        return "recorded without input digests (by an older pv); run `pv verify` again"
    if entry.entry_sha256 != entry_digest(falsifier):
        return "its contract entry changed since it was recorded"
    if node_id is not None and entry.node_id is not None and entry.node_id != node_id:
        return f"recorded for {entry.node_id}, now bound to {node_id}"
    found = changes(entry.inputs, digests)
    return describe(found) if found else None


def depends_on(ledger: Ledger, path: str) -> list[str]:
    """Falsifier ids whose recorded inputs include ``path`` (repo-relative), e.g. to pick tests to mutate."""
    return sorted(fid for fid, e in ledger.entries.items() if e.inputs and path in e.inputs)

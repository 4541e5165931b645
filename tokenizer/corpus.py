"""Corpus discovery: which files, in which order, in which format - decided once, before any work.

Rules (each one tested in tests/tokenizer/test_corpus.py):

- ``--corpus`` takes files and directories, mixed; the files are encoded in sorted order of their
  path relative to the common root, so the output does not depend on the order of the arguments.
- A data file is ``*.jsonl``, ``*.jsonl.gz``, ``*.jsonl.zst`` or ``*.parquet``. Any other file in a
  directory is an error naming it (never a silent skip); ``--exclude GLOB`` skips it on purpose.
  Hidden entries (``.git/``, ``.gitattributes``) are skipped and reported.
- Symbolic links are followed, with a loop guard: a directory is entered once (by device and inode),
  so a link back to an ancestor, or a second path to the same directory or file, is skipped and
  reported. A link whose target does not exist is an error.
- Only regular files are read: a FIFO or a device where a data file is expected is an error.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tokenizer.errors import TokenizeError

CorpusFormat = Literal["jsonl", "jsonl.gz", "jsonl.zst", "parquet"]
#: Suffix → format, longest suffix first so ``x.jsonl.gz`` is not read as ``.gz`` of something else.
SUFFIXES: tuple[tuple[str, CorpusFormat], ...] = (
    (".jsonl.gz", "jsonl.gz"), (".jsonl.zst", "jsonl.zst"), (".jsonl", "jsonl"), (".parquet", "parquet"),
)
MAGIC: dict[CorpusFormat, bytes] = {"jsonl.gz": b"\x1f\x8b", "jsonl.zst": b"\x28\xb5\x2f\xfd", "parquet": b"PAR1"}
SUPPORTED = "*.jsonl, *.jsonl.gz, *.jsonl.zst, *.parquet"


@dataclass(frozen=True)
class CorpusFile:
    """One input file. Positions inside it are bytes of the (decompressed) JSONL stream, or Parquet rows."""

    path: Path
    rel: str
    size: int
    format: CorpusFormat
    #: Parquet only: rows per row group (a row group is the unit a worker reads).
    row_groups: tuple[int, ...] = ()

    @property
    def compressed(self) -> bool:
        return self.format in ("jsonl.gz", "jsonl.zst")

    @property
    def rows(self) -> int:
        return sum(self.row_groups)


@dataclass
class Corpus:
    root: Path
    files: list[CorpusFile]
    notes: list[str] = field(default_factory=list)

    def fingerprint(self) -> str:
        """sha256 of the listing (path, size, format of every file): what array tasks must agree on."""
        import hashlib

        h = hashlib.sha256()
        for f in self.files:
            h.update(f"{f.rel}\t{f.size}\t{f.format}\n".encode())
        return h.hexdigest()

    def prefix_sizes(self) -> list[int]:
        """``out[i]`` = bytes on disk of files ``0..i-1``: progress in O(1) per chunk, whatever the file count."""
        out = [0]
        for f in self.files:
            out.append(out[-1] + f.size)
        return out


def format_of(name: str) -> CorpusFormat | None:
    lower = name.lower()
    return next((fmt for suffix, fmt in SUFFIXES if lower.endswith(suffix)), None)


def _sniff(path: Path, fmt: CorpusFormat, rel: str) -> CorpusFormat:
    """Check the content matches the extension; a ``.jsonl`` that is really gzip/zstd is read as such."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if fmt == "jsonl":
        return next((f for f, m in MAGIC.items() if f != "parquet" and head.startswith(m)), "jsonl")
    if head and not head.startswith(MAGIC[fmt]):
        raise TokenizeError(
            f"the name says {fmt} but the content does not start with the {fmt} signature", where=rel,
            fix="re-create the file, or rename it to what it contains",
        )
    return fmt


def _parquet_row_groups(path: Path, rel: str, text_field: str) -> tuple[int, ...]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a declared dependency
        raise TokenizeError("reading Parquet needs pyarrow", where=rel, fix="pip install pyarrow") from None
    try:
        meta = pq.ParquetFile(path).metadata
        schema = meta.schema.to_arrow_schema()
    except (pa.ArrowException, OSError) as exc:
        raise TokenizeError(f"not a readable Parquet file: {exc}", where=rel, fix="re-create the file") from None
    if text_field not in schema.names:
        cols = ", ".join(schema.names[:8]) or "none"
        raise TokenizeError(f"no column {text_field!r} (columns: {cols})", where=rel,
                            fix="pick the text column with --text-field")
    kind = schema.field(text_field).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
            or (pa.types.is_dictionary(kind) and pa.types.is_string(kind.value_type))):
        raise TokenizeError(f"column {text_field!r} has type {kind}, expected a string column", where=rel,
                            fix="pick the text column with --text-field")
    return tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))


@dataclass
class _Walk:
    root: Path
    exclude: tuple[str, ...]
    found: dict[tuple[int, int], tuple[Path, str, int]] = field(default_factory=dict)
    entered: set[tuple[int, int]] = field(default_factory=set)
    unknown: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    excluded: int = 0
    loops: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    def rel(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.root)).as_posix()

    def add_file(self, path: Path, st: os.stat_result, explicit: bool, rel: str | None = None) -> None:
        rel = rel or self.rel(path)
        if not explicit and any(fnmatch.fnmatchcase(rel, g) for g in self.exclude):
            self.excluded += 1
            return
        if not stat.S_ISREG(st.st_mode):
            raise TokenizeError("not a regular file (a FIFO, socket or device is never read)", where=rel,
                                fix="point --corpus at regular files only")
        if format_of(path.name) is None:
            if explicit:
                raise TokenizeError(f"unknown extension; supported: {SUPPORTED}", where=rel,
                                    fix="rename the file to the format it holds")
            self.unknown.append(rel)
            return
        key = (st.st_dev, st.st_ino)
        if key in self.found:
            self.duplicates.append(f"{rel} (same file as {self.found[key][1]})")
            return
        self.found[key] = (path, rel, st.st_size)

    def walk(self, directory: Path, st: os.stat_result, rel_dir: str) -> None:
        """``rel_dir`` is ``directory`` relative to the root ("" or ending in "/"), built by concatenation."""
        key = (st.st_dev, st.st_ino)
        if key in self.entered:
            self.loops.append(rel_dir)
            return
        self.entered.add(key)
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise TokenizeError(f"cannot list directory: {exc.strerror}", where=rel_dir or str(directory)) from None
        for entry in entries:
            rel = rel_dir + entry.name
            if entry.name.startswith("."):
                self.hidden.append(rel + ("/" if entry.is_dir() else ""))
                continue
            try:
                est = entry.stat()  # follows symlinks
            except FileNotFoundError:
                raise TokenizeError("a symbolic link whose target does not exist", where=rel,
                                    fix="restore the target or remove the link") from None
            except OSError as exc:  # a symlink loop (ELOOP) or permissions
                raise TokenizeError(f"cannot read: {exc.strerror}", where=rel) from None
            if stat.S_ISDIR(est.st_mode):
                self.walk(Path(entry.path), est, rel + "/")
            else:
                self.add_file(Path(entry.path), est, explicit=False, rel=rel)


def _show(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def discover_corpus(paths: Path | str | Sequence[Path | str], *, text_field: str = "text",
                    exclude: Sequence[str] = ()) -> Corpus:
    """The corpus files under ``paths`` (files and directories), ordered by path relative to their common root."""
    items = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not items:
        raise TokenizeError("no corpus path given", fix="pass --corpus FILE_OR_DIR (repeatable)")
    stats: list[os.stat_result] = []
    for p in items:
        try:
            stats.append(os.stat(p))
        except FileNotFoundError:
            raise TokenizeError("corpus path does not exist", where=str(p)) from None
        except OSError as exc:
            raise TokenizeError(f"cannot read: {exc.strerror}", where=str(p)) from None
    order = sorted(range(len(items)), key=lambda i: os.path.abspath(items[i]))  # argument order does not matter
    absolute = [Path(os.path.abspath(items[i])) for i in order]
    stats = [stats[i] for i in order]
    parents = [a if stat.S_ISDIR(s.st_mode) else a.parent for a, s in zip(absolute, stats, strict=True)]
    root = Path(os.path.commonpath([str(p) for p in parents]))
    w = _Walk(root=root, exclude=tuple(exclude))
    for a, s in zip(absolute, stats, strict=True):
        if stat.S_ISDIR(s.st_mode):
            rel_dir = w.rel(a) + "/"
            w.walk(a, s, "" if rel_dir == "./" else rel_dir)
        else:
            w.add_file(a, s, explicit=True)
    if w.unknown:
        raise TokenizeError(
            f"{len(w.unknown)} file(s) with an unknown extension: {_show(w.unknown)}; supported: {SUPPORTED}",
            where=str(root),
            fix="move them out of the corpus, rename data files to their format, or skip them with "
            "--exclude GLOB (e.g. --exclude '*.md')",
        )
    if not w.found:
        raise TokenizeError(f"no corpus files ({SUPPORTED}) found", where=str(root),
                            fix="point --corpus at data files or a directory containing them")
    files = []
    for path, rel, size in sorted(w.found.values(), key=lambda prs: prs[1]):
        fmt = _sniff(path, format_of(path.name) or "jsonl", rel)
        groups = _parquet_row_groups(path, rel, text_field) if fmt == "parquet" else ()
        files.append(CorpusFile(path=path, rel=rel, size=size, format=fmt, row_groups=groups))
    if all(f.size == 0 for f in files):
        raise TokenizeError("corpus is empty (every file has 0 bytes)", where=str(root),
                            fix="check the corpus path; there is nothing to encode")
    notes = []
    if w.hidden:
        notes.append(f"skipped {len(w.hidden)} hidden entr{'y' if len(w.hidden) == 1 else 'ies'}: {_show(w.hidden)}")
    if w.excluded:
        notes.append(f"skipped {w.excluded} file(s) matching --exclude")
    if w.loops:
        notes.append(f"skipped {len(w.loops)} directory link(s) to a directory already read (loop guard): "
                     f"{_show(w.loops)}")
    if w.duplicates:
        notes.append(f"skipped {len(w.duplicates)} second path(s) to a file already listed: {_show(w.duplicates)}")
    return Corpus(root=root, files=files, notes=notes)

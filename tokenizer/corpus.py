"""JSONL corpus discovery, line-aligned chunking, and line parsing with located errors.

The main process only decides chunk boundaries (a seek and a short read per chunk for plain files);
workers read and parse the bytes themselves. Chunks never span files and always end at a newline, so
every document is parsed exactly once whatever the chunk size or worker count.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tokenizer.errors import TokenizeError

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    rel: str
    size: int
    gzip: bool


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def discover_corpus(corpus: Path) -> tuple[Path, list[CorpusFile]]:
    """A file, or every ``*.jsonl`` / ``*.jsonl.gz`` under a directory, in sorted relative-path order."""
    corpus = Path(corpus)
    if corpus.is_file():
        root, paths = corpus.parent, [corpus]
    elif corpus.is_dir():
        root = corpus
        paths = sorted(
            {p for pat in ("*.jsonl", "*.jsonl.gz") for p in corpus.rglob(pat) if p.is_file()},
            key=lambda p: p.relative_to(corpus).as_posix(),
        )
        if not paths:
            raise TokenizeError(
                "no *.jsonl or *.jsonl.gz files found", where=str(corpus),
                fix="point --corpus at a JSONL file or a directory containing them",
            )
    else:
        raise TokenizeError("corpus path does not exist", where=str(corpus))
    files = [
        CorpusFile(path=p, rel=p.relative_to(root).as_posix(), size=p.stat().st_size, gzip=_is_gzip(p))
        for p in paths
    ]
    if all(f.size == 0 for f in files):
        raise TokenizeError("corpus is empty (every file has 0 bytes)", where=str(corpus),
                            fix="check the corpus path; there is nothing to encode")
    return root, files


@dataclass(frozen=True)
class Chunk:
    """A run of whole lines of one file: ``[start, end)`` of its (decompressed) bytes."""

    seq: int
    file_index: int
    path: str
    start: int
    end: int
    data: bytes | None = None  # carried for gzip files; plain files are read by the worker

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        with open(self.path, "rb") as fh:
            fh.seek(self.start)
            return fh.read(self.end - self.start)


def _plain_chunks(f: CorpusFile, idx: int, start: int, chunk_bytes: int, seq: int) -> Iterator[Chunk]:
    with open(f.path, "rb") as fh:
        pos = start
        while pos < f.size:
            end = min(pos + chunk_bytes, f.size)
            if end < f.size:
                fh.seek(end)
                while True:
                    block = fh.read(1 << 16)
                    if not block:
                        end = f.size
                        break
                    nl = block.find(b"\n")
                    if nl >= 0:
                        end += nl + 1
                        break
                    end += len(block)
            yield Chunk(seq=seq, file_index=idx, path=str(f.path), start=pos, end=end)
            seq += 1
            pos = end


def _gzip_chunks(f: CorpusFile, idx: int, start: int, chunk_bytes: int, seq: int) -> Iterator[Chunk]:
    try:
        with gzip.open(f.path, "rb") as fh:
            fh.seek(start)
            pos = start
            while True:
                data = fh.read(chunk_bytes)
                if not data:
                    return
                if not data.endswith(b"\n"):
                    rest = fh.readline()
                    data += rest
                yield Chunk(seq=seq, file_index=idx, path=str(f.path), start=pos, end=pos + len(data), data=data)
                seq += 1
                pos += len(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise TokenizeError(f"cannot decompress: {exc}", where=f.rel, fix="re-create the .gz file") from None


def iter_chunks(files: list[CorpusFile], file_index: int, offset: int, chunk_bytes: int) -> Iterator[Chunk]:
    seq = 0
    for idx in range(file_index, len(files)):
        f = files[idx]
        start = offset if idx == file_index else 0
        gen = _gzip_chunks if f.gzip else _plain_chunks
        for chunk in gen(f, idx, start, chunk_bytes, seq):
            yield chunk
            seq += 1


@dataclass
class ParsedLines:
    """Documents and problems of one chunk; line indices are 0-based within the chunk."""

    texts: list[str] = field(default_factory=list)
    doc_line: list[int] = field(default_factory=list)
    doc_end: list[int] = field(default_factory=list)  # byte offset (in file) just past the document's line
    errors: list[tuple[int, str]] = field(default_factory=list)
    blank: list[int] = field(default_factory=list)
    n_lines: int = 0


def _type_name(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def parse_lines(data: bytes, start: int, text_field: str) -> ParsedLines:
    out = ParsedLines()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out.n_lines = len(lines)
    pos = start
    for i, raw in enumerate(lines):
        end = pos + len(raw) + 1
        line_start, pos = pos, end
        if i == 0 and line_start == 0 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 byte-order mark at the start of a file is not content
        if not raw.strip():
            out.blank.append(i)
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.errors.append((i, f"invalid UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            out.errors.append((i, f"not valid JSON: {exc.msg} at column {exc.colno}"))
            continue
        except RecursionError:
            out.errors.append((i, "not usable JSON: arrays/objects nest too deeply to parse"))
            continue
        except ValueError as exc:  # e.g. an integer literal longer than Python's 4300-digit limit
            out.errors.append((i, f"not usable JSON: {str(exc).split(';')[0]}"))
            continue
        if not isinstance(obj, dict):
            out.errors.append((i, f"line is {_type_name(obj)}, expected a JSON object with a {text_field!r} field"))
            continue
        if text_field not in obj:
            keys = ", ".join(list(obj)[:5]) or "none"
            out.errors.append((i, f"no {text_field!r} field (keys: {keys}); pick another with --text-field"))
            continue
        text = obj[text_field]
        if not isinstance(text, str):
            out.errors.append((i, f"field {text_field!r} is {_type_name(text)}, expected a string"))
            continue
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                out.errors.append(
                    (i, f"text contains a lone surrogate \\u{ord(text[exc.start]):04x} (from a JSON escape), "
                        "which is not valid Unicode")
                )
                continue
        out.texts.append(text)
        out.doc_line.append(i)
        out.doc_end.append(min(end, start + len(data)))
    return out

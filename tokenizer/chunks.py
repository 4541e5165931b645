"""Chunks: runs of whole records of one file, the unit of work a worker parses and encodes.

The main process only decides chunk boundaries (a seek and a short read per chunk for plain JSONL,
Parquet metadata for row groups); workers read and parse the records themselves. Compressed JSONL
cannot be read from the middle, so the main process decompresses it and ships the bytes. Chunks never
span files and always end at a record boundary, so every document is parsed exactly once whatever the
chunk size or worker count.
"""

from __future__ import annotations

import gzip
import io
import queue
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from tokenizer.corpus import CorpusFile, CorpusFormat
from tokenizer.errors import TokenizeError
from tokenizer.records import BadValue, ParsedLines, parse_lines, parse_rows

BLOCK = 1 << 16


@dataclass(frozen=True)
class Chunk:
    """Records ``[start, end)`` of one file: bytes of the (decompressed) JSONL stream, or Parquet rows."""

    seq: int
    file_index: int
    path: str
    format: CorpusFormat
    start: int
    end: int
    #: bytes on disk of this file read once the chunk is done (progress, never used for positions)
    progress: int
    data: bytes | None = None  # carried for compressed JSONL; plain files are read by the worker
    row_group: int = -1  # Parquet: the row group holding rows [start, end)
    group_start: int = 0  # Parquet: row index of that row group's first row

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        with open(self.path, "rb") as fh:
            fh.seek(self.start)
            return fh.read(self.end - self.start)

    def parse(self, text_field: str) -> ParsedLines:
        if self.format != "parquet":
            return parse_lines(self.read(), self.start, text_field)
        return parse_rows(read_rows(self, text_field), self.start, text_field)


def read_rows(chunk: Chunk, text_field: str) -> list[object]:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(chunk.path).read_row_group(chunk.row_group, columns=[text_field])
    column = table.column(0).slice(chunk.start - chunk.group_start, chunk.end - chunk.start)
    try:
        return column.to_pylist()
    except UnicodeDecodeError:  # Parquet does not promise valid UTF-8: find the bad rows one by one
        import pyarrow as pa

        raw = column.cast(pa.large_binary()).to_pylist()
        out: list[object] = []
        for value in raw:
            try:
                out.append(None if value is None else value.decode("utf-8"))
            except UnicodeDecodeError as exc:
                out.append(BadValue(f"invalid UTF-8: byte 0x{value[exc.start]:02x} at byte {exc.start + 1}"))
        return out


def _line_end(fh: BinaryIO, pos: int, limit: int) -> int:
    """The offset just past the first newline at or after ``pos`` (or ``limit``)."""
    fh.seek(pos)
    while pos < limit:
        block = fh.read(min(BLOCK, limit - pos))
        if not block:
            return limit
        nl = block.find(b"\n")
        if nl >= 0:
            return pos + nl + 1
        pos += len(block)
    return limit


def line_start_at_or_after(path: str, offset: int, size: int) -> int:
    """The first line start at or after ``offset`` of a plain JSONL file (used to cut task ranges)."""
    if offset <= 0:
        return 0
    with open(path, "rb") as fh:
        fh.seek(offset - 1)
        if fh.read(1) == b"\n":
            return offset
        return _line_end(fh, offset, size)


def count_lines(path: str, end: int) -> int:
    """Newlines in the first ``end`` bytes: the line number a task starting mid-file continues from."""
    n = 0
    with open(path, "rb") as fh:
        left = end
        while left > 0:
            block = fh.read(min(1 << 20, left))
            if not block:
                break
            n += block.count(b"\n")
            left -= len(block)
    return n


def _plain_chunks(f: CorpusFile, idx: int, start: int, limit: int, chunk_bytes: int, seq: int) -> Iterator[Chunk]:
    if limit - start <= chunk_bytes:  # one chunk (the common small file): no need to open it here
        if limit > start:
            yield Chunk(seq=seq, file_index=idx, path=str(f.path), format=f.format, start=start, end=limit,
                        progress=limit)
        return
    with open(f.path, "rb") as fh:
        pos = start
        while pos < limit:
            end = min(pos + chunk_bytes, limit)
            if end < limit:
                end = _line_end(fh, end, limit)
            yield Chunk(seq=seq, file_index=idx, path=str(f.path), format=f.format, start=pos, end=end, progress=end)
            seq += 1
            pos = end


def open_decompressed(f: CorpusFile, raw: BinaryIO) -> io.BufferedIOBase:
    """The decompressed JSONL stream of a .jsonl.gz or .jsonl.zst file opened as ``raw``."""
    if f.format == "jsonl.gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=False)
    return io.BufferedReader(reader, BLOCK)  # type: ignore[arg-type]


def decompress_errors() -> tuple[type[BaseException], ...]:
    import zstandard

    return (OSError, EOFError, zlib.error, zstandard.ZstdError)


def _compressed_chunks(f: CorpusFile, idx: int, start: int, chunk_bytes: int, seq: int) -> Iterator[Chunk]:
    try:
        with open(f.path, "rb") as raw, open_decompressed(f, raw) as fh:
            left = start
            while left > 0:  # forward only: skip what a resumed run already encoded
                skipped = fh.read(min(left, 1 << 20))
                if not skipped:
                    break
                left -= len(skipped)
            pos = start
            while True:
                data = fh.read(chunk_bytes)
                if not data:
                    return
                if not data.endswith(b"\n"):
                    data += fh.readline()
                yield Chunk(seq=seq, file_index=idx, path=str(f.path), format=f.format, start=pos,
                            end=pos + len(data), progress=min(raw.tell(), f.size), data=data)
                seq += 1
                pos += len(data)
    except decompress_errors() as exc:
        raise TokenizeError(f"cannot decompress: {exc}", where=f.rel, fix=f"re-create the {f.format} file") from None


def _parquet_chunks(f: CorpusFile, idx: int, start: int, limit: int, seq: int) -> Iterator[Chunk]:
    first = 0
    rows = max(1, f.rows)
    for g, n in enumerate(f.row_groups):
        lo, hi = max(start, first), min(limit, first + n)
        if lo < hi:
            yield Chunk(seq=seq, file_index=idx, path=str(f.path), format=f.format, start=lo, end=hi,
                        progress=f.size * hi // rows, row_group=g, group_start=first)
            seq += 1
        first += n


def known_end(f: CorpusFile) -> int | None:
    """The end position of a file when it is known without reading it (None for compressed JSONL)."""
    return f.rows if f.format == "parquet" else (None if f.compressed else f.size)


def iter_chunks(files: list[CorpusFile], file_index: int, offset: int, chunk_bytes: int,
                stop: tuple[int, int] | None = None) -> Iterator[Chunk]:
    """Chunks from position (file_index, offset) up to ``stop`` = (file_index, offset), exclusive."""
    stop_file, stop_offset = stop if stop is not None else (len(files), 0)
    seq = 0
    for idx in range(file_index, min(stop_file + 1, len(files))):
        f = files[idx]
        start = offset if idx == file_index else 0
        end = known_end(f)
        limit = stop_offset if idx == stop_file else end
        if idx == stop_file and stop_offset == 0:
            return
        if f.format == "parquet":
            gen = _parquet_chunks(f, idx, start, limit or 0, seq)
        elif f.compressed:
            gen = _compressed_chunks(f, idx, start, chunk_bytes, seq)  # tasks cut compressed files only at file ends
        else:
            gen = _plain_chunks(f, idx, start, limit or 0, chunk_bytes, seq)
        for chunk in gen:
            yield chunk
            seq += 1


def prefetched(chunks: Iterator[Chunk], depth: int = 16) -> Iterator[Chunk]:
    """``chunks``, produced up to ``depth`` ahead on a helper thread.

    Decompressing gzip or zstd releases the GIL, so for compressed JSONL the main thread keeps
    assembling while the next chunks are inflated. Errors (a corrupt file) are raised in order; closing
    the generator stops the thread.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for c in chunks:
                if not put(c):
                    return
            put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    reader = threading.Thread(target=run, name="apr-chunk-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        reader.join()

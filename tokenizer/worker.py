"""Per-chunk work (read, parse, encode) that runs in worker processes, or inline with one worker.

Workers return flat token arrays plus per-document metadata; they never write files, so killing
any process at any moment cannot corrupt the output directory.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import numpy as np

from safeio import close_inherited_locks
from tokenizer.corpus import Chunk, parse_lines
from tokenizer.encoders import Encoder, EncoderSpec, build_encoder

_STATE: dict[str, object] = {}


@dataclass
class ChunkResult:
    seq: int
    file_index: int
    start: int
    end: int
    n_lines: int
    tokens: np.ndarray  # uint32, every document's tokens back to back (no EOS)
    doc_tokens: np.ndarray  # int64 per document
    doc_chars: np.ndarray  # int64 per document
    doc_line: np.ndarray  # int64, 0-based line index within the chunk
    doc_end: np.ndarray  # int64, byte offset just past the document's line
    errors: list[tuple[int, str]]
    blank: list[int]


def init_worker(key: str, spec: EncoderSpec, text_field: str) -> None:
    """Build the encoder once per process; a forked child inherits the parent's and skips the build."""
    if _STATE.get("key") == key:
        return
    _STATE.update(key=key, encoder=build_encoder(spec), text_field=text_field)


def use_encoder(key: str, encoder: Encoder, text_field: str) -> None:
    """Install an encoder already built in this process (the main one; forked workers inherit it)."""
    _STATE.update(key=key, encoder=encoder, text_field=text_field)


def _exit_when_orphaned(parent_pid: int, every_s: float) -> None:
    while True:
        time.sleep(every_s)
        if os.getppid() != parent_pid:
            os._exit(1)


def init_pool_worker(parent_pid: int, key: str, spec: EncoderSpec, text_field: str) -> None:
    """Pool initializer. A forked worker inherits both ends of the task pipe, so it would never see
    EOF if the main process were SIGKILLed; a watchdog ends it within a second instead. It also
    inherits the output directory's lock, which it closes so only the main process's life holds it."""
    if os.getppid() != parent_pid:
        os._exit(1)
    close_inherited_locks()
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid, 0.5), daemon=True).start()
    init_worker(key, spec, text_field)


def current_encoder() -> Encoder:
    encoder = _STATE.get("encoder")
    assert encoder is not None, "init_worker() was not called"
    return encoder  # type: ignore[return-value]


def process_chunk(chunk: Chunk) -> ChunkResult:
    encoder = current_encoder()
    parsed = parse_lines(chunk.read(), chunk.start, str(_STATE["text_field"]))
    arrays = encoder.encode_many(parsed.texts) if parsed.texts else []
    lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
    tokens = np.concatenate(arrays).astype(np.uint32, copy=False) if arrays else np.zeros(0, np.uint32)
    return ChunkResult(
        seq=chunk.seq,
        file_index=chunk.file_index,
        start=chunk.start,
        end=chunk.end,
        n_lines=parsed.n_lines,
        tokens=tokens,
        doc_tokens=lengths,
        doc_chars=np.fromiter((len(t) for t in parsed.texts), dtype=np.int64, count=len(parsed.texts)),
        doc_line=np.asarray(parsed.doc_line, dtype=np.int64),
        doc_end=np.asarray(parsed.doc_end, dtype=np.int64),
        errors=parsed.errors,
        blank=parsed.blank,
    )


def noop() -> int:
    return 0

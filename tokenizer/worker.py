"""Per-chunk work (read, parse, bound-check, encode) that runs in worker processes, or inline with one worker.

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
from tokenizer.chunks import Chunk
from tokenizer.encoders import Encoder, EncoderSpec, build_encoder
from tokenizer.pieces import PieceGuard
from tokenizer.records import ParsedLines

_STATE: dict[str, object] = {}


@dataclass(frozen=True)
class JobSpec:
    """What every chunk of one run is parsed, checked and framed with (picklable)."""

    text_field: str
    pattern: str | None
    max_piece_chars: int
    eos_id: int | None = None
    eos_policy: str = "none"
    unk_id: int | None = None


@dataclass
class ChunkResult:
    seq: int
    file_index: int
    start: int
    end: int
    n_lines: int
    #: uint32, every document's tokens back to back, each with its EOS per the policy (``between``: the
    #: EOS comes before the document; the assembler drops it for the corpus's very first document)
    tokens: np.ndarray
    doc_units: np.ndarray  # int64 per document: its tokens plus its EOS
    doc_chars: np.ndarray  # int64 per document
    doc_unk: np.ndarray | None  # int64 <unk> ids per document; None when the tokenizer has no <unk>
    max_id: int  # largest id in ``tokens``, -1 when empty
    doc_line: np.ndarray  # int64, 0-based line index within the chunk
    doc_end: np.ndarray  # int64, position just past the document's record (see records.ParsedLines)
    errors: list[tuple[int, str]]
    blank: list[int]
    progress: int  # bytes on disk of the file read once this chunk is done


def _install(key: str, encoder: Encoder, job: JobSpec) -> None:
    _STATE.update(key=key, encoder=encoder, job=job, guard=PieceGuard(job.pattern, job.max_piece_chars))


def init_worker(key: str, spec: EncoderSpec, job: JobSpec) -> None:
    """Build the encoder once per process; a forked child inherits the parent's and skips the build."""
    if _STATE.get("key") == key:
        return
    _install(key, build_encoder(spec), job)


def use_encoder(key: str, encoder: Encoder, job: JobSpec) -> None:
    """Install an encoder already built in this process (the main one; forked workers inherit it)."""
    _install(key, encoder, job)


def _exit_when_orphaned(parent_pid: int, every_s: float) -> None:
    while True:
        time.sleep(every_s)
        if os.getppid() != parent_pid:
            os._exit(1)


def init_pool_worker(parent_pid: int, key: str, spec: EncoderSpec, job: JobSpec) -> None:
    """Pool initializer. A forked worker inherits both ends of the task pipe, so it would never see
    EOF if the main process were SIGKILLed; a watchdog ends it within a second instead. It also
    inherits the output directory's lock, which it closes so only the main process's life holds it."""
    if os.getppid() != parent_pid:
        os._exit(1)
    close_inherited_locks()
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid, 0.5), daemon=True).start()
    init_worker(key, spec, job)


def current_encoder() -> Encoder:
    encoder = _STATE.get("encoder")
    assert encoder is not None, "init_worker() was not called"
    return encoder  # type: ignore[return-value]


def _refuse_long_pieces(parsed: ParsedLines, guard: PieceGuard) -> None:
    """Turn documents with a pathological piece into located errors (see tokenizer/pieces.py)."""
    bad = [(k, msg) for k, text in enumerate(parsed.texts) if (msg := guard.problem(text)) is not None]
    if not bad:
        return
    drop = {k for k, _ in bad}
    parsed.errors = sorted(parsed.errors + [(parsed.doc_line[k], msg) for k, msg in bad])
    keep = [k for k in range(len(parsed.texts)) if k not in drop]
    parsed.texts = [parsed.texts[k] for k in keep]
    parsed.doc_line = [parsed.doc_line[k] for k in keep]
    parsed.doc_end = [parsed.doc_end[k] for k in keep]


def process_chunk(chunk: Chunk) -> ChunkResult:
    encoder = current_encoder()
    job: JobSpec = _STATE["job"]  # type: ignore[assignment]
    parsed = chunk.parse(job.text_field)
    _refuse_long_pieces(parsed, _STATE["guard"])  # type: ignore[arg-type]
    arrays = encoder.encode_many(parsed.texts) if parsed.texts else []
    n = len(arrays)
    framed: list[np.ndarray] = arrays
    extra = 0
    if job.eos_id is not None and job.eos_policy in ("after", "between"):
        eos = np.array([job.eos_id], dtype=np.uint32)
        framed = [x for a in arrays for x in ((a, eos) if job.eos_policy == "after" else (eos, a))]
        extra = 1
    tokens = np.concatenate(framed).astype(np.uint32, copy=False) if framed else np.zeros(0, np.uint32)
    unk = None
    if job.unk_id is not None:
        unk = np.fromiter((np.count_nonzero(a == job.unk_id) for a in arrays), dtype=np.int64, count=n)
    return ChunkResult(
        seq=chunk.seq,
        file_index=chunk.file_index,
        start=chunk.start,
        end=chunk.end,
        n_lines=parsed.n_lines,
        tokens=tokens,
        doc_units=np.fromiter((a.size + extra for a in arrays), dtype=np.int64, count=n),
        doc_unk=unk,
        max_id=int(tokens.max()) if tokens.size else -1,
        doc_chars=np.fromiter((len(t) for t in parsed.texts), dtype=np.int64, count=len(parsed.texts)),
        doc_line=np.asarray(parsed.doc_line, dtype=np.int64),
        doc_end=np.asarray(parsed.doc_end, dtype=np.int64),
        errors=parsed.errors,
        blank=parsed.blank,
        progress=chunk.progress,
    )


def process_batch(chunks: list[Chunk]) -> list[ChunkResult]:
    return [process_chunk(c) for c in chunks]


def noop() -> int:
    return 0

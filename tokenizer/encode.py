"""``encode-corpus``: documents (JSONL, compressed JSONL, Parquet) → uint32 token shards + manifest.json,
crash-safe and deterministic, as one run or as one task of a scheduler array.

Design decisions (each one is tested in falsifiers/test_tokenize_*.py):

- **Output is a pure function of (corpus bytes, tokenizer.json, options)**: chunks are processed in
  corpus order whatever the worker count, and a document (with its EOS) is never split across
  shards; a shard is closed at the first document boundary at or after ``shard_tokens`` tokens.
- **Crash safety**: shards are written to ``*.tmp`` and renamed when complete; the manifest is
  rewritten atomically after every shard with the corpus position just past that shard's last
  document. ``resume`` continues from that position, so its output is byte-identical to an
  uninterrupted run.
- **Verification**: every id is checked against the effective vocab before it is written; a sample
  of the corpus must round-trip through encode→decode and stay under the unknown-token limit, and
  the fast encoder must match the HF reference on probe texts (and, when first checked for this
  tokenizer.json or with ``verify_engine``, on that sample), before any shard is written.
- **Bounded cost**: a document with a pre-tokenizer piece over ``max_piece_chars`` is a bad line
  (:mod:`tokenizer.pieces`); the main process does O(1) work per chunk whatever the file count.
- **Array tasks**: with ``num_tasks > 1`` the run encodes one contiguous slice of the corpus
  (:mod:`tokenizer.tasks`) into its own directory; :mod:`tokenizer.merge` joins the slices.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from tokenizer.assembler import ShardAssembler
from tokenizer.chunks import Chunk, count_lines, iter_chunks, prefetched
from tokenizer.corpus import Corpus, CorpusFile, discover_corpus
from tokenizer.encoders import PROBE_TEXTS, Encoder, EncoderSpec, TiktokenEncoder
from tokenizer.errors import TokenizeError, VerificationError
from tokenizer.loader import LoadedTokenizer, load_tokenizer
from tokenizer.manifest import (
    MANIFEST_FILE,
    CorpusInfo,
    Cut,
    EncodeConfig,
    Manifest,
    Position,
    RunInfo,
    TaskInfo,
    TokenizerInfo,
    Verification,
    utc_timestamp,
    write_manifest,
)
from tokenizer.options import DEFAULT_EOS_TOKEN, MAX_WORKERS, EncodeOptions
from tokenizer.outdir import corpus_info, prepare_output, tokenizer_info, writer_lock
from tokenizer.preflight import check_roundtrip, choose_encoder, sample_documents
from tokenizer.progress import QuietReporter, Reporter
from tokenizer.tasks import plan_task
from tokenizer.version import PRODUCER
from tokenizer.worker import ChunkResult, JobSpec, init_pool_worker, noop, process_batch, process_chunk, use_encoder

#: Most chunks sent to a worker in one task: a corpus of 100k tiny files is ~400 tasks, not 100k.
MAX_BATCH = 256


def _batches(chunks: Iterator[Chunk], chunk_bytes: int) -> Iterator[list[Chunk]]:
    """Consecutive chunks grouped until they hold ``chunk_bytes`` (a chunk is one file at most)."""
    batch: list[Chunk] = []
    size = 0
    for c in chunks:
        batch.append(c)
        size += chunk_bytes if c.format == "parquet" else c.end - c.start
        if size >= chunk_bytes or len(batch) >= MAX_BATCH:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _results(chunks: Iterator[Chunk], workers: int, pool: ProcessPoolExecutor | None,
             chunk_bytes: int) -> Iterator[ChunkResult]:
    """Chunk results in corpus order, with at most ~3 batches per worker in flight."""
    if pool is None:
        for c in chunks:
            yield process_chunk(c)
        return
    window: deque[Future[list[ChunkResult]]] = deque()
    for batch in _batches(prefetched(chunks), chunk_bytes):
        window.append(pool.submit(process_batch, batch))
        if len(window) >= 3 * workers:
            yield from window.popleft().result()
    while window:
        yield from window.popleft().result()


def _pool(workers: int, key: str, spec: EncoderSpec, job: JobSpec) -> ProcessPoolExecutor:
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context(method),
        initializer=init_pool_worker, initargs=(os.getpid(), key, spec, job),
    )
    for f in [pool.submit(noop) for _ in range(workers)]:
        f.result()  # start every worker now, before any progress thread exists
    return pool


def _resolve_eos(opts: EncodeOptions, tok: LoadedTokenizer) -> tuple[str | None, int | None]:
    if opts.eos_policy == "none":
        return None, None
    eos_token = opts.eos_token or (tok.meta.eos_token if tok.meta and tok.meta.eos_token else DEFAULT_EOS_TOKEN)
    eos_id = tok.token_id(eos_token)
    if eos_id is None:
        raise TokenizeError(
            f"EOS token {eos_token!r} is not in the tokenizer", where=str(tok.directory),
            fix="pass --eos-token with a token the tokenizer has, or --eos-policy none",
        )
    return eos_token, eos_id


class _Progress:
    """Bytes on disk done, in O(1) per chunk: a prefix sum over file sizes (it was re-summed per chunk)."""

    def __init__(self, corpus: Corpus, begin: Cut, end: Cut) -> None:
        self.files = corpus.files
        self.prefix = corpus.prefix_sizes()
        self.base = self.at(begin.file_index, begin.offset)
        self.total = self.at(end.file_index, end.offset) - self.base

    def at(self, file_index: int, offset: int) -> int:
        if file_index >= len(self.files):
            return self.prefix[-1]
        f = self.files[file_index]
        if f.format == "parquet":
            return self.prefix[file_index] + f.size * offset // max(1, f.rows)
        return self.prefix[file_index] + (0 if f.compressed else offset)

    def done(self, r: ChunkResult) -> int:
        return self.prefix[r.file_index] + r.progress - self.base


def _start_line(files: list[CorpusFile], cut: Cut) -> int:
    """The line (row) number a task starting mid-file continues from, so messages and skips stay absolute."""
    if cut.offset == 0 or cut.file_index >= len(files):
        return 0
    f = files[cut.file_index]
    return cut.offset if f.format == "parquet" else count_lines(str(f.path), cut.offset)


def _encode_config(opts: EncodeOptions, tok: LoadedTokenizer) -> EncodeConfig:
    eos_token, eos_id = _resolve_eos(opts, tok)
    return EncodeConfig(
        text_field=opts.text_field, eos_policy=opts.eos_policy, eos_token=eos_token, eos_id=eos_id,
        shard_tokens=opts.shard_tokens, on_error=opts.on_error, special_text=opts.special_text,
        max_piece_chars=opts.max_piece_chars,
    )


def _preflight(opts: EncodeOptions, tok: LoadedTokenizer, files: list[CorpusFile],
               reporter: Reporter) -> tuple[Encoder, str, list[str], Verification]:
    """Choose the encoder and prove it on a corpus sample, before anything is written.

    Returns the encoder, why it was chosen, notes for the run, and the sample's verification record.
    """
    samples = sample_documents(files, opts.text_field, opts.sample_documents)
    encoder, why, notes = choose_encoder(tok, opts.engine, opts.special_text, [t for _, t in samples],
                                         verify=opts.verify_engine)
    for n in notes:
        reporter.note(n)
    probes = [(f"probe text #{i}", t) for i, t in enumerate(PROBE_TEXTS)]
    sample_unk = check_roundtrip(encoder, tok, opts.special_text, samples + probes, opts.max_unk_rate)
    verification = Verification(sample_documents=len(samples), roundtrip_ok=True, sample_unk_rate=sample_unk,
                                max_unk_rate=opts.max_unk_rate)
    return encoder, why, notes, verification


def _start_manifest(old: Manifest | None, opts: EncodeOptions, config: EncodeConfig, tinfo: TokenizerInfo,
                    corpus: CorpusInfo, verification: Verification, task: TaskInfo | None,
                    start: Position) -> Manifest:
    """A fresh manifest, or the interrupted run's one carried forward."""
    if old is None:
        return Manifest(producer=PRODUCER, tokenizer=tinfo, config=config, corpus=corpus, task=task,
                        position=start, verification=verification, run=RunInfo(started_at=utc_timestamp()))
    old.config = config  # equal to the old one, except possibly on_error fail -> skip
    if old.verification is not None:
        old.verification.max_unk_rate = opts.max_unk_rate
    old.run.resumes += 1
    return old


def _encode_chunks(opts: EncodeOptions, manifest: Manifest, corpus: Corpus, end: Cut, tok: LoadedTokenizer,
                   encoder: Encoder, reporter: Reporter, t0: float) -> Manifest:
    """Encode from the manifest's position to ``end``; returns the completed manifest."""
    spec = tok.encoder_spec("tiktoken" if isinstance(encoder, TiktokenEncoder) else "hf", opts.special_text)
    eos_id = manifest.config.eos_id if manifest.config else None
    job = JobSpec(text_field=opts.text_field, pattern=tok.pattern, max_piece_chars=opts.max_piece_chars,
                  eos_id=eos_id, eos_policy=opts.eos_policy, unk_id=tok.unk_id)
    key = f"{tok.sha256}:{spec.kind}:{opts.special_text}:{job}"
    use_encoder(key, encoder, job)
    pos = manifest.position
    begin = manifest.task.start if manifest.task else Cut(file_index=0, offset=0)
    pool = None
    try:
        pool = _pool(opts.workers, key, spec, job) if opts.workers > 1 else None
        manifest.run.setup_s = round(time.monotonic() - t0, 3)
        stop = Position(file_index=end.file_index, offset=end.offset, line=0)
        asm = ShardAssembler(opts.task_output, manifest, corpus.files, tok, opts, eos_id, time.monotonic(),
                             manifest.run.elapsed_s, stop)
        progress = _Progress(corpus, begin, end)
        reporter.start(progress.total, progress.at(pos.file_index, pos.offset) - progress.base)
        try:
            chunks = iter_chunks(corpus.files, pos.file_index, pos.offset, opts.chunk_bytes,
                                 (end.file_index, end.offset))
            with contextlib.closing(_results(chunks, opts.workers, pool, opts.chunk_bytes)) as results:
                for r in results:
                    asm.consume(r)
                    reporter.update(progress.done(r), asm.documents_seen, asm.tokens_seen)
            return asm.finish()
        except BaseException:
            asm.abort()
            raise
    finally:
        reporter.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)  # no thread may outlive the run (fork safety)


def encode_corpus(
    opts: EncodeOptions, *, tokenizer: LoadedTokenizer | None = None, reporter: Reporter | None = None
) -> Manifest:
    """Encode ``opts.corpus`` (or one array task's slice of it) into ``opts.task_output``; returns the manifest.

    Raises :class:`TokenizeError` for bad input (nothing is written before the preflight passes; a
    second writer into the same directory is refused at once, naming the holder) and
    :class:`VerificationError` when the output must not be used.
    """
    with writer_lock(opts.task_output):  # array tasks write to their own directories, side by side
        return _encode_locked(opts, tokenizer, reporter)


def _encode_locked(opts: EncodeOptions, tokenizer: LoadedTokenizer | None, reporter: Reporter | None) -> Manifest:
    t0 = time.monotonic()
    reporter = reporter or QuietReporter()
    corpus = discover_corpus(opts.corpus, text_field=opts.text_field, exclude=opts.exclude)
    files = corpus.files
    task = plan_task(files, opts.num_tasks, opts.task_index) if opts.num_tasks > 1 else None
    begin = task.start if task else Cut(file_index=0, offset=0)
    end = task.end if task else Cut(file_index=len(files), offset=0)
    out = opts.task_output
    tok = tokenizer or load_tokenizer(opts.tokenizer)
    config = _encode_config(opts, tok)
    tinfo, cinfo = tokenizer_info(tok), corpus_info(corpus, begin, end)
    start = Position(file_index=begin.file_index, offset=begin.offset, line=_start_line(files, begin))
    old = prepare_output(out, opts.resume, config, tinfo, cinfo, task, files, start, reporter)
    if old is not None and old.complete:
        reporter.note("the manifest says this corpus is already fully encoded; nothing to do")
        return old
    run_notes = list(corpus.notes)
    if task is not None:
        run_notes.append(f"array task {task.index} of {task.count}: corpus positions "
                         f"{begin.file_index}:{begin.offset} to {end.file_index}:{end.offset}")
    for n in run_notes + [f"warning: {w}" for w in tok.warnings]:
        reporter.note(n)
    encoder, why, notes, verification = _preflight(opts, tok, files, reporter)
    manifest = _start_manifest(old, opts, config, tinfo, cinfo, verification, task, start)
    manifest.run = manifest.run.model_copy(update={
        "workers": opts.workers, "engine": encoder.name, "engine_check": why,
        "corpus_root": str(corpus.root.resolve()), "tokenizer_dir": str(tok.directory.resolve()),
        "notes": list(dict.fromkeys(manifest.run.notes + run_notes + notes + tok.warnings)),
    })
    out.mkdir(parents=True, exist_ok=True)  # writer_lock removes it again if nothing was written
    write_manifest(out, manifest, durable=opts.durable)
    final = _encode_chunks(opts, manifest, corpus, end, tok, encoder, reporter, t0)
    v = final.verification
    assert v is not None
    if not v.passed:
        raise VerificationError(
            f"unknown-token rate {v.unk_rate:.3%} over the corpus exceeds --max-unk-rate {opts.max_unk_rate:.3%}",
            where=str(out / MANIFEST_FILE),
            fix="the vocabulary does not cover this corpus; the manifest records verification.passed=false, "
            "do not train on these shards",
        )
    return final


def default_workers() -> int:
    """One worker per CPU this process may run on (its affinity mask: a Slurm or cgroup allocation)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, n))


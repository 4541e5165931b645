"""``encode-corpus``: JSONL documents → uint32 token shards + manifest.json, crash-safe and deterministic.

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
  the fast encoder must match the HF reference on probe texts and that sample, before any shard is
  written.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from tokenizer.assembler import ShardAssembler
from tokenizer.corpus import Chunk, CorpusFile, discover_corpus, iter_chunks
from tokenizer.encoders import PROBE_TEXTS, Encoder, EncoderSpec, TiktokenEncoder
from tokenizer.errors import TokenizeError, VerificationError
from tokenizer.loader import LoadedTokenizer, load_tokenizer
from tokenizer.manifest import (
    MANIFEST_FILE,
    CorpusInfo,
    EncodeConfig,
    Manifest,
    RunInfo,
    TokenizerInfo,
    Verification,
    utc_timestamp,
    write_manifest,
)
from tokenizer.options import DEFAULT_EOS_TOKEN, EncodeOptions
from tokenizer.outdir import corpus_info, prepare_output, tokenizer_info, writer_lock
from tokenizer.preflight import check_roundtrip, choose_encoder, sample_documents
from tokenizer.progress import QuietReporter, Reporter
from tokenizer.version import PRODUCER
from tokenizer.worker import ChunkResult, init_pool_worker, noop, process_chunk, use_encoder


def _results(chunks: Iterator[Chunk], workers: int, pool: ProcessPoolExecutor | None) -> Iterator[ChunkResult]:
    """Chunk results in corpus order, with at most ~3 chunks per worker in flight."""
    if pool is None:
        for c in chunks:
            yield process_chunk(c)
        return
    window: deque[Future[ChunkResult]] = deque()
    for c in chunks:
        window.append(pool.submit(process_chunk, c))
        if len(window) >= 3 * workers:
            yield window.popleft().result()
    while window:
        yield window.popleft().result()


def _pool(workers: int, key: str, spec: EncoderSpec, text_field: str) -> ProcessPoolExecutor:
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context(method),
        initializer=init_pool_worker, initargs=(os.getpid(), key, spec, text_field),
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


def _progress_bytes(files: list[CorpusFile], file_index: int, offset: int) -> int:
    done = sum(f.size for f in files[:file_index])
    return done + (offset if file_index < len(files) and not files[file_index].gzip else 0)


def _encode_config(opts: EncodeOptions, tok: LoadedTokenizer) -> EncodeConfig:
    eos_token, eos_id = _resolve_eos(opts, tok)
    return EncodeConfig(
        text_field=opts.text_field, eos_policy=opts.eos_policy, eos_token=eos_token, eos_id=eos_id,
        shard_tokens=opts.shard_tokens, on_error=opts.on_error, special_text=opts.special_text,
    )


def _preflight(opts: EncodeOptions, tok: LoadedTokenizer, files: list[CorpusFile],
               reporter: Reporter) -> tuple[Encoder, str, list[str], Verification]:
    """Choose the encoder and prove it on a corpus sample, before anything is written.

    Returns the encoder, why it was chosen, notes for the run, and the sample's verification record.
    """
    samples = sample_documents(files, opts.text_field, opts.sample_documents)
    encoder, why, notes = choose_encoder(tok, opts.engine, opts.special_text, [t for _, t in samples])
    for n in notes:
        reporter.note(n)
    probes = [(f"probe text #{i}", t) for i, t in enumerate(PROBE_TEXTS)]
    sample_unk = check_roundtrip(encoder, tok, opts.special_text, samples + probes, opts.max_unk_rate)
    verification = Verification(sample_documents=len(samples), roundtrip_ok=True, sample_unk_rate=sample_unk,
                                max_unk_rate=opts.max_unk_rate)
    return encoder, why, notes, verification


def _start_manifest(old: Manifest | None, opts: EncodeOptions, config: EncodeConfig, tinfo: TokenizerInfo,
                    corpus: CorpusInfo, verification: Verification) -> Manifest:
    """A fresh manifest, or the interrupted run's one carried forward."""
    if old is None:
        return Manifest(producer=PRODUCER, tokenizer=tinfo, config=config, corpus=corpus,
                        verification=verification, run=RunInfo(started_at=utc_timestamp()))
    old.config = config  # equal to the old one, except possibly on_error fail -> skip
    if old.verification is not None:
        old.verification.max_unk_rate = opts.max_unk_rate
    old.run.resumes += 1
    return old


def _encode_chunks(opts: EncodeOptions, manifest: Manifest, files: list[CorpusFile], tok: LoadedTokenizer,
                   encoder: Encoder, reporter: Reporter, t0: float) -> Manifest:
    """Encode from the manifest's position to the end of the corpus; returns the completed manifest."""
    spec = tok.encoder_spec("tiktoken" if isinstance(encoder, TiktokenEncoder) else "hf", opts.special_text)
    key = f"{tok.sha256}:{spec.kind}:{opts.special_text}:{opts.text_field}"
    use_encoder(key, encoder, opts.text_field)
    pos = manifest.position
    eos_id = manifest.config.eos_id if manifest.config else None
    pool = None
    try:
        pool = _pool(opts.workers, key, spec, opts.text_field) if opts.workers > 1 else None
        manifest.run.setup_s = round(time.monotonic() - t0, 3)
        asm = ShardAssembler(opts.output, manifest, files, tok, opts, eos_id, time.monotonic(), manifest.run.elapsed_s)
        reporter.start(sum(f.size for f in files), _progress_bytes(files, pos.file_index, pos.offset))
        try:
            for r in _results(iter_chunks(files, pos.file_index, pos.offset, opts.chunk_bytes), opts.workers, pool):
                asm.consume(r)
                reporter.update(_progress_bytes(files, r.file_index, r.end), asm.documents_seen, asm.tokens_seen)
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
    """Encode ``opts.corpus`` into ``opts.output``; returns the final manifest.

    Raises :class:`TokenizeError` for bad input (nothing is written before the preflight passes; a
    second writer into the same directory is refused at once, naming the holder) and
    :class:`VerificationError` when the output must not be used.
    """
    with writer_lock(opts.output):
        return _encode_locked(opts, tokenizer, reporter)


def _encode_locked(opts: EncodeOptions, tokenizer: LoadedTokenizer | None, reporter: Reporter | None) -> Manifest:
    t0 = time.monotonic()
    reporter = reporter or QuietReporter()
    root, files = discover_corpus(opts.corpus)
    tok = tokenizer or load_tokenizer(opts.tokenizer)
    config = _encode_config(opts, tok)
    tinfo, corpus = tokenizer_info(tok), corpus_info(files)
    old = prepare_output(opts, config, tinfo, corpus, files, reporter)
    if old is not None and old.complete:
        reporter.note("the manifest says this corpus is already fully encoded; nothing to do")
        return old
    for w in tok.warnings:
        reporter.note(f"warning: {w}")
    encoder, why, notes, verification = _preflight(opts, tok, files, reporter)
    manifest = _start_manifest(old, opts, config, tinfo, corpus, verification)
    manifest.run = manifest.run.model_copy(update={
        "workers": opts.workers, "engine": encoder.name, "engine_check": why,
        "corpus_root": str(root.resolve()), "tokenizer_dir": str(tok.directory.resolve()),
        "notes": list(dict.fromkeys(manifest.run.notes + notes + tok.warnings)),
    })
    opts.output.mkdir(parents=True, exist_ok=True)  # writer_lock removes it again if nothing was written
    write_manifest(opts.output, manifest, durable=opts.durable)
    final = _encode_chunks(opts, manifest, files, tok, encoder, reporter, t0)
    v = final.verification
    assert v is not None
    if not v.passed:
        raise VerificationError(
            f"unknown-token rate {v.unk_rate:.3%} over the corpus exceeds --max-unk-rate {opts.max_unk_rate:.3%}",
            where=str(opts.output / MANIFEST_FILE),
            fix="the vocabulary does not cover this corpus; the manifest records verification.passed=false, "
            "do not train on these shards",
        )
    return final


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


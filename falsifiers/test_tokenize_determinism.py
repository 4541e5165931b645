"""Falsifier FALSIFY-TOK-004: the output bytes do not depend on --workers or on chunking.

The corpus is a directory of several files (one gzip-compressed, one with bad and blank lines so the
skip bookkeeping is exercised too). Runs with 1, 2 and 3 workers and different chunk sizes must give
identical shards and identical manifests (ignoring the ``run`` section: timings, worker count). The
negative case feeds the assembler the same chunk results out of order - what a naive "process
results as they complete" pool does - and requires the comparison to notice.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenizer import encode as encode_mod
from tokenizer.encode import EncodeOptions, encode_corpus
from tokenizer.manifest import deterministic_view, read_manifest
from tokenizer.testing import cached_small, stdlib_documents, write_jsonl
from tokenizer.worker import ChunkResult


def _corpus(tmp: Path) -> Path:
    texts = [t for _, t in stdlib_documents(600_000, start=100)]
    docs = [t[i : i + 2500] for t in texts for i in range(0, len(t), 2500)]
    third = len(docs) // 3
    root = tmp / "corpus"
    write_jsonl(root / "a.jsonl", docs[:third])
    plain = write_jsonl(tmp / "b.jsonl", docs[third : 2 * third])
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "b.jsonl.gz").write_bytes(gzip.compress(plain.read_bytes()))
    c = write_jsonl(root / "c.jsonl", docs[2 * third :])
    with open(c, "a") as fh:
        fh.write('\n{"no_text": 1}\nnot json\n{"text": "after the bad lines"}\n')
    return root


def _run(corpus: Path, out: Path, workers: int, chunk_bytes: int) -> Path:
    opts = EncodeOptions(
        corpus=corpus, tokenizer=cached_small().directory, output=out, workers=workers, chunk_bytes=chunk_bytes,
        shard_tokens=7_000, eos_policy="after", on_error="skip", progress="none", durable=False,
    )
    encode_corpus(opts, tokenizer=cached_small())
    return out


def differences(a: Path, b: Path) -> list[str]:
    diffs = []
    va, vb = deterministic_view(read_manifest(a)), deterministic_view(read_manifest(b))
    diffs += [f"manifest.{k}" for k in va if va[k] != vb.get(k)]
    names = sorted({p.name for p in a.glob("shard-*.bin")} | {p.name for p in b.glob("shard-*.bin")})
    for n in names:
        if not (a / n).exists() or not (b / n).exists() or (a / n).read_bytes() != (b / n).read_bytes():
            diffs.append(n)
    return diffs


@pytest.mark.falsifies("FALSIFY-TOK-004")
def test_output_identical_for_any_worker_count(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    base = _run(corpus, tmp_path / "w1", workers=1, chunk_bytes=1 << 20)
    m = read_manifest(base)
    assert len(m.shards) >= 10 and len(m.corpus.files) == 3  # type: ignore[union-attr]
    assert m.totals.skipped_lines == 2 and m.totals.blank_lines == 1
    for workers, chunk in [(2, 1 << 20), (2, 8_192), (3, 3_000)]:
        other = _run(corpus, tmp_path / f"w{workers}-{chunk}", workers=workers, chunk_bytes=chunk)
        assert read_manifest(other).run.workers == workers
        assert differences(base, other) == [], (workers, chunk)


@pytest.mark.falsifies("FALSIFY-TOK-004")
def test_out_of_order_results_are_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = _corpus(tmp_path)
    base = _run(corpus, tmp_path / "ordered", workers=1, chunk_bytes=16_384)
    real_results = encode_mod._results

    def as_completed(*args: object, **kw: object) -> Iterator[ChunkResult]:
        results = list(real_results(*args, **kw))  # type: ignore[arg-type]
        random.Random(7).shuffle(results)
        yield from results

    monkeypatch.setattr(encode_mod, "_results", as_completed)
    shuffled = _run(corpus, tmp_path / "shuffled", workers=1, chunk_bytes=16_384)
    assert differences(base, shuffled) != []

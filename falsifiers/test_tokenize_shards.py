"""Falsifiers FALSIFY-TOK-001 (every id below the vocab) and FALSIFY-TOK-002 (shard sizes add up).

The invariants are checked on real encode-corpus output by an independent checker written here (it
reads the raw files, not the library's own verifier), and each test also runs that checker - and the
library's ``verify_output`` - against deliberately broken output or a broken encoder, and requires the
break to be caught.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tokenizer import encode as encode_mod
from tokenizer.encode import EncodeOptions, encode_corpus
from tokenizer.errors import VerificationError
from tokenizer.loader import LoadedTokenizer
from tokenizer.manifest import read_manifest
from tokenizer.shards import repair_manifest, verify_output
from tokenizer.testing import cached_qwen2, cached_small, stdlib_documents, write_jsonl


def _encode(tmp: Path, tok: LoadedTokenizer, docs: list[str], **kw: object) -> Path:
    corpus = write_jsonl(tmp / "corpus.jsonl", docs)
    out = tmp / "out"
    opts = EncodeOptions(corpus=corpus, tokenizer=tok.directory, output=out, progress="none", durable=False, **kw)
    encode_corpus(opts, tokenizer=tok)
    return out


def _all_ids(out: Path) -> np.ndarray:
    names = sorted(p for p in out.iterdir() if p.name.startswith("shard-") and p.suffix == ".bin")
    return np.concatenate([np.fromfile(p, dtype="<u4") for p in names]) if names else np.zeros(0, "<u4")


def id_bound_violations(out: Path, bound: int) -> list[str]:
    ids = _all_ids(out)
    bad = np.flatnonzero(ids >= bound)
    return [f"token #{i} = {int(ids[i])} >= {bound}" for i in bad[:5]]


def shard_size_violations(out: Path) -> list[str]:
    """Independent of tokenizer.shards: raw file sizes against the manifest JSON."""
    manifest = json.loads((out / "manifest.json").read_text())
    problems = []
    on_disk = sorted(p.name for p in out.iterdir() if p.name.startswith("shard-") and p.name.endswith(".bin"))
    listed = [s["name"] for s in manifest["shards"]]
    if on_disk != listed:
        problems.append(f"files {on_disk} != manifest {listed}")
    total = 0
    for s in manifest["shards"]:
        path = out / s["name"]
        size = path.stat().st_size if path.exists() else -1
        if size % 4:
            problems.append(f"{s['name']}: size {size} % 4 != 0")
        if size != 4 * s["tokens"] or size != s["bytes"]:
            problems.append(f"{s['name']}: {size} bytes vs {s['tokens']} tokens / {s['bytes']} bytes")
        total += max(size, 0) // 4
    if total != manifest["totals"]["tokens"]:
        problems.append(f"sum of sizes / 4 = {total} != total {manifest['totals']['tokens']}")
    return problems


def _top_id_docs() -> list[str]:
    code = [t for _, t in stdlib_documents(120_000)]
    return [*code, "unicode 中文 русский 🚀 e\u0301", "special text <|file_sep|> and <|endoftext|> inline"]


@pytest.mark.falsifies("FALSIFY-TOK-001")
def test_every_emitted_id_below_vocab(tmp_path: Path) -> None:
    tok = cached_qwen2()
    bound = tok.effective_vocab_count
    assert bound == 151_665
    out = _encode(tmp_path, tok, _top_id_docs(), special_text="recognize", eos_policy="after", shard_tokens=5_000)
    ids = _all_ids(out)
    assert ids.size > 10_000
    assert id_bound_violations(out, bound) == []
    # The bound is tight, not vacuous: the largest id the tokenizer has (<|file_sep|>) was emitted.
    assert int(ids.max()) == bound - 1
    report = verify_output(out, check_ids=True)
    assert report.ok, report.problems
    assert read_manifest(out).verification.max_token_id_seen == bound - 1  # type: ignore[union-attr]


class _OffByOneEncoder:
    """A broken encoder: emits an id one past the vocabulary for documents containing a marker."""

    def __init__(self, inner: object, bound: int) -> None:
        self.inner = inner
        self.name = "broken"
        self.bound = bound

    def encode(self, text: str) -> np.ndarray:
        ids = self.inner.encode(text).copy()  # type: ignore[attr-defined]
        if "BREAK-ME" in text and ids.size:
            ids[-1] = self.bound
        return ids

    def encode_many(self, texts: list[str]) -> list[np.ndarray]:
        return [self.encode(t) for t in texts]

    def decode_bytes(self, ids: np.ndarray) -> bytes:
        return self.inner.decode_bytes(ids)  # type: ignore[attr-defined]


@pytest.mark.falsifies("FALSIFY-TOK-001")
def test_out_of_vocab_id_is_refused_and_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tok = cached_small()
    real_choose = encode_mod.choose_encoder

    def broken_choose(*args: object, **kw: object) -> object:
        encoder, check, notes = real_choose(*args, **kw)  # type: ignore[arg-type]
        return _OffByOneEncoder(encoder, tok.effective_vocab_count), check, notes

    monkeypatch.setattr(encode_mod, "choose_encoder", broken_choose)
    docs = [f"doc {i} = {i * i}\n" for i in range(60)] + ["x = 1  # BREAK-ME\n"] + ["tail\n"] * 5
    with pytest.raises(VerificationError) as err:
        _encode(tmp_path, tok, docs, shard_tokens=40, chunk_bytes=256)
    assert "corpus.jsonl:61" in str(err.value) and f"outside the vocabulary of {tok.effective_vocab_count}" in str(
        err.value
    )
    out = tmp_path / "out"
    assert id_bound_violations(out, tok.effective_vocab_count) == []  # nothing out of range reached disk
    assert not list(out.glob("*.tmp"))
    # The checkers catch an out-of-range id that is already on disk (a shard edited after the fact).
    shard = out / "shard-00000.bin"
    ids = np.fromfile(shard, dtype="<u4")
    ids[3] = tok.effective_vocab_count + 7
    ids.tofile(shard)
    assert id_bound_violations(out, tok.effective_vocab_count)
    assert any(">= vocab" in p for p in verify_output(out, check_ids=True).problems)


@pytest.mark.falsifies("FALSIFY-TOK-002")
def test_shard_sizes_sum_to_manifest_total(tmp_path: Path) -> None:
    tok = cached_small()
    texts = [t for _, t in stdlib_documents(150_000)]
    docs = [t[i : i + 1500] for t in texts for i in range(0, len(t), 1500)] + ["", "tiny", "x" * 50]
    out = _encode(tmp_path, tok, docs, shard_tokens=3_000, eos_policy="between")
    manifest = read_manifest(out)
    assert len(manifest.shards) >= 10
    assert shard_size_violations(out) == []
    assert verify_output(out, check_sha=True).ok
    # Document-boundary rule: every shard but the last reaches shard_tokens, the last is non-empty.
    sizes = [s.tokens for s in manifest.shards]
    assert all(n >= 3_000 for n in sizes[:-1]) and sizes[-1] > 0
    assert sum(s.documents or 0 for s in manifest.shards) == manifest.totals.documents == len(docs)


@pytest.mark.falsifies("FALSIFY-TOK-002")
def test_size_checks_catch_torn_extra_and_missing_shards(tmp_path: Path) -> None:
    tok = cached_small()
    out = _encode(tmp_path, tok, [t for _, t in stdlib_documents(40_000)], shard_tokens=2_000)
    assert shard_size_violations(out) == [] and verify_output(out).ok
    shard = out / "shard-00001.bin"
    original = shard.read_bytes()

    shard.write_bytes(original + b"\x00\x00")  # torn: half a token appended
    assert any("% 4" in p for p in shard_size_violations(out))
    assert any("multiple of 4" in p for p in verify_output(out).problems)

    shard.write_bytes(original[:-4])  # one whole token lost
    assert shard_size_violations(out) and not verify_output(out).ok

    shard.write_bytes(original)
    (out / "shard-00099.bin").write_bytes(b"\x01\x00\x00\x00")  # a stray shard the manifest never listed
    assert shard_size_violations(out) and not verify_output(out).ok
    (out / "shard-00099.bin").unlink()

    shard.unlink()  # a listed shard missing
    assert shard_size_violations(out) and not verify_output(out).ok

    # repair-manifest lists only whole, contiguous shards: the gap ends the list.
    shard.write_bytes(original + b"\x00")
    manifest, problems = repair_manifest(out)
    assert [s.name for s in manifest.shards] == ["shard-00000.bin"]
    assert any("multiple of 4" in p for p in problems)
    assert shard_size_violations(out) != []  # the torn and later files are on disk but unlisted

"""Shared tiny fixtures: a learnable toy token stream in uint32 shards, a tokenizer descriptor."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tokenizer import manifest as tokenizer_manifest
from tokenizer.manifest import Counters, Manifest, ShardEntry, TokenizerInfo, Verification

TOY_VOCAB = 512  # the test-tiny preset's vocab


def toy_tokens(n: int, seed: int = 0, vocab: int = TOY_VOCAB) -> np.ndarray:
    """A first-order Markov stream (next = 7*prev + noise mod vocab): learnable, not constant."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 3, size=n)
    out = np.zeros(n, dtype=np.int64)
    for i in range(1, n):
        out[i] = (out[i - 1] * 7 + noise[i]) % vocab
    return out.astype("<u4")


def write_manifest(root: Path, *, vocab: int = TOY_VOCAB, max_token_id: int | None = None, verified: bool = True,
                   record_max: bool = True) -> Path:
    """The manifest ``apr tokenize encode-corpus`` writes, for the shard-*.bin files in ``root``.

    Built with the tokenizer's own model and writer, so a test cannot pass on a spelling the
    tokenizer never produces. ``max_token_id`` is the tokenizer's (default ``vocab - 1``). The
    verification record says ``passed`` (``verified``) and, with ``record_max``, the largest id the
    shards really hold, as encode-corpus records it.
    """
    shards = []
    seen = -1
    for path in sorted(root.glob("shard-*.bin")):
        data = path.read_bytes()
        ids = np.frombuffer(data[: len(data) // 4 * 4], dtype="<u4")
        seen = max(seen, int(ids.max())) if ids.size else seen
        shards.append(ShardEntry(name=path.name, tokens=len(data) // 4, bytes=len(data),
                                 sha256=hashlib.sha256(data).hexdigest()))
    top = vocab - 1 if max_token_id is None else max_token_id
    tokenizer = TokenizerInfo(sha256="0" * 64, bpe_vocab_count=vocab, merges_count=0, added_tokens_count=0,
                              effective_vocab_count=vocab, max_token_id=top)
    verification = Verification(sample_documents=1, roundtrip_ok=True, max_unk_rate=0.001, passed=verified,
                                unk_rate=0.0 if verified else 0.5,
                                max_token_id_seen=seen if record_max and seen >= 0 else None)
    manifest = Manifest(producer="tests.trainer.conftest", complete=True, tokenizer=tokenizer, shards=shards,
                        totals=Counters(tokens=sum(s.tokens for s in shards)), verification=verification)
    tokenizer_manifest.write_manifest(root, manifest, durable=False)
    return root / tokenizer_manifest.MANIFEST_FILE


def write_shards(root: Path, sizes: list[int], *, seed: int = 0, manifest: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(sizes):
        toy_tokens(n, seed + i).tofile(root / f"shard-{i:05d}.bin")
    if manifest:
        write_manifest(root)
    return root


def toy_run_dir(root: Path) -> dict[str, Path]:
    """A directory for multi-process runs: toy shards and a tokenizer descriptor, by role."""
    tok = root / "tokenizer_meta.json"
    tok.write_text(json.dumps({"effective_vocab_count": TOY_VOCAB}))
    return {"root": root, "shards": write_shards(root / "shards", [20_000, 12_000]), "tok": tok}


@pytest.fixture
def shards_dir(tmp_path: Path) -> Path:
    return write_shards(tmp_path / "shards", [20_000, 12_000])


@pytest.fixture
def tokenizer_file(tmp_path: Path) -> Path:
    p = tmp_path / "tokenizer_meta.json"
    p.write_text(json.dumps({"effective_vocab_count": TOY_VOCAB, "vocab_size": 999_999}))
    return p

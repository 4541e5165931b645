"""Shared tiny fixtures: a learnable toy token stream in uint32 shards, a tokenizer descriptor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

TOY_VOCAB = 512  # the test-tiny preset's vocab


def toy_tokens(n: int, seed: int = 0, vocab: int = TOY_VOCAB) -> np.ndarray:
    """A first-order Markov stream (next = 7*prev + noise mod vocab): learnable, not constant."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 3, size=n)
    out = np.zeros(n, dtype=np.int64)
    for i in range(1, n):
        out[i] = (out[i - 1] * 7 + noise[i]) % vocab
    return out.astype("<u4")


def write_shards(root: Path, sizes: list[int], *, seed: int = 0, manifest: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, n in enumerate(sizes):
        name = f"shard-{i:05d}.bin"
        toy_tokens(n, seed + i).tofile(root / name)
        entries.append({"file": name, "tokens": n})
    if manifest:
        (root / "manifest.json").write_text(json.dumps({"shards": entries, "effective_vocab_count": TOY_VOCAB}))
    return root


@pytest.fixture
def shards_dir(tmp_path: Path) -> Path:
    return write_shards(tmp_path / "shards", [20_000, 12_000])


@pytest.fixture
def tokenizer_file(tmp_path: Path) -> Path:
    p = tmp_path / "tokenizer_meta.json"
    p.write_text(json.dumps({"effective_vocab_count": TOY_VOCAB, "vocab_size": 999_999}))
    return p

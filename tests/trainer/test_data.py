"""Shards, windows, the held-out split and the sampler."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.trainer.conftest import toy_tokens, write_manifest, write_shards
from trainer.data import DataError, DataExhausted, ShardSet, TrainSampler


def _positions(shards: ShardSet, ids) -> set[tuple[int, int]]:
    out = set()
    for w in ids:
        s, start = shards.locate(w)
        out.update((s, start + i) for i in range(shards.window))
    return out


def test_windows_match_the_files(shards_dir: Path) -> None:
    shards = ShardSet(shards_dir, seq_len=31)
    raw = [np.fromfile(p, dtype="<u4") for p in sorted(shards_dir.glob("shard-*.bin"))]
    assert shards.n_windows == sum(len(r) // 32 for r in raw)
    for w in (0, 1, shards.n_windows // 2, shards.n_windows - 1):
        s, start = shards.locate(w)
        assert np.array_equal(shards.window_tokens(w), raw[s][start : start + 32])
    b = shards.batch([0, 5])
    assert b.shape == (2, 32) and b.dtype == np.int64


def _split_violations(shards: ShardSet, train_draws: set[int]) -> list[str]:
    problems = []
    val_pos = _positions(shards, shards.val_ids())
    if _positions(shards, train_draws) & val_pos:
        problems.append("a training window shares a token position with validation")
    if train_draws & set(shards.val_ids()):
        problems.append("sampler drew a validation window")
    return problems


def test_validation_is_disjoint_and_never_revisited(shards_dir: Path) -> None:
    shards = ShardSet(shards_dir, seq_len=15, val_fraction=0.1)
    sampler = TrainSampler(shards.n_train, batch_size=7, seed=3, max_epochs=5)
    drawn: set[int] = set()
    n_batches = 0
    with pytest.raises(DataExhausted):
        while True:
            drawn.update(int(i) for i in sampler.next_batch())
            n_batches += 1
    assert n_batches == sampler.capacity == 5 * (shards.n_train // 7)
    assert drawn <= set(shards.train_ids())
    assert _split_violations(shards, drawn) == []
    # Falsification: a reader that wraps around the whole stream (the reference trainer's bug)
    # does touch validation windows, and the check reports it.
    wrapped = {(i * 7) % shards.n_windows for i in range(n_batches * 7)}
    assert _split_violations(shards, wrapped)


def test_exhaustion_raises_instead_of_repeating(shards_dir: Path) -> None:
    shards = ShardSet(shards_dir, seq_len=63)
    sampler = TrainSampler(shards.n_train, batch_size=8, seed=0, max_epochs=1)
    seen = [tuple(sampler.next_batch()) for _ in range(sampler.capacity)]
    assert len({w for b in seen for w in b}) == sampler.capacity * 8  # no window twice in one epoch
    with pytest.raises(DataExhausted, match="exhausted"):
        sampler.next_batch()


def test_sampler_is_deterministic_and_resumable() -> None:
    a = TrainSampler(100, 4, seed=11, max_epochs=3)
    b = TrainSampler(100, 4, seed=11, max_epochs=3)
    first = [a.next_batch().tolist() for _ in range(30)]
    assert first == [b.next_batch().tolist() for _ in range(30)]
    state = a.state_dict()
    rest = [a.next_batch().tolist() for _ in range(20)]
    c = TrainSampler(100, 4, seed=11, max_epochs=3)
    c.load_state_dict(state)
    assert [c.next_batch().tolist() for _ in range(20)] == rest
    assert TrainSampler(100, 4, seed=12).next_batch().tolist() != first[0]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(8, 200), batch=st.integers(1, 8), world=st.integers(1, 4), seed=st.integers(0, 10))
def test_ranks_get_disjoint_slices_of_the_global_batch(n: int, batch: int, world: int, seed: int) -> None:
    if n < batch * world:
        with pytest.raises(DataError):
            TrainSampler(n, batch, seed, world_size=world)
        return
    ranks = [TrainSampler(n, batch, seed, rank=r, world_size=world) for r in range(world)]
    single = TrainSampler(n, batch * world, seed)
    for _ in range(ranks[0].batches_per_epoch):
        parts = [r.next_batch() for r in ranks]
        assert len({int(i) for p in parts for i in p}) == batch * world
        assert np.array_equal(np.concatenate(parts), single.next_batch())


def test_manifest_count_mismatch_is_an_error(tmp_path: Path) -> None:
    root = write_shards(tmp_path / "s", [1000])
    m = json.loads((root / "manifest.json").read_text())
    m["shards"][0]["tokens"] = 1001
    (root / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(DataError, match="manifest says 1001"):
        ShardSet(root, 15)


def test_bad_inputs_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        ShardSet(tmp_path / "nope", 8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no manifest\.json"):
        ShardSet(tmp_path / "empty", 8)
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "shard-00000.bin").write_bytes(b"\0" * 4001)
    write_manifest(odd)
    with pytest.raises(DataError, match="multiple of 4"):
        ShardSet(odd, 8)
    small = write_shards(tmp_path / "small", [20])
    with pytest.raises(DataError, match="windows"):
        ShardSet(small, 15)


def test_only_listed_shards_are_read_in_manifest_order(tmp_path: Path) -> None:
    """Issue 15: a stray shard-*.bin beside a complete manifest was trained on, and as the tail of the
    stream it also became validation data. ShardSet reads the listed shards only (the stray itself is
    refused earlier, by trainer.shard_checks)."""
    root = write_shards(tmp_path / "s", [1000, 800])
    toy_tokens(5000, seed=9).tofile(root / "shard-00002.bin")
    shards = ShardSet(root, 15)
    assert [s.path.name for s in shards.shards] == ["shard-00000.bin", "shard-00001.bin"]
    assert shards.n_tokens == 1800
    (root / "shard-00001.bin").unlink()
    with pytest.raises(DataError, match=r"shard-00001\.bin: listed in the manifest but missing"):
        ShardSet(root, 15)


def test_manifest_or_tokenizer_json_of_the_wrong_shape_is_a_clear_error(tmp_path: Path) -> None:
    from trainer.tokenizer_info import TokenizerInfoError, read_tokenizer_vocab

    root = write_shards(tmp_path / "s", [1000])
    (root / "manifest.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="invalid manifest: Input should be an object"):
        ShardSet(root, 15)
    tok = tmp_path / "tok.json"
    tok.write_text("[1]")
    with pytest.raises(TokenizerInfoError, match="cannot read tokenizer"):
        read_tokenizer_vocab(tok)


def test_manifest_is_read_through_the_tokenizers_schema(tmp_path: Path) -> None:
    """The trainer accepts what the tokenizer writes and nothing it would not: no guessed key spellings."""
    root = write_shards(tmp_path / "s", [1000, 800])
    shards = ShardSet(root, 15)
    assert shards.manifest is not None and [e.name for e in shards.manifest.shards] == [
        "shard-00000.bin", "shard-00001.bin"]
    assert shards.manifest.tokenizer is not None and shards.manifest.tokenizer.effective_vocab_count == 512
    # A hand-written spelling the tokenizer never produces ("file" for "name") is refused, with the key named.
    m = json.loads((root / "manifest.json").read_text())
    m["shards"][0]["file"] = m["shards"][0].pop("name")
    (root / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(DataError, match=r"invalid manifest.*shards\.0"):
        ShardSet(root, 15)

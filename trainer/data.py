"""Memory-mapped token shards, a held-out validation range, and a deterministic training sampler.

Shards are little-endian uint32 ``shard-*.bin`` files (the tokenizer's ``encode-corpus`` output),
exactly those its ``manifest.json`` lists, in its order; the manifest is read through the tokenizer's
own model (``tokenizer.manifest.Manifest``) so the two sides cannot disagree on a key. The stream is cut
into non-overlapping windows of ``seq_len + 1`` tokens (inputs + shifted targets) that never
cross a shard boundary. The *last* windows of the stream are the validation split; the training
sampler draws only from window ids below that range, so a held-out token can never be trained on,
however many epochs run. (The reference trainer's reader wrapped around into its held-out set
after one pass.) When the training windows are used up the sampler raises ``DataExhausted`` (a
``RunStopped``) instead of repeating batches or returning a constant loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tokenizer.errors import TokenizeError
from tokenizer.manifest import MANIFEST_FILE, Manifest, read_manifest
from trainer.errors import RunStopped, TrainerInputError

TOKEN_DTYPE = np.dtype("<u4")


class DataError(TrainerInputError):
    """The shards are missing, inconsistent with their manifest, or unusable for this run."""


class DataExhausted(RunStopped):
    """The training sampler has no unseen batch left within ``max_epochs``: the run stops (exit 4)."""

    def __init__(self, detail: str) -> None:
        super().__init__("data_exhausted", detail)


@dataclass(frozen=True)
class Shard:
    path: Path
    tokens: np.memmap | np.ndarray
    n_tokens: int


def _read_manifest(directory: Path) -> Manifest | None:
    """The shards' manifest as the tokenizer wrote it, or ``None`` when there is none."""
    if not (directory / MANIFEST_FILE).is_file():
        return None
    try:
        return read_manifest(directory)
    except TokenizeError as exc:
        raise DataError(str(exc)) from exc
    except OSError as exc:
        raise DataError(f"{directory / MANIFEST_FILE}: unreadable manifest: {exc}") from exc


class ShardSet:
    """The shards a manifest lists, memory-mapped in its order, with window bookkeeping and the train/val split.

    Only listed shards are read: a ``shard-*.bin`` the manifest does not name is never training or
    validation data (``trainer.shard_checks`` refuses a directory that holds one). The integrity of
    the listed files (sha256, completeness, verification) is checked there, before this is built.
    """

    def __init__(self, shards_dir: str | Path, seq_len: int, *, val_fraction: float = 0.05, min_val_windows: int = 1,
                 manifest: Manifest | None = None):
        self.dir = Path(shards_dir)
        if seq_len < 1:
            raise DataError(f"seq_len must be >= 1, got {seq_len}")
        if not 0.0 < val_fraction < 1.0:
            raise DataError(f"val_fraction must be in (0, 1), got {val_fraction}")
        if not self.dir.is_dir():
            raise DataError(f"{self.dir}: shards directory does not exist")
        self.manifest = manifest if manifest is not None else _read_manifest(self.dir)
        if self.manifest is None:
            raise DataError(f"{self.dir}: no manifest.json; the trainer reads only the shards an encode-corpus "
                            "manifest lists (run `apr tokenize encode-corpus`, or `apr tokenize repair-manifest`)")
        if not self.manifest.shards:
            raise DataError(f"{self.dir / MANIFEST_FILE}: lists no shards (run `apr tokenize encode-corpus` first)")
        self.shards: list[Shard] = []
        for entry in self.manifest.shards:
            p = self.dir / entry.name
            if not p.is_file():
                raise DataError(f"{p}: listed in the manifest but missing or not a regular file")
            size = p.stat().st_size
            if size % TOKEN_DTYPE.itemsize:
                raise DataError(f"{p}: size {size} is not a multiple of 4 bytes (truncated uint32 shard)")
            n = size // TOKEN_DTYPE.itemsize
            if entry.tokens != n:
                raise DataError(f"{p}: manifest says {entry.tokens} tokens, file holds {n} (truncated or stale)")
            arr = np.memmap(p, dtype=TOKEN_DTYPE, mode="r") if n else np.zeros(0, dtype=TOKEN_DTYPE)
            self.shards.append(Shard(p, arr, n))
        self.seq_len = seq_len
        self.window = seq_len + 1
        per_shard = [s.n_tokens // self.window for s in self.shards]
        self._cum = np.concatenate([[0], np.cumsum(per_shard)]).astype(np.int64)
        self.n_windows = int(self._cum[-1])
        n_val = max(min_val_windows, math.ceil(val_fraction * self.n_windows))
        if self.n_windows < n_val + 1:
            raise DataError(
                f"{self.dir}: {self.n_tokens} tokens give {self.n_windows} windows of "
                f"{self.window} tokens; need at least {n_val + 1} (validation + one training window)"
            )
        self.n_val = n_val
        self.n_train = self.n_windows - n_val

    @property
    def n_tokens(self) -> int:
        return sum(s.n_tokens for s in self.shards)

    def locate(self, window_id: int) -> tuple[int, int]:
        """(shard index, first token offset) of a window."""
        if not 0 <= window_id < self.n_windows:
            raise IndexError(window_id)
        shard = int(np.searchsorted(self._cum, window_id, side="right") - 1)
        return shard, int(window_id - self._cum[shard]) * self.window

    def window_tokens(self, window_id: int) -> np.ndarray:
        shard, start = self.locate(window_id)
        return np.asarray(self.shards[shard].tokens[start : start + self.window])

    def batch(self, window_ids: list[int] | np.ndarray) -> np.ndarray:
        """``[len(ids), seq_len + 1]`` int64 tokens."""
        return np.stack([self.window_tokens(int(w)) for w in window_ids]).astype(np.int64)

    def train_ids(self) -> range:
        return range(0, self.n_train)

    def val_ids(self) -> range:
        return range(self.n_train, self.n_windows)


class TrainSampler:
    """Deterministic, epoch-bounded sampler over training window ids, rank-sliced.

    Each epoch is a permutation of ``range(n_train)`` seeded by (seed, epoch); consecutive
    global batches of ``batch_size * world_size`` ids are cut from it and rank r takes the r-th
    slice, so ranks see disjoint windows and world_size=1 reproduces the same global order.
    The position (epoch, cursor) is the whole state, which makes resume exact.
    """

    def __init__(
        self, n_train: int, batch_size: int, seed: int, *, max_epochs: int = 1, rank: int = 0, world_size: int = 1
    ) -> None:
        if batch_size < 1 or max_epochs < 1 or not 0 <= rank < world_size:
            raise DataError(f"bad sampler arguments batch={batch_size} epochs={max_epochs} rank={rank}/{world_size}")
        self.n_train, self.batch_size, self.seed = n_train, batch_size, seed
        self.max_epochs, self.rank, self.world_size = max_epochs, rank, world_size
        self.global_batch = batch_size * world_size
        self.batches_per_epoch = n_train // self.global_batch
        if self.batches_per_epoch == 0:
            raise DataError(
                f"{n_train} training windows cannot fill one global batch of {self.global_batch}; "
                "lower --batch-size or --seq-len, or add data"
            )
        self.epoch = 0
        self.cursor = 0
        self._perm: np.ndarray | None = None

    @property
    def capacity(self) -> int:
        """Batches available over all epochs."""
        return self.batches_per_epoch * self.max_epochs

    def _permutation(self) -> np.ndarray:
        if self._perm is None:
            self._perm = np.random.default_rng([self.seed, self.epoch]).permutation(self.n_train)
        return self._perm

    def next_batch(self) -> np.ndarray:
        if self.cursor >= self.batches_per_epoch:
            self.epoch += 1
            self.cursor = 0
            self._perm = None
        if self.epoch >= self.max_epochs:
            raise DataExhausted(
                f"training data exhausted after {self.max_epochs} epoch(s) of {self.batches_per_epoch} batches "
                f"({self.n_train} windows); the validation windows are never used for training. "
                "Add data, lower --steps, or allow more passes with --max-epochs."
            )
        start = self.cursor * self.global_batch + self.rank * self.batch_size
        ids = self._permutation()[start : start + self.batch_size]
        self.cursor += 1
        return ids

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "cursor": self.cursor, "seed": self.seed, "n_train": self.n_train}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state["seed"] != self.seed or state["n_train"] != self.n_train:
            raise DataError("sampler state is from a different seed or dataset; cannot resume")
        self.epoch, self.cursor, self._perm = int(state["epoch"]), int(state["cursor"]), None


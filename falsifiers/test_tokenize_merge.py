"""Falsifier FALSIFY-TOK-014: N array tasks + ``apr tokenize merge`` equal a single run, byte for byte.

For a JSONL corpus (a large plain file the split cuts mid-file, a gzip and a multi-frame zstd file, bad
and blank lines skipped) and a Parquet corpus (several row groups), three tasks merged must give the
single run's token stream (all shards concatenated) byte for byte, and the same totals, corpus
listing (hashes, consumed ranges), skipped-line records and verification. A task killed with SIGKILL
and resumed, with its index taken from Slurm's environment variables, must not change that.

Negative cases: merging refuses a missing, incomplete, duplicated or overlapping task and mixed
options; and a merge that places the tasks' shards out of order is caught by the comparison.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tokenizer import tasks as tasks_mod
from tokenizer.encode import EncodeOptions, encode_corpus
from tokenizer.errors import TokenizeError
from tokenizer.manifest import deterministic_view, read_manifest, write_manifest
from tokenizer.merge import merge_tasks
from tokenizer.shards import read_tokens
from tokenizer.testing import (
    cached_small,
    cached_small_dir,
    compress_file,
    stdlib_documents,
    write_jsonl,
    write_parquet,
)

SHARD_TOKENS = 5_000


def _docs(max_chars: int, start: int) -> list[str]:
    texts = [t for _, t in stdlib_documents(max_chars, start=start)]
    return [t[i : i + 3000] for t in texts for i in range(0, len(t), 3000)]


def jsonl_corpus(tmp: Path) -> Path:
    docs = _docs(900_000, 200)
    root = tmp / "jsonl"
    q = len(docs) // 4
    write_jsonl(root / "a.jsonl", docs[: 2 * q])  # about half the bytes: a task boundary falls inside it
    compress_file(write_jsonl(tmp / "b.jsonl", docs[2 * q : 3 * q]), root / "b.jsonl.gz")
    c = write_jsonl(root / "c.jsonl", docs[3 * q : 3 * q + q // 2])
    with open(c, "a") as fh:
        fh.write('\nnot json\n{"text": 7}\n{"text": "after the bad lines"}\n')
    compress_file(write_jsonl(tmp / "d.jsonl", docs[3 * q + q // 2 :]), root / "sub" / "d.jsonl.zst",
                  frame_bytes=20_000)
    return root


def parquet_corpus(tmp: Path) -> Path:
    docs = _docs(700_000, 400)
    root = tmp / "parquet"
    half = len(docs) // 2
    write_parquet(root / "a.parquet", docs[:half], row_group_size=17)
    write_parquet(root / "b.parquet", [*docs[half:], None], row_group_size=23)  # a null text: a bad row
    return root


def _opts(corpus: Path, out: Path, **kw: object) -> EncodeOptions:
    base: dict[str, object] = {"shard_tokens": SHARD_TOKENS, "eos_policy": "between", "on_error": "skip",
                               "progress": "none", "durable": False, "chunk_bytes": 32_768}
    base.update(kw)
    return EncodeOptions(corpus=corpus, tokenizer=cached_small_dir(), output=out, **base)  # type: ignore[arg-type]


def run(corpus: Path, out: Path, **kw: object) -> Path:
    opts = _opts(corpus, out, **kw)
    encode_corpus(opts, tokenizer=cached_small())
    return opts.task_output


def stream(directory: Path) -> bytes:
    return read_tokens(directory).tobytes()


def merge_differences(merged: Path, single: Path) -> list[str]:
    """What differs between a merged dataset and a single run, other than where shards are cut."""
    diffs = []
    if stream(merged) != stream(single):
        diffs.append("token stream")
    a, b = deterministic_view(read_manifest(merged)), deterministic_view(read_manifest(single))
    diffs += [f"manifest.{k}" for k in a if k not in ("shards", "merged") and a[k] != b.get(k)]
    return diffs


@pytest.mark.falsifies("FALSIFY-TOK-014")
@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_three_tasks_and_merge_equal_one_run(tmp_path: Path, kind: str) -> None:
    corpus = jsonl_corpus(tmp_path) if kind == "jsonl" else parquet_corpus(tmp_path)
    single = run(corpus, tmp_path / "single")
    dirs = [run(corpus, tmp_path / "parts", num_tasks=3, task_index=i, workers=1 + i % 2) for i in range(3)]
    assert [d.name for d in dirs] == [f"task-0000{i}-of-00003" for i in range(3)]
    manifests = [read_manifest(d) for d in dirs]
    assert all(m.totals.documents > 0 for m in manifests)
    assert any(m.task.start.offset > 0 for m in manifests)  # type: ignore[union-attr]  # a split inside a file
    assert read_manifest(single).totals.skipped_lines == (2 if kind == "jsonl" else 1)
    merged = merge_tasks(tmp_path / "merged", dirs)
    assert merged.merged is not None and merged.merged.shards_per_task == [len(m.shards) for m in manifests]
    assert merge_differences(tmp_path / "merged", single) == []
    task_shard = dirs[1] / manifests[1].shards[0].name
    merged_shard = tmp_path / "merged" / merged.shards[len(manifests[0].shards)].name
    assert os.stat(task_shard).st_ino == os.stat(merged_shard).st_ino  # hard-linked, not copied


def _listed_shards(out: Path) -> int:
    try:
        return len(json.loads((out / "manifest.json").read_bytes())["shards"])
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return -1


@pytest.mark.slow
@pytest.mark.falsifies("FALSIFY-TOK-014")
@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_a_killed_and_resumed_task_still_merges_to_the_single_run(tmp_path: Path, kind: str) -> None:
    corpus = jsonl_corpus(tmp_path) if kind == "jsonl" else parquet_corpus(tmp_path)
    single = run(corpus, tmp_path / "single")
    parts = tmp_path / "parts"
    cmd = [sys.executable, "-m", "apr", "tokenize", "encode-corpus", "--corpus", str(corpus),
           "--tokenizer", str(cached_small_dir()), "--output", str(parts), "--workers", "2", "--progress", "none",
           "--shard-tokens", str(SHARD_TOKENS), "--eos-policy", "between", "--on-error", "skip",
           "--chunk-bytes", "8192"]
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "3"}
    task1 = parts / "task-00001-of-00003"  # Slurm ids 1..3: id 2 is the task with index 1
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while _listed_shards(task1) < 3:
        assert proc.poll() is None, f"finished before the kill point: {proc.stderr.read().decode()}"  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "kill point not reached"
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not read_manifest(task1).complete
    resumed = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "array task 1 of 3 (from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT)" in resumed.stderr
    assert read_manifest(task1).run.resumes == 1
    dirs = [run(corpus, parts, num_tasks=3, task_index=i) for i in (0, 2)]
    merge_tasks(tmp_path / "merged", [dirs[0], task1, dirs[1]])
    assert merge_differences(tmp_path / "merged", single) == []


@pytest.mark.falsifies("FALSIFY-TOK-014")
def test_merge_refuses_what_would_not_equal_a_single_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = jsonl_corpus(tmp_path)
    single = run(corpus, tmp_path / "single")
    dirs = [run(corpus, tmp_path / "parts", num_tasks=3, task_index=i) for i in range(3)]

    def refused(task_dirs: list[Path], match: str) -> None:
        with pytest.raises(TokenizeError, match=match):
            merge_tasks(tmp_path / "refused", task_dirs)
        assert not (tmp_path / "refused" / "manifest.json").exists()

    refused([dirs[0], dirs[2]], "task\\(s\\) 1 of 3 missing")
    refused([dirs[0], dirs[1], dirs[1], dirs[2]], "given twice")
    other = run(corpus, tmp_path / "other", num_tasks=3, task_index=1, eos_policy="after")
    refused([dirs[0], other, dirs[2]], "options differ .*eos_policy")
    m = read_manifest(dirs[2])
    m.complete = False
    write_manifest(dirs[2], m)
    refused(dirs, "task 2 of 3 is incomplete")
    m.complete = True
    write_manifest(dirs[2], m)

    # a split whose tasks overlap by one document: merge refuses it, and concatenating such tasks (what a
    # merge without the contiguity check would do) duplicates a document, which the comparison sees
    real_cut = tasks_mod._cut

    def one_line_early(files: list, prefix: list[int], target: int) -> tuple[int, int]:
        fi, off = real_cut(files, prefix, target)
        if off == 0:
            return fi, off
        data = files[fi].path.read_bytes()
        return fi, data.rfind(b"\n", 0, off - 1) + 1

    monkeypatch.setattr(tasks_mod, "_cut", one_line_early)
    overlapping = run(corpus, tmp_path / "overlap", num_tasks=3, task_index=1)
    monkeypatch.undo()
    assert read_manifest(overlapping).task.start.offset > 0  # type: ignore[union-attr]
    refused([dirs[0], overlapping, dirs[2]], "overlap or leave a gap")
    assert b"".join(stream(d) for d in dirs) == stream(single)
    assert b"".join(stream(d) for d in (dirs[0], overlapping, dirs[2])) != stream(single)
    assert b"".join(stream(d) for d in (dirs[1], dirs[0], dirs[2])) != stream(single)  # out of order

    merge_tasks(tmp_path / "merged", [dirs[2], dirs[0], dirs[1]])  # any argument order: merged by task index
    assert merge_differences(tmp_path / "merged", single) == []

"""Array tasks: the task index from flags or the scheduler's environment, and the corpus partition."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tokenizer.chunks import iter_chunks
from tokenizer.corpus import discover_corpus
from tokenizer.errors import TokenizeError
from tokenizer.tasks import plan_task, resolve_task
from tokenizer.testing import compress_file, write_jsonl, write_parquet


def test_task_index_from_flags_slurm_and_kubernetes() -> None:
    assert resolve_task(None, None, {}) == (1, 0, None)
    assert resolve_task(4, 3, {"SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_COUNT": "12"}) == (4, 3, None)
    slurm = {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "1",
             "SLURM_ARRAY_TASK_STEP": "2"}  # --array=1-7:2 -> ids 1, 3, 5, 7
    assert resolve_task(None, None, slurm) == (4, 3, "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT")
    assert resolve_task(8, None, {"JOB_COMPLETION_INDEX": "5"}) == (8, 5, "JOB_COMPLETION_INDEX")
    assert resolve_task(1, None, {}) == (1, 0, None)


@pytest.mark.parametrize(("num", "index", "env", "message"), [
    (None, 2, {}, "--task-index needs --num-tasks"),
    (3, None, {}, "without --task-index, and no SLURM_ARRAY_TASK_ID"),
    (None, None, {"JOB_COMPLETION_INDEX": "0"}, "the number of tasks is not known"),
    (3, 3, {}, "task index 3 is outside 0..2"),
    (None, None, {"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "2"}, "SLURM_ARRAY_TASK_ID='x' is not an"),
    (None, None, {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_STEP": "2"},
     "not on the array's grid"),
    (2, None, {"JOB_COMPLETION_INDEX": "2"}, "task index 2 is outside 0..1"),
])
def test_bad_task_settings_are_located_errors(num: int | None, index: int | None, env: dict[str, str],
                                               message: str) -> None:
    with pytest.raises(TokenizeError) as err:
        resolve_task(num, index, env)
    assert message in str(err.value) and err.value.exit_code == 2


def _mixed(tmp: Path) -> Path:
    root = tmp / "c"
    lines = [f"line {i} " + "x" * (i % 97) for i in range(3000)]
    write_jsonl(root / "a.jsonl", lines[:2000])
    compress_file(write_jsonl(tmp / "b.jsonl", lines[2000:2500]), root / "b.jsonl.gz")
    write_parquet(root / "c.parquet", lines[2500:], row_group_size=50)
    return root


@pytest.mark.parametrize("count", [1, 2, 3, 7, 40])
def test_tasks_cover_the_corpus_once_and_start_where_a_reader_can(tmp_path: Path, count: int) -> None:
    files = discover_corpus(_mixed(tmp_path)).files
    plans = [plan_task(files, count, i) for i in range(count)]
    assert plans[0].start.file_index == 0 and plans[0].start.offset == 0
    assert plans[-1].end.file_index == len(files) and plans[-1].end.offset == 0
    assert all(a.end == b.start for a, b in itertools.pairwise(plans))
    whole = [(c.file_index, c.read() if c.format != "parquet" else (c.start, c.end))
             for c in iter_chunks(files, 0, 0, 1 << 30)]
    pieces: list[tuple[int, object]] = []
    for p in plans:
        for c in iter_chunks(files, p.start.file_index, p.start.offset, 1 << 30, (p.end.file_index, p.end.offset)):
            if c.format == "jsonl":
                assert c.start == 0 or files[0].path.read_bytes()[c.start - 1 : c.start] == b"\n"  # a line start
            if c.format == "parquet":
                assert c.start % 50 == 0  # a row-group boundary
            if c.format == "jsonl.gz":
                assert c.start == 0  # compressed files are never split
            pieces.append((c.file_index, c.read() if c.format != "parquet" else (c.start, c.end)))
    # concatenating the tasks' pieces per file gives each file exactly once
    for k in range(len(files)):
        mine = [x for fi, x in pieces if fi == k]
        ref = [x for fi, x in whole if fi == k]
        if files[k].format == "parquet":
            assert [r for a, b in mine for r in range(a, b)] == [r for a, b in ref for r in range(a, b)]
        else:
            assert b"".join(mine) == b"".join(ref)  # type: ignore[arg-type]

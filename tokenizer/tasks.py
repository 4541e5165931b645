"""Array tasks: a deterministic, contiguous partition of the corpus, and the task index from the scheduler.

Task ``i`` of ``n`` encodes corpus positions ``[cut(i), cut(i+1))``. Cuts are placed by bytes on disk
(``i/n`` of the total), then moved to the next place a worker can start reading: a line start in plain
JSONL, a row-group boundary in Parquet, the nearer file boundary in compressed JSONL (which cannot be
read from the middle). Every task computes every cut from the same file list, so the tasks agree
without talking to each other, and the union of their ranges is the corpus exactly once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tokenizer.chunks import line_start_at_or_after
from tokenizer.corpus import CorpusFile
from tokenizer.errors import TokenizeError
from tokenizer.manifest import Cut, TaskInfo

MAX_TASKS = 100_000


def task_dir_name(index: int, count: int) -> str:
    return f"task-{index:05d}-of-{count:05d}"


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise TokenizeError(f"{name}={raw!r} is not an integer", where="environment",
                            fix=f"unset {name} or pass --num-tasks/--task-index explicitly") from None


def resolve_task(num_tasks: int | None, task_index: int | None,
                 env: Mapping[str, str] | None = None) -> tuple[int, int, str | None]:
    """(count, index, where it came from) from the flags, else Slurm array or Kubernetes indexed-job variables."""
    env = os.environ if env is None else env
    source = None
    if task_index is not None and num_tasks is None:
        raise TokenizeError("--task-index needs --num-tasks", fix="pass both, e.g. --num-tasks 8 --task-index 3")
    if num_tasks is None:
        slurm_id, slurm_count = _env_int(env, "SLURM_ARRAY_TASK_ID"), _env_int(env, "SLURM_ARRAY_TASK_COUNT")
        if slurm_id is not None and slurm_count is not None:
            num_tasks, task_index = slurm_count, _slurm_index(env, slurm_id, slurm_count)
            source = "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT"
        elif _env_int(env, "JOB_COMPLETION_INDEX") is not None:
            raise TokenizeError(
                "JOB_COMPLETION_INDEX is set (a Kubernetes indexed Job) but the number of tasks is not known",
                where="environment", fix="pass --num-tasks equal to the Job's completions, or --num-tasks 1",
            )
        else:
            return 1, 0, None
    if task_index is None:
        k8s = _env_int(env, "JOB_COMPLETION_INDEX")
        slurm_id = _env_int(env, "SLURM_ARRAY_TASK_ID")
        if k8s is not None:
            task_index, source = k8s, "JOB_COMPLETION_INDEX"
        elif slurm_id is not None:
            task_index, source = _slurm_index(env, slurm_id, num_tasks), "SLURM_ARRAY_TASK_ID"
        elif num_tasks == 1:
            task_index = 0
        else:
            raise TokenizeError(
                f"--num-tasks {num_tasks} without --task-index, and no SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX",
                fix="pass --task-index I (0-based), or run inside a Slurm array / Kubernetes indexed Job",
            )
    if not 1 <= num_tasks <= MAX_TASKS:
        raise TokenizeError(f"the number of tasks must be between 1 and {MAX_TASKS:,}, got {num_tasks}",
                            where=source or "--num-tasks")
    if not 0 <= task_index < num_tasks:
        raise TokenizeError(f"task index {task_index} is outside 0..{num_tasks - 1}", where=source or "--task-index",
                            fix="task indices are 0-based: 0 .. num_tasks-1")
    return num_tasks, task_index, source


def _slurm_index(env: Mapping[str, str], task_id: int, count: int) -> int:
    """Slurm array ids need not start at 0 (``--array=1-8``) or step by 1; the task index is the rank."""
    lo = _env_int(env, "SLURM_ARRAY_TASK_MIN") or 0
    step = _env_int(env, "SLURM_ARRAY_TASK_STEP") or 1
    if step < 1 or (task_id - lo) % step:
        raise TokenizeError(f"SLURM_ARRAY_TASK_ID={task_id} is not on the array's grid (min {lo}, step {step})",
                            where="environment", fix="pass --num-tasks and --task-index explicitly")
    return (task_id - lo) // step


def _cut(files: list[CorpusFile], prefix: list[int], target: int) -> tuple[int, int]:
    """The first readable position at or after ``target`` bytes into the corpus, as (file, offset)."""
    j = 0
    while j < len(files) and prefix[j + 1] <= target:
        j += 1
    if j == len(files):
        return len(files), 0
    f, local = files[j], target - prefix[j]
    if local == 0:
        return j, 0
    if f.compressed:
        return (j, 0) if 2 * local < f.size else (j + 1, 0)
    if f.format == "parquet":
        rows = f.rows * local // max(1, f.size)
        first = 0
        for n in f.row_groups:
            if first >= rows:
                break
            first += n
        return (j, first) if first < f.rows else (j + 1, 0)
    offset = line_start_at_or_after(str(f.path), local, f.size)
    return (j, offset) if offset < f.size else (j + 1, 0)


def plan_task(files: list[CorpusFile], count: int, index: int) -> TaskInfo:
    """Task ``index`` of ``count``: its [start, end) cut points."""
    prefix = [0]
    for f in files:
        prefix.append(prefix[-1] + f.size)
    total = prefix[-1]

    def at(k: int) -> Cut:
        if k == 0:
            return Cut(file_index=0, offset=0)
        if k == count:
            return Cut(file_index=len(files), offset=0)
        fi, off = _cut(files, prefix, total * k // count)
        return Cut(file_index=fi, offset=off)

    return TaskInfo(index=index, count=count, start=at(index), end=at(index + 1))

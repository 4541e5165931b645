"""``apr tokenize merge``: join the outputs of array tasks into one dataset equal to a single-task run.

The token stream of the merged dataset - its shards concatenated in order - is byte-identical to a
single ``encode-corpus`` run over the same corpus with the same options, and so are its totals, its
corpus listing (hashes and consumed ranges) and its skipped-line records; only the shard boundaries
differ (each task's last shard is short). Shards are hard-linked (no token is copied) unless
``copy=True``. Before anything is linked the tasks must be:

- complete, and array tasks of the same split (one output for every index 0..N-1, nothing twice);
- of the same corpus (the same listing fingerprint; a file split between two tasks has one sha256)
  and the same tokenizer and options;
- contiguous: task ``k`` ends exactly where task ``k+1`` starts, the first starts at the corpus's
  start and the last ends at its end;
- intact: every shard file has the size its manifest records (and the sha256, with ``check_sha``).

The manifest is written last and atomically: an interrupted merge leaves no manifest, and running it
again into the same directory starts over.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from safeio import AtomicFile, fsync_dir, sha256_file
from tokenizer.errors import TokenizeError, VerificationError
from tokenizer.manifest import (
    MANIFEST_FILE,
    MAX_SKIPPED_RECORDS,
    CorpusFileEntry,
    CorpusInfo,
    Counters,
    Cut,
    Manifest,
    MergeInfo,
    Position,
    RunInfo,
    ShardEntry,
    read_manifest,
    shard_name,
    write_manifest,
)
from tokenizer.shards import SHARD_RE
from tokenizer.version import PRODUCER


def _load(task_dirs: list[Path]) -> list[tuple[Path, Manifest]]:
    loaded = []
    for d in task_dirs:
        m = read_manifest(Path(d))
        where = str(Path(d) / MANIFEST_FILE)
        if m.task is None:
            raise TokenizeError("not the output of an array task (its manifest has no `task`)", where=where,
                                fix="merge the directories written by `encode-corpus --num-tasks N`")
        if not m.complete:
            raise TokenizeError(f"task {m.task.index} of {m.task.count} is incomplete", where=where,
                                fix="finish it: rerun its encode-corpus command with --resume")
        loaded.append((Path(d), m))
    return sorted(loaded, key=lambda dm: dm[1].task.index)  # type: ignore[union-attr]


def _check_same(parts: list[tuple[Path, Manifest]]) -> None:
    first_dir, first = parts[0]
    count = first.task.count  # type: ignore[union-attr]
    indices = [m.task.index for _, m in parts]  # type: ignore[union-attr]
    missing = sorted(set(range(count)) - set(indices))
    twice = sorted({i for i in indices if indices.count(i) > 1})
    if any(m.task.count != count for _, m in parts):  # type: ignore[union-attr]
        raise TokenizeError("the outputs come from splits into different numbers of tasks",
                            fix="merge the tasks of one --num-tasks run")
    if missing or twice:
        raise TokenizeError(
            (f"task(s) {', '.join(map(str, missing))} of {count} missing" if missing else "")
            + ("; " if missing and twice else "")
            + (f"task(s) {', '.join(map(str, twice))} given twice" if twice else ""),
            fix="pass every task directory exactly once (e.g. OUTPUT/task-*)",
        )
    for d, m in parts[1:]:
        where = str(d / MANIFEST_FILE)
        for name, a, b in (("tokenizer", first.tokenizer, m.tokenizer), ("options", first.config, m.config)):
            if a != b:
                diff = [k for k in type(a).model_fields if getattr(a, k) != getattr(b, k)]  # type: ignore[arg-type]
                raise TokenizeError(f"{name} differ from {first_dir}: {', '.join(diff)}", where=where,
                                    fix="every task must run with the same tokenizer and options")
        if (m.corpus.fingerprint, m.corpus.total_files) != (first.corpus.fingerprint,  # type: ignore[union-attr]
                                                            first.corpus.total_files):  # type: ignore[union-attr]
            raise TokenizeError(f"a different corpus from {first_dir} (file listing fingerprint differs)",
                                where=where, fix="every task must read the same corpus files")


def _check_contiguous(parts: list[tuple[Path, Manifest]]) -> None:
    total = parts[0][1].corpus.total_files  # type: ignore[union-attr]
    expect = Cut(file_index=0, offset=0)
    for d, m in parts:
        t = m.task
        assert t is not None
        if t.start != expect:
            raise TokenizeError(
                f"task {t.index} starts at {t.start.file_index}:{t.start.offset}, but the previous one ends at "
                f"{expect.file_index}:{expect.offset} (the ranges overlap or leave a gap)",
                where=str(d / MANIFEST_FILE), fix="merge the tasks of one split of one corpus",
            )
        expect = t.end
    if expect != Cut(file_index=total or 0, offset=0):
        raise TokenizeError(f"the last task ends at {expect.file_index}:{expect.offset}, not at the corpus end",
                            fix="merge the tasks of one split of one corpus")


def _merged_files(parts: list[tuple[Path, Manifest]]) -> list[CorpusFileEntry]:
    files: list[CorpusFileEntry] = []
    for d, m in parts:
        assert m.corpus is not None
        for k, entry in enumerate(m.corpus.files):
            index = m.corpus.first_file + k
            if index < len(files):  # a file split between this task and the previous one
                prev = files[index]
                if (prev.path, prev.size, prev.sha256) != (entry.path, entry.size, entry.sha256):
                    raise TokenizeError(f"{entry.path} differs between tasks (size or sha256)",
                                        where=str(d / MANIFEST_FILE),
                                        fix="the corpus changed while the tasks ran; re-run them on one snapshot")
                if prev.consumed[1] != entry.consumed[0]:
                    raise TokenizeError(f"{entry.path}: consumed ranges {prev.consumed} and {entry.consumed} "
                                        "do not meet", where=str(d / MANIFEST_FILE))
                files[index] = prev.model_copy(update={"consumed": (prev.consumed[0], entry.consumed[1])})
            else:
                files.append(entry.model_copy())
    return files


def _check_shards(parts: list[tuple[Path, Manifest]], check_sha: bool) -> None:
    for d, m in parts:
        for s in m.shards:
            path = d / s.name
            if not path.is_file() or path.stat().st_size != s.bytes or s.bytes != 4 * s.tokens:
                raise VerificationError(f"{s.name} is missing or its size differs from the manifest", where=str(d),
                                        fix="the task output was modified; re-run that task in an empty directory")
            if check_sha and sha256_file(path) != s.sha256:
                raise VerificationError(f"{s.name}: sha256 differs from the manifest", where=str(d),
                                        fix="the task output was modified; re-run that task in an empty directory")


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise TokenizeError("exists and is not a directory", where=str(out))
    if not out.exists():
        out.mkdir(parents=True)
        return
    entries = list(out.iterdir())
    if (out / MANIFEST_FILE).exists():
        raise TokenizeError("already holds a dataset (manifest.json)", where=str(out), fix="choose an empty directory")
    leftovers = [p for p in entries if SHARD_RE.match(p.name) or p.name.endswith(".tmp")]
    if len(leftovers) != len(entries):
        raise TokenizeError("output directory is not empty", where=str(out), fix="choose an empty directory")
    for p in leftovers:  # an interrupted merge: shard links and no manifest
        p.unlink()


def _place(src: Path, dest: Path, copy: bool, durable: bool) -> None:
    if copy:
        with open(src, "rb") as fh, AtomicFile(dest, durable=durable) as out:
            shutil.copyfileobj(fh, out)
        return
    try:
        os.link(src, dest)
    except OSError as exc:
        raise TokenizeError(
            f"cannot hard-link {src} ({exc.strerror}): the output must be on the same filesystem as the tasks",
            where=str(dest.parent), fix="choose an output on the tasks' filesystem, or pass --copy to copy the shards",
        ) from None


def merge_tasks(out: Path | str, task_dirs: Sequence[Path | str], *, copy: bool = False, check_sha: bool = False,
                durable: bool = True) -> Manifest:
    """Merge array-task outputs into ``out``; returns the merged manifest."""
    out = Path(out)
    if not task_dirs:
        raise TokenizeError("no task directories given", fix="pass OUTPUT/task-* of an encode-corpus --num-tasks run")
    parts = _load([Path(d) for d in task_dirs])
    _check_same(parts)
    _check_contiguous(parts)
    files = _merged_files(parts)
    _check_shards(parts, check_sha)
    first = parts[0][1]
    assert first.config is not None and first.corpus is not None and first.verification is not None
    later_documents = any(m.totals.documents for _, m in parts)
    if first.config.eos_policy == "between" and first.totals.documents == 0 and later_documents:
        raise TokenizeError(
            "task 0 encoded no documents, so with --eos-policy between the merged stream would start with an EOS "
            "that a single run would not write",
            fix="re-run the split with fewer tasks, or use --eos-policy after",
        )
    _prepare(out)
    shards: list[ShardEntry] = []
    totals = Counters()
    skipped = []
    for d, m in parts:
        for s in m.shards:
            name = shard_name(len(shards))
            _place(d / s.name, out / name, copy, durable)
            shards.append(s.model_copy(update={
                "name": name,
                "first_document": None if s.first_document is None else s.first_document + totals.documents,
            }))
        for field in Counters.model_fields:
            setattr(totals, field, getattr(totals, field) + getattr(m.totals, field))
        skipped += m.skipped
    if durable:
        fsync_dir(out)
    v = first.verification.model_copy()
    v.unk_rate = totals.unk_tokens / totals.tokens if totals.tokens else 0.0
    seen = [m.verification.max_token_id_seen for _, m in parts if m.verification is not None]
    v.max_token_id_seen = max((x for x in seen if x is not None), default=None)
    v.passed = all(m.verification is not None and m.verification.roundtrip_ok for _, m in parts) \
        and v.unk_rate <= v.max_unk_rate
    now = parts[-1][1].run.updated_at
    manifest = Manifest(
        producer=first.producer, complete=True, tokenizer=first.tokenizer, config=first.config,
        corpus=CorpusInfo(files=files, first_file=0, total_files=first.corpus.total_files,
                          fingerprint=first.corpus.fingerprint),
        position=Position(file_index=first.corpus.total_files or 0, offset=0, line=0),
        totals=totals, shards=shards, skipped=skipped[:MAX_SKIPPED_RECORDS], verification=v,
        merged=MergeInfo(tasks=len(parts), shards_per_task=[len(m.shards) for _, m in parts],
                         mode="copy" if copy else "hardlink"),
        run=RunInfo(
            started_at=min(m.run.started_at for _, m in parts), updated_at=now,
            elapsed_s=round(sum(m.run.elapsed_s for _, m in parts), 3), engine=first.run.engine,
            engine_check=first.run.engine_check, corpus_root=first.run.corpus_root,
            tokenizer_dir=first.run.tokenizer_dir,
            notes=[f"merged by {PRODUCER} from {len(parts)} array tasks: "
                   + ", ".join(str(d) for d, _ in parts[:8]) + (" …" if len(parts) > 8 else "")],
        ),
    )
    write_manifest(out, manifest, durable=durable)
    return manifest

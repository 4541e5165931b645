"""The output directory: start fresh, or validate everything a resume depends on.

A resume is only byte-identical if nothing it builds on changed: the options, the tokenizer bytes,
every corpus file (sha256), and every shard the manifest lists (sha256). Any difference is an error
naming what changed, never a silent restart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from safeio import LockHeldError, exclusive_lock, open_regular, sha256_file
from tokenizer.chunks import decompress_errors, open_decompressed
from tokenizer.corpus import Corpus, CorpusFile
from tokenizer.errors import TokenizeError
from tokenizer.loader import LoadedTokenizer
from tokenizer.manifest import (
    MANIFEST_FILE,
    CorpusFileEntry,
    CorpusInfo,
    Cut,
    EncodeConfig,
    Manifest,
    Position,
    TaskInfo,
    TokenizerInfo,
    read_manifest,
    shard_name,
)
from tokenizer.progress import Reporter
from tokenizer.shards import shard_files

#: The lock file a writer holds inside the output directory (see :func:`writer_lock`).
LOCK_FILE = ".encode-corpus.lock"


def corpus_info(corpus: Corpus, begin: Cut, end: Cut) -> CorpusInfo:
    """The files in ``[begin, end)``, hashed, plus the whole corpus's fingerprint: an array task lists and
    hashes only its own range, so neither the work nor every manifest rewrite grows with the task count."""
    last = end.file_index if end.offset else end.file_index - 1
    listed = corpus.files[begin.file_index : last + 1]
    return CorpusInfo(
        files=[CorpusFileEntry(path=f.rel, size=f.size, sha256=sha256_file(f.path), format=f.format,
                               rows=f.rows if f.format == "parquet" else None) for f in listed],
        first_file=begin.file_index if listed else 0, total_files=len(corpus.files),
        fingerprint=corpus.fingerprint(),
    )


def tokenizer_info(tok: LoadedTokenizer) -> TokenizerInfo:
    d = tok.summary
    return TokenizerInfo(
        sha256=tok.sha256,
        **d.counts,
        vocab_size=tok.meta.vocab_size if tok.meta else None,
        normalizer=d.normalizer_name,
        unk_id=tok.unk_id,
    )


def _check_resumable(old: Manifest, out: Path, config: EncodeConfig, tinfo: TokenizerInfo, corpus: CorpusInfo,
                     task: TaskInfo | None) -> None:
    where = str(out / MANIFEST_FILE)
    if old.repaired or old.config is None or old.corpus is None or old.tokenizer is None:
        raise TokenizeError(
            "this manifest was rebuilt from shards (repair-manifest) and has no corpus position",
            where=where, fix="start again in an empty output directory",
        )
    # fail -> skip is allowed: a prefix written under `fail` contains no bad line, so it is exactly what
    # `skip` would have written (not the reverse: a `skip` prefix may have skipped lines `fail` rejects)
    relaxed = old.config.on_error == "fail" and config.on_error == "skip"
    diff = [k for k in type(config).model_fields if getattr(old.config, k) != getattr(config, k)
            and not (k == "on_error" and relaxed)]
    if diff:
        raise TokenizeError(
            f"options differ from the interrupted run: {', '.join(diff)}",
            where=where, fix="resume with the original options, or start again in an empty directory",
        )
    if old.tokenizer.sha256 != tinfo.sha256:
        raise TokenizeError("the tokenizer changed since the interrupted run (tokenizer.json sha256 differs)",
                            where=where, fix="resume with the original tokenizer directory")
    if old.task != task:
        raise TokenizeError(
            f"the array-task split differs from the interrupted run ({_task_text(old.task)} then {_task_text(task)})",
            where=where, fix="resume with the original --num-tasks/--task-index and corpus",
        )
    old_files = [(f.path, f.size, f.sha256, f.format) for f in old.corpus.files]
    new_files = [(f.path, f.size, f.sha256, f.format) for f in corpus.files]
    if old_files != new_files or (old.corpus.fingerprint or corpus.fingerprint) != corpus.fingerprint:
        changed = next((a[0] for a, b in zip(old_files, new_files, strict=False) if a != b), "the file list")
        raise TokenizeError(
            f"the corpus changed since the interrupted run ({changed})",
            where=where, fix="resume requires byte-identical corpus files; start again in an empty directory",
        )
    for entry in old.shards:
        path = out / entry.name
        if not path.is_file() or path.stat().st_size != entry.bytes or sha256_file(path) != entry.sha256:
            raise TokenizeError(
                f"{entry.name} does not match the manifest (missing, resized or modified)",
                where=str(out), fix="the output was modified after the crash; start again in an empty directory",
            )


def _task_text(task: TaskInfo | None) -> str:
    return "no tasks" if task is None else f"task {task.index} of {task.count}"


def _where(p: Position) -> str:
    return f"file #{p.file_index}, line {p.line}, byte {p.offset}"


def _lines_before(f: CorpusFile, offset: int) -> tuple[int, bytes]:
    """Newlines in the first ``offset`` (decompressed) bytes of JSONL file ``f``, and the byte before ``offset``."""
    count, last, left = 0, b"", offset
    try:
        with open_regular(f.path) as raw, \
                (open_decompressed(f, raw) if f.compressed else contextlib.nullcontext(raw)) as fh:
            while left:
                block = fh.read(min(left, 1 << 20))
                if not block:
                    break
                count += block.count(b"\n")
                last, left = block[-1:], left - len(block)
    except decompress_errors() as exc:
        raise TokenizeError(f"cannot read to the resume position: {exc}", where=f.rel) from None
    if left:
        raise TokenizeError(f"the resume position (byte {offset}) is past the end of the file", where=f.rel,
                            fix="the manifest was edited or the file replaced; start again in an empty directory")
    return count, last


def check_resume_position(old: Manifest, out: Path, files: list[CorpusFile], origin: Position) -> None:
    """The interrupted run's position must be exactly where its last listed shard ends, and a place a
    run can stop: the start of a line, after as many lines as the manifest says.

    ``position`` is the one field a resume trusts blindly (it decides which documents are encoded
    next), and nothing else in the manifest depends on it, so an edit or a bug that moves it would
    silently drop or duplicate documents in an output later marked complete. Each shard records
    its own ``end``; the last one must agree. Totals must be the sums of the listed shards.
    """
    where = str(out / MANIFEST_FILE)
    fix = "the manifest was edited or damaged; start again in an empty directory (or run " \
        "`apr tokenize repair-manifest DIR` to keep the shards, which cannot then be resumed)"
    pos = old.position
    ends = [s.end for s in old.shards]
    if any(e is None for e in ends):
        raise TokenizeError("a listed shard does not record where it ends in the corpus", where=where, fix=fix)
    expected = ends[-1] if ends else origin
    if pos != expected:
        raise TokenizeError(
            f"the resume position ({_where(pos)}) is not where the last listed shard "
            f"({old.shards[-1].name if old.shards else 'none: the origin'}) ends ({_where(expected)})",
            where=where, fix=fix)
    keys = [(e.file_index, e.offset) for e in ends]  # type: ignore[union-attr]
    if keys != sorted(keys):
        raise TokenizeError("the shards' recorded end positions go backwards", where=where, fix=fix)
    names = [s.name for s in old.shards]
    if names != [shard_name(i) for i in range(len(names))]:
        raise TokenizeError("the listed shards are not shard-00000.bin, shard-00001.bin, … in order", where=where,
                            fix=fix)
    docs = [s.documents for s in old.shards]
    if old.totals.tokens != sum(s.tokens for s in old.shards) or (
            None not in docs and old.totals.documents != sum(docs)):  # type: ignore[arg-type]
        raise TokenizeError("the totals are not the sums of the listed shards", where=where, fix=fix)
    if pos.file_index > len(files):
        raise TokenizeError(f"the resume position names corpus file #{pos.file_index}, but the corpus has "
                            f"{len(files)}", where=where, fix=fix)
    if pos.file_index == len(files):
        if (pos.offset, pos.line) != (0, 0):
            raise TokenizeError(f"the resume position ({_where(pos)}) is past the end of the corpus", where=where,
                                fix=fix)
        return
    f = files[pos.file_index]
    if f.format == "parquet":  # a position is a row index, and rows are lines
        if pos.offset > f.rows or pos.line != pos.offset:
            raise TokenizeError(f"the resume position (row {pos.offset}, {pos.line} rows consumed) is not a row "
                                f"boundary of {f.rel} ({f.rows} rows)", where=where, fix=fix)
        return
    if not f.compressed and pos.offset > f.size:
        raise TokenizeError(f"the resume position (byte {pos.offset}) is past the end of {f.rel} ({f.size} bytes)",
                            where=where, fix=fix)
    newlines, before = _lines_before(f, pos.offset)
    at_end_without_newline = before not in (b"", b"\n") and pos.offset == f.size
    if pos.offset and before != b"\n" and not at_end_without_newline:
        raise TokenizeError(f"the resume position (byte {pos.offset} of {f.rel}) is not at the start of a line",
                            where=where, fix=fix)
    if pos.line != newlines + int(at_end_without_newline):
        raise TokenizeError(
            f"the resume position says {pos.line} lines of {f.rel} were consumed, but byte {pos.offset} is after "
            f"line {newlines + int(at_end_without_newline)}", where=where, fix=fix)


def _is_leftover(p: Path) -> bool:
    return p.name.endswith(".tmp") or p.name.startswith(f".{MANIFEST_FILE}.tmp-") or p.name == LOCK_FILE


@contextlib.contextmanager
def writer_lock(out: Path) -> Iterator[Path]:
    """Be the only writer of ``out`` for the ``with`` block, or fail at once naming the one who is.

    The lock is an OS file lock (:func:`safeio.exclusive_lock`): the kernel drops it when its holder
    dies, so a crashed or killed run never blocks ``--resume``. ``out`` is created for the lock file
    (with any missing parents) and removed again if the run leaves nothing in it (a refused run
    leaves no trace).
    """
    if out.exists() and not out.is_dir():
        raise TokenizeError("output exists and is not a directory", where=str(out),
                            fix="choose a directory path for --output")
    created = [p for p in (out, *out.parents) if not p.exists()]  # deepest first
    out.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive_lock(out / LOCK_FILE):
            yield out
    except LockHeldError as exc:
        raise TokenizeError(
            f"another encode-corpus is writing to this directory ({exc.holder})", where=str(out),
            fix="wait for that run to finish, or stop it; a killed run's lock is released by the kernel, so "
            "`--resume` works right after a crash") from None
    finally:
        for p in created:
            try:
                p.rmdir()  # only succeeds when empty
            except OSError:
                break


def _remove_stale(out: Path, keep: int) -> None:
    """Delete leftovers of the killed run: temp files and renamed shards the manifest never listed."""
    for p in out.glob("*.tmp"):
        p.unlink()
    for idx, p in shard_files(out).items():
        if idx >= keep:
            p.unlink()
    for p in out.glob(f".{MANIFEST_FILE}.tmp-*"):
        p.unlink()


def prepare_output(out: Path, resume: bool, config: EncodeConfig, tinfo: TokenizerInfo, corpus: CorpusInfo,
                   task: TaskInfo | None, files: list[CorpusFile], origin: Position,
                   reporter: Reporter) -> Manifest | None:
    """The manifest to resume from, or None for a fresh run (after checking the directory is usable).

    Call it holding :func:`writer_lock`: it decides from what is in the directory.
    """
    if out.exists() and not out.is_dir():
        raise TokenizeError("output exists and is not a directory", where=str(out))
    has_manifest = (out / MANIFEST_FILE).is_file()
    if has_manifest and resume:
        old = read_manifest(out)
        _check_resumable(old, out, config, tinfo, corpus, task)
        if not old.complete:
            check_resume_position(old, out, files, origin)
        _remove_stale(out, len(old.shards))
        return old
    if has_manifest:
        raise TokenizeError(
            "output directory already holds an encoded corpus",
            where=str(out), fix="pass --resume to continue it, or choose an empty directory",
        )
    if out.is_dir() and any(p.name != LOCK_FILE for p in out.iterdir()):
        if all(_is_leftover(p) for p in out.iterdir()):
            _remove_stale(out, 0)  # only temp files of a run killed before its first manifest
        else:
            raise TokenizeError(
                "output directory is not empty and has no manifest.json",
                where=str(out),
                fix="choose an empty directory; if it holds shards from a crashed run, "
                "`apr tokenize repair-manifest DIR` describes them",
            )
    if resume:
        reporter.note("no manifest.json in the output directory; starting from the beginning")
    return None

"""The output directory: start fresh, or validate everything a resume depends on.

A resume is only byte-identical if nothing it builds on changed: the options, the tokenizer bytes,
every corpus file (sha256), and every shard the manifest lists (sha256). Any difference is an error
naming what changed, never a silent restart.
"""

from __future__ import annotations

from pathlib import Path

from safeio import sha256_file
from tokenizer.corpus import Corpus
from tokenizer.errors import TokenizeError
from tokenizer.loader import LoadedTokenizer
from tokenizer.manifest import (
    MANIFEST_FILE,
    CorpusFileEntry,
    CorpusInfo,
    Cut,
    EncodeConfig,
    Manifest,
    TaskInfo,
    TokenizerInfo,
    read_manifest,
)
from tokenizer.progress import Reporter
from tokenizer.shards import shard_files


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


def _is_leftover(p: Path) -> bool:
    return p.name.endswith(".tmp") or p.name.startswith(f".{MANIFEST_FILE}.tmp-")


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
                   task: TaskInfo | None, reporter: Reporter) -> Manifest | None:
    """The manifest to resume from, or None for a fresh run (after checking the directory is usable)."""
    if out.exists() and not out.is_dir():
        raise TokenizeError("output exists and is not a directory", where=str(out))
    has_manifest = (out / MANIFEST_FILE).is_file()
    if has_manifest and resume:
        old = read_manifest(out)
        _check_resumable(old, out, config, tinfo, corpus, task)
        _remove_stale(out, len(old.shards))
        return old
    if has_manifest:
        raise TokenizeError(
            "output directory already holds an encoded corpus",
            where=str(out), fix="pass --resume to continue it, or choose an empty directory",
        )
    if out.is_dir() and any(out.iterdir()):
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

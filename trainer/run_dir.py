"""The run directory (``--out``): never silently replaced.

A run writes ``train.log``, ``metrics.jsonl``, ``summary.json``, ``checkpoint.apr`` and ``resume/``
into ``--out``. Pointing a new run at a directory that already holds a run would replace its
checkpoint, summary and metrics without a word, so a non-empty ``--out`` is refused, listing what is
there, unless the run continues it (``--resume`` of that directory) or replaces it on purpose
(``--overwrite``). ``--overwrite`` removes the files a run writes - above all ``resume/``, which a
later ``--resume`` of the new run would otherwise pick up from the old one - and nothing else.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from trainer.errors import TrainerInputError

RUN_FILES = ("train.log", "metrics.jsonl", "summary.json", "checkpoint.apr")
RESUME_DIRNAME = "resume"


class RunDirError(TrainerInputError):
    """``--out`` is not a directory a new run may write into."""


def _listing(out: Path, limit: int = 8) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in out.iterdir())
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_run_dir(out: Path, *, resume: Path | None, overwrite: bool) -> None:
    """Raise :class:`RunDirError` unless ``out`` is absent, empty, being resumed, or to be overwritten."""
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out}: exists and is not a directory\n  how to fix: pass a directory path "
                          "(the run writes train.log, metrics.jsonl, summary.json and checkpoint.apr into it)")
    if resume is not None and overwrite:
        raise RunDirError("--overwrite and --resume conflict: --overwrite deletes the resume state --resume "
                          "continues from\n  how to fix: drop one of them")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if resume is not None and resume.resolve() == out.resolve():
        return
    if overwrite:
        return
    hint = f"pass --resume {out} to continue that run, " if (out / RESUME_DIRNAME).is_dir() else ""
    raise RunDirError(f"--out {out}: not empty ({_listing(out)}); a new run would replace what is there\n"
                      f"  how to fix: {hint}pass --overwrite to replace it, or choose another --out")


def clear_run_files(out: Path) -> list[str]:
    """For ``--overwrite``: remove what a previous run wrote into ``out``; returns the removed names."""
    removed = []
    for name in RUN_FILES:
        p = out / name
        if p.is_file() or p.is_symlink():
            p.unlink()
            removed.append(name)
    if (out / RESUME_DIRNAME).is_dir():
        shutil.rmtree(out / RESUME_DIRNAME)
        removed.append(RESUME_DIRNAME + "/")
    return removed

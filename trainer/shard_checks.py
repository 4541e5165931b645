"""Before step 1: the shards directory holds exactly what the tokenizer wrote and verified.

The manifest is the contract between ``apr tokenize encode-corpus`` and ``apr pretrain``
(contract ``apr-shards-handoff-v1``); it is read through the tokenizer's own model, so there is one
schema and no guessed key spellings. Training is refused (exit 2, naming the file, the reason and the
fix) unless

- the manifest is complete and its verification passed (``--allow-unverified`` admits a failed,
  missing or repaired verdict, loudly, and the run's summary records it);
- every listed shard is a regular file with its recorded size and sha256;
- no unlisted ``shard-*.bin`` lies beside them: it would be trained on by anything that globs, and
  since validation is the tail of the stream, it would also become validation data. The policy is to
  refuse, not to skip with a warning: a stray shard means the directory is not what the manifest
  describes (two runs mixed, a copy gone wrong), and nothing downstream can tell which part is right;
- the largest token id is below the model's vocab: the manifest's recorded maximum when it has one
  (its bytes were just verified), else a scan.

Hashing is done once per file version, not once per run: see :class:`safeio.DigestCache`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from safeio import DigestCache, NotRegularFileError
from tokenizer.errors import TokenizeError
from tokenizer.manifest import MANIFEST_FILE, Manifest, read_manifest
from tokenizer.shards import TOKEN_DTYPE, shard_files
from trainer.data import DataError

CONTRACT = "apr-shards-handoff-v1"
_SCAN_CHUNK = 1 << 24


class HandoffError(DataError):
    """The shards directory is not what its manifest describes, or was not verified (exit 2)."""


@dataclass
class HandoffReport:
    """What was checked, for the run's log and summary.json."""

    manifest: Manifest | None
    verified: bool
    allow_unverified: bool
    unverified_reasons: list[str] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)
    max_token_id: int = 0
    max_token_id_source: str = ""
    cache_hits: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "allow_unverified": self.allow_unverified,
            "unverified_reasons": self.unverified_reasons,
            "max_token_id": self.max_token_id,
            "max_token_id_source": self.max_token_id_source,
            "shards": len(self.manifest.shards) if self.manifest else None,
            "hashes_from_cache": self.cache_hits,
        }


def _fail(where: Path, what: str, fix: str) -> HandoffError:
    return HandoffError(f"{where}: {what}\n  how to fix: {fix} (contract {CONTRACT})")


def _unverified_reasons(m: Manifest) -> list[str]:
    reasons = []
    if m.repaired:
        reasons.append("the manifest was rebuilt by repair-manifest: nothing about the corpus was verified")
    elif not m.complete:
        reasons.append("the manifest marks the encode incomplete (an interrupted run)")
    v = m.verification
    if v is None:
        if not m.repaired:
            reasons.append("the manifest has no verification record")
    elif not v.passed:
        reasons.append(f"verification failed: unknown-token rate {v.unk_rate:.3%} exceeds {v.max_unk_rate:.3%} "
                       "(encode-corpus exited 3: do not train on these shards)")
    return reasons


def _check_files(directory: Path, m: Manifest, cache: DigestCache) -> dict[str, str]:
    """Listed shards present with recorded size and sha256; nothing unlisted beside them."""
    mpath = directory / MANIFEST_FILE
    listed = [s.name for s in m.shards]
    if not listed:
        raise _fail(mpath, "the manifest lists no shards", "encode a corpus into this directory first")
    if len(set(listed)) != len(listed):
        raise _fail(mpath, "a shard is listed twice", "rebuild the manifest with `apr tokenize repair-manifest`")
    try:
        on_disk = {p.name for p in shard_files(directory).values()}
    except TokenizeError as exc:
        raise _fail(directory, exc.what, exc.fix or "") from None
    stray = sorted(on_disk - set(listed))
    if stray:
        shown = ", ".join(stray[:3]) + (f" and {len(stray) - 3} more" if len(stray) > 3 else "")
        raise _fail(directory, f"{len(stray)} shard file(s) not listed in manifest.json: {shown}; they would be "
                    "read as training (and validation) data the tokenizer never verified",
                    "move them out of the directory, or re-encode; the trainer reads exactly the listed shards")
    hashes: dict[str, str] = {}
    for s in m.shards:
        path = directory / s.name
        if not path.exists():
            raise _fail(path, "listed in manifest.json but missing", "restore it, or re-encode the corpus")
        if not path.is_file():
            raise _fail(path, "is not a regular file", "replace it with the shard the manifest lists")
        size = path.stat().st_size
        if size != s.bytes or s.bytes != TOKEN_DTYPE.itemsize * s.tokens:
            raise _fail(path, f"{size} bytes on disk, manifest.json says {s.bytes} bytes / {s.tokens} tokens "
                        "(truncated, grown or replaced)", "restore the shard, or re-encode the corpus")
        try:
            digest = cache.digest(path)
        except NotRegularFileError as exc:
            raise _fail(path, f"is {exc.kind}, not a regular file", "replace it with the listed shard") from None
        if digest != s.sha256:
            raise _fail(path, f"sha256 {digest[:16]}… differs from manifest.json's {s.sha256[:16]}… (the bytes "
                        "changed after encoding)", "restore the shard, or re-encode the corpus")
        hashes[s.name] = digest
    cache.save()
    return hashes


def _scan_max(paths: list[Path]) -> tuple[int, str]:
    best, where = -1, ""
    for p in paths:
        n = p.stat().st_size // TOKEN_DTYPE.itemsize
        if not n:
            continue
        arr = np.memmap(p, dtype=TOKEN_DTYPE, mode="r", shape=(n,))
        for start in range(0, n, _SCAN_CHUNK):
            top = int(arr[start : start + _SCAN_CHUNK].max())
            if top > best:
                best, where = top, p.name
        del arr
    return best, where


def check_shards(directory: str | Path, model_vocab: int, *, allow_unverified: bool = False,
                 cache: DigestCache | None = None) -> HandoffReport:
    """Everything above, before any weight is read; raises :class:`HandoffError` on the first violation."""
    directory = Path(directory)
    if not directory.is_dir():
        raise _fail(directory, "shards directory does not exist", "run `apr tokenize encode-corpus` first")
    try:
        m = read_manifest(directory)
    except TokenizeError as exc:
        raise _fail(Path(exc.where or directory), exc.what,
                    "the trainer reads only shards an encode-corpus manifest lists: re-encode the corpus, or run "
                    "`apr tokenize repair-manifest DIR` to list the shards and train with --allow-unverified") from None
    reasons = _unverified_reasons(m)
    if reasons and not allow_unverified:
        raise _fail(directory / MANIFEST_FILE, "the shards are not verified: " + "; ".join(reasons),
                    "finish or redo `apr tokenize encode-corpus` until it exits 0; to train anyway, pass "
                    "--allow-unverified (recorded in summary.json)")
    cache = cache or DigestCache()
    hashes = _check_files(directory, m, cache)
    report = HandoffReport(m, verified=not reasons, allow_unverified=allow_unverified, unverified_reasons=reasons,
                           hashes=hashes, cache_hits=cache.hits)
    recorded = m.verification.max_token_id_seen if m.verification else None
    if recorded is not None:
        report.max_token_id, report.max_token_id_source = recorded, "manifest.json verification.max_token_id_seen"
        where = f"{directory / MANIFEST_FILE} records max token id {recorded:,}"
    else:
        top, shard = _scan_max([directory / s.name for s in m.shards])
        report.max_token_id, report.max_token_id_source = top, "scan of every shard"
        where = f"{directory / shard}: token id {top:,}"
    if report.max_token_id >= model_vocab:
        raise HandoffError(
            f"{where}, but the model's embedding table has {model_vocab:,} rows: that id would index out of "
            f"bounds\n  how to fix: the shards were encoded with a tokenizer larger than the model; re-encode them "
            f"with the model's tokenizer, or use a model whose vocab_size covers the ids (contract {CONTRACT})")
    return report

"""Falsifier FALSIFY-TOK-003: SIGKILL at any point, then --resume, gives byte-identical output.

A real ``apr tokenize encode-corpus`` subprocess (two worker processes) is killed with SIGKILL at
several points - during start-up, right after the first manifest, in the middle of a shard (a
``.tmp`` exists), and just after a manifest rewrite - and resumed after each kill. After every kill
the manifest on disk must be valid and describe only complete shards; the final output must equal,
byte for byte, an uninterrupted run. The negative case resumes from a manifest whose position was
moved back one shard and requires the comparison to see the difference.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tokenizer import outdir
from tokenizer.encode import EncodeOptions, encode_corpus
from tokenizer.errors import TokenizeError
from tokenizer.manifest import deterministic_view, read_manifest, write_manifest
from tokenizer.shards import verify_output
from tokenizer.testing import cached_small, cached_small_dir, stdlib_documents, write_jsonl

SHARD_TOKENS = 6_000
OPTIONS = ["--shard-tokens", str(SHARD_TOKENS), "--eos-policy", "between", "--chunk-bytes", "32768"]


def _corpus(tmp: Path, max_chars: int = 2_000_000) -> Path:
    texts = [t for _, t in stdlib_documents(max_chars, start=40)]
    docs = [t[i : i + 4000] for t in texts for i in range(0, len(t), 4000)]
    # two files so a resume also crosses a file boundary
    half = len(docs) // 2
    write_jsonl(tmp / "corpus" / "a.jsonl", docs[:half])
    write_jsonl(tmp / "corpus" / "b.jsonl", docs[half:])
    return tmp / "corpus"


def _spawn(corpus: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "apr", "tokenize", "encode-corpus", "--corpus", str(corpus),
        "--tokenizer", str(cached_small_dir()), "--output", str(out), "--workers", "2", "--quiet", *OPTIONS, *extra,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _listed_shards(out: Path) -> int:
    try:
        return len(json.loads((out / "manifest.json").read_bytes())["shards"])
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return -1


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields after the command name: state, ppid, ...


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and fields[1] == str(pid):
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _kill_when(proc: subprocess.Popen[bytes], condition: Callable[[], bool], what: str, timeout: float = 60) -> int:
    """SIGKILL the main process once ``condition`` holds; returns how many worker processes it had."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"the run finished (rc {proc.returncode}) before the kill point '{what}': {err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"kill point '{what}' not reached in {timeout} s")
        time.sleep(0.0005)
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    orphans = [w for w in workers if _alive(w)]
    with contextlib.suppress(ProcessLookupError):  # clean up before asserting: nothing may outlive the test
        os.killpg(proc.pid, signal.SIGKILL)
    assert not orphans, "worker processes outlived the killed main process"
    return len(workers)


def _assert_consistent_after_kill(out: Path) -> int:
    """A SIGKILL at any moment leaves either no manifest or a valid one listing only whole shards."""
    if not (out / "manifest.json").exists():
        assert not any(out.glob("shard-*.bin")) if out.exists() else True
        return 0
    report = verify_output(out, check_sha=True)
    assert report.ok, report.problems
    assert not report.manifest.complete
    return len(report.manifest.shards)


def output_differences(a: Path, b: Path) -> list[str]:
    ma, mb = read_manifest(a), read_manifest(b)
    diffs = []
    if deterministic_view(ma) != deterministic_view(mb):
        va, vb = deterministic_view(ma), deterministic_view(mb)
        diffs.append(f"manifests differ in {[k for k in va if va[k] != vb.get(k)]}")
    names_a = sorted(p.name for p in a.glob("shard-*.bin"))
    names_b = sorted(p.name for p in b.glob("shard-*.bin"))
    if names_a != names_b:
        diffs.append(f"shard files differ: {len(names_a)} vs {len(names_b)}")
    diffs += [f"{n} bytes differ" for n in names_a if n in names_b and (a / n).read_bytes() != (b / n).read_bytes()]
    return diffs


def _reference(tmp: Path, corpus: Path) -> Path:
    out = tmp / "reference"
    opts = EncodeOptions(
        corpus=corpus, tokenizer=cached_small_dir(), output=out, shard_tokens=SHARD_TOKENS, eos_policy="between",
        workers=1, progress="none", durable=False,
    )
    encode_corpus(opts, tokenizer=cached_small())
    return out


@pytest.mark.slow
@pytest.mark.falsifies("FALSIFY-TOK-003")
def test_sigkill_at_several_points_then_resume_is_byte_identical(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    reference = _reference(tmp_path, corpus)
    total_shards = len(read_manifest(reference).shards)
    assert total_shards >= 60, "the corpus must span many shards for the kill points to be distinct"
    out = tmp_path / "killed"

    # 1. during start-up, before anything is written
    proc = _spawn(corpus, out)
    time.sleep(0.05)
    _kill_when(proc, lambda: True, "start-up")
    assert _assert_consistent_after_kill(out) == 0

    # 2. as soon as the first manifest exists (0 shards listed)
    proc = _spawn(corpus, out, "--resume")
    _kill_when(proc, lambda: _listed_shards(out) >= 0, "first manifest")
    seen = [_assert_consistent_after_kill(out)]

    # 3. in the middle of a shard: a .tmp is being written, several shards are complete
    proc = _spawn(corpus, out, "--resume")
    assert _kill_when(proc, lambda: _listed_shards(out) >= 8 and any(out.glob("*.tmp")), "mid-shard") == 2
    seen.append(_assert_consistent_after_kill(out))

    # 4. right after a manifest rewrite, further in (crossing into the second corpus file)
    target = total_shards * 2 // 3
    proc = _spawn(corpus, out, "--resume")
    assert _kill_when(proc, lambda: _listed_shards(out) >= target, "after a manifest rewrite") == 2
    seen.append(_assert_consistent_after_kill(out))
    assert seen == sorted(seen) and seen[-1] >= target, seen  # each resume made progress

    # 5. a stale renamed shard and a torn temp file, as a kill between rename and manifest write leaves
    listed = seen[-1]
    (out / f"shard-{listed:05d}.bin").write_bytes(b"\x07\x00\x00\x00" * 3)
    (out / f"shard-{listed + 1:05d}.bin.tmp").write_bytes(b"\x01\x02\x03")

    proc = _spawn(corpus, out, "--resume")
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode() if proc.stderr else ""
    final = read_manifest(out)
    assert final.complete and final.run.resumes == 3  # kill 1 left no manifest, so run 2 started afresh
    assert not list(out.glob("*.tmp"))
    assert output_differences(reference, out) == []


@pytest.mark.falsifies("FALSIFY-TOK-003")
def test_resume_from_a_wrong_position_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative case: a resume that restarts one shard too early duplicates documents, and the
    byte comparison used above reports it. The resume itself refuses such a manifest (its position
    is not where its last shard ends), so the comparison is shown with that guard switched off."""
    corpus = _corpus(tmp_path, 300_000)
    reference = _reference(tmp_path, corpus)
    out = tmp_path / "bad"
    opts = EncodeOptions(
        corpus=corpus, tokenizer=cached_small_dir(), output=out, shard_tokens=SHARD_TOKENS, eos_policy="between",
        workers=1, progress="none", durable=False,
    )
    encode_corpus(opts, tokenizer=cached_small())
    m = read_manifest(out)
    # pretend the run died after shard 10, but with the position of shard 9 (the bug to catch)
    keep = 10
    for s in m.shards[keep:]:
        (out / s.name).unlink()
    m.shards = m.shards[:keep]
    m.complete = False
    m.position = m.shards[keep - 2].end  # type: ignore[assignment]
    m.totals.tokens = sum(s.tokens for s in m.shards)
    m.totals.documents = sum(s.documents or 0 for s in m.shards)
    write_manifest(out, m)
    with pytest.raises(TokenizeError, match=r"resume position .* is not where the last listed shard"):
        encode_corpus(opts.model_copy(update={"resume": True}), tokenizer=cached_small())
    monkeypatch.setattr(outdir, "check_resume_position", lambda *a: None)
    encode_corpus(opts.model_copy(update={"resume": True}), tokenizer=cached_small())
    assert output_differences(reference, out) != []

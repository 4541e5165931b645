"""Falsifiers of contract apr-shards-handoff-v1: what the tokenizer hands the trainer is what was verified.

Each refusal is shown twice: the guard refuses the bad input with a located message (exit 2 through
the CLI), and with the guard switched off (a monkeypatched mutation of the same code) the harm it
prevents really happens - documents lost, a second writer let in, ids that differ run to run - so a
test that could not fail cannot pass here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest

from tokenizer import hf_json, outdir
from tokenizer.encode import EncodeOptions, encode_corpus
from tokenizer.errors import TokenizeError
from tokenizer.importers import import_hf
from tokenizer.manifest import Manifest, Position, read_manifest, write_manifest
from tokenizer.shards import read_tokens
from tokenizer.testing import cached_small, cached_small_dir, stdlib_documents, write_jsonl

ROOT = Path(__file__).resolve().parents[1]
N_DOCS = 720


def _docs(n: int = N_DOCS) -> list[str]:
    return [f"document {i}: " + " ".join(f"w{(i * 7 + j) % 97}" for j in range(12 + i % 9)) for i in range(n)]


def _opts(corpus: Path, out: Path, **kw: object) -> EncodeOptions:
    base: dict[str, object] = {"shard_tokens": 400, "progress": "none", "durable": False, "eos_policy": "after"}
    return EncodeOptions(corpus=corpus, tokenizer=cached_small_dir(), output=out, **{**base, **kw})  # type: ignore[arg-type]


def _interrupted(tmp: Path, keep: int = 12) -> tuple[Path, Path]:
    """A run killed after ``keep`` shards: what --resume legitimately starts from."""
    corpus = write_jsonl(tmp / "corpus.jsonl", _docs())
    out = tmp / "out"
    m = encode_corpus(_opts(corpus, out), tokenizer=cached_small())
    assert m.totals.documents == N_DOCS and len(m.shards) > keep + 5
    for s in m.shards[keep:]:
        (out / s.name).unlink()
    m.shards = m.shards[:keep]
    m.complete = False
    m.position = m.shards[-1].end  # type: ignore[assignment]
    m.totals.tokens = sum(s.tokens for s in m.shards)
    m.totals.documents = sum(s.documents or 0 for s in m.shards)
    write_manifest(out, m)
    return corpus, out


def _tamper(out: Path, **position: int) -> Manifest:
    m = read_manifest(out)
    m.position = m.position.model_copy(update=position)
    write_manifest(out, m)
    return m


def _documents_in(out: Path) -> int:
    """Documents actually in the shards (one EOS each under eos_policy=after), not what the manifest claims."""
    eos = cached_small().token_id("<|endoftext|>")
    return int((read_tokens(out) == eos).sum())


def _forward_five_lines(out: Path) -> dict[str, int]:
    m = read_manifest(out)
    lines = Path(m.run.corpus_root, m.corpus.files[0].path).read_bytes().split(b"\n")  # type: ignore[union-attr]
    offset = m.position.offset + sum(len(x) + 1 for x in lines[m.position.line : m.position.line + 5])
    return {"line": m.position.line + 5, "offset": offset}


@pytest.mark.falsifies("FALSIFY-HANDOFF-007")
def test_resume_refuses_a_tampered_position(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reproduction: with the position moved forward five lines a resume kept 715 of 720 documents,
    with file_index 99 far fewer, and both outputs were marked complete."""
    for case, tamper in (("forward", None), ("file_index", {"file_index": 99}), ("offset", {"offset": 7})):
        corpus, out = _interrupted(tmp_path / case)
        _tamper(out, **(tamper or _forward_five_lines(out)))
        with pytest.raises(TokenizeError, match="resume position") as err:
            encode_corpus(_opts(corpus, out, resume=True), tokenizer=cached_small())
        assert err.value.exit_code == 2 and err.value.where == str(out / "manifest.json")
        assert "start again in an empty directory" in str(err.value)
    # The mutation: without the cross-check the same resumes "succeed", complete, and lose documents.
    monkeypatch.setattr(outdir, "check_resume_position", lambda *a: None)
    for case, tamper in (("forward", None), ("file_index", {"file_index": 99})):
        corpus, out = _interrupted(tmp_path / f"mutant-{case}")
        _tamper(out, **(tamper or _forward_five_lines(out)))
        final = encode_corpus(_opts(corpus, out, resume=True), tokenizer=cached_small())
        assert final.complete and _documents_in(out) < N_DOCS
    assert _documents_in(tmp_path / "mutant-forward" / "out") == N_DOCS - 5


@pytest.mark.falsifies("FALSIFY-HANDOFF-007")
def test_resume_position_check_accepts_every_legitimate_interruption(tmp_path: Path) -> None:
    """The check is not a blanket refusal: a run interrupted after any number of shards resumes to the
    same bytes as an uninterrupted one (one file ending without a newline, one gzip file)."""
    import gzip

    docs = _docs(300)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in docs[:150]).rstrip())
    with gzip.open(tmp_path / "corpus" / "b.jsonl.gz", "wt") as fh:
        fh.writelines(json.dumps({"text": d}) + "\n" for d in docs[150:])
    corpus = tmp_path / "corpus"
    full = encode_corpus(_opts(corpus, tmp_path / "full"), tokenizer=cached_small())
    reference = read_tokens(tmp_path / "full")
    for keep in range(0, len(full.shards), 3):
        out = tmp_path / f"k{keep}"
        m = encode_corpus(_opts(corpus, out), tokenizer=cached_small())
        for s in m.shards[keep:]:
            (out / s.name).unlink()
        m.shards, m.complete = m.shards[:keep], False
        m.position = m.shards[-1].end if keep else Position(file_index=0, offset=0, line=0)  # type: ignore[assignment]
        m.totals.tokens = sum(s.tokens for s in m.shards)
        m.totals.documents = sum(s.documents or 0 for s in m.shards)
        write_manifest(out, m)
        encode_corpus(_opts(corpus, out, resume=True), tokenizer=cached_small())
        assert (read_tokens(out) == reference).all(), keep


def _apr(*args: str) -> list[str]:
    return [sys.executable, "-m", "apr", "tokenize", *args]


def _encode_cmd(corpus: Path, out: Path, *extra: str) -> list[str]:
    return _apr("encode-corpus", "--corpus", str(corpus), "--tokenizer", str(cached_small_dir()), "--output", str(out),
                "--shard-tokens", "400", "--workers", "1", "--quiet", *extra)


def _wait_for_lock(lock: Path, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not (lock.is_file() and lock.read_text().startswith("pid ")):
        assert proc.poll() is None, f"the first writer exited ({proc.returncode}) before taking the lock"
        assert time.monotonic() < deadline, "the first writer never took the lock"
        time.sleep(0.01)


@contextmanager
def _stopped_writer(corpus: Path, out: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real encode-corpus frozen (SIGSTOP) right after it took the output directory's lock."""
    proc = subprocess.Popen(
        _encode_cmd(corpus, out), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_for_lock(out / outdir.LOCK_FILE, proc)
        os.kill(proc.pid, signal.SIGSTOP)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.falsifies("FALSIFY-HANDOFF-008")
def test_one_writer_per_output_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = write_jsonl(tmp_path / "corpus.jsonl", _docs())
    out = tmp_path / "out"
    with _stopped_writer(corpus, out) as first:
        second = subprocess.run(_encode_cmd(corpus, out, "--resume"), cwd=ROOT, capture_output=True, text=True,
                                timeout=300)
        assert second.returncode == 2, second.stderr
        assert f"another encode-corpus is writing to this directory (pid {first.pid} on " in second.stderr
        assert "Traceback" not in second.stderr
        # The mutation: without the lock the same second writer is let into the directory in use.
        with monkeypatch.context() as m:
            m.setattr(outdir, "exclusive_lock", lambda path: nullcontext(path))
            done = encode_corpus(_opts(corpus, out, resume=True), tokenizer=cached_small())
            assert done.complete  # it wrote shards and a manifest under the frozen writer's feet
    # The first writer was SIGKILLed holding the lock: the kernel released it, and --resume is not blocked.
    assert (out / outdir.LOCK_FILE).exists()
    again = subprocess.run(_encode_cmd(corpus, out, "--resume"), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert not (out / outdir.LOCK_FILE).exists()


def _with_dropout(tmp: Path, dropout: float | None) -> Path:
    obj = json.loads((cached_small_dir() / "tokenizer.json").read_text())
    obj["model"]["dropout"] = dropout
    path = tmp / f"dropout-{dropout}" / "tokenizer.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(obj))
    return path


@pytest.mark.falsifies("FALSIFY-HANDOFF-009")
def test_non_deterministic_tokenizers_are_refused_at_import_and_encode(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenizers import Tokenizer

    text = "deterministic tokenization is what makes shards reproducible " * 4
    random_tj = _with_dropout(tmp_path, 0.3)
    # the hazard is real: HF tokenizers with this file encodes one text in several ways
    hf = Tokenizer.from_file(str(random_tj))
    assert len({tuple(hf.encode(text).ids) for _ in range(20)}) > 1
    with pytest.raises(TokenizeError, match=r"non-deterministic tokenizer: model\.dropout = 0\.3"):
        import_hf(random_tj, tmp_path / "imported")
    cli = subprocess.run(_apr("import-hf", "--input", str(random_tj), "--output", str(tmp_path / "cli")), cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 2 and "BPE dropout" in cli.stderr and "set model.dropout to null" in cli.stderr
    # at encode: a bare HF directory (no import record, whose tokenizer_meta.json sha256 check would
    # refuse an edited file first) holding the random tokenizer.json
    tok_dir = tmp_path / "edited"
    tok_dir.mkdir()
    (tok_dir / "tokenizer.json").write_bytes(random_tj.read_bytes())
    corpus = write_jsonl(tmp_path / "corpus.jsonl", [text])
    opts = EncodeOptions(corpus=corpus, tokenizer=tok_dir, output=tmp_path / "out", progress="none")
    with pytest.raises(TokenizeError, match="non-deterministic tokenizer") as err:
        encode_corpus(opts)
    assert err.value.where == str(tok_dir / "tokenizer.json") and not (tmp_path / "out").exists()
    # the mutation: without the check the random tokenizer is imported like any other
    monkeypatch.setattr(hf_json, "check_deterministic", lambda obj, source: None)
    assert import_hf(random_tj, tmp_path / "mutant").effective_vocab_count > 0


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_apr(*args), cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.falsifies("FALSIFY-HANDOFF-010")
def test_inspect_never_passes_an_id_check_it_did_not_make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reproduction: a repaired manifest has no tokenizer block, and `inspect --check-ids` printed
    "id bound: OK" with an id of 4,000,000,000 in a shard."""
    import numpy as np

    from tokenizer import shards as shards_mod
    from tokenizer.shards import repair_manifest, verify_output

    out = tmp_path / "shards"
    out.mkdir()
    np.array([1, 2, 4_000_000_000], dtype="<u4").tofile(out / "shard-00000.bin")
    repair_manifest(out)
    assert read_manifest(out).tokenizer is None
    proc = _run_cli("inspect", str(out), "--check-ids")
    assert proc.returncode == 2 and "NOT CHECKED: id bound" in proc.stderr, proc
    assert "shards checked (sizes): OK" in proc.stdout  # only the check that was made is reported
    proc = _run_cli("inspect", str(out), "--check-ids", "--tokenizer", str(cached_small_dir()))
    assert proc.returncode == 3 and "has id 4000000000 >= vocab 4099" in proc.stderr, proc
    # The mutation: a verifier that skips an unknown bound reports the same directory as fully checked.
    with monkeypatch.context() as m:
        m.setattr(shards_mod, "_id_bound", lambda manifest, tokenizer, report: None)
        report = verify_output(out, check_ids=True)
        assert report.ok and not report.unchecked
    # repair-manifest records the bound when it can, and lists only shards within it
    assert _run_cli("repair-manifest", str(out), "--tokenizer", str(cached_small_dir())).returncode == 0
    repaired = read_manifest(out)
    assert repaired.tokenizer is not None and repaired.tokenizer.max_token_id == 4098 and repaired.shards == []


# --- the trainer's side: `apr pretrain` trains only on verified, listed, in-range data -----------------


@pytest.fixture(scope="module")
def verified(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A verified encode-corpus output (small Qwen2 BPE, several shards) and a model config of its id space."""
    from trainer.config import PRESETS, config_to_hf

    tmp = tmp_path_factory.mktemp("handoff")
    corpus = write_jsonl(tmp / "corpus.jsonl", [t for _, t in stdlib_documents(120_000, start=30)])
    out = tmp / "shards"
    m = encode_corpus(EncodeOptions(corpus=corpus, tokenizer=cached_small_dir(), output=out, shard_tokens=6_000,
                                    progress="none", durable=False), tokenizer=cached_small())
    assert m.complete and m.verification is not None and m.verification.passed and len(m.shards) >= 4
    space = cached_small().definition.max_token_id + 1
    cfg = tmp / "model.json"
    cfg.write_text(json.dumps(config_to_hf(PRESETS["test-tiny"].model_copy(update={"vocab_size": space}))))
    return out, cfg


def _copy(src: Path, tmp: Path) -> Path:
    import shutil

    return Path(shutil.copytree(src, tmp / "shards"))


def _pretrain(shards: Path, model_cfg: Path, out: Path, *extra: str, tokenizer: Path | None = None
              ) -> tuple[int, str, str]:
    """`apr pretrain` in this process; (exit code, stdout, stderr)."""
    import contextlib
    import io

    from apr.cli import main

    argv = ["pretrain", "--mode", "from-scratch", "--model-config", str(model_cfg), "--tokenizer",
            str(tokenizer or cached_small_dir()), "--shards-dir", str(shards), "--steps", "2", "--batch-size", "2",
            "--seq-len", "32", "--eval-every", "1", "--eval-batches", "1", "--device", "cpu", "--progress", "off",
            "--out", str(out), *extra]
    so, se = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(so), contextlib.redirect_stderr(se):
        rc = main(argv)
    return rc, so.getvalue(), se.getvalue()


@contextmanager
def _guards_removed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The trainer as it was: manifest verdict, listing and hashes unchecked, every shard-*.bin globbed."""
    from tokenizer.manifest import read_manifest as read
    from trainer import data, inputs
    from trainer.shard_checks import HandoffReport

    def lenient(directory: Path, model_vocab: int, **_: object) -> HandoffReport:
        return HandoffReport(read(directory), verified=True, allow_unverified=False)

    class GlobbingShardSet(data.ShardSet):
        def __init__(self, shards_dir: Path, seq_len: int, **kw: object) -> None:
            m = read(shards_dir)
            names = sorted(p.name for p in Path(shards_dir).glob("shard-*.bin"))
            entries = [e for e in m.shards if e.name in names]
            for n in names[len(entries):]:  # unlisted files are read too, with the size they have
                size = (Path(shards_dir) / n).stat().st_size
                entries.append(m.shards[0].model_copy(update={"name": n, "tokens": size // 4, "bytes": size}))
            kw["manifest"] = m.model_copy(update={"shards": entries})
            super().__init__(shards_dir, seq_len, **kw)  # type: ignore[arg-type]

    with monkeypatch.context() as mp:
        mp.setattr(inputs, "check_shards", lenient)
        mp.setattr(inputs, "ShardSet", GlobbingShardSet)
        yield


@pytest.mark.falsifies("FALSIFY-HANDOFF-001")
def test_unverified_shards_are_refused_unless_allowed_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reproduction: encode-corpus refused a corpus over its unknown-token limit (exit 3, "do not train
    on these shards"), and `apr pretrain` trained on the same directory with exit 0 and no warning."""
    from falsifiers.test_tokenize_wrong_vocab import ASCII_DOCS, ascii_only_vocab
    from tokenizer.errors import VerificationError
    from trainer.config import PRESETS, config_to_hf

    tok = ascii_only_vocab(tmp_path / "tok", with_unk=True, missing=range(0xD4, 0xD6))
    corpus = write_jsonl(tmp_path / "c.jsonl", ["x = 1\n"] * 40 + ["# Բարեւ աշխարհ " * 20 + "\n", *ASCII_DOCS])
    shards = tmp_path / "shards"
    with pytest.raises(VerificationError, match="do not train on these shards"):
        encode_corpus(EncodeOptions(corpus=corpus, tokenizer=tok, output=shards, progress="none", durable=False))
    m = read_manifest(shards)
    assert m.complete and m.verification is not None and not m.verification.passed
    from tokenizer.loader import load_tokenizer

    cfg = tmp_path / "model.json"
    space = load_tokenizer(tok).definition.max_token_id + 1
    cfg.write_text(json.dumps(config_to_hf(PRESETS["test-tiny"].model_copy(update={"vocab_size": space}))))
    rc, _, err = _pretrain(shards, cfg, tmp_path / "run", tokenizer=tok)
    assert rc == 2 and "the shards are not verified: verification failed: unknown-token rate" in err, err
    assert "--allow-unverified" in err and not (tmp_path / "run").exists()
    # the escape hatch trains, says so on stderr and in train.log, and records it in summary.json
    rc, _, err = _pretrain(shards, cfg, tmp_path / "allowed", "--allow-unverified", tokenizer=tok)
    assert rc == 0 and "WARNING: --allow-unverified: training on shards that are not verified" in err
    assert "WARNING: --allow-unverified" in (tmp_path / "allowed" / "train.log").read_text()
    data = json.loads((tmp_path / "allowed" / "summary.json").read_text())["data"]
    assert data["verified"] is False and data["allow_unverified"] is True
    assert "verification failed" in data["unverified_reasons"][0]
    # the mutation: without the guard the rejected shards are trained on, silently
    with _guards_removed(monkeypatch):
        rc, out, err = _pretrain(shards, cfg, tmp_path / "mutant", tokenizer=tok)
    assert rc == 0 and "WARNING" not in out + err


@pytest.mark.falsifies("FALSIFY-HANDOFF-002")
def test_a_missing_listed_shard_is_refused(verified: tuple[Path, Path], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    shards = _copy(verified[0], tmp_path)
    (shards / "shard-00001.bin").unlink()
    rc, _, err = _pretrain(shards, verified[1], tmp_path / "run")
    assert rc == 2 and "shard-00001.bin: listed in manifest.json but missing" in err, err
    with _guards_removed(monkeypatch):  # the mutation: training runs on the rest
        assert _pretrain(shards, verified[1], tmp_path / "mutant")[0] == 0


@pytest.mark.falsifies("FALSIFY-HANDOFF-003")
def test_a_stray_shard_is_refused(verified: tuple[Path, Path], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A shard-*.bin the manifest does not list; the trainer used to read it, as validation data too."""
    import numpy as np

    shards = _copy(verified[0], tmp_path)
    n = len(read_manifest(shards).shards)
    np.full(4_000, 7, dtype="<u4").tofile(shards / f"shard-{n:05d}.bin")
    rc, _, err = _pretrain(shards, verified[1], tmp_path / "run")
    assert rc == 2 and f"1 shard file(s) not listed in manifest.json: shard-{n:05d}.bin" in err, err
    with _guards_removed(monkeypatch):  # the mutation: the stray is read, and is the validation tail
        from trainer.inputs import ShardSet

        tail = ShardSet(shards, 32)
        assert tail.shards[tail.locate(tail.n_windows - 1)[0]].path.name == f"shard-{n:05d}.bin"
        assert _pretrain(shards, verified[1], tmp_path / "mutant")[0] == 0


@pytest.mark.falsifies("FALSIFY-HANDOFF-004")
def test_a_modified_shard_is_refused(verified: tuple[Path, Path], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    shards = _copy(verified[0], tmp_path)
    path = shards / "shard-00002.bin"
    data = bytearray(path.read_bytes())
    data[40:44] = (7).to_bytes(4, "little")  # same size, one id changed
    path.write_bytes(bytes(data))
    rc, _, err = _pretrain(shards, verified[1], tmp_path / "run")
    assert rc == 2 and "shard-00002.bin: sha256" in err and "differs from manifest.json's" in err, err
    path.write_bytes(bytes(data[:-4]))  # and a truncated one
    rc, _, err = _pretrain(shards, verified[1], tmp_path / "run")
    assert rc == 2 and "bytes on disk, manifest.json says" in err, err
    path.write_bytes(bytes(data))
    with _guards_removed(monkeypatch):  # the mutation: the modified bytes are trained on
        assert _pretrain(shards, verified[1], tmp_path / "mutant")[0] == 0


@pytest.mark.falsifies("FALSIFY-HANDOFF-005")
def test_an_id_outside_the_model_is_refused_before_step_1(verified: tuple[Path, Path], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Shards encoded with the 4,099-id tokenizer against a 512-row model (and a 512-id tokenizer descriptor, so
    the vocab gate passes): the ids are refused before any step, not when a batch happens to draw one."""
    from trainer.config import PRESETS, config_to_hf

    small = tmp_path / "small.json"
    small.write_text(json.dumps(config_to_hf(PRESETS["test-tiny"])))  # 512 rows
    tok = tmp_path / "tok512.json"  # a tokenizer descriptor that passes the 512-row strict gate
    tok.write_text(json.dumps({"effective_vocab_count": 512}))
    shards = _copy(verified[0], tmp_path)
    m = read_manifest(shards)
    m.tokenizer = None  # so only the shards' own ids can tell
    write_manifest(shards, m)
    top = m.verification.max_token_id_seen  # type: ignore[union-attr]
    rc, _, err = _pretrain(shards, small, tmp_path / "run", tokenizer=tok)
    assert rc == 2 and f"records max token id {top:,}, but the model's embedding table has 512 rows" in err, err
    assert not (tmp_path / "run").exists()  # nothing trained, nothing written
    m.verification.max_token_id_seen = None  # type: ignore[union-attr]
    write_manifest(shards, m)
    rc, _, err = _pretrain(shards, small, tmp_path / "run", tokenizer=tok)
    assert rc == 2 and f"token id {top:,}, but the model's embedding table has 512 rows" in err, err
    with _guards_removed(monkeypatch):  # the mutation: only a batch that draws such an id stops the run
        rc, _, err = _pretrain(shards, small, tmp_path / "mutant", tokenizer=tok)
    assert rc == 2 and ("training batch at step" in err or "validation batch" in err), err
    assert (tmp_path / "mutant" / "train.log").exists()  # it had started: the check came too late


CONTRACT = "apr-shards-handoff-v1.yaml"


@pytest.mark.falsifies("FALSIFY-HANDOFF-012")
def test_handoff_contract_validates_and_lints() -> None:
    from falsifiers.test_tokenize_contract import contract_errors

    assert (ROOT / "contracts" / CONTRACT).is_file()
    assert contract_errors(ROOT, CONTRACT) == []


@pytest.mark.falsifies("FALSIFY-HANDOFF-012")
def test_lint_reports_a_broken_handoff_contract(tmp_path: Path) -> None:
    from falsifiers.test_tokenize_contract import contract_errors, copy_repo

    copy_repo(tmp_path)
    assert contract_errors(tmp_path, CONTRACT) == []
    path = tmp_path / "contracts" / CONTRACT
    text = path.read_text()
    broken = (text.replace("::test_a_stray_shard_is_refused", "::test_a_stray_shard_is_refused_renamed")
              .replace("    - trainer/shard_checks.py\n", "    - trainer/no_such_module.py\n"))
    assert broken != text
    path.write_text(broken)
    errors = contract_errors(tmp_path, CONTRACT)
    assert any("test-binding" in e and "FALSIFY-HANDOFF-003" in e for e in errors), errors
    assert any("references" in e and "no_such_module.py" in e for e in errors), errors

"""`apr tokenize …` as a user runs it: help, lazy imports, exit codes, --json, located error messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from apr.cli import main
from tokenizer.testing import SMALL_SPECIALS, stdlib_documents, truncated_qwen_ranks, write_jsonl, write_ranks

DOCS = [t[i : i + 1500] for _, t in stdlib_documents(30_000, start=60) for i in range(0, len(t), 1500)]


def test_registering_the_cli_imports_no_heavy_module() -> None:
    code = (
        "import argparse, sys\n"
        "from tokenizer.cli import register\n"
        "register(argparse.ArgumentParser().add_subparsers())\n"
        "print([m for m in ('tiktoken', 'tokenizers', 'numpy', 'rich', 'pydantic') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_help_explains_the_shard_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["tokenize", "encode-corpus", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for needle in ("little-endian uint32", "never split across shards", "--resume", "--on-error", "--eos-policy"):
        assert needle in text


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    ranks = write_ranks(tmp / "r.tiktoken", truncated_qwen_ranks(1024))
    specials = tmp / "specials.json"
    specials.write_text(json.dumps({s: 1024 + i for i, s in enumerate(SMALL_SPECIALS)}))
    out = tmp / "tok"
    assert main(["tokenize", "import-tiktoken", "--ranks", str(ranks), "--special-tokens", str(specials),
                 "--output", str(out)]) == 0
    return out


def test_import_tiktoken_json_output(tok_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    ranks = tok_dir.parent / "r.tiktoken"
    assert main(["tokenize", "import-tiktoken", "--ranks", str(ranks), "--special-tokens", "none", "--pattern", "gpt2",
                 "--output", str(tmp_path / "t"), "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["bpe_vocab_count"] == 1024 and meta["merges_count"] == 768 and meta["effective_vocab_count"] == 1024
    assert main(["tokenize", "import-tiktoken", "--ranks", str(ranks), "--output", str(tmp_path / "t")]) == 2
    assert "output directory is not empty" in capsys.readouterr().err
    assert main(["tokenize", "import-tiktoken", "--ranks", str(ranks), "--output", str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err
    assert "do not continue the 1024 ranks" in err and "qwen2 preset needs the full Qwen2 ranks" in err
    assert not (tmp_path / "q").exists()


def test_encode_inspect_repair_round_trip(tok_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCS)
    out = tmp_path / "out"
    capsys.readouterr()
    rc = main(["tokenize", "encode-corpus", "--corpus", str(corpus), "--tokenizer", str(tok_dir), "--output", str(out),
               "--workers", "1", "--shard-tokens", "2000", "--json", "--progress", "plain"])
    assert rc == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["complete"] and summary["shard_count"] >= 3 and summary["totals"]["documents"] == len(DOCS)
    assert "encode-corpus: 100.0%" in captured.err and "tok/s" in captured.err

    assert main(["tokenize", "inspect", str(out), "--sha256", "--check-ids", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["problems"] == []

    shard = out / "shard-00001.bin"
    shard.write_bytes(shard.read_bytes() + b"\x00")
    assert main(["tokenize", "inspect", str(out)]) == 3
    assert "multiple of 4" in capsys.readouterr().err

    assert main(["tokenize", "repair-manifest", str(out)]) == 0
    assert "rebuilt" in capsys.readouterr().out
    assert main(["tokenize", "inspect", str(out)]) == 0
    assert "repaired" in capsys.readouterr().out
    assert list(out.glob("manifest.json.bak-*"))


def test_errors_are_one_located_line_with_a_fix(tok_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                ) -> None:
    capsys.readouterr()
    rc = main(["tokenize", "encode-corpus", "--corpus", str(tmp_path / "nope"), "--tokenizer", str(tok_dir),
               "--output", str(tmp_path / "o")])
    assert rc == 2
    assert capsys.readouterr().err.startswith("apr tokenize encode-corpus: error: ")

    corpus = tmp_path / "bad.jsonl"
    corpus.write_text('{"text": "fine"}\n{"txt": "wrong field"}\n')
    rc = main(["tokenize", "encode-corpus", "--corpus", str(corpus), "--tokenizer", str(tok_dir), "--output",
               str(tmp_path / "o"), "--workers", "1", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "bad.jsonl:2: no 'text' field (keys: txt)" in err and "how to fix:" in err

    rc = main(["tokenize", "encode-corpus", "--corpus", str(corpus), "--tokenizer", str(tok_dir), "--output",
               str(tmp_path / "o2"), "--workers", "1", "--quiet", "--on-error", "skip"])
    captured = capsys.readouterr()
    assert rc == 0 and captured.out == "" and captured.err == ""


def test_out_of_range_workers_and_empty_text_field_exit_2_naming_the_flag(
        tok_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16 item 1: `--workers 10000` and `--text-field ""` reached pydantic and exited 70 with a traceback."""
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCS[:2])
    base = ["tokenize", "encode-corpus", "--corpus", str(corpus), "--tokenizer", str(tok_dir), "--quiet"]
    for extra, message in ((["--workers", "10000"], "argument --workers: must be at most 1024, got 10000"),
                           (["--text-field", ""], "argument --text-field: must not be empty")):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            main([*base, "--output", str(tmp_path / "o"), *extra])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
    # the same class of value reaching the options model (the library API) is a located error, not exit 70
    from tokenizer.cli import _options
    from tokenizer.encode import EncodeOptions
    from tokenizer.errors import TokenizeError

    with pytest.raises(TokenizeError) as err:
        _options("encode-corpus", EncodeOptions, corpus=[corpus], tokenizer=tok_dir, output=tmp_path, workers=5000)
    assert err.value.where == "--workers" and err.value.exit_code == 2


def test_check_ids_never_reports_a_check_it_did_not_make(tok_dir: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 15: on a repaired manifest (no tokenizer block) `inspect --check-ids` said "id bound: OK"
    with an id of 4,000,000,000 in a shard."""
    import numpy as np

    out = tmp_path / "shards"
    out.mkdir()
    np.array([5, 17, 4_000_000_000, 3], dtype="<u4").tofile(out / "shard-00000.bin")
    assert main(["tokenize", "repair-manifest", str(out)]) == 0
    assert "no tokenizer bound recorded" in capsys.readouterr().err
    assert main(["tokenize", "inspect", str(out), "--check-ids"]) == 2
    captured = capsys.readouterr()
    assert "NOT CHECKED: id bound" in captured.err and "pass --tokenizer DIR" in captured.err
    assert "ids <" not in captured.out  # the checked list names only what was checked
    assert main(["tokenize", "inspect", str(out), "--check-ids", "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["id_bound"] is None and report["unchecked"]
    # with the tokenizer the check is made, and fails
    assert main(["tokenize", "inspect", str(out), "--check-ids", "--tokenizer", str(tok_dir)]) == 3
    assert "has id 4000000000 >= vocab 1027" in capsys.readouterr().err
    # repair-manifest records the bound when it can, and lists only shards that respect it
    assert main(["tokenize", "repair-manifest", str(out), "--tokenizer", str(tok_dir), "--json"]) == 0
    repaired = json.loads(capsys.readouterr().out)
    assert repaired["id_bound"] == 1027 and repaired["shards"] == 0
    assert any("max id 4000000000 >= the id bound 1027" in p for p in repaired["problems"])
    np.array([5, 17, 1026, 3], dtype="<u4").tofile(out / "shard-00000.bin")
    assert main(["tokenize", "repair-manifest", str(out), "--tokenizer", str(tok_dir)]) == 0
    assert "ids < 1,027" in capsys.readouterr().out
    assert main(["tokenize", "inspect", str(out), "--check-ids"]) == 0  # the recorded bound is used
    assert "shards checked (sizes, ids < 1,027): OK" in capsys.readouterr().out
    # a later repair without --tokenizer keeps the bound of the manifest it replaces
    assert main(["tokenize", "repair-manifest", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id_bound"] == 1027


def test_a_directory_named_like_a_shard_is_a_located_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16: repair-manifest hashed a directory named shard-00001.bin and exited 70 with a traceback."""
    out = tmp_path / "shards"
    out.mkdir()
    (out / "shard-00000.bin").write_bytes(b"\x01\x00\x00\x00")
    (out / "shard-00001.bin").mkdir()
    capsys.readouterr()
    assert main(["tokenize", "repair-manifest", str(out)]) == 2
    err = capsys.readouterr().err
    assert "shard-00001.bin is a directory, where a shard file is expected" in err
    assert "move shard-00001.bin out of the shard directory" in err and "Traceback" not in err


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_manifest_is_refused_by_name_not_read(tmp_path: Path) -> None:
    """Issue 16 item 3 (the class): a FIFO where manifest.json is expected would block `inspect` forever."""
    import os

    out = tmp_path / "shards"
    out.mkdir()
    os.mkfifo(out / "manifest.json")
    proc = subprocess.run([sys.executable, "-m", "apr", "tokenize", "inspect", str(out)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "manifest.json: is a FIFO (named pipe), not a regular file" in proc.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and device files are POSIX")
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_a_fifo_or_device_where_a_tokenizer_file_is_expected_exits_2(tmp_path: Path, tok_dir: Path, kind: str) -> None:
    """Each of these used to block on the FIFO forever, read /dev/zero until memory ran out, or (a directory named
    manifest.json) exit 70 with a traceback; subprocesses with a timeout, so a hang fails instead of stalling the
    suite."""
    import os
    import shutil

    def plant(path: Path) -> Path:
        {"fifo": lambda: os.mkfifo(path), "dev-zero": lambda: path.symlink_to("/dev/zero"),
         "directory": lambda: path.mkdir()}[kind]()
        return path

    what = {"fifo": "is a FIFO (named pipe)", "dev-zero": "is a character device", "directory": "is a directory"}[kind]
    hf_dir = tmp_path / "hf"
    hf_dir.mkdir()
    plant(hf_dir / "tokenizer.json")
    edited = tmp_path / "tok"
    shutil.copytree(tok_dir, edited)
    (edited / "tokenizer.json").unlink()
    plant(edited / "tokenizer.json")
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCS[:3])
    shards = tmp_path / "shards"
    assert main(["tokenize", "encode-corpus", "--corpus", str(corpus), "--tokenizer", str(tok_dir), "--output",
                 str(shards), "--quiet"]) == 0
    (shards / "manifest.json").unlink()
    plant(shards / "manifest.json")
    cases = [
        (["import-tiktoken", "--ranks", str(plant(tmp_path / "r.tiktoken")), "--output", str(tmp_path / "o1")],
         "r.tiktoken"),
        (["import-tiktoken", "--ranks", str(tok_dir.parent / "r.tiktoken"), "--special-tokens",
          str(plant(tmp_path / "specials.json")), "--output", str(tmp_path / "o2")], "specials.json"),
        (["import-hf", "--input", str(hf_dir), "--output", str(tmp_path / "o3")], "hf/tokenizer.json"),
        (["encode-corpus", "--corpus", str(corpus), "--tokenizer", str(edited), "--output", str(tmp_path / "o4")],
         "tok/tokenizer.json"),
        (["inspect", str(shards)], "shards/manifest.json"),
        (["merge", str(tmp_path / "merged"), str(shards)], "shards/manifest.json"),
    ]
    for argv, name in cases:
        proc = subprocess.run([sys.executable, "-m", "apr", "tokenize", *argv], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert f"{name}: {what}, not a regular file" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr

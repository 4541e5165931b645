"""The ``apr pretrain / inspect / convert`` CLI: exit codes, --json, help, and no torch at import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from apr.cli import main


def test_cli_module_does_not_import_torch() -> None:
    code = ("import argparse, sys, trainer.cli; trainer.cli.register(argparse.ArgumentParser().add_subparsers()); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_help_lists_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["pretrain", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "exit codes" in text and "--target-val-loss" in text and "qwen2-0.5b" in text


def test_pretrain_inspect_convert_round_trip(
    tmp_path: Path, shards_dir: Path, tokenizer_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["pretrain", "--mode", "from-scratch", "--model-config", "test-tiny", "--tokenizer", str(tokenizer_file),
            "--shards-dir", str(shards_dir), "--steps", "3", "--batch-size", "2", "--seq-len", "16",
            "--out", str(tmp_path / "run"), "--progress", "off", "--json"]
    assert main(args) == 0
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{\n") :])
    assert summary["status"] == "ok" and summary["steps_completed"] == 3
    ckpt = tmp_path / "run" / "checkpoint.apr"

    assert main(["inspect", str(ckpt), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["header"]["magic"] == "APR\\0" and info["header"]["version"] == "2.0"
    assert info["metadata"]["vocab_size"] == 512 and info["crc"] == "verified"
    assert main(["inspect", str(ckpt)]) == 0
    assert "model.embed_tokens.weight" in capsys.readouterr().out

    hf = tmp_path / "hf"
    assert main(["convert", str(ckpt), "--to-hf", str(hf), "--pad-vocab-to", "640"]) == 0
    assert json.loads((hf / "config.json").read_text())["vocab_size"] == 640
    assert main(["convert", str(hf), "--output", str(tmp_path / "back.apr"), "--json"]) == 0
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "back.apr"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metadata"]["vocab_size"] == 640


def test_bad_input_exits_2_with_a_message(
    tmp_path: Path, shards_dir: Path, tokenizer_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--tokenizer", str(tokenizer_file), "--shards-dir", str(shards_dir), "--steps", "1",
              "--batch-size", "1", "--seq-len", "8", "--out", str(tmp_path / "r")]
    assert main(["pretrain", "--mode", "from-init", *common]) == 2
    assert "needs --init" in capsys.readouterr().err
    assert main(["pretrain", "--mode", "from-scratch", "--model-config", "nope", *common]) == 2
    assert "unknown preset" in capsys.readouterr().err
    # qwen2-0.5b (151,936) against a 512-id tokenizer from scratch: the strict gate, named.
    assert main(["pretrain", "--mode", "from-scratch", *common]) == 2
    assert "vocab-strict" in capsys.readouterr().err
    garbage = tmp_path / "g.apr"
    garbage.write_bytes(b"hello")
    assert main(["inspect", str(garbage)]) == 2
    assert "too short" in capsys.readouterr().err
    assert main(["convert", str(tmp_path), "--output", str(tmp_path / "x.apr")]) == 2
    assert "config.json" in capsys.readouterr().err


def test_every_bad_input_error_exits_2(
    tmp_path: Path, shards_dir: Path, tokenizer_file: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Errors from every layer (launch env, resume state, tokenizer, shards) reach exit 2 through one base class."""
    from trainer.errors import TrainerInputError

    common = ["pretrain", "--mode", "from-scratch", "--model-config", "test-tiny", "--steps", "1",
              "--batch-size", "1", "--seq-len", "8", "--out", str(tmp_path / "r"), "--progress", "off"]
    ok = ["--tokenizer", str(tokenizer_file), "--shards-dir", str(shards_dir)]
    cases = [
        ({"WORLD_SIZE": "0"}, [*common, *ok], "inconsistent launch environment"),
        ({}, [*common, *ok, "--resume", str(tmp_path)], "no resume state"),
        ({}, [*common, "--tokenizer", str(tmp_path / "nope"), "--shards-dir", str(shards_dir)], "does not exist"),
        ({}, [*common, "--tokenizer", str(tokenizer_file), "--shards-dir", str(tmp_path)], "no manifest.json"),
    ]
    for env, argv, message in cases:
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            assert main(argv) == 2, message
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    # The negative case: a ValueError outside the base is not bad input but a bug (exit 70, traceback).
    import trainer.loop

    def bug(*a, **k):
        raise ValueError("an internal bug")

    monkeypatch.setattr(trainer.loop, "run_pretrain", bug)
    assert main([*common, *ok]) == 70
    assert "internal error" in capsys.readouterr().err
    assert issubclass(TrainerInputError, ValueError)  # library callers catching ValueError keep working

"""The run directory: never silently replaced (--out / --resume / --overwrite) and readable by collaborators.

Issue 15: `apr pretrain ... --out DIR` into an existing run directory silently replaced the earlier
checkpoint, summary and metrics; checkpoints and safetensors files were written 0600 unlike the
other run files, which broke the shared-filesystem resume the README recommends. Issue 16: `--out`
pointing at a file was an internal error (exit 70).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from apr.cli import main

posix_only = pytest.mark.skipif(os.name != "posix", reason="umask and modes are POSIX")


def _argv(shards: Path, tok: Path, out: Path, *extra: str) -> list[str]:
    return ["pretrain", "--mode", "from-scratch", "--model-config", "test-tiny", "--tokenizer", str(tok),
            "--shards-dir", str(shards), "--steps", "4", "--batch-size", "2", "--seq-len", "16", "--eval-every", "2",
            "--eval-batches", "1", "--device", "cpu", "--progress", "off", "--out", str(out), *extra]


def test_out_must_be_new_empty_resumed_or_overwritten(tmp_path: Path, shards_dir: Path, tokenizer_file: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(_argv(shards_dir, tokenizer_file, out, "--save-every", "2")) == 0
    first = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    # a second run into the same directory is refused, listing what is there; nothing is touched
    assert main(_argv(shards_dir, tokenizer_file, out, "--seed", "1")) == 2
    err = capsys.readouterr().err
    assert "not empty (checkpoint.apr, metrics.jsonl, resume/, summary.json, train.log)" in err
    assert f"pass --resume {out} to continue that run, pass --overwrite to replace it" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == first
    # --resume of that directory continues it; --resume with --overwrite is a contradiction
    assert main(_argv(shards_dir, tokenizer_file, out, "--resume", str(out), "--overwrite")) == 2
    assert "--overwrite and --resume conflict" in capsys.readouterr().err
    # --overwrite replaces the run, including resume/ (which a later --resume would otherwise pick up)
    (out / "notes.txt").write_text("mine")
    assert main(_argv(shards_dir, tokenizer_file, out, "--seed", "1", "--overwrite")) == 0
    captured = capsys.readouterr()
    assert "--overwrite: removed the previous run's train.log, metrics.jsonl, summary.json, checkpoint.apr, resume/" \
        in captured.out
    assert not (out / "resume").exists() and (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "summary.json").read_text())["seed"] == 1
    assert (out / "checkpoint.apr").read_bytes() != first["checkpoint.apr"]


def test_out_that_is_a_file_is_bad_input(tmp_path: Path, shards_dir: Path, tokenizer_file: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.txt"
    out.write_text("not a directory")
    assert main(_argv(shards_dir, tokenizer_file, out)) == 2
    err = capsys.readouterr().err
    assert f"--out {out}: exists and is not a directory" in err and "Traceback" not in err
    assert out.read_text() == "not a directory"


@posix_only
@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_every_run_file_gets_the_permissions_open_gives(tmp_path: Path, shards_dir: Path, tokenizer_file: Path,
                                                        mask: int) -> None:
    old = os.umask(mask)
    try:
        out = tmp_path / "run"
        assert main(_argv(shards_dir, tokenizer_file, out, "--save-every", "2")) == 0
        assert main(["convert", str(out / "checkpoint.apr"), "--to-hf", str(tmp_path / "hf")]) == 0
    finally:
        os.umask(old)
    files = [p for p in [*out.rglob("*"), *(tmp_path / "hf").iterdir()] if p.is_file()]
    names = {p.name for p in files}
    assert {"checkpoint.apr", "model.apr", "optimizer.safetensors", "state.json", "latest.json", "summary.json",
            "metrics.jsonl", "train.log", "model.safetensors", "config.json"} <= names
    modes = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {oct(0o666 & ~mask)}, modes

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


def _train(tmp_path: Path, shards_dir: Path, tokenizer_file: Path, *extra: str, out: str = "run") -> list[str]:
    return ["pretrain", "--mode", "from-scratch", "--model-config", "test-tiny", "--tokenizer", str(tokenizer_file),
            "--shards-dir", str(shards_dir), "--steps", "3", "--batch-size", "2", "--seq-len", "16",
            "--out", str(tmp_path / out), "--progress", "off", *extra]


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--seed", "-1", "--seed: Input should be greater than or equal to 0 (got -1)"),
    ("--seed", str(2**64), "--seed: Input should be less than 9223372036854775808"),
    ("--lr", "inf", "--lr: Input should be a finite number"),
    ("--lr", "1e38", "--lr: Input should be less than or equal to 1000"),  # finite, but overflowed torch's float32
    ("--target-val-loss", "nan", "--target-val-loss: Input should be a finite number"),
    ("--dist-timeout", "1e300", "--dist-timeout: Input should be less than or equal to 604800"),
    ("--ce-chunk-tokens", str(2**40), "--ce-chunk-tokens: Input should be less than 2147483648"),
])
def test_out_of_range_numeric_flags_exit_2_naming_the_flag(
    tmp_path: Path, shards_dir: Path, tokenizer_file: Path, capsys: pytest.CaptureFixture[str],
    flag: str, value: str, message: str,
) -> None:
    """``--seed -1`` used to reach numpy and exit 70 with a traceback."""
    assert main(_train(tmp_path, shards_dir, tokenizer_file, flag, value)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err


def test_convert_messages_follow_the_direction(
    tmp_path: Path, shards_dir: Path, tokenizer_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``apr convert X.apr`` asked for "--output X.apr ... importing a HF directory": the wrong direction."""
    assert main(_train(tmp_path, shards_dir, tokenizer_file)) == 0
    ckpt = tmp_path / "run" / "checkpoint.apr"
    capsys.readouterr()
    cases = [
        ([str(ckpt)], "is a file, so this is an export (.apr -> HF): pass --to-hf DIR"),
        ([str(ckpt), "--output", str(tmp_path / "y.apr")], "this is an export (.apr -> HF); --output names an"),
        ([str(tmp_path)], "is a directory, so this is an import (HF -> .apr): pass --output X.apr"),
        ([str(tmp_path), "--to-hf", str(tmp_path / "h")], "is a directory, so this is an import (HF -> .apr); --to-hf"),
        ([str(ckpt), "--to-hf", str(ckpt)], "exists and is not a directory"),
        ([str(ckpt), "--to-hf", str(tmp_path / "h"), "--pad-vocab-to", "100"], "must be between the checkpoint's"),
        ([str(tmp_path / "missing.apr")], "does not exist; pass a HF directory (with --output X.apr) or an .apr file"),
    ]
    for argv, message in cases:
        assert main(["convert", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
        if "export" in message:
            assert "importing" not in err
    assert not (tmp_path / "h").exists()


def test_convert_to_hf_refuses_an_apr_its_config_would_misdescribe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An export's config.json must describe the weights beside it: vocab rows, layer count, float dtypes."""
    import torch

    from trainer.apr_format import write_apr
    from trainer.checkpoint import apr_metadata
    from trainer.config import PRESETS
    from trainer.model import CausalLM

    cfg = PRESETS["test-tiny"]
    good = {k: v.clone() for k, v in CausalLM(cfg).checkpoint_tensors().items()}
    emb = "model.embed_tokens.weight"
    meta = apr_metadata(cfg, {})
    cases = {
        "vocab": ({**good, emb: torch.zeros(600, 32)}, meta, f"{emb} (model (512, 32), init (600, 32))"),
        "layers": (good, {**meta, "num_layers": 10**8}, "num_layers: Input should be less than or equal to 1024"),
        "i64": ({**good, emb: torch.zeros(512, 32, dtype=torch.int64)}, meta,
                f"are not floating point: {emb} (torch.int64)"),
    }
    for name, (tensors, meta, message) in cases.items():
        src = write_apr(tmp_path / f"{name}.apr", tensors, meta)
        assert main(["convert", str(src), "--to-hf", str(tmp_path / name)]) == 2, name
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
        assert not (tmp_path / name / "config.json").exists()
    src = write_apr(tmp_path / "good.apr", good, apr_metadata(cfg, {}))  # the negative case converts
    assert main(["convert", str(src), "--to-hf", str(tmp_path / "good")]) == 0


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and device files are POSIX")
@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_inspect_refuses_a_fifo_or_device_by_name(tmp_path: Path, kind: str) -> None:
    """A FIFO used to hang `apr inspect` forever; run in a subprocess so the old behaviour fails, not hangs."""
    import os

    target = tmp_path / "x.apr"
    os.mkfifo(target) if kind == "fifo" else target.symlink_to("/dev/zero")
    proc = subprocess.run([sys.executable, "-m", "apr", "inspect", str(target)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc.stderr
    what = "a FIFO (named pipe)" if kind == "fifo" else "a character device"
    assert f"x.apr: is {what}, not a regular file" in proc.stderr and "Traceback" not in proc.stderr


def test_inspect_never_truncates_identifiers_piped_or_narrow(tmp_path: Path) -> None:
    import torch

    from trainer.apr_format import write_apr
    from trainer.checkpoint import apr_metadata
    from trainer.config import PRESETS

    long_name = "model.layers.0.self_attn.q_proj.weight." + "x" * 90
    path = write_apr(tmp_path / "x.apr", {long_name: torch.zeros(2, 3), "[bold]k": torch.zeros(1)},
                     apr_metadata(PRESETS["test-tiny"], {"tool": "t"}))
    for columns in ("200", "80", "40"):
        env = {**__import__("os").environ, "COLUMNS": columns}
        out = subprocess.run([sys.executable, "-m", "apr", "inspect", str(path)], capture_output=True, text=True,
                             env=env, timeout=120, check=True).stdout  # piped: not a terminal
        assert long_name in out, out
        assert "[bold]k" in out and "max_position_embeddings" in out and "…" not in out
        row = next(line for line in out.splitlines() if long_name in line)
        assert "F32" in row and "(2, 3)" in row  # the other columns stay on the name's row, whole


def test_every_subcommand_help_describes_it_and_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    """`apr inspect --help` had no description and pretrain's numeric flags no help text."""
    import argparse

    import apr.cli

    parser = apr.cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = {name: p for name, p in sub.choices.items()}
    tok = commands.pop("tokenize")
    commands |= next(a for a in tok._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"pretrain", "inspect", "convert", "import-hf", "encode-corpus"} <= set(commands)
    for name, p in commands.items():
        assert p.description, f"apr {name} --help has no description"
        for action in p._actions:
            if action.dest != "help":
                assert action.help, f"apr {name}: {'/'.join(action.option_strings) or action.dest} has no help"


def test_from_scratch_with_the_default_preset_explains_the_strict_gate_truthfully(
    tmp_path: Path, shards_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The message claimed "a from-scratch run sizes the embedding table to the tokenizer", which it does not."""
    qwen = tmp_path / "tokenizer_meta.json"
    qwen.write_text(json.dumps({"effective_vocab_count": 151_665}))
    argv = ["pretrain", "--mode", "from-scratch", "--tokenizer", str(qwen), "--shards-dir", str(shards_dir),
            "--steps", "1", "--batch-size", "1", "--seq-len", "8", "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "tokenizer_vocab=151,665 != model_vocab=151,936 (from the default model config qwen2-0.5b)" in err
    assert "apr does not resize a model config to the tokenizer" in err
    assert "sizes the embedding table to the tokenizer" not in err
    assert "--model-config qwen2-tiny" in err and '"vocab_size": 151665' in err and "--mode from-init" in err


def test_ctrl_c_writes_an_interrupted_summary_and_exits_130(
    tmp_path: Path, shards_dir: Path, tokenizer_file: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C printed only "apr: interrupted": no summary.json, no word on resuming, an undocumented 130."""
    import trainer.loop

    real = trainer.loop.train_step

    def interrupt_at_step_2(run, batch):
        if run.step == 2:
            raise KeyboardInterrupt
        return real(run, batch)

    monkeypatch.setattr(trainer.loop, "train_step", interrupt_at_step_2)
    for save_every, expect in ((None, "nothing resumable was saved"), ("1", "plus --resume")):
        out = f"run-{save_every}"
        extra = ["--save-every", save_every] if save_every else []
        assert main(_train(tmp_path, shards_dir, tokenizer_file, *extra, out=out)) == 130
        captured = capsys.readouterr()
        summary = json.loads((tmp_path / out / "summary.json").read_text())
        assert (summary["status"], summary["exit_code"], summary["steps_completed"]) == ("interrupted", 130, 2)
        assert expect in summary["detail"] and expect in captured.err and "Traceback" not in captured.err
        assert "done status=interrupted exit=130" in captured.out
        assert not (tmp_path / out / "checkpoint.apr").exists()
    assert "--resume " + str(tmp_path / "run-1") in summary["detail"]
    help_text = subprocess.run([sys.executable, "-m", "apr", "pretrain", "--help"], capture_output=True, text=True,
                               check=True).stdout
    assert "130 interrupted" in help_text

"""Unit tests of trainer/resume.py: pickle-free resume state, its layout, and its refusals.

The end-to-end "interrupted + resumed == uninterrupted" checks (1 and 2 processes) are
FALSIFY-DIST-009/010 in falsifiers/test_distributed.py.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from apr.cli import main as apr_main
from trainer import resume as R
from trainer.config import PRESETS
from trainer.data import TrainSampler
from trainer.distributed import DistContext
from trainer.model import CausalLM
from trainer.optim import make_optimizer
from trainer.parallel import ParallelModel, parallelize
from trainer.run_config import RunConfig


def _setup(seed: int = 0) -> tuple[ParallelModel, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler,
                                  TrainSampler]:
    torch.manual_seed(seed)
    eng = parallelize(CausalLM(PRESETS["test-tiny"]), DistContext(), "ddp", torch.device("cpu"))
    opt = make_optimizer(eng.lm, 1e-3, 0.1, (0.9, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (1 + s))
    return eng, opt, sched, TrainSampler(100, 4, seed=3)


def _train(eng: ParallelModel, opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LambdaLR, n: int) -> None:
    g = torch.Generator().manual_seed(11)
    for _ in range(n):
        x = torch.randint(0, 512, (2, 9), generator=g)
        eng.loss(x[:, :-1], x[:, 1:]).backward()
        opt.step()
        sched.step()
        opt.zero_grad()


def _cfg(tmp: Path, **kw) -> RunConfig:
    base = dict(mode="from-scratch", model_config_name="test-tiny", tokenizer=tmp / "t", shards_dir=tmp / "s", steps=9,
                batch_size=4, seq_len=8, out=tmp / "run")
    return RunConfig(**{**base, **kw})


def test_rng_state_round_trips_through_json() -> None:
    state = json.loads(json.dumps(R.rng_to_json()))  # JSON-clean, no pickle
    a = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    R.rng_from_json(state)
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == a


def test_optimizer_state_round_trips_by_parameter_name(tmp_path: Path) -> None:
    eng, opt, sched, _ = _setup()
    _train(eng, opt, sched, 2)
    full = R.optimizer_full_state(eng, opt)
    assert "model.embed_tokens.weight" in full["state"] and "lm_head.weight" not in full["state"]
    meta = R._optimizer_to_files(full, tmp_path)
    eng2, opt2, _, _ = _setup(seed=5)
    R.load_optimizer_full_state(eng2, opt2, R._optimizer_from_files(tmp_path, json.loads(json.dumps(meta))))
    for (i, s1), (j, s2) in zip(opt.state_dict()["state"].items(), opt2.state_dict()["state"].items(), strict=True):
        assert i == j and all(torch.equal(s1[k], s2[k]) for k in s1)
    assert opt2.param_groups[0]["betas"] == (0.9, 0.95)


def test_save_then_load_restores_every_piece_and_keeps_two_points(tmp_path: Path) -> None:
    eng, opt, sched, sampler = _setup()
    cfg = _cfg(tmp_path)
    carry = {"step_0_loss": 6.2, "val_loss_step_0": 6.3, "train_wall_s": 1.5}
    for step in (2, 4, 6):
        _train(eng, opt, sched, 2)
        sampler.next_batch()
        sampler.next_batch()  # one batch per step: the state must be one a real run could reach
        R.save_resume_state(tmp_path, model=eng, optimizer=opt, scheduler=sched, sampler=sampler, step=step,
                            tokens_seen=step * 32, carry=carry, cfg=cfg, ctx=DistContext(),
                            provenance={"tool": "test"})
    root = tmp_path / "resume"
    assert sorted(p.name for p in root.iterdir()) == ["latest.json", "step-00000004", "step-00000006"]
    assert sorted(p.name for p in (root / "step-00000006").iterdir()) == [
        "model.apr", "optimizer.safetensors", "state.json"]
    eng2, opt2, sched2, sampler2 = _setup(seed=9)
    info = R.load_resume_state(tmp_path, model=eng2, optimizer=opt2, scheduler=sched2, sampler=sampler2, cfg=cfg,
                               ctx=DistContext())
    assert (info.step, info.tokens_seen, info.carry) == (6, 192, carry)
    assert all(torch.equal(a, b) for a, b in zip(eng.lm.state_dict().values(), eng2.lm.state_dict().values(),
                                                 strict=True))
    assert sched2.state_dict() == sched.state_dict() and sampler2.state_dict() == sampler.state_dict()
    assert list(sampler2.next_batch()) == list(sampler.next_batch())


def test_resume_refuses_a_different_run_naming_the_field(tmp_path: Path) -> None:
    eng, opt, sched, sampler = _setup()
    R.save_resume_state(tmp_path, model=eng, optimizer=opt, scheduler=sched, sampler=sampler, step=1, tokens_seen=0,
                        carry={}, cfg=_cfg(tmp_path), ctx=DistContext(), provenance={})
    with pytest.raises(R.ResumeError, match=r"lr: saved 0.0003 != now 0.001"):
        R.load_resume_state(tmp_path, model=eng, optimizer=opt, scheduler=sched, sampler=sampler,
                            cfg=_cfg(tmp_path, lr=1e-3), ctx=DistContext())


def test_resume_without_state_is_a_clear_error(tmp_path: Path) -> None:
    eng, opt, sched, sampler = _setup()
    with pytest.raises(R.ResumeError, match="--save-every"):
        R.load_resume_state(tmp_path, model=eng, optimizer=opt, scheduler=sched, sampler=sampler,
                            cfg=_cfg(tmp_path), ctx=DistContext())


def test_trim_metrics_drops_the_lost_tail(tmp_path: Path) -> None:
    m = tmp_path / "metrics.jsonl"
    m.write_text("".join(json.dumps({"kind": k, "step": s}) + "\n" for k, s in
                         [("eval", 0), ("train", 0), ("train", 1), ("eval", 2), ("train", 2), ("train", 3)]))
    R.trim_metrics(m, 2)
    assert [json.loads(line)["step"] for line in m.read_text().splitlines()] == [0, 0, 1]


# --- tampered resume states: every one exits 2 with file, location and fix ----------------------------

_STEP = "step-00000003"


def _edit(name: str, fn: Callable[[Any], Any]) -> Callable[[Path], None]:
    """A tamper that loads a resume JSON file (latest.json or state.json), changes it, writes it back."""

    def tamper(run: Path) -> None:
        path = run / "resume" / ("latest.json" if name == "latest" else f"{_STEP}/state.json")
        data = json.loads(path.read_text())
        out = fn(data)
        path.write_text(out if isinstance(out, str) else json.dumps(data if out is None else out))

    return tamper


def _set(name: str, dotted: str, value: Any) -> Callable[[Path], None]:
    def fn(data: Any) -> None:
        *parents, last = [int(k) if k.isdigit() else k for k in dotted.split(".")]
        node = data
        for k in parents:
            node = node[k]
        if value is _DROP:
            del node[last]
        else:
            node[last] = value

    return _edit(name, fn)


_DROP = object()


def _replace(rel: str, how: str) -> Callable[[Path], None]:
    def tamper(run: Path) -> None:
        path = run / "resume" / _STEP / rel if rel != "latest.json" else run / "resume" / rel
        path.unlink()
        if how == "garbage":
            path.write_bytes(b"\x00garbage\xff" * 10)
        elif how == "dir":
            path.mkdir()
        elif how == "fifo":
            os.mkfifo(path)

    return tamper


def _rename_step(run: Path) -> None:
    """A consistent-looking point past the end: directory, latest.json and state.json all say step 10**6."""
    root = run / "resume"
    (root / _STEP).rename(root / "step-01000000")
    (root / "latest.json").write_text(json.dumps({"step": 10**6, "dir": "step-01000000"}))
    state = json.loads((root / "step-01000000" / "state.json").read_text())
    state["step"] = 10**6
    (root / "step-01000000" / "state.json").write_text(json.dumps(state))


def _nested(data: Any) -> str:
    return '{"format": "apr-resume-1", "step": ' + "[" * 100_000 + "]" * 100_000 + "}"


# case: (tamper, file named in the message, location or phrase in the message)
TAMPERED_RESUME_STATES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "latest.json not JSON": (_edit("latest", lambda d: "{"), "latest.json", "not usable JSON"),
    "latest.json dir escapes resume/": (_set("latest", "dir", "../../etc"), "latest.json", "at dir"),
    "latest.json dir of another step": (_set("latest", "dir", "step-00000002"), "latest.json", "at dir"),
    "latest.json step a string": (_set("latest", "step", "3"), "latest.json", "at step"),
    "latest.json without dir": (_set("latest", "dir", _DROP), "latest.json", "at dir"),
    "latest.json 5000-digit step": (_edit("latest", lambda d: '{"step": ' + "9" * 5000 + "}"), "latest.json",
                                    "not usable JSON"),
    "latest.json a directory": (_replace("latest.json", "dir"), "latest.json", "is a directory"),
    "state.json not JSON": (_edit("state", lambda d: "{\"step\": 3,"), "state.json", "not usable JSON"),
    "state.json a list": (_edit("state", lambda d: [1, 2]), "state.json", "valid dictionary"),
    "state.json nested 100k deep": (_edit("state", _nested), "state.json", "not usable JSON"),
    "format of another tool": (_set("state", "format", "apr-resume-9"), "state.json", "at format"),
    "step 10**6 vs latest": (_set("state", "step", 10**6), "state.json", "at step"),
    "step 10**6 everywhere": (_rename_step, "state.json", "not below the run's --steps"),
    "step negative": (_set("state", "step", -3), "state.json", "at step"),
    "step zero": (_set("state", "step", 0), "state.json", "at step"),
    "step true": (_set("state", "step", True), "state.json", "at step"),
    "step 3.0": (_set("state", "step", 3.0), "state.json", "at step"),
    "tokens_seen negative": (_set("state", "tokens_seen", -1), "state.json", "at tokens_seen"),
    "tokens_seen off by one": (_edit("state", lambda d: {**d, "tokens_seen": d["tokens_seen"] + 1}), "state.json",
                               "at tokens_seen"),
    "cursor negative": (_set("state", "sampler.cursor", -1), "state.json", "at sampler.cursor"),
    "cursor past the epoch": (_set("state", "sampler.cursor", 10**9), "state.json", "at sampler"),
    "epoch past max_epochs": (_set("state", "sampler.epoch", 5), "state.json", "at sampler"),
    "sampler of another seed": (_set("state", "sampler.seed", 99), "state.json", "at sampler"),
    "sampler of another dataset": (_set("state", "sampler.n_train", 7), "state.json", "at sampler"),
    "sampler without cursor": (_set("state", "sampler.cursor", _DROP), "state.json", "at sampler.cursor"),
    "step_0_loss NaN": (_edit("state", lambda d: json.dumps(d).replace(
        '"step_0_loss": ', '"step_0_loss": NaN, "x": ')), "state.json", "at carry.step_0_loss"),
    "val_loss_step_0 Infinity": (_edit("state", lambda d: json.dumps(d).replace(
        '"val_loss_step_0": ', '"val_loss_step_0": Infinity, "y": ')), "state.json", "at carry.val_loss_step_0"),
    "step_0_loss a string": (_set("state", "carry.step_0_loss", "low"), "state.json", "at carry.step_0_loss"),
    "train_wall_s negative": (_set("state", "carry.train_wall_s", -5.0), "state.json", "at carry.train_wall_s"),
    "no RNG states": (_set("state", "rng", []), "state.json", "at rng"),
    "python RNG garbage": (_set("state", "rng.0.python", [3, [1, 2], None]), "state.json", "at rng.0.python"),
    "numpy RNG of another generator": (_set("state", "rng.0.numpy.0", "PCG64"), "state.json", "at rng.0.numpy"),
    "torch RNG not base64": (_set("state", "rng.0.torch", "%%%"), "state.json", "at rng.0.torch"),
    "torch RNG truncated": (_set("state", "rng.0.torch", "AAAA"), "state.json", "at rng.0.torch"),
    "scheduler at another step": (_set("state", "scheduler.last_epoch", 7), "state.json", "at scheduler.last_epoch"),
    "scheduler base lr NaN": (_edit("state", lambda d: json.dumps(d).replace(
        '"base_lrs": [', '"base_lrs": [NaN, ')), "state.json", "at scheduler"),
    "optimizer lr NaN": (_edit("state", lambda d: json.dumps(d).replace('"lr": ', '"lr": NaN, "z": ', 1)),
                         "state.json", "at optimizer.param_groups.0.lr"),
    "optimizer names an unknown parameter": (_set("state", "optimizer.param_groups.0.params.0", "model.evil"),
                                             "state.json", "at optimizer.param_groups"),
    "optimizer state of another algorithm": (_edit("state", lambda d: d["optimizer"]["state_keys"].update(
        {"model.norm.weight": ["momentum_buffer"]})), "state.json", "at optimizer.state_keys"),
    "trajectory of another command": (_set("state", "trajectory.lr", 0.5), "--resume", "lr: saved 0.5"),
    "trajectory not an object": (_set("state", "trajectory", 3), "state.json", "at trajectory"),
    "optimizer.safetensors missing": (lambda run: (run / "resume" / _STEP / "optimizer.safetensors").unlink(),
                                      "optimizer.safetensors", "missing"),
    "optimizer.safetensors garbage": (_replace("optimizer.safetensors", "garbage"), "optimizer.safetensors",
                                      "not a readable safetensors file"),
    "optimizer.safetensors a FIFO": (_replace("optimizer.safetensors", "fifo"), "optimizer.safetensors",
                                     "is a FIFO"),
    "model.apr missing": (lambda run: (run / "resume" / _STEP / "model.apr").unlink(), "model.apr", "missing"),
    "model.apr garbage": (_replace("model.apr", "garbage"), "model.apr", "model.apr"),
    "model.apr a directory": (_replace("model.apr", "dir"), "model.apr", "is a directory"),
    "state.json a FIFO": (_replace("state.json", "fifo"), "state.json", "is a FIFO"),
}


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A real run interrupted after a resume point at step 3 of 6, and the command that continues it."""
    from tests.trainer.conftest import write_shards

    tmp = tmp_path_factory.mktemp("saved")
    shards = write_shards(tmp / "shards", [20_000, 12_000])
    tok = tmp / "tokenizer_meta.json"
    tok.write_text(json.dumps({"effective_vocab_count": 512}))
    argv = ["pretrain", "--mode", "from-scratch", "--model-config", "test-tiny", "--tokenizer", str(tok),
            "--shards-dir", str(shards), "--steps", "6", "--batch-size", "2", "--seq-len", "16", "--eval-every", "3",
            "--eval-batches", "1", "--save-every", "3", "--device", "cpu", "--progress", "off"]
    run = tmp / "run"
    assert apr_main([*argv, "--out", str(run)]) == 0
    assert (run / "resume" / "latest.json").is_file() and (run / "resume" / _STEP / "state.json").is_file()
    return run, argv


@pytest.mark.falsifies("FALSIFY-HANDOFF-011")
@pytest.mark.parametrize("case", list(TAMPERED_RESUME_STATES))
def test_a_tampered_resume_state_exits_2_naming_file_location_and_fix(
        case: str, saved_run: tuple[Path, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16: about half of 30 tampered resume states gave a traceback (exit 70) or were accepted
    (step 10**6 exited 0 with a summary claiming a million steps)."""
    tamper, filename, where = TAMPERED_RESUME_STATES[case]
    if "FIFO" in case and not hasattr(os, "mkfifo"):
        pytest.skip("FIFOs are POSIX")
    run = tmp_path / "run"
    shutil.copytree(saved_run[0], run)
    tamper(run)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    capsys.readouterr()
    assert apr_main([*saved_run[1], "--out", str(run), "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "how to fix:" in err, err
    assert filename in err and where in err, err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before  # refused before any write


def test_an_untampered_resume_state_is_accepted(saved_run: tuple[Path, list[str]], tmp_path: Path) -> None:
    """The negative control of the table above: the same copy, untouched, resumes and finishes."""
    run = tmp_path / "run"
    shutil.copytree(saved_run[0], run)
    assert apr_main([*saved_run[1], "--out", str(run), "--resume", str(run)]) == 0
    assert json.loads((run / "summary.json").read_text())["steps_completed"] == 6


def test_a_resumed_run_logs_every_step_and_eval_once(saved_run: tuple[Path, list[str]], tmp_path: Path) -> None:
    """Issue 16 item 14: after --resume, the eval at the resume step was logged twice in train.log and
    metrics.jsonl (once by the step-0 evaluation every run did first, once by the loop)."""
    run = tmp_path / "run"
    shutil.copytree(saved_run[0], run)
    assert apr_main([*saved_run[1], "--out", str(run), "--resume", str(run)]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "eval"] == [0, 3, 6]
    assert [r["step"] for r in records if r["kind"] == "train"] == [0, 1, 2, 3, 4, 5]
    log = (run / "train.log").read_text().splitlines()
    assert [line.split()[1] for line in log if line.startswith("eval ")] == ["step=0", "step=3", "step=6"]
    assert [line.split()[0] for line in log if line.startswith("step=")] == [f"step={i}" for i in range(6)]
    assert sum(line.startswith("done ") for line in log) == 1 and any("resumed from" in line for line in log)


def test_trim_log_cuts_at_the_first_line_of_the_resume_step(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text("apr pretrain: mode=x\neval step=0 val_loss=6\nstep=0 loss=6\nstep=1 loss=5\neval step=2 v=4\n"
                   "step=2 loss=4\ndone status=ok steps=3\n")
    R.trim_log(log, 2)
    assert log.read_text() == "apr pretrain: mode=x\neval step=0 val_loss=6\nstep=0 loss=6\nstep=1 loss=5\n"


@pytest.mark.falsifies("FALSIFY-HANDOFF-011")
def test_without_validation_an_impossible_state_is_accepted(saved_run: tuple[Path, list[str]], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The mutation of the table above: with validate_resume_point switched off, a resume point claiming
    step 10**6 "finishes" with exit 0 and a summary of a million steps (the issue's reproduction)."""
    run = tmp_path / "run"
    shutil.copytree(saved_run[0], run)
    _rename_step(run)
    monkeypatch.setattr(R, "validate_resume_point", lambda *a, **k: None)
    assert apr_main([*saved_run[1], "--out", str(run), "--resume", str(run)]) == 0
    assert json.loads((run / "summary.json").read_text())["steps_completed"] == 10**6

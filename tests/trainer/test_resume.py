"""Unit tests of trainer/resume.py: pickle-free resume state, its layout, and its refusals.

The end-to-end "interrupted + resumed == uninterrupted" checks (1 and 2 processes) are
FALSIFY-DIST-009/010 in falsifiers/test_distributed.py.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

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
    for step in (2, 4, 6):
        _train(eng, opt, sched, 2)
        sampler.next_batch()
        R.save_resume_state(tmp_path, model=eng, optimizer=opt, scheduler=sched, sampler=sampler, step=step,
                            tokens_seen=step * 32, carry={"step_0_loss": 6.2}, cfg=cfg, ctx=DistContext(),
                            provenance={"tool": "test"})
    root = tmp_path / "resume"
    assert sorted(p.name for p in root.iterdir()) == ["latest.json", "step-00000004", "step-00000006"]
    assert sorted(p.name for p in (root / "step-00000006").iterdir()) == [
        "model.apr", "optimizer.safetensors", "state.json"]
    eng2, opt2, sched2, sampler2 = _setup(seed=9)
    info = R.load_resume_state(tmp_path, model=eng2, optimizer=opt2, scheduler=sched2, sampler=sampler2, cfg=cfg,
                               ctx=DistContext())
    assert (info.step, info.tokens_seen, info.carry) == (6, 192, {"step_0_loss": 6.2})
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

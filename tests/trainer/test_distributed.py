"""Unit tests of trainer/distributed.py and trainer/parallel.py that need no second process (the 2-process
runs are in falsifiers/test_distributed.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as tdist

from apr.cli import build_parser
from trainer import distributed as D
from trainer import parallel as P
from trainer.apr_format import read_apr
from trainer.checkpoint import save_model
from trainer.config import PRESETS
from trainer.model import CausalLM
from trainer.run_config import RunConfig


def test_context_from_env_is_single_process_when_unset() -> None:
    ctx = D.context_from_env({})
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.is_main, ctx.is_distributed) == (0, 1, 0, True, False)


def test_context_from_env_reads_torchrun_variables() -> None:
    ctx = D.context_from_env({"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1"})
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.is_main, ctx.is_distributed) == (5, 8, 1, False, True)


@pytest.mark.parametrize("env", [{"RANK": "2", "WORLD_SIZE": "2"}, {"RANK": "x", "WORLD_SIZE": "2"},
                                 {"WORLD_SIZE": "0"}, {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "-1"}])
def test_context_from_env_rejects_inconsistent_launch(env: dict[str, str]) -> None:
    with pytest.raises(D.DistributedError):
        D.context_from_env(env)


def test_backend_follows_device() -> None:
    assert D.backend_for(torch.device("cpu")) == "gloo"
    assert D.backend_for(torch.device("cuda", 3)) == "nccl"


def test_start_is_a_noop_for_one_process() -> None:
    ctx = D.context_from_env({})
    got, dev = D.start(ctx, torch.device("cpu"), 5)
    assert got is ctx and dev == torch.device("cpu") and not tdist.is_initialized()


def test_single_process_engine_is_the_model() -> None:
    torch.manual_seed(0)
    lm = CausalLM(PRESETS["test-tiny"])
    eng = P.parallelize(lm, D.DistContext(), "ddp", torch.device("cpu"))  # ddp requested, one process: no wrapper
    assert eng.strategy == "none"
    x = torch.randint(0, 512, (2, 9))
    assert torch.equal(eng.loss(x[:, :-1], x[:, 1:]), lm.loss(x[:, :-1], x[:, 1:]))
    assert [id(p) for p in eng.parameters()] == [id(p) for p in lm.parameters()]
    full = eng.full_state_dict()
    assert list(full) == list(lm.checkpoint_tensors()) and "lm_head.weight" not in full
    eng.eval()
    assert not lm.training
    eng.train()
    assert lm.training


def test_save_checkpoint_writes_what_save_model_writes(tmp_path: Path) -> None:
    torch.manual_seed(1)
    lm = CausalLM(PRESETS["test-tiny"])
    eng = P.parallelize(lm, D.DistContext(), "ddp", torch.device("cpu"))
    a = eng.save_checkpoint(tmp_path / "a.apr", {"tool": "t"})
    b = save_model(lm, tmp_path / "b.apr", {"tool": "t"})
    assert a is not None and a.read_bytes() == b.read_bytes()
    # A non-main rank gathers (a no-op here) but never writes.
    rank1 = P.parallelize(lm, D.DistContext(rank=1, world_size=2), "none", torch.device("cpu"))
    assert rank1.save_checkpoint(tmp_path / "c.apr", {}) is None
    assert not (tmp_path / "c.apr").exists()


def test_load_full_state_dict_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(2)
    src = CausalLM(PRESETS["test-tiny"])
    save_model(src, tmp_path / "m.apr", {})
    _, tensors = read_apr(tmp_path / "m.apr")
    torch.manual_seed(3)
    dst = P.parallelize(CausalLM(PRESETS["test-tiny"]), D.DistContext(), "none", torch.device("cpu"))
    dst.load_full_state_dict(tensors)
    for n, t in src.state_dict().items():
        assert torch.equal(t, dst.lm.state_dict()[n]), n
    assert dst.lm.lm_head.weight is dst.lm.model.embed_tokens.weight  # still tied


def test_rank_slice_is_disjoint_equal_and_collective_safe() -> None:
    items = list(range(10))
    parts = [D.rank_slice(items, D.DistContext(rank=r, world_size=4)) for r in range(4)]
    assert [len(p) for p in parts] == [2, 2, 2, 2]  # 10 -> 8 usable: equal forward counts on every rank
    flat = [x for p in parts for x in p]
    assert len(flat) == len(set(flat)) == 8
    assert D.rank_slice(items, D.DistContext()) == items
    with pytest.raises(D.DistributedError, match="cannot be split"):
        D.rank_slice([1, 2], D.DistContext(rank=0, world_size=3))


def test_weighted_mean_and_byte_exchange_are_identity_for_one_process() -> None:
    ctx = D.context_from_env({})
    assert D.weighted_mean(ctx, 1.25, 8) == 1.25
    assert D.gather_bytes(ctx, b"abc") == [b"abc"]
    assert D.broadcast_bytes(ctx, b"xyz") == b"xyz"
    with pytest.raises(D.DistributedError, match="call start"):  # a 2-rank context before the group exists
        D.weighted_mean(D.DistContext(rank=0, world_size=2), 1.0, 1)


def test_fsdp2_resolves_on_this_torch_and_its_absence_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    assert P.fully_shard_fn() is not None  # CI pins torch 2.13: FSDP2 is public there
    monkeypatch.setattr(P, "fully_shard_fn", lambda: None)
    with pytest.raises(D.DistributedError, match="FSDP2"):
        P.parallelize(CausalLM(PRESETS["test-tiny"]), D.DistContext(rank=0, world_size=2), "fsdp", torch.device("cpu"))


def test_cli_flags_reach_the_run_config(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["pretrain", "--mode", "from-scratch", "--tokenizer", "t", "--shards-dir", "s", "--steps", "3",
         "--batch-size", "2", "--seq-len", "8", "--out", str(tmp_path), "--fsdp", "--dist-timeout", "30",
         "--save-every", "2", "--resume", str(tmp_path)]
    )
    fields = {k: v for k, v in vars(args).items() if k in RunConfig.model_fields and v is not None}
    cfg = RunConfig(**fields)
    assert (cfg.fsdp, cfg.dist_timeout_s, cfg.save_every, cfg.resume) == (True, 30.0, 2, tmp_path)
    plain = build_parser().parse_args(["pretrain", "--mode", "from-scratch", "--tokenizer", "t", "--shards-dir", "s",
                                       "--steps", "3", "--batch-size", "2", "--seq-len", "8", "--out", "o"])
    cfg = RunConfig(**{k: v for k, v in vars(plain).items() if k in RunConfig.model_fields and v is not None})
    assert (cfg.fsdp, cfg.dist_timeout_s, cfg.save_every, cfg.resume) == (False, 600.0, None, None)

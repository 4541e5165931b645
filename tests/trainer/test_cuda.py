"""The trainer on a real CUDA device: bf16 numerics, nccl, DDP/FSDP2 on one GPU, .apr round trip, speed options.

Every test here carries the ``cuda`` marker and is skipped, with a reason, where torch sees no CUDA
device: a skip is recorded as skipped (pv: "skipped", never "pass"), see
``test_cuda_tests_are_recorded_as_skipped_not_passed`` in test_cuda_skips.py. ``benchmarks/gpu_check.py``
runs them on a GPU machine and records the outcome under ``evidence/``.

No test is parametrised across CPU and CUDA: pv folds a node's cases into one verdict, and a CPU case
passing beside a skipped CUDA case would read as a pass.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

import pytest
import torch

from trainer.config import ModelConfig
from trainer.model import CausalLM

NO_CUDA = "needs a CUDA device (torch.cuda.is_available() is False); benchmarks/gpu_check.py runs these on a GPU"
pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)]

# Qwen2-shaped, big enough that bf16 rounding is exercised over real matmul sizes, small enough for seconds.
CFG = ModelConfig(
    architecture="qwen2", vocab_size=4096, hidden_size=256, num_layers=4, num_heads=8, num_kv_heads=2,
    intermediate_size=704, max_position_embeddings=1024, rope_theta=1e6, rms_norm_eps=1e-6,
    tie_word_embeddings=True, qkv_bias=True,
)


@pytest.fixture(autouse=True)
def _exact_fp32() -> None:
    """fp32 references mean fp32: TF32 off for the duration of each test, restored after."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def _batch(seed: int, b: int = 4, t: int = 129, device: str = "cuda") -> torch.Tensor:
    return torch.randint(0, CFG.vocab_size, (b, t), generator=torch.Generator().manual_seed(seed)).to(device)


def _loss_grads(model: CausalLM, x: torch.Tensor, bf16: bool = False) -> tuple[float, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
        loss = model.loss(x[:, :-1], x[:, 1:])
    loss.backward()
    return float(loss.detach()), {n: p.grad.detach().float().cpu() for n, p in model.named_parameters()}


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0))


def assert_grads_agree(ref: dict[str, torch.Tensor], got: dict[str, torch.Tensor], min_cos: float) -> None:
    """All gradients together, and each parameter's that is not negligible, point the same way.

    A gradient under 1e-3 of the largest parameter's norm (a k-projection bias, say) is mostly
    rounding in bf16, so its direction is not held to ``min_cos``; it still counts in the total.
    """
    assert ref.keys() == got.keys()
    total = _cos(torch.cat([ref[n].flatten() for n in ref]), torch.cat([got[n].flatten() for n in ref]))
    assert total >= min_cos, f"the whole gradient has cosine {total:.5f} < {min_cos} to the reference"
    floor = 1e-3 * max(float(g.norm()) for g in ref.values())
    worst = min((_cos(ref[n], got[n]), n) for n in ref if float(ref[n].norm()) >= floor)
    assert worst[0] >= min_cos, f"gradient of {worst[1]} has cosine {worst[0]:.5f} < {min_cos} to the reference"


def test_cuda_fp32_matches_cpu_fp32() -> None:
    torch.manual_seed(0)
    cpu = CausalLM(CFG)
    gpu = copy.deepcopy(cpu).cuda()
    x = _batch(1, device="cpu")
    l_cpu, g_cpu = _loss_grads(cpu, x)
    l_gpu, g_gpu = _loss_grads(gpu, x.cuda())
    assert l_gpu == pytest.approx(l_cpu, rel=1e-5)
    for n in g_cpu:
        torch.testing.assert_close(g_gpu[n], g_cpu[n], rtol=1e-3, atol=1e-6, msg=lambda m, n=n: f"{n}: {m}")


def test_bf16_autocast_forward_backward_tracks_fp32() -> None:
    """bf16 has 8 mantissa bits: the loss within 1% and every gradient pointing the same way (cos >= 0.99)."""
    torch.manual_seed(0)
    model = CausalLM(CFG).cuda()
    x = _batch(2)
    l32, g32 = _loss_grads(model, x)
    l16, g16 = _loss_grads(model, x, bf16=True)
    assert l16 == pytest.approx(l32, rel=1e-2)
    assert_grads_agree(g32, g16, min_cos=0.99)
    # The comparison can fail: another batch's gradients are not "the same within bf16 rounding".
    _, g_other = _loss_grads(model, _batch(3), bf16=True)
    with pytest.raises(AssertionError):
        assert_grads_agree(g32, g_other, min_cos=0.99)


def test_fused_adamw_on_cuda_matches_foreach() -> None:
    from trainer.optim import make_optimizer

    torch.manual_seed(0)
    a = CausalLM(CFG).cuda()
    b = copy.deepcopy(a)
    opt_a = make_optimizer(a, 1e-3, 0.1, (0.9, 0.95))
    assert all(g["fused"] for g in opt_a.param_groups)
    groups = [{k: v for k, v in g.items() if k not in ("fused", "foreach")}
              for g in make_optimizer(b, 1e-3, 0.1, (0.9, 0.95)).param_groups]
    opt_b = torch.optim.AdamW(groups, foreach=True)
    assert not any(g["fused"] for g in opt_b.param_groups)
    for i in range(3):
        x = _batch(10 + i)
        for model, opt in ((a, opt_a), (b, opt_b)):
            model.loss(x[:, :-1], x[:, 1:]).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    for (n, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=lambda m, n=n: f"{n}: {m}")


def test_compiled_layers_follow_eager_on_cuda() -> None:
    torch.manual_seed(0)
    eager = CausalLM(CFG).cuda()
    compiled = copy.deepcopy(eager)
    compiled.compile_layers()
    for seed in (20, 21):
        x = _batch(seed)
        le, ge = _loss_grads(eager, x, bf16=True)
        lc, gc = _loss_grads(compiled, x, bf16=True)
        assert lc == pytest.approx(le, rel=5e-3)
        assert_grads_agree(ge, gc, min_cos=0.995)


def test_activation_checkpointing_lowers_cuda_peak_memory_and_keeps_grads() -> None:
    torch.manual_seed(0)
    plain = CausalLM(CFG).cuda()
    ckpt = copy.deepcopy(plain)
    ckpt.set_activation_checkpointing(True)
    x = _batch(4, b=8, t=513)
    peaks, grads = {}, {}
    for name, model in (("plain", plain), ("ckpt", ckpt)):
        _loss_grads(model, x, bf16=True)  # warm the allocator
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        _, grads[name] = _loss_grads(model, x, bf16=True)
        torch.cuda.synchronize()
        peaks[name] = torch.cuda.max_memory_allocated() - base
    assert_grads_agree(grads["plain"], grads["ckpt"], min_cos=0.9999)
    assert peaks["ckpt"] < 0.8 * peaks["plain"], peaks


@pytest.fixture
def one_rank_group(tmp_path: Path):
    """A real nccl process group of world size 1 (FileStore rendezvous), torn down after the test."""
    import torch.distributed as tdist

    store = tdist.FileStore(str(tmp_path / "pg-store"), 1)
    torch.cuda.set_device(0)
    tdist.init_process_group("nccl", store=store, rank=0, world_size=1, device_id=torch.device("cuda", 0))
    try:
        yield tdist
    finally:
        tdist.destroy_process_group()


def test_nccl_single_process_group_reduces_on_the_gpu(one_rank_group) -> None:
    tdist = one_rank_group
    assert tdist.get_backend() == "nccl" and tdist.get_world_size() == 1
    t = torch.arange(4, dtype=torch.float32, device="cuda")
    tdist.all_reduce(t)
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
    gathered = [torch.zeros(4, device="cuda")]
    tdist.all_gather(gathered, t + 1)
    assert gathered[0].tolist() == [1.0, 2.0, 3.0, 4.0]


def _one_step(module: torch.nn.Module, params: list[torch.nn.Parameter], x: torch.Tensor) -> dict[int, torch.Tensor]:
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = module(x[:, :-1], x[:, 1:])
    loss.backward()
    out = {}
    for i, p in enumerate(params):
        g = p.grad.full_tensor() if hasattr(p.grad, "full_tensor") else p.grad
        out[i] = g.detach().float().cpu()
    return out


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_ddp_and_fsdp2_on_one_gpu_match_the_plain_model(one_rank_group, strategy: str) -> None:
    """World size 1: the wrapper's hooks (DDP bucketing / FSDP2 all-gather + reduce-scatter) run over nccl,
    and the gradients equal the unwrapped model's (an average over one rank)."""
    from torch.nn.parallel import DistributedDataParallel

    from trainer.parallel import LossModule, fully_shard_fn

    torch.manual_seed(0)
    ref = CausalLM(CFG).cuda()
    lm = copy.deepcopy(ref)
    module = LossModule(lm)
    if strategy == "ddp":
        module = DistributedDataParallel(module, device_ids=[0])
    else:
        fully_shard = fully_shard_fn()
        for layer in lm.model.layers:
            fully_shard(layer)
        fully_shard(module)
    x = _batch(5)
    got = _one_step(module, list(lm.parameters()), x)
    want = _one_step(LossModule(ref), list(ref.parameters()), x)
    assert got.keys() == want.keys()
    for i in want:
        torch.testing.assert_close(got[i], want[i], rtol=1e-3, atol=1e-5)


def test_cuda_trained_model_round_trips_through_apr(tmp_path: Path, shards_dir: Path, tokenizer_file: Path) -> None:
    """``apr pretrain --device cuda`` end to end, then the .apr loads on CPU and reproduces the GPU's logits."""
    from trainer.apr_format import AprFile, read_apr
    from trainer.checkpoint import save_model
    from trainer.loop import run_pretrain
    from trainer.run_config import RunConfig

    cfg = RunConfig(mode="from-scratch", model_config_name="test-tiny", tokenizer=tokenizer_file,
                    shards_dir=shards_dir, steps=6, batch_size=4, seq_len=32, lr=3e-3, eval_every=3,
                    eval_batches=2, out=tmp_path / "run", progress="off", device="cuda")
    res = run_pretrain(cfg, stream=io.StringIO())
    assert (res.status, res.exit_code) == ("ok", 0)
    assert res.summary["device"].startswith("cuda")
    with AprFile(res.checkpoint) as f:  # CRCs verified on open
        assert f.metadata["provenance"]["steps"] == 6
    # A model trained on the GPU, written from GPU tensors, read back bit-exactly, same logits on CPU.
    torch.manual_seed(1)
    gpu = CausalLM(CFG).cuda()
    opt = torch.optim.AdamW(gpu.parameters(), lr=1e-3)
    for i in range(2):
        x = _batch(30 + i)
        gpu.loss(x[:, :-1], x[:, 1:]).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    path = save_model(gpu, tmp_path / "gpu.apr", {"tool": "test"})
    _, tensors = read_apr(path)
    for n, t in gpu.checkpoint_tensors().items():
        assert torch.equal(tensors[n], t.detach().cpu()), n
    cpu = CausalLM(CFG)
    with torch.no_grad():
        for n, t in cpu.checkpoint_tensors().items():
            t.copy_(tensors[n])
    x = _batch(40, device="cpu")
    with torch.no_grad():
        torch.testing.assert_close(cpu.logits(x), gpu.logits(x.cuda()).cpu(), rtol=1e-3, atol=1e-4)

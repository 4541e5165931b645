"""``apr pretrain``'s speed and memory flags through the real loop: --grad-accum, --activation-checkpointing,
--compile change nothing beyond float rounding; FLOPs/token, TFLOP/s and MFU reach metrics.jsonl and summary.json.

"The same run" is judged by ``assert_runs_match`` from the DDP equivalence falsifiers (per-step loss
and grad norm within 1e-5 relative, lr exact, every val_loss within 1e-5, every checkpoint tensor
within 1e-4), so accumulation is held to exactly the tolerance data parallelism is.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from apr.cli import build_parser
from falsifiers.test_distributed import assert_runs_match
from tests.trainer import dist_launch as L
from tests.trainer.conftest import toy_run_dir
from trainer import step as step_module
from trainer.config import PRESETS
from trainer.flops import flops_per_token
from trainer.loop import run_pretrain
from trainer.run_config import RunConfig


def _run(tmp: Path, shards: Path, tok: Path, name: str, **kw: Any) -> Path:
    base = dict(mode="from-scratch", model_config_name="test-tiny", tokenizer=tok, shards_dir=shards, steps=6,
                batch_size=4, seq_len=16, lr=3e-3, warmup=2, eval_every=3, eval_batches=2, out=tmp / name,
                progress="off", device="cpu")
    base.update(kw)
    res = run_pretrain(RunConfig(**base), stream=io.StringIO())
    assert (res.status, res.exit_code) == ("ok", 0), res.summary["detail"]
    return tmp / name


@pytest.mark.parametrize("k", [2, 4])
def test_grad_accum_k_micro_batches_equal_one_batch(tmp_path: Path, shards_dir: Path, tokenizer_file: Path,
                                                    k: int) -> None:
    ref = _run(tmp_path, shards_dir, tokenizer_file, "k1")
    acc = _run(tmp_path, shards_dir, tokenizer_file, f"k{k}", grad_accum=k)
    assert_runs_match(ref, acc)
    s = json.loads((acc / "summary.json").read_text())
    assert s["config"]["grad_accum"] == k and s["tokens_seen"] == 6 * 4 * 16  # same tokens per step


def test_grad_accum_check_catches_a_wrong_split(tmp_path: Path, shards_dir: Path, tokenizer_file: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: accumulation that trains on the first micro-batch K times is not "the same run"."""
    ref = _run(tmp_path, shards_dir, tokenizer_file, "k1")
    monkeypatch.setattr(step_module, "micro_batches", lambda t, k: (t.chunk(k)[0],) * k)
    broken = _run(tmp_path, shards_dir, tokenizer_file, "broken", grad_accum=2)
    with pytest.raises(AssertionError):
        assert_runs_match(ref, broken)


def test_activation_checkpointing_run_equals_plain_run(tmp_path: Path, shards_dir: Path,
                                                       tokenizer_file: Path) -> None:
    ref = _run(tmp_path, shards_dir, tokenizer_file, "plain")
    assert_runs_match(ref, _run(tmp_path, shards_dir, tokenizer_file, "ckpt", activation_checkpointing=True))
    # The comparison resolves a small change: the same run at a 1% higher learning rate is rejected.
    with pytest.raises(AssertionError):
        assert_runs_match(ref, _run(tmp_path, shards_dir, tokenizer_file, "lr", lr=3.03e-3))


@pytest.mark.slow
def test_compiled_checkpointed_accumulated_run_equals_plain_run(tmp_path: Path, shards_dir: Path,
                                                                tokenizer_file: Path) -> None:
    """All three flags at once, through the loop: torch.compile (inductor) of every layer, checkpointing, K=2."""
    ref = _run(tmp_path, shards_dir, tokenizer_file, "plain")
    fast = _run(tmp_path, shards_dir, tokenizer_file, "all", compile=True, activation_checkpointing=True,
                grad_accum=2)
    assert_runs_match(ref, fast)


def test_flops_tflops_and_mfu_in_metrics_and_summary(tmp_path: Path, shards_dir: Path,
                                                     tokenizer_file: Path) -> None:
    fpt = flops_per_token(PRESETS["test-tiny"], 16).total
    plain = _run(tmp_path, shards_dir, tokenizer_file, "plain")
    train = [json.loads(x) for x in (plain / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in train if r["kind"] == "train"]
    for r in train:
        assert r["flops_per_token"] == fpt
        assert r["tflops"] == pytest.approx(fpt * 4 * 16 / r["step_s"] / 1e12)
        assert "mfu" not in r  # CPU: no peak, no MFU
    s = json.loads((plain / "summary.json").read_text())
    assert s["flops_per_token"] == fpt and s["flops"]["seq_len"] == 16 and "6*N" in s["flops"]["formula"]
    assert s["tflops"] == pytest.approx(fpt * s["tokens_seen"] / s["train_wall_s"] / 1e12)
    assert s["mfu"] is None and s["peak_tflops"] is None
    # A stated peak gives an MFU: achieved / peak, per step and for the run.
    peaked = _run(tmp_path, shards_dir, tokenizer_file, "peak", peak_tflops=0.5)
    recs = [json.loads(x) for x in (peaked / "metrics.jsonl").read_text().splitlines()]
    assert all(r["mfu"] == pytest.approx(r["tflops"] / 0.5) for r in recs if r["kind"] == "train")
    s = json.loads((peaked / "summary.json").read_text())
    assert s["mfu"] == pytest.approx(s["tflops"] / 0.5) and s["peak_tflops_source"] == "--peak-tflops"
    assert " tflops=" in (peaked / "train.log").read_text() and " mfu=" in (peaked / "train.log").read_text()


def test_grad_accum_must_divide_the_batch(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not divisible by --grad-accum 4"):
        RunConfig(mode="from-scratch", tokenizer=tmp_path, shards_dir=tmp_path, steps=1, batch_size=6, seq_len=8,
                  out=tmp_path, grad_accum=4)
    with pytest.raises(ValidationError):
        RunConfig(mode="from-scratch", tokenizer=tmp_path, shards_dir=tmp_path, steps=1, batch_size=6, seq_len=8,
                  out=tmp_path, grad_accum=0)


def test_cli_flags_reach_the_run_config(tmp_path: Path) -> None:
    base = ["pretrain", "--mode", "from-scratch", "--tokenizer", "t", "--shards-dir", "s", "--steps", "3",
            "--batch-size", "4", "--seq-len", "8", "--out", str(tmp_path)]

    def cfg(*extra: str) -> RunConfig:
        args = build_parser().parse_args([*base, *extra])
        return RunConfig(**{k: v for k, v in vars(args).items() if k in RunConfig.model_fields and v is not None})

    c = cfg("--grad-accum", "2", "--activation-checkpointing", "--compile", "--peak-tflops", "989")
    assert (c.grad_accum, c.activation_checkpointing, c.compile, c.peak_tflops) == (2, True, True, 989.0)
    c = cfg()
    assert (c.grad_accum, c.activation_checkpointing, c.compile, c.peak_tflops) == (1, False, False, None)


# --------------------------------------------------------------------------------------------------
# 2 gloo ranks: K micro-batches of B/(2K) on each of 2 ranks == one process with batch B


@pytest.fixture(scope="module")
def dist_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return toy_run_dir(tmp_path_factory.mktemp("accum"))


def _launch(env: dict[str, Path], name: str, nproc: int, **over: Any) -> Path:
    args = L.pretrain_args(env["shards"], env["tok"], env["root"] / name, **over)
    report = env["root"] / f"rep-{name}"
    launch = (L.run_single(report, env["root"], args) if nproc == 1
              else L.run_torchrun(nproc, report, env["root"], args, timeout=300))
    assert launch.returncodes == [0], launch.output[-4000:]
    return env["root"] / name


@pytest.mark.slow
@pytest.mark.parametrize("fsdp", [False, True], ids=["ddp", "fsdp"])
def test_grad_accum_under_two_gloo_ranks_equals_one_process(dist_env: dict[str, Path], fsdp: bool) -> None:
    ref = dist_env["root"] / "single"  # one reference for both parametrizations (a run never overwrites --out)
    if not (ref / "summary.json").is_file():
        _launch(dist_env, "single", 1, batch_size=4)
    acc = _launch(dist_env, f"accum-{'fsdp' if fsdp else 'ddp'}", 2, batch_size=2, grad_accum=2, fsdp=fsdp)
    assert_runs_match(ref, acc)
    assert json.loads((acc / "summary.json").read_text())["config"]["grad_accum"] == 2

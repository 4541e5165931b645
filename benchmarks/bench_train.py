"""Training-step throughput and peak memory: ``apr pretrain``'s step vs transformers' Qwen2ForCausalLM.

Run by hand (not part of the test suite)::

    python benchmarks/bench_train.py [--steps 6] [--warmup 2] [--json out.json]

Both sides train the same config (vocab 151,936, hidden 128, 2 layers, 4 heads, 2 kv heads,
batch 4 x seq 256) with torch AdamW, on the same random token batches, each in a fresh
subprocess so one side's allocations cannot inflate the other's peak. Peak memory is the process's
peak RSS minus its RSS right after building model + optimizer inputs (what the training step
itself adds, plus optimizer state); the raw peak RSS is reported too. The targets are ratios
measured in the same run: tokens/s >= 1.0x and peak memory <= 0.6x the transformers model.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

CONFIG = {
    "architecture": "qwen2",
    "vocab_size": 151_936,
    "hidden_size": 128,
    "num_layers": 2,
    "num_heads": 4,
    "num_kv_heads": 2,
    "intermediate_size": 512,
    "max_position_embeddings": 1024,
    "rope_theta": 1e6,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "qkv_bias": True,
}
BATCH, SEQ = 4, 256


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(side: str, steps: int, warmup: int, threads: int | None) -> dict:
    import time

    import torch

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    batches = [torch.randint(0, CONFIG["vocab_size"], (BATCH, SEQ + 1), generator=gen) for _ in range(warmup + steps)]
    if side == "apr":
        from trainer.config import ModelConfig
        from trainer.model import CausalLM

        model = CausalLM(ModelConfig(**CONFIG))

        def loss_fn(b: torch.Tensor) -> torch.Tensor:
            return model.loss(b[:, :-1], b[:, 1:])
    else:
        import transformers

        from trainer.config import ModelConfig, config_to_hf

        hf_cfg = transformers.Qwen2Config(**config_to_hf(ModelConfig(**CONFIG)))
        model = transformers.Qwen2ForCausalLM(hf_cfg)

        def loss_fn(b: torch.Tensor) -> torch.Tensor:
            return _hf_loss(model, b)

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    base_rss = _rss_mb()
    times = []
    for i, b in enumerate(batches):
        t0 = time.perf_counter()
        loss = loss_fn(b)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        if i >= warmup:
            times.append(dt)
    times.sort()
    median = times[len(times) // 2]
    return {
        "side": side,
        "tokens_per_s": BATCH * SEQ / median,
        "step_s_median": median,
        "peak_rss_mb": _peak_rss_mb(),
        "base_rss_mb": base_rss,
        "peak_delta_mb": _peak_rss_mb() - base_rss,
        "last_loss": float(loss),
        "params": sum(p.numel() for p in model.parameters()),
        "threads": torch.get_num_threads(),
    }


def _hf_loss(model, b):
    """The usual HF training loss: full logits, fp32 cross-entropy over the same targets as ours."""
    import torch

    logits = model(input_ids=b[:, :-1]).logits
    return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), b[:, 1:].reshape(-1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--worker", choices=["apr", "hf"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.steps, args.warmup, args.threads)))
        return 0
    results = {}
    for side in ("hf", "apr", "hf", "apr"):  # interleaved twice; the better of each is kept
        cmd = [sys.executable, __file__, "--worker", side, "--steps", str(args.steps), "--warmup", str(args.warmup)]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        prev = results.get(side)
        if prev is None or r["tokens_per_s"] > prev["tokens_per_s"]:
            r["peak_delta_mb"] = min(r["peak_delta_mb"], prev["peak_delta_mb"]) if prev else r["peak_delta_mb"]
            results[side] = r
    ratios = {
        "tokens_per_s_ratio": results["apr"]["tokens_per_s"] / results["hf"]["tokens_per_s"],
        "peak_delta_mem_ratio": results["apr"]["peak_delta_mb"] / results["hf"]["peak_delta_mb"],
        "peak_rss_ratio": results["apr"]["peak_rss_mb"] / results["hf"]["peak_rss_mb"],
    }
    report = {
        "config": CONFIG,
        "batch": BATCH,
        "seq": SEQ,
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "results": results,
        "ratios": ratios,
        "targets": {"tokens_per_s_ratio": ">= 1.0", "peak_delta_mem_ratio": "<= 0.6"},
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Training-step speed and peak memory: apr's step (eager, compiled, checkpointed) vs transformers' Qwen2ForCausalLM.

Run by hand (not part of the test suite)::

    python benchmarks/bench_train.py                                   # CPU: apr vs HF, the shape below
    python benchmarks/bench_train.py --shape deep --variants apr,apr-compile,apr-ac   # CPU speed options
    python benchmarks/bench_train.py --shape qwen2-0.5b --device cuda --dtype bf16 \\
        --variants hf,apr,apr-compile,apr-compile-loss,apr-ac --isolate none          # one GPU (gpu_check.py)

Variants (every one trains the same architecture on the same random token batches with the same
optimizer, ``trainer.optim.make_optimizer``'s AdamW: fused on CUDA, foreach on CPU):

* ``hf``: transformers' ``Qwen2ForCausalLM`` (default attention) + full-logits fp32 cross-entropy;
* ``apr``: ``trainer.model.CausalLM`` + the chunked LM-head loss, eager;
* ``apr-compile``: every decoder layer ``torch.compile``d in place (what ``--compile`` does);
* ``apr-compile-loss``: the same plus the chunked loss compiled separately;
* ``apr-ac``: per-layer activation checkpointing (``--activation-checkpointing``);
* ``apr-compile-ac``: both.

Shapes: ``small`` (vocab 151,936, hidden 128, 2 layers, batch 4 x seq 256: the LM head dominates),
``deep`` (vocab 8,192, hidden 256, 8 layers, batch 8 x seq 256: the decoder layers dominate, so the
layer options show), ``qwen2-0.5b`` (the preset, batch 8 x seq 512; a GPU shape), ``tiny`` (the
test-tiny preset, batch 4 x seq 32: a smoke run of this script, no meaningful numbers).

``--dtype bf16`` is what ``apr pretrain`` does on CUDA: fp32 master weights under bf16 autocast.

How peak memory is measured, and why:

* ``--isolate subprocess`` (the default on CPU): each variant runs in a fresh process and its peak is
  ``getrusage(RUSAGE_SELF).ru_maxrss`` (the kernel's high-water mark of resident memory) minus the
  RSS right after the model, optimizer and batches were built: what the training step adds,
  optimizer state included. tracemalloc would see only Python's allocator, not torch's C++ buffers,
  and torch keeps no CPU peak statistic, so a fresh process per variant is the honest measure. For
  compiled variants the peak also holds the compiler's own Python memory (compilation happens in
  the first warm-up steps); the C++ compiler runs in child processes and is not counted.
* ``--isolate none`` (one process, the variants one after another): on CUDA the peak is
  ``torch.cuda.max_memory_allocated`` over the timed steps, reset per variant (weights, grads,
  optimizer state and activations: what must fit on the card); on CPU no per-variant peak exists
  in one process and none is reported.

Step time is the median over the timed steps after ``--warmup`` untimed ones (compilation happens
there), with a device synchronisation around each step on CUDA. TFLOP/s and MFU use
``trainer.flops`` (model FLOPs: checkpointing's recomputation is not counted, so its MFU drops);
MFU only on a CUDA device the peak table knows, or with ``--peak-tflops``. Results are ratios
measured in the same run, never absolute targets: each variant is also printed as one
``RESULT {json}`` line the moment it finishes, so a run cut short still leaves its numbers.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script from anywhere: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SMALL = {
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
DEEP = {**SMALL, "vocab_size": 8192, "hidden_size": 256, "num_layers": 8, "num_heads": 8, "num_kv_heads": 4,
        "intermediate_size": 704}
SHAPES: dict[str, tuple[dict[str, Any] | str, int, int]] = {
    "small": (SMALL, 4, 256),
    "deep": (DEEP, 8, 256),
    "qwen2-0.5b": ("qwen2-0.5b", 8, 512),
    "tiny": ("test-tiny", 4, 32),  # seconds on any CPU: exercises this script (gpu_check --simulate-cpu)
}
VARIANTS = ("hf", "apr", "apr-compile", "apr-compile-loss", "apr-ac", "apr-compile-ac")


def model_config(shape: str) -> Any:
    from trainer.config import PRESETS, ModelConfig

    cfg = SHAPES[shape][0]
    return PRESETS[cfg] if isinstance(cfg, str) else ModelConfig(**cfg)


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build(variant: str, cfg: Any, device: Any) -> tuple[Any, Any]:
    """The model (on ``device``) and its loss function ``(batch) -> scalar``."""
    import torch

    if variant == "hf":
        import transformers

        from trainer.config import config_to_hf

        model = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**config_to_hf(cfg))).to(device)

        def hf_loss(b: torch.Tensor) -> torch.Tensor:
            """The usual HF training loss: full logits, fp32 cross-entropy over the same targets as ours."""
            logits = model(input_ids=b[:, :-1]).logits
            return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), b[:, 1:].reshape(-1))

        return model, hf_loss
    from trainer.model import CausalLM

    model = CausalLM(cfg).to(device)
    if variant in ("apr-ac", "apr-compile-ac"):
        model.set_activation_checkpointing(True)
    if variant in ("apr-compile", "apr-compile-loss", "apr-compile-ac"):
        model.compile_layers(include_loss=variant == "apr-compile-loss")
    return model, lambda b: model.loss(b[:, :-1], b[:, 1:])


class VariantRun:
    """One variant's model, optimizer and batches, stepped one optimizer update at a time."""

    def __init__(self, variant: str, shape: str, device_name: str, dtype: str, steps: int, warmup: int) -> None:
        import torch

        from trainer.optim import make_optimizer

        self.variant, self.shape, self.dtype, self.warmup = variant, shape, dtype, warmup
        self.device = torch.device(device_name)
        self.cuda = self.device.type == "cuda"
        if self.cuda:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.cuda.empty_cache()
        self.cfg, (_, self.batch, self.seq) = model_config(shape), SHAPES[shape]
        torch.manual_seed(0)
        gen = torch.Generator().manual_seed(1)
        self.batches = [torch.randint(0, self.cfg.vocab_size, (self.batch, self.seq + 1), generator=gen).to(self.device)
                        for _ in range(warmup + steps)]
        self.model, self.loss_fn = _build(variant, self.cfg, self.device)
        self.model.train()
        self.opt = make_optimizer(self.model, 1e-4, 0.1, (0.9, 0.95))
        self.base_rss = _rss_mb()
        self.base_cuda = torch.cuda.memory_allocated(self.device) if self.cuda else 0
        self.times: list[float] = []
        self.warm: list[float] = []
        self.losses: list[float] = []

    def step(self, i: int) -> None:
        import torch

        if self.cuda and i == self.warmup:
            torch.cuda.reset_peak_memory_stats(self.device)
        if self.cuda:
            torch.cuda.synchronize(self.device)
        t0 = time.perf_counter()
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.dtype == "bf16"):
            loss = self.loss_fn(self.batches[i])
        loss.backward()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        if self.cuda:
            torch.cuda.synchronize(self.device)
        dt = time.perf_counter() - t0
        self.losses.append(float(loss.detach()))
        (self.times if i >= self.warmup else self.warm).append(dt)

    def result(self, memory: str, peak_tflops: float | None) -> dict[str, Any]:
        """``memory`` is how the variant ran (subprocess, none, interleave): it decides which peak exists."""
        import torch

        from trainer.flops import device_peak_tflops, flops_per_token, step_flops

        median = statistics.median(self.times)
        tokens = self.batch * self.seq
        peak, peak_src = device_peak_tflops(self.device.type, peak_tflops)
        fl = step_flops(flops_per_token(self.cfg, self.seq), tokens, median, peak_tflops=peak)
        out: dict[str, Any] = {
            "variant": self.variant,
            "shape": self.shape,
            "device": torch.cuda.get_device_name(self.device) if self.cuda else platform.processor() or "cpu",
            "dtype": self.dtype,
            "batch": self.batch,
            "seq": self.seq,
            "tokens_per_s": tokens / median,
            "step_s_median": median,
            "step_s": self.times,
            "warmup_step_s": self.warm,  # the first holds compilation for compiled variants
            "flops_per_token": fl.flops_per_token,
            "tflops": fl.tflops,
            "mfu": fl.mfu,
            "peak_tflops": peak,
            "peak_tflops_source": peak_src,
            "loss_first": self.losses[0],
            "loss_last": self.losses[-1],
            "params": sum(p.numel() for p in self.model.parameters()),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "peak_mem_mb": None,
            "peak_delta_mb": None,
        }
        if self.cuda and memory == "none":
            out["peak_mem_mb"] = torch.cuda.max_memory_allocated(self.device) / 2**20
            out["peak_delta_mb"] = (torch.cuda.max_memory_allocated(self.device) - self.base_cuda) / 2**20
            out["memory_measure"] = "torch.cuda.max_memory_allocated over the timed steps"
        elif memory == "subprocess" and not self.cuda:
            out["peak_mem_mb"] = _peak_rss_mb()
            out["peak_delta_mb"] = _peak_rss_mb() - self.base_rss
            out["memory_measure"] = "ru_maxrss of a fresh process, minus RSS after setup"
        else:
            out["memory_measure"] = f"none: variants sharing one process ({memory}) have no per-variant peak"
        return out

    def close(self) -> None:
        import torch

        del self.model, self.opt, self.batches, self.loss_fn
        if self.cuda:
            torch.cuda.empty_cache()


def run_sequential(variant: str, args: argparse.Namespace, memory: str) -> dict[str, Any]:
    run = VariantRun(variant, args.shape, args.device, args.dtype, args.steps, args.warmup)
    for i in range(len(run.batches)):
        run.step(i)
    out = run.result(memory, args.peak_tflops)
    run.close()
    return out


def run_interleaved(variants: list[str], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Every variant built in one process, then stepped round-robin: A B C A B C ... so a change in
    machine load hits every variant alike, and ``paired_step_ratio`` compares the same moments."""
    runs = [VariantRun(v, args.shape, args.device, args.dtype, args.steps, args.warmup) for v in variants]
    for i in range(args.warmup + args.steps):
        for run in runs:
            run.step(i)
    out = {run.variant: run.result("interleave", args.peak_tflops) for run in runs}
    ref = out.get("apr") or out[variants[0]]
    for r in out.values():
        r["paired_step_ratio_vs_" + ref["variant"]] = statistics.median(
            a / b for a, b in zip(r["step_s"], ref["step_s"], strict=True))
    return out


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Every variant against the references present (``apr`` and ``hf``): speed up is > 1, memory down is < 1."""
    out: dict[str, dict[str, float | None]] = {}
    for ref in ("apr", "hf"):
        if ref not in results:
            continue
        r = results[ref]
        for name, v in results.items():
            if name == ref or (ref == "apr" and name == "hf") or (ref == "hf" and name != "apr" and "apr" in results):
                continue  # apr-* against apr, apr against hf (and anything against hf when apr is absent)
            mem = (v["peak_delta_mb"] / r["peak_delta_mb"]) if v.get("peak_delta_mb") and r.get("peak_delta_mb") \
                else None
            out[f"{name}/{ref}"] = {
                "tokens_per_s_ratio": v["tokens_per_s"] / r["tokens_per_s"],
                "step_time_ratio": v["step_s_median"] / r["step_s_median"],
                "peak_delta_mem_ratio": mem,
                "peak_mem_ratio": (v["peak_mem_mb"] / r["peak_mem_mb"]) if v.get("peak_mem_mb") and r.get(
                    "peak_mem_mb") else None,
                "paired_step_ratio": v.get(f"paired_step_ratio_vs_{ref}"),  # --isolate interleave only
            }
    return out


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="small")
    ap.add_argument("--variants", default="hf,apr", help=f"comma-separated, from: {', '.join(VARIANTS)}")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: fp32 weights under bf16 autocast (apr pretrain on CUDA)")
    ap.add_argument("--steps", type=int, default=6, help="timed steps per variant")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (compilation happens here)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="with --isolate subprocess: interleaved rounds; the faster run of each variant is kept")
    ap.add_argument("--isolate", choices=["subprocess", "none", "interleave"], default=None,
                    help="subprocess: a fresh process per variant (CPU default: honest peak RSS); none: one process, "
                    "variants in turn (CUDA default: per-variant CUDA peak); interleave: one process, steps "
                    "round-robin across variants (time ratios robust to load drift; no memory)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--peak-tflops", type=float, default=None, help="override the device's dense bf16 peak (MFU)")
    ap.add_argument("--json", type=Path, help="also write the report here")
    ap.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        ap.error(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    isolate = args.isolate or ("none" if args.device.startswith("cuda") else "subprocess")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.worker:
        print(json.dumps(run_sequential(args.worker, args, "subprocess")))
        return 0
    results: dict[str, dict[str, Any]] = {}
    if isolate == "interleave":
        results = run_interleaved(variants, args)
        for r in results.values():
            print("RESULT " + json.dumps(r), flush=True)
    for variant in (variants * args.rounds if isolate == "subprocess" else variants if isolate == "none" else []):
        t0 = time.perf_counter()
        if isolate == "subprocess":
            cmd = [sys.executable, __file__, "--worker", variant, "--shape", args.shape, "--device", args.device,
                   "--dtype", args.dtype, "--steps", str(args.steps), "--warmup", str(args.warmup)]
            cmd += ["--threads", str(args.threads)] if args.threads else []
            cmd += ["--peak-tflops", str(args.peak_tflops)] if args.peak_tflops else []
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(proc.stdout + proc.stderr, file=sys.stderr)
                raise SystemExit(f"bench_train: variant {variant} failed (exit {proc.returncode})")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
        else:
            r = run_sequential(variant, args, "none")
        r["wall_s"] = time.perf_counter() - t0  # build + warm-up (compilation) + timed steps
        print("RESULT " + json.dumps(r), flush=True)
        prev = results.get(variant)
        if prev is None or r["tokens_per_s"] > prev["tokens_per_s"]:
            if prev is not None and prev.get("peak_delta_mb") is not None and r.get("peak_delta_mb") is not None:
                r["peak_delta_mb"] = min(r["peak_delta_mb"], prev["peak_delta_mb"])
            results[variant] = r
    cfg = model_config(args.shape)
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "shape": args.shape,
        "config": cfg.model_dump(),
        "batch": SHAPES[args.shape][1],
        "seq": SHAPES[args.shape][2],
        "device": args.device,
        "dtype": args.dtype,
        "isolate": isolate,
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "results": results,
        "ratios": ratios(results),
        "targets": {"apr/hf tokens_per_s_ratio": ">= 1.0", "apr/hf peak_delta_mem_ratio": "<= 0.6"},
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

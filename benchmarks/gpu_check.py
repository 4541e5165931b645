"""One-shot GPU check: on a CUDA machine, in under 8 minutes, run everything that needs a GPU and record it.

Usage::

    python benchmarks/gpu_check.py                 # CUDA: run the stages, write evidence/gpu-check/<UTC>/
    python benchmarks/gpu_check.py --dry-run       # print the stage plan (commands, time budgets), run nothing
    python benchmarks/gpu_check.py --device-recipe # how to run it on a lent device machine (wheels, carry, command)

On a machine without CUDA it says so and exits 0 (nothing to check; the CUDA-marked tests are
skipped there with a reason, recorded as skipped). ``--simulate-cpu`` runs the same stages on the
CPU at toy sizes, to test this script itself; its evidence is marked as a simulation.

Stages, in order (each under its own time budget, all under one ``--budget-s`` deadline, so one
hung stage cannot eat the others' time; a stage past the deadline is recorded as not run):

1. ``env``: GPU name, driver, CUDA/torch/transformers versions, a digest of the sources;
2. ``cuda-tests``: ``pytest -m cuda tests/trainer/test_cuda.py`` (bf16 vs fp32, nccl, DDP and FSDP2
   on one GPU, ``.apr`` round trip of a CUDA-trained model, fused AdamW, compile, checkpointing);
   all-skipped counts as *not run*, never as passed;
3. ``initft-data``: a local init, no hub download: the real Qwen2 BPE (``qwen.tiktoken``) over two
   halves of the Python stdlib when the rank file is found, else a synthetic token stream;
4. ``initft-init``: ``apr pretrain --mode from-scratch`` of the Qwen2-0.5B shape on half A, then
   ``apr convert --to-hf --pad-vocab-to 151936`` (a HF directory shaped like Qwen's release);
5. ``initft-live``: the init-finetune contract's LIVE command, read from the contract, on a short
   schedule (``--steps`` and paths substituted, stated in the report), and the contract's own
   ``check:`` expressions evaluated on its summary.json (with the same ``--steps`` substitution);
6. ``bench``: ``bench_train.py`` at the Qwen2-0.5B shape, batch 8 x seq 512, bf16 autocast: apr
   eager, compiled, compiled + loss, checkpointed, and transformers' Qwen2ForCausalLM, one process,
   same AdamW. Last, because it prints each variant's result as it finishes: cut short, it still
   leaves numbers.

Evidence (at most 8 files, so a device machine can hand all of them back): ``report.json`` (command,
environment, per-stage status, tokens/s, TFLOP/s, MFU, peak memory), ``README.md``, ``gpu_check.log``
(every stage's output), ``pytest-cuda.xml``, ``bench.json``, ``initft.summary.json``,
``initft.metrics.jsonl``, ``initft.train.log``. Exit 0 when every stage passed (or no CUDA), 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CONTRACT = ROOT / "contracts" / "apr-pretrain-init-finetune-v1.yaml"
CUDA_TESTS = "tests/trainer/test_cuda.py"
EVIDENCE_DIR = ROOT / "evidence" / "gpu-check"
DEFAULT_BUDGET_S = 450.0  # 7.5 minutes: under the 8-minute target with room for interpreter start-up
QWEN_MODEL_VOCAB = 151_936
CORPUS_BYTES = 12_000_000  # per half
SYNTHETIC_ALPHABET = 4096  # ids a synthetic stream uses (without qwen.tiktoken)
QWEN_TOKENIZER_VOCAB = 151_665  # 151,643 BPE ranks + 22 added tokens
#: What the stages import: a missing third-party module is named before anything runs (see --device-recipe).
REQUIRED_MODULES = ("apr.cli", "trainer.loop", "tokenizer.encode", "pv.expr", "yaml", "transformers", "pytest")
CUDA_ERRORS = re.compile(r"CUDA out of memory|OutOfMemoryError|illegal memory access|unspecified launch failure"
                         r"|CUDA error|cudaErrorLaunchFailure", re.I)


def apr_cmd(*args: str) -> list[str]:
    """``apr ARGS`` as a module run, so no console script needs installing on the device."""
    return [sys.executable, "-m", "apr", *args]


@dataclass
class Sizes:
    """What the stages run at: the real GPU plan, or toy sizes for --simulate-cpu."""

    device: str
    init_shape: str  # a trainer preset whose shape the init takes (its vocab becomes the tokenizer's)
    batch: int
    seq: int
    init_steps: int
    ft_steps: int
    init_lr: float
    synthetic_vocab: int | None  # None: the real Qwen2 BPE when found
    pad_vocab_to: int
    bench: list[str]


GPU_SIZES = Sizes(device="cuda", init_shape="qwen2-0.5b", batch=8, seq=512, init_steps=150, ft_steps=60,
                  init_lr=1e-3, synthetic_vocab=None, pad_vocab_to=QWEN_MODEL_VOCAB,
                  bench=["--shape", "qwen2-0.5b", "--device", "cuda", "--dtype", "bf16", "--variants",
                         "hf,apr,apr-compile,apr-compile-loss,apr-ac", "--isolate", "none", "--steps", "10",
                         "--warmup", "3"])
SIM_SIZES = Sizes(device="cpu", init_shape="test-tiny", batch=4, seq=32, init_steps=100, ft_steps=6, init_lr=3e-2,
                  synthetic_vocab=512, pad_vocab_to=640,
                  bench=["--shape", "tiny", "--device", "cpu", "--variants", "hf,apr", "--isolate", "none",
                         "--steps", "2", "--warmup", "1"])


@dataclass
class Stage:
    name: str
    what: str
    commands: list[list[str]]
    budget_s: float


@dataclass
class StageResult:
    name: str
    status: str  # pass | fail | timeout | not-run
    seconds: float = 0.0
    exit_codes: list[int] = field(default_factory=list)
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------
# the plan


def find_rank_file() -> str | None:
    try:
        from tokenizer.resources import find_qwen_tiktoken

        return str(find_qwen_tiktoken())
    except Exception:  # not found / not verifiable: the synthetic stream stands in
        return None


def live_command() -> tuple[str, list[str], list[dict[str, Any]]]:
    """The contract's LIVE ``apr pretrain`` command and the falsifiers bound to it (id, check, metrics_file)."""
    import yaml

    doc = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    bound: dict[str, list[dict[str, Any]]] = {}
    for f in doc.get("falsification_tests") or []:
        test = str(f.get("test") or "")
        if test.startswith("LIVE:") and "apr pretrain" in test:
            bound.setdefault(test.removeprefix("LIVE:").strip(), []).append(f)
    if not bound:
        raise SystemExit(f"gpu_check: {CONTRACT.name} has no LIVE `apr pretrain` falsifier")
    text, falsifiers = next(iter(bound.items()))
    return text, shlex.split(text), falsifiers


def substitute(argv: list[str], values: dict[str, str]) -> list[str]:
    """Replace the values of ``--flag VALUE`` pairs (every flag in ``values`` must be present)."""
    out, seen = list(argv), set()
    for i, tok in enumerate(out[:-1]):
        if tok in values:
            out[i + 1] = values[tok]
            seen.add(tok)
    missing = sorted(set(values) - seen)
    if missing:
        raise SystemExit(f"gpu_check: the contract's LIVE command has no {', '.join(missing)}; update the plan")
    return out


def plan(sizes: Sizes, work: Path, out: Path) -> tuple[list[Stage], dict[str, Any]]:
    rank_file = None if sizes.synthetic_vocab else find_rank_file()
    synthetic = None if rank_file else sizes.synthetic_vocab or QWEN_TOKENIZER_VOCAB
    windows = int(max(sizes.init_steps, sizes.ft_steps) * sizes.batch * 1.5) + 256  # training + held-out
    me = [sys.executable, str(Path(__file__).resolve())]
    if synthetic:
        data_cmds = [[*me, "--write-data", str(work), "--init-shape", sizes.init_shape, "--synthetic-vocab",
                      str(synthetic), "--synthetic-tokens", str(windows * (sizes.seq + 1))]]
    else:
        assert rank_file is not None
        data_cmds = [
            apr_cmd("tokenize", "import-tiktoken", "--pattern", "qwen2", "--special-tokens", "qwen2",
                    "--ranks", rank_file, "--output", str(work / "tok"), "--force"),
            [*me, "--write-data", str(work), "--init-shape", sizes.init_shape],
            *[apr_cmd("tokenize", "encode-corpus", "--corpus", str(work / f"corpus_{c}"), "--tokenizer",
                      str(work / "tok"), "--output", str(work / f"shards_{c}"), "--workers", str(os.cpu_count() or 1),
                      "--progress", "none") for c in ("a", "b")],
        ]
    tok = str(work / "tok")
    run = ["--batch-size", str(sizes.batch), "--seq-len", str(sizes.seq), "--device", sizes.device,
           "--progress", "off"]
    init_cmds = [
        apr_cmd("pretrain", "--mode", "from-scratch", "--model-config", str(work / "init_config.json"),
                "--tokenizer", tok, "--shards-dir", str(work / "shards_a"), "--steps", str(sizes.init_steps),
                "--lr", str(sizes.init_lr), "--warmup", "10", "--eval-every", str(sizes.init_steps),
                "--eval-batches", "4", "--out", str(work / "pre"), *run),
        apr_cmd("convert", str(work / "pre" / "checkpoint.apr"), "--to-hf", str(work / "hf_init"),
                "--pad-vocab-to", str(sizes.pad_vocab_to)),
    ]
    text, argv, falsifiers = live_command()
    if argv[:2] != ["apr", "pretrain"]:
        raise SystemExit(f"gpu_check: unexpected LIVE command {text!r}")
    subst = {"--init": str(work / "hf_init"), "--tokenizer": tok, "--shards-dir": str(work / "shards_b"),
             "--steps": str(sizes.ft_steps), "--out": str(work / "initft"), "--device": sizes.device,
             "--batch-size": str(sizes.batch), "--seq-len": str(sizes.seq),
             "--eval-every": str(max(1, sizes.ft_steps // 3)), "--warmup": str(min(20, sizes.ft_steps // 4))}
    live = substitute(argv, subst)
    live = apr_cmd(*live[1:], "--progress", "off")
    stages = [
        Stage("cuda-tests", "the CUDA-marked tests", [[sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
              "-m", "cuda", CUDA_TESTS, "--junitxml", str(out / "pytest-cuda.xml")]], 150),
        Stage("initft-data", "tokenizer, two corpus halves, shards, init config (no hub download)", data_cmds, 75),
        Stage("initft-init", "pretrain the init from scratch on half A, export it as a HF directory", init_cmds, 90),
        Stage("initft-live", "the init-finetune contract's LIVE command, short schedule, on half B", [live], 75),
        Stage("bench", "bench_train.py: apr eager/compiled/checkpointed vs transformers Qwen2ForCausalLM",
              [[sys.executable, str(ROOT / "benchmarks" / "bench_train.py"), *sizes.bench,
                "--json", str(work / "bench.json")]], 240),
    ]
    info = {"live_command_contract": text, "live_substitutions": subst, "live_falsifiers": [
        {k: f.get(k) for k in ("id", "check", "metrics_file", "ship_blocking")} for f in falsifiers],
        "data_source": "qwen.tiktoken + stdlib" if rank_file else (
            f"synthetic stream over {min(synthetic or 0, SYNTHETIC_ALPHABET)} ids, vocab {synthetic}"),
        "rank_file": rank_file}
    return stages, info


# ------------------------------------------------------------------------------------------------
# running


class Log:
    """Every stage's output: echoed (flushed) with a ``[stage]`` prefix and kept in gpu_check.log."""

    def __init__(self, path: Path) -> None:
        self.fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.lock = threading.Lock()

    def line(self, prefix: str, text: str) -> None:
        with self.lock:
            print(f"[{prefix}] {text}", flush=True)
            self.fh.write(f"[{prefix}] {text}\n")
            self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def run_command(cmd: list[str], timeout_s: float, log: Log, prefix: str, env: dict[str, str]) -> tuple[int | None, str]:
    """Run ``cmd`` in its own process group, streaming its output; kill the whole group at the timeout.

    Returns (exit code, or None on timeout; the combined output).
    """
    log.line(prefix, "$ " + shlex.join(cmd))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True)
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the compile workers and torchrun children too

    timer = threading.Timer(timeout_s, kill)
    timer.start()
    chunks = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            chunks.append(line)
            log.line(prefix, line.rstrip("\n"))
        proc.wait()
    finally:
        timer.cancel()
    if timed_out.is_set():
        log.line(prefix, f"TIMEOUT after {timeout_s:.0f} s: process group killed")
        return None, "".join(chunks)
    return proc.returncode, "".join(chunks)


def run_stage(stage: Stage, deadline: float, log: Log, env: dict[str, str]) -> tuple[StageResult, str]:
    left = deadline - time.monotonic()
    if left < 10:
        log.line(stage.name, "not run: the overall --budget-s deadline has passed")
        return StageResult(stage.name, "not-run", detail="overall time budget spent before this stage"), ""
    t0, output, codes = time.monotonic(), [], []
    stage_deadline = t0 + min(stage.budget_s, left)
    log.line(stage.name, f"start: {stage.what} (budget {min(stage.budget_s, left):.0f} s)")
    status = "pass"
    for cmd in stage.commands:
        code, text = run_command(cmd, max(1.0, stage_deadline - time.monotonic()), log, stage.name, env)
        output.append(text)
        if code is None:
            status = "timeout"
            break
        codes.append(code)
        if code != 0:
            status = "fail"
            break
    res = StageResult(stage.name, status, round(time.monotonic() - t0, 2), codes)
    log.line(stage.name, f"{status} in {res.seconds:.1f} s")
    return res, "".join(output)


def junit_counts(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"parsed": False}
    counts = {"parsed": True, "passed": 0, "failed": 0, "errors": 0, "skipped": 0, "tests": []}
    for case in ET.parse(path).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        kind = ("failed" if "failure" in kinds else "errors" if "error" in kinds
                else "skipped" if "skipped" in kinds else "passed")
        counts[kind] += 1
        counts["tests"].append({"name": case.get("name"), "outcome": kind, "seconds": float(case.get("time") or 0)})
    return counts


def judge_cuda_tests(res: StageResult, out: Path) -> None:
    """All skipped (or none ran) is *not run*, never pass."""
    counts = junit_counts(out / "pytest-cuda.xml")
    res.data = counts
    if res.status in ("pass", "fail") and counts.get("parsed"):
        if counts["failed"] or counts["errors"]:
            res.status = "fail"
        elif counts["passed"] == 0:
            res.status, res.detail = "not-run", f"{counts['skipped']} skipped, none ran"
        elif counts["skipped"]:
            res.detail = f"{counts['passed']} passed, {counts['skipped']} skipped"


def judge_live(res: StageResult, work: Path, info: dict[str, Any], ft_steps: int, output: str) -> None:
    """The contract's own checks on the run's summary.json, with the contract's --steps replaced by ours."""
    summary_path = work / "initft" / "summary.json"
    if not summary_path.is_file():
        res.detail = res.detail or "no summary.json"
        if res.status == "pass":
            res.status = "fail"
        return
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    from pv.expr import evaluate

    contract_steps = info["live_command_contract"].split("--steps", 1)[1].split()[0]
    checks = []
    for f in info["live_falsifiers"]:
        if not f.get("check"):
            continue
        expr = re.sub(rf"(steps_completed\s*==\s*){re.escape(contract_steps)}\b", rf"\g<1>{ft_steps}", f["check"])
        try:
            ok = bool(evaluate(expr, summary))
        except Exception as exc:  # a missing metric is a failed check, stated
            ok, expr = False, f"{expr} (error: {exc})"
        checks.append({"falsifier": f["id"], "contract_check": f["check"], "evaluated": expr, "holds": ok})
    ln_v = math.log(summary["vocab_size"])
    extra = {
        "init weights flow (INITFT-003's prediction): step_0_loss <= 0.7 * ln(vocab_size)":
            summary.get("step_0_loss") is not None and summary["step_0_loss"] <= 0.7 * ln_v,
        "no CUDA OOM / illegal access / launch failure in the output (INITFT-006's rule)":
            not CUDA_ERRORS.search(output),
    }
    checks += [{"falsifier": None, "contract_check": k, "evaluated": k, "holds": v} for k, v in extra.items()]
    res.data = {"checks": checks, "summary": {k: summary.get(k) for k in (
        "status", "exit_code", "steps_completed", "step_0_loss", "val_loss_step_0", "final_val_loss", "wall_s",
        "train_wall_s", "tokens_per_s", "flops_per_token", "tflops", "mfu", "peak_tflops", "device")}}
    if res.status == "pass" and not all(c["holds"] for c in checks):
        res.status, res.detail = "fail", "a check does not hold: " + "; ".join(
            c["evaluated"] for c in checks if not c["holds"])


def judge_bench(res: StageResult, work: Path, output: str) -> None:
    path = work / "bench.json"
    if path.is_file():
        report = json.loads(path.read_text(encoding="utf-8"))
        results, ratios = report["results"], report["ratios"]
    else:  # cut short: the variants that finished printed a RESULT line
        results = {}
        for line in output.splitlines():
            if line.startswith("RESULT "):
                r = json.loads(line[len("RESULT "):])
                results[r["variant"]] = r
        ratios = {}
        res.detail = res.detail or f"partial: {len(results)} variant(s) finished"
    keys = ("tokens_per_s", "step_s_median", "tflops", "mfu", "peak_mem_mb", "peak_tflops_source", "wall_s",
            "loss_first", "loss_last")
    res.data = {"results": {v: {k: r.get(k) for k in keys} for v, r in results.items()}, "ratios": ratios}


def environment(sizes: Sizes) -> dict[str, Any]:
    import importlib.metadata as md

    import torch

    env: dict[str, Any] = {
        "utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "device": sizes.device,
        "packages": {},
        "source_sha256": source_digest(),
        "git_commit": _git_commit(),
    }
    for name in ("transformers", "pydantic", "numpy", "tiktoken", "tokenizers", "safetensors", "triton"):
        try:
            env["packages"][name] = md.version(name)
        except md.PackageNotFoundError:
            env["packages"][name] = None
    if sizes.device == "cuda":
        props = torch.cuda.get_device_properties(0)
        env.update(gpu_name=torch.cuda.get_device_name(0), gpu_count=torch.cuda.device_count(),
                   gpu_memory_gib=round(props.total_memory / 2**30, 1), gpu_capability=f"{props.major}.{props.minor}",
                   nccl=".".join(map(str, torch.cuda.nccl.version())) if hasattr(torch.cuda, "nccl") else None)
        from trainer.flops import peak_bf16_tflops

        env["peak_bf16_tflops_table"] = peak_bf16_tflops(env["gpu_name"])
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                                  "--format=csv,noheader"], capture_output=True, text=True, timeout=15, check=False)
            env["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            env["nvidia_smi"] = f"unavailable: {exc}"
    return env


def _git_commit() -> str | None:
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10,
                           check=False)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                               timeout=10, check=False).stdout.strip()
        return (r.stdout.strip() + ("+dirty" if dirty else "")) if r.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def source_digest() -> str:
    """sha256 over the trainer, tokenizer and benchmark sources and the CUDA tests: what code ran (no git needed)."""
    h = hashlib.sha256()
    files = sorted([*ROOT.glob("trainer/*.py"), *ROOT.glob("tokenizer/*.py"), *ROOT.glob("benchmarks/*.py"),
                    ROOT / CUDA_TESTS, CONTRACT])
    for f in files:
        h.update(f.relative_to(ROOT).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def missing_modules() -> list[str]:
    """Third-party modules the stages import that this Python lacks (a bare CUDA image lacks pydantic)."""
    import importlib

    missing = []
    for name in REQUIRED_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            missing.append(exc.name or name)
    return sorted(set(missing))


# ------------------------------------------------------------------------------------------------
# writing the evidence


def write_readme(out: Path, report: dict[str, Any]) -> None:
    env, stages = report["environment"], {s["name"]: s for s in report["stages"]}
    sim = report["simulated_on_cpu"]
    lines = [f"# gpu_check {'(CPU SIMULATION: no GPU numbers)' if sim else ''} {env['utc']}", "",
             f"Command: `{env['command']}`  ", f"Device: {env.get('gpu_name', 'cpu')} "
             f"({env.get('nvidia_smi', 'no nvidia-smi')}), torch {env['torch']} (CUDA {env['torch_cuda']}), "
             f"python {env['python']}  ", f"Sources sha256: `{env['source_sha256']}`, git {env['git_commit']}  ",
             f"Overall: **{report['overall']}** in {report['wall_s']:.0f} s (budget {report['budget_s']:.0f} s)", "",
             "| stage | status | seconds | detail |", "|---|---|---|---|"]
    lines += [f"| {s['name']} | {s['status']} | {s['seconds']:.1f} | {s['detail']} |" for s in report["stages"]]
    bench = stages.get("bench", {}).get("data", {}).get("results", {})
    if bench:
        lines += ["", "Benchmark (" + " ".join(report["plan"]["bench_args"]) + "):", "",
                  "| variant | tokens/s | step s | TFLOP/s | MFU | peak MiB | wall s (incl. compile) |",
                  "|---|---|---|---|---|---|---|"]
        for v, r in bench.items():
            mfu = f"{r['mfu']:.1%}" if r.get("mfu") is not None else "n/a"
            peak = f"{r['peak_mem_mb']:.0f}" if r.get("peak_mem_mb") is not None else "n/a"
            lines.append(f"| {v} | {r['tokens_per_s']:,.0f} | {r['step_s_median']:.4f} | {r['tflops']:.3g} | {mfu} "
                         f"| {peak} | {r.get('wall_s') or float('nan'):.1f} |")
    live = stages.get("initft-live", {}).get("data", {})
    if live.get("checks"):
        lines += ["", "Init-finetune LIVE command (short schedule; substitutions in report.json):", ""]
        lines += [f"- {'HOLDS' if c['holds'] else 'FAILS'}: `{c['evaluated']}`" + (
            f" ({c['falsifier']})" if c["falsifier"] else "") for c in live["checks"]]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def collect(work: Path, out: Path) -> None:
    for src, name in ((work / "bench.json", "bench.json"), (work / "initft" / "summary.json", "initft.summary.json"),
                      (work / "initft" / "metrics.jsonl", "initft.metrics.jsonl"),
                      (work / "initft" / "train.log", "initft.train.log")):
        if src.is_file():
            shutil.copyfile(src, out / name)


# ------------------------------------------------------------------------------------------------
# helper subcommands (run as stage commands)


def write_data(work: Path, init_shape: str, synthetic_vocab: int | None, synthetic_tokens: int) -> int:
    """Corpus halves for the tokenizer (real BPE), or a synthetic stream; and the init's model config.

    The synthetic stream uses ids below ``min(vocab, SYNTHETIC_ALPHABET)`` only (a Qwen-sized table
    stays Qwen-sized), so a short pretraining learns it and the fine-tune's step-0 loss can show it.
    """
    from trainer.config import PRESETS, config_to_hf

    work.mkdir(parents=True, exist_ok=True)
    if synthetic_vocab:
        # The test suite's learnable toy stream and manifest (written with the tokenizer's own model).
        from tests.trainer.conftest import toy_tokens, write_manifest

        (work / "tok").mkdir(exist_ok=True)
        (work / "tok" / "tokenizer_meta.json").write_text(json.dumps({"effective_vocab_count": synthetic_vocab}))
        for seed, name in enumerate(("a", "b")):
            d = work / f"shards_{name}"
            d.mkdir(exist_ok=True)
            toy_tokens(synthetic_tokens, seed, min(synthetic_vocab, SYNTHETIC_ALPHABET)).tofile(d / "shard-00000.bin")
            write_manifest(d, vocab=synthetic_vocab)
        vocab = synthetic_vocab
    else:
        import sysconfig

        # The whole stdlib tree, files alternating between the halves, up to CORPUS_BYTES each: about
        # 3M tokens a half, enough unseen windows for the init's and the fine-tune's batches.
        files = sorted(p for p in Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")
                       if not {"site-packages", "dist-packages"} & set(p.parts))
        for name, part in (("a", files[0::2]), ("b", files[1::2])):
            (work / f"corpus_{name}").mkdir(exist_ok=True)
            size = 0
            with open(work / f"corpus_{name}" / "stdlib.jsonl", "w", encoding="utf-8") as fh:
                for p in part:
                    if size >= CORPUS_BYTES:
                        break
                    text = p.read_text(encoding="utf-8", errors="replace")
                    size += len(text)
                    fh.write(json.dumps({"text": text}) + "\n")
        from trainer.tokenizer_info import read_tokenizer_vocab

        vocab = read_tokenizer_vocab(work / "tok").size
    cfg = PRESETS[init_shape].model_copy(update={"vocab_size": vocab})
    (work / "init_config.json").write_text(json.dumps(config_to_hf(cfg), indent=2))
    print(f"init config: {init_shape} shape with vocab {vocab:,} -> {work / 'init_config.json'}", flush=True)
    return 0


def device_recipe() -> str:
    import importlib.metadata as md

    wheels = ["pydantic", "pydantic_core", "annotated_types", "typing_inspection", "typing_extensions"]
    pins = " ".join(f"{w}=={md.version(w)}" for w in wheels)
    return f"""\
Running gpu_check on a lent device machine (python3 there is 3.12 with torch, transformers, tiktoken,
tokenizers, safetensors, numpy, pyyaml, rich and pytest, but not pydantic; nothing can be downloaded there):

1. Here, in the checkout the session started in (the one the device tool sends), once:
     X=$(git rev-parse --git-path info/exclude); mkdir -p .gpu; grep -qx /.gpu/ "$X" || echo /.gpu/ >> "$X"
     cp {find_rank_file() or '../shared/data/qwen.tiktoken'} .gpu/qwen.tiktoken
     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \\
       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \\
       -d .gpu/whl {pins}
2. One device call, carry [".gpu"], timeout_s 600 (the script stops itself at --budget-s, {DEFAULT_BUDGET_S:.0f} s):
     python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \\
       .gpu/whl/*.whl && export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 \\
       APR_QWEN_TIKTOKEN=$PWD/.gpu/qwen.tiktoken && python3 benchmarks/gpu_check.py --out $OUT/gpu-check \\
       --label "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
3. Copy the files that come back into evidence/gpu-check/<UTC timestamp>/, commit them, give the machine back.
"""


# ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--out", type=Path, help="evidence folder (default evidence/gpu-check/<UTC timestamp>/)")
    ap.add_argument("--work", type=Path, help="scratch folder for shards and checkpoints (default: a temp dir)")
    ap.add_argument("--budget-s", type=float, default=DEFAULT_BUDGET_S, help="deadline for all stages together")
    ap.add_argument("--dry-run", action="store_true", help="print the stage plan and exit 0")
    ap.add_argument("--json", action="store_true", help="with --dry-run: the plan as JSON")
    ap.add_argument("--simulate-cpu", action="store_true",
                    help="run the stages on the CPU at toy sizes (tests this script; records no GPU numbers)")
    ap.add_argument("--only", help="comma-separated stage names to run (default: all)")
    ap.add_argument("--label", default="", help="free text kept in the report (e.g. the commit)")
    ap.add_argument("--device-recipe", action="store_true", help="print how to run this on a lent device machine")
    ap.add_argument("--write-data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--init-shape", default="qwen2-0.5b", help=argparse.SUPPRESS)
    ap.add_argument("--synthetic-vocab", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--synthetic-tokens", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.write_data:
        return write_data(args.write_data, args.init_shape, args.synthetic_vocab, args.synthetic_tokens)
    if args.device_recipe:
        print(device_recipe())
        return 0

    sizes = SIM_SIZES if args.simulate_cpu else GPU_SIZES
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = (args.out or EVIDENCE_DIR / stamp).resolve()
    work = (args.work or Path(tempfile.gettempdir()) / f"gpu-check-{stamp}").resolve()
    stages, info = plan(sizes, work, out)
    if args.only:
        wanted = {s.strip() for s in args.only.split(",")}
        unknown = wanted - {s.name for s in stages}
        if unknown:
            ap.error(f"unknown stage(s) {sorted(unknown)}; stages: {', '.join(s.name for s in stages)}")
        stages = [s for s in stages if s.name in wanted]
    if args.dry_run:
        doc = {"budget_s": args.budget_s, "out": str(out), "work": str(work), **info,
               "stages": [asdict(s) for s in stages]}
        if args.json:
            print(json.dumps(doc, indent=2))
        else:
            kind = "CPU simulation" if args.simulate_cpu else "CUDA"
            print(f"gpu_check plan ({kind}), deadline {args.budget_s:.0f} s, evidence -> {out}")
            for s in stages:
                print(f"\n[{s.name}] {s.what} (budget {s.budget_s:.0f} s)")
                for c in s.commands:
                    print("  $ " + shlex.join(c))
        return 0

    import torch

    if not args.simulate_cpu and not torch.cuda.is_available():
        print("gpu_check: no CUDA device (torch.cuda.is_available() is False): nothing to check here. "
              "The CUDA-marked tests are skipped on this machine and recorded as skipped, not passed. "
              "Run this on a GPU machine (see --device-recipe); --dry-run shows the plan.", flush=True)
        return 0
    missing = missing_modules()
    if missing:
        print(f"gpu_check: missing Python modules {missing}; see --device-recipe", file=sys.stderr, flush=True)
        return 2

    started = time.monotonic()
    deadline = started + args.budget_s
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    log = Log(out / "gpu_check.log")
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    results: list[StageResult] = []
    try:
        log.line("env", "collecting the environment")
        environ = environment(sizes)
        environ["label"] = args.label
        log.line("env", json.dumps({k: environ.get(k) for k in ("gpu_name", "nvidia_smi", "torch", "torch_cuda")}))
        failed_data = False
        for stage in stages:
            if failed_data and stage.name in ("initft-init", "initft-live"):
                results.append(StageResult(stage.name, "not-run", detail="an earlier initft stage failed"))
                log.line(stage.name, "not run: an earlier initft stage failed")
                continue
            res, output = run_stage(stage, deadline, log, env)
            if stage.name == "cuda-tests":
                judge_cuda_tests(res, out)
            elif stage.name == "initft-live":
                judge_live(res, work, info, sizes.ft_steps, output)
            elif stage.name == "bench":
                judge_bench(res, work, output)
            if stage.name.startswith("initft") and res.status != "pass":
                failed_data = True
            results.append(res)
    finally:
        log.close()
    collect(work, out)
    overall = "pass" if all(r.status == "pass" for r in results) else "fail"
    report = {
        "simulated_on_cpu": args.simulate_cpu,
        "overall": overall,
        "wall_s": round(time.monotonic() - started, 2),
        "budget_s": args.budget_s,
        "environment": environ,
        "plan": {**info, "sizes": asdict(sizes), "bench_args": sizes.bench,
                 "stages": [{"name": s.name, "budget_s": s.budget_s, "commands": [shlex.join(c) for c in s.commands]}
                            for s in stages]},
        "stages": [asdict(r) for r in results],
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    write_readme(out, report)
    print(f"gpu_check: {overall} in {report['wall_s']:.0f} s; evidence in {out}", flush=True)
    return 0 if overall == "pass" else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""The training loop behind ``apr pretrain``: setup, steps, evaluation, finish, and the truth about each.

``run_pretrain`` below is the whole loop. ``setup`` runs every input gate (on every rank, before
any collective) and builds the ``Run``; ``train_step`` / ``evaluate`` (``trainer.step``) advance it
and raise ``RunStopped`` when the run cannot honestly go on; ``finish`` turns it into a verdict,
a checkpoint and ``summary.json``. Exit codes are listed in ``trainer.summary``.

Bad input (preflight, config, format, data errors: ``TrainerInputError``) raises out of here
before training; the CLI maps it to exit 2.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import torch

from safeio import atomic_write_text
from trainer import distributed
from trainer.budget import check_model_fits
from trainer.data import TrainSampler
from trainer.distributed import DistContext
from trainer.errors import RunStopped
from trainer.flops import device_peak_tflops, flops_per_token
from trainer.init_load import build_model
from trainer.inputs import check_inputs
from trainer.optim import make_optimizer, make_scheduler
from trainer.parallel import parallelize
from trainer.preflight import PreflightError
from trainer.reporter import Reporter
from trainer.resume import load_resume_state, save_resume_state, trim_log, trim_metrics
from trainer.resume_state import ResumeError, read_latest
from trainer.run_config import RunConfig
from trainer.run_dir import clear_run_files
from trainer.state import Run, seed_everything
from trainer.step import evaluate, next_batch, train_step
from trainer.summary import build_summary, checkpoint_provenance, verdict


@dataclass
class RunResult:
    status: str
    exit_code: int
    summary: dict[str, Any]
    checkpoint: Path | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def run_pretrain(
    cfg: RunConfig,
    *,
    dist: DistContext | None = None,
    stream: TextIO | None = None,
    on_step: Callable[[Run], None] | None = None,
) -> RunResult:
    """Train to ``cfg.steps`` or to the first reason to stop; either way the summary tells which.

    ``on_step(run)`` runs after every completed step (and its resume save); tests inject faults there.
    """
    run = setup(cfg, dist=dist, stream=stream)
    try:
        if run.step == 0:  # a resumed run evaluates at its resume step below, if that step is due, once
            evaluate(run)
        while run.step < cfg.steps:
            if run.step > 0 and run.step % cfg.eval_every == 0:
                evaluate(run)
            run.record_train(train_step(run, next_batch(run)))
            if cfg.save_every and run.step % cfg.save_every == 0 and run.step < cfg.steps:
                save_resume_point(run)
            if on_step is not None:
                on_step(run)
        evaluate(run, final=True)
    except RunStopped as stop:
        run.stopped = stop
    except KeyboardInterrupt:  # Ctrl-C: still a summary, and the truth about what can be resumed
        run.stopped = RunStopped("interrupted", interrupted_detail(run))
    return finish(run)


def interrupted_detail(run: Run) -> str:
    """What an interrupted run left behind: the resume point to continue from, or that there is none."""
    out = run.cfg.out
    try:
        latest, _ = read_latest(out)
    except (ResumeError, OSError, ValueError):
        return (f"interrupted during step {run.step + 1}; nothing resumable was saved (start again; pass "
                "--save-every K to write resume points)")
    return (f"interrupted during step {run.step + 1}; {latest} holds the latest resume point: rerun the same "
            f"command plus --resume {out} to continue from it")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise PreflightError("device", "--device cuda was requested but torch sees no CUDA device")
    return torch.device(name)


def setup(cfg: RunConfig, *, dist: DistContext | None = None, stream: TextIO | None = None) -> Run:
    """Everything before the first step: the input gates, then the process group, model, optimizer and resume."""
    ctx = dist or distributed.context_from_env()
    started = time.perf_counter()
    inputs = check_inputs(cfg)
    device = resolve_device(cfg.device)
    check_model_fits(inputs.model_cfg, device, shards=ctx.world_size if cfg.fsdp else 1)
    # Every input gate above ran on every rank before this first collective (fail fast everywhere).
    ctx, device = distributed.start(ctx, device, cfg.dist_timeout_s)
    removed = clear_run_files(cfg.out) if cfg.overwrite and ctx.is_main else []  # every rank has checked --out
    seed_everything(cfg.seed)
    lm, init_report = build_model(inputs.model_cfg, cfg.init)
    lm.to(device).train()
    lm.set_activation_checkpointing(cfg.activation_checkpointing)
    if cfg.compile:
        lm.compile_layers()  # in place and before wrapping: names, DDP buckets and FSDP units stay the same
    if device.type == "cuda":  # TF32 for the fp32 matmuls left outside bf16 autocast
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    model = parallelize(lm, ctx, "fsdp" if cfg.fsdp else "ddp", device)  # before the optimizer (FSDP)
    optimizer = make_optimizer(lm, cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2))
    scheduler = make_scheduler(optimizer, warmup=cfg.warmup, total=cfg.steps, min_ratio=cfg.min_lr_ratio)
    sampler = TrainSampler(inputs.shards.n_train, cfg.batch_size, cfg.seed, max_epochs=cfg.max_epochs,
                           rank=ctx.rank, world_size=ctx.world_size)
    resumed = None
    if cfg.resume is not None:
        resumed = load_resume_state(cfg.resume, model=model, optimizer=optimizer, scheduler=scheduler,
                                    sampler=sampler, cfg=cfg, ctx=ctx)
        if ctx.is_main:  # before the reporter reopens metrics.jsonl and train.log for appending
            trim_metrics(cfg.out / "metrics.jsonl", resumed.step)
            trim_log(cfg.out / "train.log", resumed.step)
    # The global eval set (same windows whatever the world size), split disjointly over ranks.
    val_ids = list(inputs.shards.val_ids())[: cfg.eval_batches * cfg.batch_size * ctx.world_size]
    reporter = Reporter(cfg.out, ctx.is_main, cfg.steps, cfg.progress, stream, append=resumed is not None)
    peak, peak_source = device_peak_tflops(device.type, cfg.peak_tflops)
    run = Run(cfg, ctx, device, inputs, model, optimizer, scheduler, sampler, reporter,
              val_ids=distributed.rank_slice(val_ids, ctx), eval_windows=len(val_ids),
              flops=flops_per_token(lm.cfg, cfg.seq_len), peak_tflops=peak, peak_tflops_source=peak_source,
              init_report=init_report, started=started)
    reporter.line(
        f"apr pretrain: mode={cfg.mode} arch={lm.cfg.architecture} params={lm.param_count():,} "
        f"vocab={lm.cfg.vocab_size:,} tokenizer_vocab={inputs.tokenizer_vocab:,} device={device} "
        f"train_windows={inputs.shards.n_train} val_windows={inputs.shards.n_val} (eval on {len(val_ids)}) "
        f"ln(vocab)={math.log(lm.cfg.vocab_size):.4f}"
    )
    if removed:
        reporter.line(f"--overwrite: removed the previous run's {', '.join(removed)} from {cfg.out}")
    if not inputs.handoff.verified:
        warning = (f"WARNING: --allow-unverified: training on shards that are not verified "
                   f"({'; '.join(inputs.handoff.unverified_reasons)}); summary.json records it")
        reporter.line(warning)
        if ctx.is_main:
            print(warning, file=sys.stderr, flush=True)
    if resumed is not None:
        run.resume_from(resumed)
        reporter.line(f"resumed from {resumed.source} at step {resumed.step}")
    if cfg.steps > sampler.capacity:
        reporter.line(
            f"warning: {cfg.steps} steps need {cfg.steps} batches but only {sampler.capacity} unseen batches exist "
            f"within --max-epochs {cfg.max_epochs}; the run will stop with data_exhausted"
        )
    return run


def save_resume_point(run: Run) -> None:
    """Resume state after ``run.step`` updates (a gather every rank joins; rank 0 writes)."""
    cfg = run.cfg
    save_resume_state(cfg.out, model=run.model, optimizer=run.optimizer, scheduler=run.scheduler,
                      sampler=run.sampler, step=run.step, tokens_seen=run.tokens_seen, cfg=cfg, ctx=run.ctx,
                      carry=run.carry(), provenance={"tool": "apr pretrain", "mode": cfg.mode, "seed": cfg.seed})


def finish(run: Run) -> RunResult:
    """The verdict, the checkpoint (only for a run that finished), the summary line and ``summary.json``."""
    v = verdict(run)
    checkpoint = None
    if v.keeps_checkpoint:  # a gather every rank joins; rank 0 writes
        checkpoint = run.model.save_checkpoint(run.cfg.out / "checkpoint.apr", checkpoint_provenance(run))
    summary = build_summary(run, v, checkpoint)
    if v.status == "interrupted":
        run.reporter.end_line()  # the terminal echoed ^C mid-line (or under the bar)
    if summary["hashes"]["not_hashed"]:
        skipped = ", ".join(summary["hashes"]["not_hashed"])
        run.reporter.line(f"note: not hashed (not regular files, never read): {skipped}")
    run.reporter.line(
        f"done status={v.status} exit={v.exit_code} steps={run.step} step_0_loss={run.step0_loss} "
        f"final_val_loss={summary['final_val_loss']} wall_s={summary['wall_s']:.1f} -- "
        f"{v.describe(run.cfg.target_val_loss)}"
    )
    run.reporter.close()
    if run.ctx.is_main:
        atomic_write_text(run.cfg.out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return RunResult(v.status, v.exit_code, summary, checkpoint, run.history)

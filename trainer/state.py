"""Everything a training run is, in one object: ``Run``, and ``StepMetrics``, what one step measured.

``setup`` builds a ``Run``; ``train_step`` and ``evaluate`` advance it; ``finish`` reads it into
the summary. The counters and the loss trajectory live here (not in locals of a loop) so a resume
can carry them over and the summary can report them.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from trainer.data import TrainSampler
from trainer.distributed import DistContext
from trainer.errors import RunStopped
from trainer.flops import FlopsPerToken, step_flops
from trainer.inputs import Inputs
from trainer.parallel import ParallelModel
from trainer.reporter import Reporter
from trainer.resume import ResumeInfo
from trainer.run_config import RunConfig


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass(frozen=True)
class StepMetrics:
    """One optimizer update, measured: the global-batch loss, the pre-clip grad norm, wall time."""

    step: int
    loss: float
    lr: float
    grad_norm: float
    tokens: int
    step_s: float


@dataclass
class Run:
    """The model, optimizer, data position and reporter of one run, and what it has measured so far."""

    cfg: RunConfig
    ctx: DistContext
    device: torch.device
    inputs: Inputs
    model: ParallelModel
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    sampler: TrainSampler
    reporter: Reporter
    val_ids: list[int]  # this rank's evaluation windows
    eval_windows: int  # all ranks' together
    flops: FlopsPerToken  # model FLOPs per trained token (trainer.flops)
    peak_tflops: float | None  # the device's dense bf16 peak when known: MFU's denominator
    peak_tflops_source: str  # where the peak came from, or why there is none
    init_report: dict[str, Any] | None = None
    started: float = field(default_factory=time.perf_counter)
    step: int = 0  # completed optimizer updates
    tokens_seen: int = 0
    train_wall_s: float = 0.0
    step0_loss: float | None = None
    val_loss_step0: float | None = None
    val_loss: float = math.nan
    last_train_loss: float = math.nan
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped: RunStopped | None = None

    @property
    def autocast(self) -> bool:
        """bf16 autocast on CUDA; fp32 on CPU."""
        return self.device.type == "cuda"

    def record_train(self, m: StepMetrics) -> None:
        """Count a completed update and report it (line, metrics.jsonl, history)."""
        self.tokens_seen += m.tokens
        self.train_wall_s += m.step_s
        if self.step0_loss is None:
            self.step0_loss = m.loss
        self.last_train_loss = m.loss
        tok_s = m.tokens / m.step_s
        rec = {"kind": "train", "step": m.step, "loss": m.loss, "lr": m.lr, "grad_norm": m.grad_norm,
               "tokens_per_s": tok_s, "tokens_seen": self.tokens_seen, "step_s": m.step_s}
        sf = step_flops(self.flops, m.tokens, m.step_s, self.ctx.world_size, self.peak_tflops)
        rec.update(flops_per_token=sf.flops_per_token, tflops=sf.tflops)
        line = (f"step={m.step} loss={m.loss:.4f} lr={m.lr:.3e} grad_norm={m.grad_norm:.4f} tok/s={tok_s:,.0f} "
                f"tflops={sf.tflops:.3g}")
        if sf.mfu is not None:  # only against a known peak: never a guessed utilisation
            rec["mfu"] = sf.mfu
            line += f" mfu={sf.mfu:.1%}"
        self.reporter.line(line)
        self.reporter.metric(rec)
        self.history.append(rec)
        self.step += 1
        self.reporter.advance()

    def record_eval(self, val_loss: float) -> None:
        self.val_loss = val_loss
        if self.val_loss_step0 is None:
            self.val_loss_step0 = val_loss
        rec = {"kind": "eval", "step": self.step, "val_loss": val_loss}
        self.reporter.line(f"eval step={self.step} val_loss={val_loss:.4f}")
        self.reporter.metric(rec)
        self.history.append(rec)

    def carry(self) -> dict[str, Any]:
        """What a resumed run continues from besides tensors and positions (see ``resume_from``)."""
        return {"step_0_loss": self.step0_loss, "val_loss_step_0": self.val_loss_step0,
                "train_wall_s": self.train_wall_s}

    def resume_from(self, info: ResumeInfo) -> None:
        self.step, self.tokens_seen = info.step, info.tokens_seen
        self.step0_loss = info.carry.get("step_0_loss")
        self.val_loss_step0 = info.carry.get("val_loss_step_0")
        self.train_wall_s = float(info.carry.get("train_wall_s") or 0.0)

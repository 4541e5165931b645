"""The run's verdict and its ``summary.json``: status, exit code, measured numbers, versions and hashes.

==== =====================  =========================================================
code status                 meaning
==== =====================  =========================================================
0    ok                     finished all steps with finite losses (and hit the target)
1    target_not_reached     finished, but final val_loss > --target-val-loss
3    non_finite             a NaN/Inf loss, grad norm or val_loss; stopped, no checkpoint
4    data_exhausted         the sampler ran out of unseen training windows; no checkpoint
130  interrupted            Ctrl-C; no checkpoint; ``detail`` names the resume point, if any
==== =====================  =========================================================
"""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

import trainer
from safeio import sha256_file
from trainer.flops import FLOPS_FORMULA, step_flops
from trainer.init_load import hashed_files, is_init_file
from trainer.state import Run

EXIT_CODES = {"ok": 0, "target_not_reached": 1, "non_finite": 3, "data_exhausted": 4, "interrupted": 130}


@dataclass(frozen=True)
class Verdict:
    status: str
    detail: str = ""
    target_reached: bool | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    @property
    def keeps_checkpoint(self) -> bool:
        """A run that finished writes its checkpoint, target met or not; a stopped run does not."""
        return self.status in ("ok", "target_not_reached")

    def describe(self, target: float | None) -> str:
        if self.status == "interrupted":
            return f"INTERRUPTED: {self.detail}"
        if self.status != "ok":
            return f"FAILED ({self.status}): {self.detail}"
        return "finished" + (f"; target val_loss {target} reached" if self.target_reached else "")


def verdict(run: Run) -> Verdict:
    """Stopped early: that status. Finished: ok, unless the final val_loss missed ``--target-val-loss``."""
    if run.stopped is not None:
        return Verdict(run.stopped.status, run.stopped.detail)
    target = run.cfg.target_val_loss
    if target is None:
        return Verdict("ok")
    if run.val_loss <= target:
        return Verdict("ok", target_reached=True)
    return Verdict("target_not_reached", f"final val_loss {run.val_loss:.4f} > target {target}", False)


def checkpoint_provenance(run: Run) -> dict[str, Any]:
    cfg = run.cfg
    return {
        "tool": "apr pretrain",
        "mode": cfg.mode,
        "steps": run.step,
        "seed": cfg.seed,
        "init": str(cfg.init) if cfg.init else None,
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "torch": torch.__version__,
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def build_summary(run: Run, v: Verdict, checkpoint: Path | None) -> dict[str, Any]:
    cfg, mc, shards = run.cfg, run.inputs.model_cfg, run.inputs.shards
    return {
        "status": v.status,
        "exit_code": v.exit_code,
        "detail": v.detail,
        "config": json.loads(cfg.model_dump_json()),
        "model_config": mc.model_dump(),
        "param_count": run.model.lm.param_count(),
        "seed": cfg.seed,
        "device": str(run.device),
        "versions": _versions(),
        "vocab_size": mc.vocab_size,
        "tokenizer_vocab": run.inputs.tokenizer_vocab,
        "ln_vocab": math.log(mc.vocab_size),
        "steps_completed": run.step,
        "tokens_seen": run.tokens_seen,
        "step_0_loss": run.step0_loss,
        "val_loss_step_0": run.val_loss_step0,
        "final_train_loss": _finite(run.last_train_loss),
        "final_val_loss": _finite(run.val_loss),
        "target_val_loss": cfg.target_val_loss,
        "target_reached": v.target_reached,
        "train_wall_s": run.train_wall_s,
        "tokens_per_s": run.tokens_seen / run.train_wall_s if run.train_wall_s > 0 else None,
        **_flops_summary(run),
        "wall_s": time.perf_counter() - run.started,
        "init_load": run.init_report,
        "hashes": _input_hashes(run, checkpoint),
        "checkpoint": str(checkpoint) if checkpoint else None,
        "data": run.inputs.handoff.summary(),
        "train_windows": shards.n_train,
        "val_windows": shards.n_val,
        "eval_windows": run.eval_windows,
    }


def _flops_summary(run: Run) -> dict[str, Any]:
    """Model FLOPs per token, the run's achieved TFLOP/s per device, and MFU only against a known peak."""
    f = run.flops
    sf = (step_flops(f, run.tokens_seen, run.train_wall_s, run.ctx.world_size, run.peak_tflops)
          if run.train_wall_s > 0 else None)
    return {
        "flops_per_token": f.total,
        "flops": {"formula": FLOPS_FORMULA, "non_embedding_params": f.non_embedding_params, "dense": f.dense,
                  "attention": f.attention, "lm_head": f.lm_head, "seq_len": f.seq_len},
        "tflops": sf.tflops if sf else None,
        "mfu": sf.mfu if sf else None,
        "peak_tflops": run.peak_tflops,
        "peak_tflops_source": run.peak_tflops_source,
    }


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "trainer": getattr(trainer, "__version__", "0.1.0"),
        "platform": platform.platform(),
    }


def _input_hashes(run: Run, checkpoint: Path | None) -> dict[str, Any]:
    """sha256 of every input and the checkpoint; ``not_hashed`` lists directory entries that are not regular
    files (a FIFO, a dangling link), which are never read (safeio's symlink rule) but never silently dropped."""
    cfg = run.cfg
    init, init_skipped = hashed_files(cfg.init, is_init_file) if cfg.init else (None, [])
    tokenizer, tok_skipped = hashed_files(cfg.tokenizer, lambda name: True)
    return {
        "init": init,
        "tokenizer": tokenizer,
        "shards": run.inputs.shard_hashes,
        "checkpoint": sha256_file(checkpoint) if checkpoint else None,
        "not_hashed": [f"{cfg.init}/{s}" for s in init_skipped] + [f"{cfg.tokenizer}/{s}" for s in tok_skipped],
    }

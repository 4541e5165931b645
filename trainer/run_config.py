"""The validated options of one ``apr pretrain`` run (the CLI's boundary object)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RunConfig(BaseModel):
    """Every number is finite (``--lr inf`` or ``--target-val-loss nan`` would disable what it sets) and
    within the range the code below it accepts (numpy seeds are unsigned; a collective timeout is a
    ``timedelta``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    mode: Literal["from-scratch", "from-init"]
    init: Path | None = None
    tokenizer: Path
    shards_dir: Path
    model_config_name: str | None = Field(default=None, description="preset name or HF config.json path")
    steps: int = Field(gt=0)
    batch_size: int = Field(gt=0)
    seq_len: int = Field(gt=0)
    # Bounded: no run learns above it, and from ~1e38 AdamW's float32 arithmetic overflows inside torch (an
    # internal-error exit 70 instead of bad input).
    lr: float = Field(default=3e-4, gt=0, le=1000)
    min_lr_ratio: float = Field(default=0.1, ge=0, le=1)
    warmup: int = Field(default=0, ge=0)
    weight_decay: float = Field(default=0.1, ge=0)
    beta1: float = Field(default=0.9, gt=0, lt=1)
    beta2: float = Field(default=0.95, gt=0, lt=1)
    grad_clip: float = Field(default=1.0, gt=0)
    eval_every: int = Field(default=50, gt=0)
    eval_batches: int = Field(default=4, gt=0)
    val_fraction: float = Field(default=0.05, gt=0, lt=1)
    max_epochs: int = Field(default=1, gt=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = Field(default=0, ge=0, lt=2**63, description="numpy and torch take unsigned 64-bit seeds")
    out: Path
    target_val_loss: float | None = None
    ce_chunk_tokens: int | None = Field(default=None, gt=0, lt=2**31)
    progress: Literal["auto", "on", "off"] = "auto"
    # Distributed / resume (trainer/distributed.py, trainer/parallel.py, trainer/resume.py); inert in one process.
    fsdp: bool = Field(default=False, description="FSDP2 fully_shard instead of DDP under torchrun")
    dist_timeout_s: float = Field(default=600.0, gt=0, le=7 * 86400, description="timeout of every collective, seconds")
    save_every: int | None = Field(default=None, gt=0, description="write resume state every K steps")
    resume: Path | None = Field(default=None, description="run dir whose latest resume state to continue from")
    # Speed and memory (trainer/step.py, trainer/model.py, trainer/flops.py). None of them changes the
    # trajectory beyond float rounding, so a resume may change them (e.g. more --grad-accum after an OOM).
    grad_accum: int = Field(default=1, gt=0, description="micro-batches per optimizer step, batch_size/K each")
    activation_checkpointing: bool = Field(default=False, description="recompute each layer's activations")
    compile: bool = Field(default=False, description="torch.compile every decoder layer")
    peak_tflops: float | None = Field(default=None, gt=0, description="dense bf16 peak for MFU (else the table)")
    # The run directory and the data handoff (trainer/run_dir.py, trainer/shard_checks.py).
    overwrite: bool = Field(default=False, description="replace the run files already in a non-empty --out")
    allow_unverified: bool = Field(
        default=False, description="train on shards whose manifest is incomplete or failed verification (recorded)")

    @model_validator(mode="after")
    def _mode_matches_init(self) -> RunConfig:
        if self.mode == "from-init" and self.init is None:
            raise ValueError("--mode from-init needs --init X.apr|HF_DIR")
        if self.mode == "from-scratch" and self.init is not None:
            raise ValueError("--mode from-scratch does not take --init; use --mode from-init")
        if self.init is not None and self.model_config_name is not None:
            raise ValueError("--model-config conflicts with --init: the architecture comes from the init checkpoint")
        if self.batch_size % self.grad_accum:
            raise ValueError(
                f"--batch-size {self.batch_size} is not divisible by --grad-accum {self.grad_accum}: each optimizer "
                "step takes --batch-size sequences per rank in --grad-accum equal micro-batches"
            )
        return self

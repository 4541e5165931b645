"""Refuse a model that cannot fit in memory before allocating it.

``ModelConfig``'s bounds keep every field plausible, but plausible fields can still multiply to a
model no machine holds (hidden 65,536 with 16M ids is a trillion parameters). Allocating it first
would end in an allocator error (exit 70, read as a bug) or the OOM killer; instead the weights,
gradients and AdamW's two moments (16 bytes per fp32 parameter, activations not even counted) are
compared with the device's memory, and a run that cannot fit is bad input (exit 2) with the numbers.
"""

from __future__ import annotations

import os

import torch

from trainer.config import ModelConfig
from trainer.preflight import PreflightError

#: fp32 weight + gradient + AdamW exp_avg + exp_avg_sq.
TRAIN_BYTES_PER_PARAM = 16


def device_memory(device: torch.device) -> int | None:
    """Total bytes of ``device``'s memory (physical RAM for the CPU); ``None`` where it cannot be read."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX
        return None


def check_model_fits(cfg: ModelConfig, device: torch.device, *, shards: int = 1) -> None:
    """Raise unless one process's share (``shards`` > 1 under FSDP) of the training state fits on ``device``."""
    total = device_memory(device)
    need = cfg.param_count() * TRAIN_BYTES_PER_PARAM // max(1, shards)
    if total is not None and need > total:
        gib = 1 << 30
        raise PreflightError(
            "memory",
            f"the model has {cfg.param_count():,} parameters: its weights, gradients and AdamW state need at least "
            f"{need / gib:,.1f} GiB per process, but {device} has {total / gib:,.1f} GiB. Fix: a smaller "
            "--model-config (hidden_size, num_layers, vocab_size), or more devices with --fsdp.",
        )

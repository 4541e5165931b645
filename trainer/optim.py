"""The optimizer and its learning-rate schedule."""

from __future__ import annotations

import math

import torch


def warmup_cosine(step: int, *, warmup: int, total: int, min_ratio: float) -> float:
    """LR multiplier for the update after ``step`` completed updates: linear warmup, cosine decay."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(
    model: torch.nn.Module, lr: float, weight_decay: float, betas: tuple[float, float]
) -> torch.optim.AdamW:
    """AdamW; matrices decay, norms and biases do not (decaying a gain toward 0 fights the norm).

    The implementation follows the parameters' device (``adamw_implementation``): one fused kernel
    per step on CUDA, the multi-tensor ``foreach`` path elsewhere, never the per-parameter loop.
    """
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    impl = adamw_implementation([*decay, *no_decay])
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=1e-8, **{impl: True})


def adamw_implementation(params: list[torch.Tensor]) -> str:
    """``fused`` when every parameter is a floating CUDA tensor (what the fused kernel takes), else ``foreach``.

    The fused kernel also runs on CPU in recent torch, but its CPU path is not what the CPU tests
    pin and is no faster than foreach at our sizes; CUDA is where it removes launch overhead.
    """
    if params and all(p.device.type == "cuda" and torch.is_floating_point(p) for p in params):
        return "fused"
    return "foreach"


def make_scheduler(
    optimizer: torch.optim.Optimizer, *, warmup: int, total: int, min_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """``warmup_cosine`` over ``total`` updates; stepped once per optimizer step."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, warmup=warmup, total=total, min_ratio=min_ratio)
    )

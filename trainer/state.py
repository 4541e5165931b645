"""Everything a training run is, at a step boundary, in one object.

``TrainState`` holds the model, optimizer, LR scheduler, data position and RNG state. The loop
mutates it one step at a time; ``snapshot()`` returns the pieces a resume needs (tensors and
JSON-able state), so the resume follow-up can persist it without re-deriving anything.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from trainer.data import TrainSampler
from trainer.model import CausalLM


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
    """AdamW; matrices decay, norms and biases do not (decaying a gain toward 0 fights the norm)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=1e-8)


def capture_rng() -> dict[str, Any]:
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class TrainState:
    model: CausalLM
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    sampler: TrainSampler
    step: int = 0
    tokens_seen: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        """Model/optimizer tensors plus the data position and RNG: what an exact resume needs."""
        return {
            "step": self.step,
            "tokens_seen": self.tokens_seen,
            "model": self.model.checkpoint_tensors(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "sampler": self.sampler.state_dict(),
            "rng": capture_rng(),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        with torch.no_grad():
            for name, t in self.model.checkpoint_tensors().items():
                t.copy_(snap["model"][name])
        self.optimizer.load_state_dict(snap["optimizer"])
        self.scheduler.load_state_dict(snap["scheduler"])
        self.sampler.load_state_dict(snap["sampler"])
        restore_rng(snap["rng"])
        self.step, self.tokens_seen = int(snap["step"]), int(snap["tokens_seen"])

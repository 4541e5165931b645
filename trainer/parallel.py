"""Data-parallel training of one ``CausalLM``: DDP, FSDP2, or no wrapper for a single process.

``parallelize`` wraps the model (already on its device) in DistributedDataParallel by default, or
FSDP2 ``fully_shard`` (per decoder layer + root) with ``strategy="fsdp"``. The training loss goes
through the wrapper's ``forward`` (the ``LossModule``), which is where DDP and FSDP hang their
gradient and all-gather hooks. ``ParallelModel.full_state_dict`` gathers the full, unsharded fp32
tensors so rank 0 writes the same ``.apr`` a single-process run writes.

Why gradients match a single process: each rank's loss is the mean over an equal-sized per-rank
batch, and DDP/FSDP *average* gradients over ranks, so the update equals the one from the mean
loss over the global batch (up to float summation order).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from trainer.checkpoint import full_tensors, write_checkpoint
from trainer.config import ModelConfig
from trainer.distributed import DistContext, DistributedError
from trainer.model import CausalLM

Strategy = Literal["none", "ddp", "fsdp"]


def fully_shard_fn() -> Any | None:
    """FSDP2's ``fully_shard`` where the installed torch has it (public since 2.6, composable before)."""
    try:
        from torch.distributed.fsdp import fully_shard

        return fully_shard
    except ImportError:
        try:
            from torch.distributed._composable.fsdp import fully_shard

            return fully_shard
        except ImportError:
            return None


class LossModule(nn.Module):
    """``forward`` = ``CausalLM.loss``: DDP and FSDP hook ``forward``, so the whole step must run through it."""

    def __init__(self, lm: CausalLM) -> None:
        super().__init__()
        self.lm = lm

    def forward(self, input_ids: torch.Tensor, targets: torch.Tensor, chunk_tokens: int | None = None) -> torch.Tensor:
        return self.lm.loss(input_ids, targets, chunk_tokens=chunk_tokens)


class ParallelModel:
    """The model as the loop trains, evaluates and saves it, whatever the strategy.

    It quacks like ``CausalLM`` where the loop needs it (``loss``, ``cfg``, ``train``/``eval``,
    ``training``, ``parameters``) but ``loss`` runs through the wrapper so gradients are averaged
    (DDP) or reduce-scattered (FSDP) across ranks.
    """

    def __init__(self, lm: CausalLM, module: nn.Module, strategy: Strategy, ctx: DistContext) -> None:
        self.lm, self.module, self.strategy, self.ctx = lm, module, strategy, ctx
        # Captured now, while FSDP2 parameters are the sharded DTensors: after a no-grad forward the root
        # module stays unsharded and ``module.parameters()`` would yield the transient full tensors,
        # which never receive gradients (a grad norm / clip over them silently skips the embeddings).
        self._params = list(module.parameters())

    @property
    def cfg(self) -> ModelConfig:
        return self.lm.cfg

    @property
    def training(self) -> bool:
        return self.module.training

    def train(self, mode: bool = True) -> ParallelModel:
        self.module.train(mode)
        if self.strategy == "fsdp":
            self.module.reshard()  # type: ignore[operator]  # drop the root's full params kept after eval
        return self

    def eval(self) -> ParallelModel:
        return self.train(False)

    def parameters(self) -> list[nn.Parameter]:
        """The parameters the optimizer owns and gradients land on (sharded DTensors under FSDP)."""
        return list(self._params)

    def loss(self, input_ids: torch.Tensor, targets: torch.Tensor, chunk_tokens: int | None = None) -> torch.Tensor:
        return self.module(input_ids, targets, chunk_tokens)

    def gradient_sync(self, last_micro_batch: bool) -> AbstractContextManager[object]:
        """Around one micro-batch's forward and backward: DDP skips its gradient all-reduce until the
        last micro-batch of a step (``no_sync``). FSDP2 and a single process need nothing."""
        if self.strategy == "ddp" and not last_micro_batch:
            return self.module.no_sync()  # type: ignore[operator]
        return nullcontext()

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """Full fp32 CPU tensors named as ``CausalLM.checkpoint_tensors``.

        Collective under FSDP (every rank must call it; only rank 0 gets the tensors, the others
        an empty dict). Under DDP/none every rank holds the full replica and gets it.
        """
        if self.strategy != "fsdp":
            return full_tensors(self.lm)
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        sd = get_model_state_dict(self.module, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        if not self.ctx.is_main:
            return {}
        tied = self.lm.cfg.tie_word_embeddings
        out = {n.removeprefix("lm."): t.float() for n, t in sd.items()}
        return {n: t for n, t in out.items() if not (tied and n == "lm_head.weight")}

    def load_full_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        """Inverse of ``full_state_dict``: every rank passes the same full tensors."""
        if self.strategy != "fsdp":
            with torch.no_grad():
                for name, t in self.lm.checkpoint_tensors().items():
                    t.copy_(tensors[name].to(t.dtype))
            return
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        full = {f"lm.{n}": t for n, t in tensors.items()}
        if self.lm.cfg.tie_word_embeddings:
            full["lm.lm_head.weight"] = full["lm.model.embed_tokens.weight"]
        set_model_state_dict(self.module, full, options=StateDictOptions(full_state_dict=True))

    def save_checkpoint(self, path: str | Path, provenance: dict[str, Any]) -> Path | None:
        """The run's ``.apr``: full tensors gathered on every rank (FSDP), written by rank 0 only.

        Single-process output is byte-for-byte what ``trainer.checkpoint.save_model`` writes.
        Returns the path on rank 0, ``None`` elsewhere.
        """
        tensors = self.full_state_dict()
        if not self.ctx.is_main:
            return None
        return write_checkpoint(path, self.cfg, tensors, provenance)


def parallelize(lm: CausalLM, ctx: DistContext, strategy: Strategy, device: torch.device) -> ParallelModel:
    """Wrap ``lm`` (already on ``device``) for data-parallel training; a no-op wrapper for one process.

    Build the optimizer *after* this: FSDP2 replaces the parameters with sharded DTensors in place.
    """
    loss_module = LossModule(lm)
    if not ctx.is_distributed or strategy == "none":
        return ParallelModel(lm, loss_module, "none", ctx)
    if strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return ParallelModel(lm, DistributedDataParallel(loss_module, device_ids=ids), "ddp", ctx)
    if strategy == "fsdp":
        fully_shard = fully_shard_fn()
        if fully_shard is None:
            raise DistributedError(f"--fsdp needs FSDP2 fully_shard (torch >= 2.4); this is torch {torch.__version__}")
        for layer in lm.model.layers:
            fully_shard(layer)
        fully_shard(loss_module)  # root: embeddings (tied lm_head), final norm
        return ParallelModel(lm, loss_module, "fsdp", ctx)
    raise DistributedError(f"unknown strategy {strategy!r}")

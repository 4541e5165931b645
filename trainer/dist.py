"""Rank awareness for the training loop (the torch.distributed side lives in ``trainer.distributed``).

The loop asks this object three questions: which slice of the data is mine (rank, world_size),
may I write files and log (``is_main``), and what is the global mean of a per-rank number
(``all_reduce_mean``). With one process the answers are trivial; the torchrun/DDP follow-up only
has to fill these in (``torch.distributed`` initialised from the torchrun environment) without
touching the loop.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls) -> DistContext:
        """Read torchrun's RANK / WORLD_SIZE / LOCAL_RANK (``trainer.distributed`` does the torch side)."""
        from trainer.distributed import context_from_env

        return context_from_env()

    def all_reduce_mean(self, value: float) -> float:
        if not self.is_distributed:
            return value
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def barrier(self) -> None:
        if self.is_distributed:
            import torch.distributed as dist

            dist.barrier()

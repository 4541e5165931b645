"""Ranks and collectives: the torchrun environment, the process group, and the few reductions the loop needs.

``apr pretrain`` launched by ``torchrun --nproc-per-node N`` (and ``--nnodes``) reads RANK,
WORLD_SIZE and LOCAL_RANK from the environment (``context_from_env``). The loop then, in order:

1. runs every input gate (preflight) on every rank, *before* any collective, so a bad input
   fails fast on all ranks instead of leaving peers blocked in a rendezvous;
2. ``start``: initialises the process group (``gloo`` on CPU, ``nccl`` on CUDA) with a finite
   timeout on collectives, so a dead or stalled rank turns into an error, not a hang;
3. wraps the model for data parallelism (``trainer.parallel``, the layer above this one);
4. ``stop``: tears the group down on every exit path.

A single process is the same code with ``world_size == 1``: every collective here is then the
identity and nothing touches ``torch.distributed``.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as tdist

from trainer.errors import TrainerInputError

#: Default collective timeout for real runs (a first CUDA step or a large checkpoint gather can be slow).
DEFAULT_TIMEOUT_S = 600.0

#: Exit status of ``apr pretrain`` when a collective fails (a peer died or stalled past the timeout).
EXIT_DISTRIBUTED = 5


class DistributedError(TrainerInputError):
    """The launch environment is inconsistent, or the requested strategy is unavailable."""


@dataclass(frozen=True)
class DistContext:
    """Which rank this is, and the reductions the loop needs; trivial for one process.

    ``device_type`` is where collective tensors live (``start`` sets it: NCCL reduces CUDA tensors).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device_type: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    def _reduce(self, values: list[float]) -> list[float]:
        if not tdist.is_initialized():
            raise DistributedError(
                f"a collective over {self.world_size} ranks needs the process group; call start() first"
            )
        t = torch.tensor(values, dtype=torch.float64, device=self.device_type)
        tdist.all_reduce(t)
        return [float(v) for v in t.cpu()]

    def all_reduce_mean(self, value: float) -> float:
        if not self.is_distributed:
            return value
        return self._reduce([value])[0] / self.world_size

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        if not self.is_distributed:
            return list(values)
        return self._reduce(values)

    def barrier(self) -> None:
        if self.is_distributed:
            tdist.barrier()


def context_from_env(environ: dict[str, str] | None = None) -> DistContext:
    """Rank, world size and local rank as torchrun sets them; a single process when unset.

    No collective happens here: this is safe to call before preflight.
    """
    env = os.environ if environ is None else environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise DistributedError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers: {exc}") from exc
    if world < 1 or not 0 <= rank < world or local < 0:
        raise DistributedError(f"inconsistent launch environment: RANK={rank} WORLD_SIZE={world} LOCAL_RANK={local}")
    return DistContext(rank=rank, world_size=world, local_rank=local)


def backend_for(device: torch.device) -> str:
    """``nccl`` for CUDA tensors, ``gloo`` for CPU: the backends torch ships for each."""
    return "nccl" if device.type == "cuda" else "gloo"


def start(
    ctx: DistContext, device: torch.device, timeout_s: float = DEFAULT_TIMEOUT_S
) -> tuple[DistContext, torch.device]:
    """Initialise the process group (once) and pin this rank's CUDA device.

    Returns the context to use from now on (its reductions run on the right device) and the
    device this rank trains on (``cuda:LOCAL_RANK`` under CUDA). A single process is returned as is.
    """
    if not ctx.is_distributed:
        return ctx, device
    if device.type == "cuda":
        if ctx.local_rank >= torch.cuda.device_count():
            raise DistributedError(
                f"LOCAL_RANK={ctx.local_rank} but this node has {torch.cuda.device_count()} CUDA device(s); "
                "use --nproc-per-node <= the GPU count"
            )
        torch.cuda.set_device(ctx.local_rank)
        device = torch.device("cuda", ctx.local_rank)
    if not tdist.is_initialized():
        tdist.init_process_group(backend=backend_for(device), timeout=timedelta(seconds=timeout_s))
    if tdist.get_world_size() != ctx.world_size or tdist.get_rank() != ctx.rank:
        raise DistributedError(
            f"process group is rank {tdist.get_rank()}/{tdist.get_world_size()} but the environment says "
            f"{ctx.rank}/{ctx.world_size}"
        )
    return replace(ctx, device_type=device.type), device


def stop(*, barrier: bool = False) -> None:
    """Tear the process group down (idempotent); call on every exit path of a distributed run.

    ``barrier=True`` (the success path) first waits for every rank, so a rank that finished early
    does not destroy its gloo/NCCL state while a peer is still in a collective or writing. Never
    on a failure path: a barrier with a dead peer would only wait out the timeout.
    """
    if tdist.is_available() and tdist.is_initialized():
        if barrier and tdist.get_world_size() > 1:
            tdist.barrier()
        # FSDP2/DDP state sits in reference cycles that can hold gloo work objects; freed during
        # interpreter finalisation they abort the process (SIGABRT) after a successful run. Free them now.
        gc.collect()
        tdist.destroy_process_group()


def gather_bytes(ctx: DistContext, payload: bytes) -> list[bytes] | None:
    """Every rank's ``payload`` on rank 0 (``None`` elsewhere), through tensors, never pickle."""
    if not ctx.is_distributed:
        return [payload]
    dev = ctx.device_type
    size = torch.tensor([len(payload)], dtype=torch.int64, device=dev)
    sizes = [torch.zeros_like(size) for _ in range(ctx.world_size)]
    tdist.all_gather(sizes, size)
    n = int(max(int(s) for s in sizes))
    buf = torch.zeros(n, dtype=torch.uint8, device=dev)
    if payload:
        buf[: len(payload)] = torch.frombuffer(bytearray(payload), dtype=torch.uint8).to(dev)
    bufs = [torch.zeros_like(buf) for _ in range(ctx.world_size)]
    tdist.all_gather(bufs, buf)
    if not ctx.is_main:
        return None
    return [bytes(b[: int(s)].cpu().numpy().tobytes()) for b, s in zip(bufs, sizes, strict=True)]


def broadcast_bytes(ctx: DistContext, payload: bytes | None) -> bytes:
    """Rank 0's ``payload`` on every rank (others pass ``None``), through tensors, never pickle."""
    if not ctx.is_distributed:
        assert payload is not None
        return payload
    dev = ctx.device_type
    size = torch.tensor([len(payload) if ctx.is_main and payload is not None else 0], dtype=torch.int64, device=dev)
    tdist.broadcast(size, src=0)
    buf = torch.zeros(int(size), dtype=torch.uint8, device=dev)
    if ctx.is_main and payload:
        buf[:] = torch.frombuffer(bytearray(payload), dtype=torch.uint8).to(dev)
    tdist.broadcast(buf, src=0)
    return bytes(buf.cpu().numpy().tobytes())


def rank_slice(items: list[Any], ctx: DistContext) -> list[Any]:
    """This rank's share of an evaluation list: equal-sized, disjoint, rank-strided.

    The list is cut to a multiple of world_size first so every rank runs the same number of
    forward passes (FSDP all-gathers inside forward are collectives; unequal counts would hang).
    """
    usable = len(items) - len(items) % ctx.world_size
    if usable == 0:
        raise DistributedError(f"{len(items)} evaluation windows cannot be split over {ctx.world_size} ranks")
    return items[:usable][ctx.rank :: ctx.world_size]


def weighted_mean(ctx: DistContext, local_mean: float, count: int) -> float:
    """Global mean of per-rank means weighted by their counts; identical on every rank."""
    if not ctx.is_distributed:
        return local_mean
    total, n = ctx.all_reduce_sum([local_mean * count, float(count)])
    return total / n

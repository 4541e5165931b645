"""Multi-process data parallelism on PyTorch's own engine: torchrun env, process group, DDP / FSDP2.

``apr pretrain`` launched by ``torchrun --nproc-per-node N`` (and ``--nnodes``) reads RANK,
WORLD_SIZE and LOCAL_RANK from the environment (``context_from_env``). The loop then, in order:

1. runs every input gate (preflight) on every rank, *before* any collective, so a bad input
   fails fast on all ranks instead of leaving peers blocked in a rendezvous;
2. ``start``: initialises the process group (``gloo`` on CPU, ``nccl`` on CUDA) with a finite
   timeout on collectives, so a dead or stalled rank turns into an error, not a hang;
3. ``wrap``: DistributedDataParallel by default, FSDP2 ``fully_shard`` (per decoder layer + root)
   with ``strategy="fsdp"``. The training loss goes through the wrapper's ``forward`` (the
   ``LossModule``), which is where DDP and FSDP hang their gradient and all-gather hooks;
4. ``full_state_dict``: gathers the full, unsharded fp32 tensors so rank 0 writes the same
   ``.apr`` a single-process run writes.

Why gradients match a single process: each rank's loss is the mean over an equal-sized per-rank
batch, and DDP/FSDP *average* gradients over ranks, so the update equals the one from the mean
loss over the global batch (up to float summation order).
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal

import torch
import torch.distributed as tdist
from torch import nn

from trainer.apr_format import write_apr
from trainer.checkpoint import apr_metadata
from trainer.dist import DistContext
from trainer.errors import TrainerInputError
from trainer.model import CausalLM

Strategy = Literal["none", "ddp", "fsdp"]

#: Default collective timeout for real runs (a first CUDA step or a large checkpoint gather can be slow).
DEFAULT_TIMEOUT_S = 600.0

#: Exit status of ``apr pretrain`` when a collective fails (a peer died or stalled past the timeout).
EXIT_DISTRIBUTED = 5


class DistributedError(TrainerInputError):
    """The launch environment is inconsistent, or the requested strategy is unavailable."""


@dataclass(frozen=True)
class TorchDistContext(DistContext):
    """A ``DistContext`` backed by ``torch.distributed``; reductions run on the backend's device."""

    device_type: str = "cpu"
    timeout_s: float = DEFAULT_TIMEOUT_S

    def _reduce(self, values: list[float]) -> list[float]:
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


def context_from_env(environ: dict[str, str] | None = None) -> TorchDistContext:
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
    return TorchDistContext(rank=rank, world_size=world, local_rank=local)


def backend_for(device: torch.device) -> str:
    """``nccl`` for CUDA tensors, ``gloo`` for CPU: the backends torch ships for each."""
    return "nccl" if device.type == "cuda" else "gloo"


def start(
    ctx: DistContext, device: torch.device, timeout_s: float = DEFAULT_TIMEOUT_S
) -> tuple[DistContext, torch.device]:
    """Initialise the process group (once) and pin this rank's CUDA device.

    Returns the context to use from now on (one whose reductions run on the right device) and the
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
    base = {"rank": ctx.rank, "world_size": ctx.world_size, "local_rank": ctx.local_rank}
    if isinstance(ctx, TorchDistContext):
        return replace(ctx, device_type=device.type, timeout_s=timeout_s), device
    return TorchDistContext(**base, device_type=device.type, timeout_s=timeout_s), device


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


class Engine:
    """What the loop trains and evaluates through, whatever the strategy.

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
    def cfg(self) -> Any:
        return self.lm.cfg

    @property
    def training(self) -> bool:
        return self.module.training

    def train(self, mode: bool = True) -> Engine:
        self.module.train(mode)
        if self.strategy == "fsdp":
            self.module.reshard()  # type: ignore[operator]  # drop the root's full params kept after eval
        return self

    def eval(self) -> Engine:
        return self.train(False)

    def parameters(self) -> list[nn.Parameter]:
        """The parameters the optimizer owns and gradients land on (sharded DTensors under FSDP)."""
        return list(self._params)

    def loss(self, input_ids: torch.Tensor, targets: torch.Tensor, chunk_tokens: int | None = None) -> torch.Tensor:
        return self.module(input_ids, targets, chunk_tokens)

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """Full fp32 CPU tensors named as ``CausalLM.checkpoint_tensors``.

        Collective under FSDP (every rank must call it; only rank 0 gets the tensors, the others
        an empty dict). Under DDP/none every rank holds the full replica and gets it.
        """
        if self.strategy != "fsdp":
            return {n: t.detach().float().cpu().clone() for n, t in self.lm.checkpoint_tensors().items()}
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


def wrap(lm: CausalLM, ctx: DistContext, strategy: Strategy, device: torch.device) -> Engine:
    """Wrap ``lm`` (already on ``device``) for data-parallel training; a no-op wrapper for one process.

    Build the optimizer *after* this: FSDP2 replaces the parameters with sharded DTensors in place.
    """
    loss_module = LossModule(lm)
    if not ctx.is_distributed or strategy == "none":
        return Engine(lm, loss_module, "none", ctx)
    if strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return Engine(lm, DistributedDataParallel(loss_module, device_ids=ids), "ddp", ctx)
    if strategy == "fsdp":
        fully_shard = fully_shard_fn()
        if fully_shard is None:
            raise DistributedError(f"--fsdp needs FSDP2 fully_shard (torch >= 2.4); this is torch {torch.__version__}")
        for layer in lm.model.layers:
            fully_shard(layer)
        fully_shard(loss_module)  # root: embeddings (tied lm_head), final norm
        return Engine(lm, loss_module, "fsdp", ctx)
    raise DistributedError(f"unknown strategy {strategy!r}")


def save_checkpoint(engine: Engine, path: os.PathLike[str] | str, provenance: dict[str, Any], ctx: DistContext):
    """The run's ``.apr``: full tensors gathered on every rank (FSDP), written by rank 0 only.

    Single-process output is byte-for-byte what ``trainer.checkpoint.save_model`` writes, except
    for provenance timestamps. Returns the path on rank 0, ``None`` elsewhere.
    """
    tensors = engine.full_state_dict()
    if not ctx.is_main:
        return None
    return write_apr(path, tensors, apr_metadata(engine.cfg, provenance))


def gather_bytes(ctx: DistContext, payload: bytes) -> list[bytes] | None:
    """Every rank's ``payload`` on rank 0 (``None`` elsewhere), through tensors, never pickle."""
    if not ctx.is_distributed:
        return [payload]
    dev = getattr(ctx, "device_type", "cpu")
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
    dev = getattr(ctx, "device_type", "cpu")
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
    if not isinstance(ctx, TorchDistContext):
        raise DistributedError("a distributed weighted mean needs a TorchDistContext (see context_from_env)")
    total, n = ctx.all_reduce_sum([local_mean * count, float(count)])
    return total / n

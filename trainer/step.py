"""One training step and one evaluation, on a ``Run``; where a run learns it must stop.

``train_step`` is one optimizer update over this rank's batch: ``forward_backward`` on it (the
seam for gradient accumulation, where a step would call it once per micro-batch), the pre-clip
gradient norm, the update, and the measured wall time. Every number it returns is measured: the
loss is the global-batch mean all ranks agree on, the grad norm is ``clip_grad_norm_``'s total
norm before clipping, never a placeholder.

A NaN/Inf loss, grad norm or val_loss raises ``RunStopped("non_finite", ...)`` here; running out
of training windows raises ``DataExhausted`` (a ``RunStopped``) from the sampler. The loop catches
both in one place. A token id outside the embedding table is bad input (``PreflightError``).
"""

from __future__ import annotations

import math
import time

import torch

from trainer import distributed
from trainer.errors import RunStopped
from trainer.preflight import assert_ids_below_vocab
from trainer.state import Run, StepMetrics


def _check_finite(value: float, detail: str) -> None:
    if not math.isfinite(value):
        raise RunStopped("non_finite", detail)


def next_batch(run: Run) -> torch.Tensor:
    """This rank's next training batch ``[B, seq_len + 1]`` on the run's device, ids checked against the table."""
    batch = run.inputs.shards.batch(run.sampler.next_batch())  # raises DataExhausted
    assert_ids_below_vocab(int(batch.max()), run.model.cfg.vocab_size, f"training batch at step {run.step}")
    return torch.from_numpy(batch).to(run.device, non_blocking=True)


def micro_batches(tokens: torch.Tensor, k: int) -> tuple[torch.Tensor, ...]:
    """``tokens`` ``[B, T+1]`` as ``k`` equal micro-batches of ``B/k`` windows (``RunConfig`` checks ``k | B``)."""
    return tokens.chunk(k)


def forward_backward(run: Run, tokens: torch.Tensor) -> float:
    """Loss and gradients of one step's batch, in ``--grad-accum`` micro-batches; returns the global-batch loss.

    Every micro-batch holds the same number of tokens and its loss is a mean over them, so the mean
    of the K losses is the batch's loss, and backpropagating each one scaled by 1/K accumulates
    exactly the batch's gradient (up to float summation order). Under DDP the gradient all-reduce
    runs once, with the last micro-batch; under FSDP2 each micro-batch reduce-scatters, so the
    accumulated gradients stay sharded (holding them unsharded would undo FSDP's memory saving).
    Each micro-batch's loss is averaged over ranks and checked before its ``backward``, so a
    non-finite value never reaches the gradients and every rank stops at the same point.
    """
    parts = micro_batches(tokens, run.cfg.grad_accum)
    total = 0.0
    for i, micro in enumerate(parts):
        with run.model.gradient_sync(i == len(parts) - 1):
            with torch.autocast(device_type=run.device.type, dtype=torch.bfloat16, enabled=run.autocast):
                loss = run.model.loss(micro[:, :-1], micro[:, 1:], chunk_tokens=run.cfg.ce_chunk_tokens)
            loss_v = run.ctx.all_reduce_mean(float(loss.detach()))  # every rank stops together
            _check_finite(loss_v, f"loss={loss_v} at step {run.step}" + (f" (micro-batch {i})" if i else ""))
            (loss / len(parts)).backward()
        total += loss_v
    return total / len(parts)


def train_step(run: Run, batch: torch.Tensor) -> StepMetrics:
    """One optimizer update on ``batch`` (this rank's share of the global batch)."""
    t0 = time.perf_counter()
    lr = run.optimizer.param_groups[0]["lr"]
    loss = forward_backward(run, batch)
    params = [p for p in run.model.parameters() if p.requires_grad]  # the sharded DTensors under FSDP
    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, run.cfg.grad_clip))
    _check_finite(grad_norm, f"grad_norm={grad_norm} at step {run.step}")
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    if run.device.type == "cuda":
        torch.cuda.synchronize()
    tokens = run.cfg.batch_size * run.cfg.seq_len * run.ctx.world_size
    return StepMetrics(run.step, loss, lr, grad_norm, tokens, time.perf_counter() - t0)


@torch.no_grad()
def _local_val_loss(run: Run) -> float:
    """Mean next-token loss over this rank's held-out windows (every window has the same token count)."""
    model, shards, size = run.model, run.inputs.shards, run.cfg.batch_size
    was_training = model.training
    model.eval()
    total, n = 0.0, 0
    for i in range(0, len(run.val_ids), size):
        ids = run.val_ids[i : i + size]
        batch_np = shards.batch(ids)
        assert_ids_below_vocab(int(batch_np.max()), model.cfg.vocab_size, "validation batch")
        batch = torch.from_numpy(batch_np).to(run.device)
        with torch.autocast(device_type=run.device.type, dtype=torch.bfloat16, enabled=run.autocast):
            loss = model.loss(batch[:, :-1], batch[:, 1:], chunk_tokens=run.cfg.ce_chunk_tokens)
        total += float(loss) * len(ids)
        n += len(ids)
    model.train(was_training)
    return total / n


def evaluate(run: Run, *, final: bool = False) -> float:
    """The global val_loss (the same number on every rank), recorded; a non-finite one stops the run."""
    val_loss = distributed.weighted_mean(run.ctx, _local_val_loss(run), len(run.val_ids))
    run.record_eval(val_loss)
    _check_finite(val_loss, f"final val_loss={val_loss}" if final else f"val_loss={val_loss} at step {run.step}")
    return val_loss

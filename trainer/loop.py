"""The training loop behind ``apr pretrain``: preflight, train, evaluate, checkpoint, and tell the truth.

Every number logged is measured: loss and grad norm come from the step that produced them (the
grad norm is ``clip_grad_norm_``'s pre-clip total norm, never a placeholder), tokens/s is
wall-clock, and the exit status follows from the run, not from a hope:

==== =====================  =========================================================
code status                 meaning
==== =====================  =========================================================
0    ok                     finished all steps with finite losses (and hit the target)
1    target_not_reached     finished, but final val_loss > --target-val-loss
3    non_finite             a NaN/Inf loss or grad norm; stopped, no checkpoint
4    data_exhausted         the sampler ran out of unseen training windows; no checkpoint
==== =====================  =========================================================

Bad input (preflight, config, format, data errors) raises before training; the CLI maps it to 2.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from trainer import distributed
from trainer.config import ModelConfig, model_config_for
from trainer.data import (
    DataExhausted,
    ShardSet,
    TrainSampler,
    sha256_file,
    sha256_path,
)
from trainer.distributed import DistContext
from trainer.init_load import load_init_into, read_checked_init_tensors
from trainer.model import CausalLM
from trainer.parallel import parallelize
from trainer.preflight import PreflightError, assert_ids_below_vocab, preflight_tokenizer_vocab
from trainer.resume import ResumeInfo, load_resume_state, save_resume_state, trim_metrics
from trainer.run_config import RunConfig
from trainer.state import TrainState, make_optimizer, seed_everything, warmup_cosine
from trainer.tokenizer_info import read_tokenizer_vocab

EXIT_CODES = {"ok": 0, "target_not_reached": 1, "non_finite": 3, "data_exhausted": 4}


@dataclass
class RunResult:
    status: str
    exit_code: int
    summary: dict[str, Any]
    checkpoint: Path | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise PreflightError("device", "--device cuda was requested but torch sees no CUDA device")
    return torch.device(name)


class Reporter:
    """Plain per-step lines (stdout + train.log), metrics.jsonl, and a rich bar on a TTY. Main rank only."""

    def __init__(self, out: Path, enabled: bool, total: int, progress: str, stream: TextIO | None = None,
                 append: bool = False) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stdout
        self._bar = None
        self._task = None
        if not enabled:
            return
        out.mkdir(parents=True, exist_ok=True)
        mode = "a" if append else "w"  # a resumed run continues its log and metrics
        self._log = open(out / "train.log", mode, encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._metrics = open(out / "metrics.jsonl", mode, encoding="utf-8")  # noqa: SIM115
        use_bar = progress == "on" or (progress == "auto" and self.stream.isatty())
        if use_bar:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("[bold]apr pretrain"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("train", total=total)

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)
        self._log.write(text + "\n")
        self._log.flush()

    def metric(self, record: dict[str, Any]) -> None:
        if self.enabled:
            self._metrics.write(json.dumps(record) + "\n")
            self._metrics.flush()

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        if self.enabled:
            self._log.close()
            self._metrics.close()


@torch.no_grad()
def evaluate(model: CausalLM, shards: ShardSet, window_ids: list[int], batch_size: int, device: torch.device,
             autocast: bool, chunk: int | None) -> float:
    """Mean next-token loss over fixed held-out windows (every window has the same token count)."""
    was_training = model.training
    model.eval()
    total, n = 0.0, 0
    for i in range(0, len(window_ids), batch_size):
        ids = window_ids[i : i + batch_size]
        batch_np = shards.batch(ids)
        assert_ids_below_vocab(int(batch_np.max()), model.cfg.vocab_size, "validation batch")
        batch = torch.from_numpy(batch_np).to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = model.loss(batch[:, :-1], batch[:, 1:], chunk_tokens=chunk)
        total += float(loss) * len(ids)
        n += len(ids)
    model.train(was_training)
    return total / n


def _versions() -> dict[str, str]:
    import trainer

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "trainer": getattr(trainer, "__version__", "0.1.0"),
        "platform": platform.platform(),
    }


def _init_hashes(init: Path) -> dict[str, str]:
    if init.is_dir():
        return {p.name: sha256_file(p) for p in sorted(init.iterdir()) if p.suffix in (".json", ".safetensors")}
    return {init.name: sha256_file(init)}


def prepare(cfg: RunConfig) -> tuple[ModelConfig, int, ShardSet]:
    """All input gates, before any weight is read: config, tokenizer vocab, shard ids."""
    tok = read_tokenizer_vocab(cfg.tokenizer)
    model_cfg = model_config_for(init=cfg.init, preset=cfg.model_config_name)
    preflight_tokenizer_vocab(tok.size, model_cfg.vocab_size, init_is_some=cfg.init is not None)
    shards = ShardSet(cfg.shards_dir, cfg.seq_len, val_fraction=cfg.val_fraction)
    encoded_with = shards.manifest.tokenizer if shards.manifest is not None else None
    mvocab = encoded_with.effective_vocab_count if encoded_with is not None else None
    if mvocab is not None and mvocab != tok.size:
        raise PreflightError(
            "shards-tokenizer",
            f"{cfg.shards_dir}/manifest.json says the shards were encoded with vocab {mvocab:,} but --tokenizer "
            f"has {tok.size:,} ids; encode the shards with this tokenizer",
        )
    max_id = encoded_with.max_token_id if encoded_with is not None else None
    if max_id is not None:
        assert_ids_below_vocab(max_id, model_cfg.vocab_size, f"{cfg.shards_dir}/manifest.json max_token_id")
    if cfg.seq_len > model_cfg.max_position_embeddings:
        raise PreflightError(
            "seq-len", f"--seq-len {cfg.seq_len} > max_position_embeddings {model_cfg.max_position_embeddings}"
        )
    return model_cfg, tok.size, shards


def run_pretrain(
    cfg: RunConfig,
    *,
    dist: DistContext | None = None,
    stream: TextIO | None = None,
    on_step: Callable[[TrainState], None] | None = None,
) -> RunResult:
    dist = dist or distributed.context_from_env()
    started = time.perf_counter()
    model_cfg, tok_vocab, shards = prepare(cfg)
    shard_hashes = shards.file_hashes()  # also checks them against the manifest's sha256, before training
    device = resolve_device(cfg.device)
    # Every input gate above ran on every rank before this first collective (fail fast everywhere).
    dist, device = distributed.start(dist, device, cfg.dist_timeout_s)
    autocast = device.type == "cuda"
    seed_everything(cfg.seed)

    # An init's tensors are read and shape-checked against model_cfg before model_cfg sizes any allocation.
    init_tensors = read_checked_init_tensors(model_cfg, cfg.init) if cfg.init is not None else None
    model = CausalLM(model_cfg)
    load_report: dict[str, Any] | None = None
    if cfg.init is not None:
        load_report = load_init_into(model, cfg.init, tensors=init_tensors)
        del init_tensors
    model.to(device)
    model.train()
    engine = parallelize(model, dist, "fsdp" if cfg.fsdp else "ddp", device)  # before the optimizer (FSDP)
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay, (cfg.beta1, cfg.beta2))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: warmup_cosine(s, warmup=cfg.warmup, total=cfg.steps, min_ratio=cfg.min_lr_ratio),
    )
    sampler = TrainSampler(
        shards.n_train, cfg.batch_size, cfg.seed, max_epochs=cfg.max_epochs, rank=dist.rank, world_size=dist.world_size
    )
    state = TrainState(model, optimizer, scheduler, sampler)
    resumed: ResumeInfo | None = None
    if cfg.resume is not None:
        resumed = load_resume_state(cfg.resume, model=engine, optimizer=optimizer, scheduler=scheduler,
                                    sampler=sampler, cfg=cfg, ctx=dist)
        state.step, state.tokens_seen = resumed.step, resumed.tokens_seen
        if dist.is_main:
            trim_metrics(cfg.out / "metrics.jsonl", resumed.step)
    # The global eval set (same windows whatever the world size), split disjointly over ranks.
    val_ids = list(shards.val_ids())[: cfg.eval_batches * cfg.batch_size * dist.world_size]
    my_val_ids = distributed.rank_slice(val_ids, dist)
    reporter = Reporter(cfg.out, dist.is_main, cfg.steps, cfg.progress, stream, append=resumed is not None)
    ln_v = math.log(model_cfg.vocab_size)
    reporter.line(
        f"apr pretrain: mode={cfg.mode} arch={model_cfg.architecture} params={model.param_count():,} "
        f"vocab={model_cfg.vocab_size:,} tokenizer_vocab={tok_vocab:,} device={device} "
        f"train_windows={shards.n_train} val_windows={shards.n_val} (eval on {len(val_ids)}) ln(vocab)={ln_v:.4f}"
    )
    if resumed is not None:
        reporter.line(f"resumed from {resumed.source} at step {resumed.step}")
    if cfg.steps > sampler.capacity:
        reporter.line(
            f"warning: {cfg.steps} steps need {cfg.steps} batches but only {sampler.capacity} unseen batches exist "
            f"within --max-epochs {cfg.max_epochs}; the run will stop with data_exhausted"
        )

    def do_eval() -> float:
        local = evaluate(engine, shards, my_val_ids, cfg.batch_size, device, autocast,  # type: ignore[arg-type]
                         cfg.ce_chunk_tokens)
        loss = distributed.weighted_mean(dist, local, len(my_val_ids))
        reporter.line(f"eval step={state.step} val_loss={loss:.4f}")
        reporter.metric({"kind": "eval", "step": state.step, "val_loss": loss})
        history.append({"kind": "eval", "step": state.step, "val_loss": loss})
        return loss

    history: list[dict[str, Any]] = []
    status = "ok"
    detail = ""
    step0_loss: float | None = None
    val0 = do_eval()
    if not math.isfinite(val0):
        status, detail = "non_finite", f"val_loss at step 0 is {val0}"
    last_train = float("nan")
    val_loss = val0
    train_wall = 0.0
    val_origin = val0  # the run's step-0 val_loss, carried across resumes
    if resumed is not None:
        step0_loss = resumed.carry.get("step_0_loss")
        train_wall = float(resumed.carry.get("train_wall_s") or 0.0)
        val_origin = resumed.carry.get("val_loss_step_0", val0)
    params = [p for p in engine.parameters() if p.requires_grad]  # the sharded DTensors under FSDP
    while status == "ok" and state.step < cfg.steps:
        if state.step > 0 and state.step % cfg.eval_every == 0:
            val_loss = do_eval()
            if not math.isfinite(val_loss):
                status, detail = "non_finite", f"val_loss={val_loss} at step {state.step}"
                break
        try:
            ids = sampler.next_batch()
        except DataExhausted as exc:
            status, detail = "data_exhausted", str(exc)
            break
        batch_np = shards.batch(ids)
        assert_ids_below_vocab(int(batch_np.max()), model_cfg.vocab_size, f"training batch at step {state.step}")
        batch = torch.from_numpy(batch_np).to(device, non_blocking=True)
        t0 = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = engine.loss(batch[:, :-1], batch[:, 1:], chunk_tokens=cfg.ce_chunk_tokens)
        loss_v = dist.all_reduce_mean(float(loss.detach()))  # global-batch loss; every rank stops together
        if not math.isfinite(loss_v):
            status, detail = "non_finite", f"loss={loss_v} at step {state.step}"
            break
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip))
        if not math.isfinite(grad_norm):
            status, detail = "non_finite", f"grad_norm={grad_norm} at step {state.step}"
            break
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        train_wall += dt
        tokens = cfg.batch_size * cfg.seq_len * dist.world_size
        state.tokens_seen += tokens
        if step0_loss is None:
            step0_loss = loss_v
        last_train = loss_v
        rec = {"kind": "train", "step": state.step, "loss": loss_v, "lr": lr, "grad_norm": grad_norm,
               "tokens_per_s": tokens / dt, "tokens_seen": state.tokens_seen, "step_s": dt}
        reporter.line(
            f"step={state.step} loss={loss_v:.4f} lr={lr:.3e} grad_norm={grad_norm:.4f} tok/s={tokens / dt:,.0f}"
        )
        reporter.metric(rec)
        history.append(rec)
        state.step += 1
        reporter.advance()
        if cfg.save_every and state.step % cfg.save_every == 0 and state.step < cfg.steps:
            save_resume_state(cfg.out, model=engine, optimizer=optimizer, scheduler=scheduler, sampler=sampler,
                              step=state.step, tokens_seen=state.tokens_seen, cfg=cfg, ctx=dist,
                              carry={"step_0_loss": step0_loss, "val_loss_step_0": val_origin,
                                     "train_wall_s": train_wall},
                              provenance={"tool": "apr pretrain", "mode": cfg.mode, "seed": cfg.seed})
        if on_step is not None:
            on_step(state)

    if status == "ok":
        val_loss = do_eval()
        if not math.isfinite(val_loss):
            status, detail = "non_finite", f"final val_loss={val_loss}"
    target_reached: bool | None = None
    if status == "ok" and cfg.target_val_loss is not None:
        target_reached = val_loss <= cfg.target_val_loss
        if not target_reached:
            status = "target_not_reached"
            detail = f"final val_loss {val_loss:.4f} > target {cfg.target_val_loss}"

    checkpoint: Path | None = None
    provenance = {
        "tool": "apr pretrain",
        "mode": cfg.mode,
        "steps": state.step,
        "seed": cfg.seed,
        "init": str(cfg.init) if cfg.init else None,
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "torch": torch.__version__,
    }
    if status in ("ok", "target_not_reached"):  # a gather every rank joins; rank 0 writes
        checkpoint = engine.save_checkpoint(cfg.out / "checkpoint.apr", provenance)

    exit_code = EXIT_CODES[status]
    summary: dict[str, Any] = {
        "status": status,
        "exit_code": exit_code,
        "detail": detail,
        "config": json.loads(cfg.model_dump_json()),
        "model_config": model_cfg.model_dump(),
        "param_count": model.param_count(),
        "seed": cfg.seed,
        "device": str(device),
        "versions": _versions(),
        "vocab_size": model_cfg.vocab_size,
        "tokenizer_vocab": tok_vocab,
        "ln_vocab": ln_v,
        "steps_completed": state.step,
        "tokens_seen": state.tokens_seen,
        "step_0_loss": step0_loss,
        "val_loss_step_0": val_origin,
        "final_train_loss": last_train if math.isfinite(last_train) else None,
        "final_val_loss": val_loss if math.isfinite(val_loss) else None,
        "target_val_loss": cfg.target_val_loss,
        "target_reached": target_reached,
        "train_wall_s": train_wall,
        "tokens_per_s": state.tokens_seen / train_wall if train_wall > 0 else None,
        "wall_s": time.perf_counter() - started,
        "init_load": load_report,
        "hashes": {
            "init": _init_hashes(cfg.init) if cfg.init else None,
            "tokenizer": sha256_path(cfg.tokenizer),
            "shards": shard_hashes,
            "checkpoint": sha256_file(checkpoint) if checkpoint else None,
        },
        "checkpoint": str(checkpoint) if checkpoint else None,
        "train_windows": shards.n_train,
        "val_windows": shards.n_val,
        "eval_windows": len(val_ids),
    }
    if status == "ok":
        verdict = "finished" + (f"; target val_loss {cfg.target_val_loss} reached" if target_reached else "")
    else:
        verdict = f"FAILED ({status}): {detail}"
    reporter.line(
        f"done status={status} exit={exit_code} steps={state.step} step_0_loss={step0_loss} "
        f"final_val_loss={summary['final_val_loss']} wall_s={summary['wall_s']:.1f} -- {verdict}"
    )
    reporter.close()
    if dist.is_main:
        (cfg.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return RunResult(status, exit_code, summary, checkpoint, history)

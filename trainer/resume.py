"""Resume state: everything an interrupted run needs to continue as if it never stopped.

Layout under ``RUN_DIR/resume/``::

    latest.json                  {"step": N, "dir": "step-0000000N"}   (atomic replace, written last)
    step-0000000N/
        model.apr                full fp32 weights: the same .apr format as checkpoint.apr
        optimizer.safetensors    AdamW moments and step counts, keyed "<param name>/<key>"
        state.json               step, tokens_seen, scheduler, sampler position, optimizer param
                                 groups, per-rank RNG, summary carry-overs, the run's trajectory config

Nothing is pickled (the checkpoint rule): tensors go to ``.apr`` / safetensors, the rest to JSON.
A step directory is written under a temporary name, fsynced and renamed; ``latest.json`` moves
only after that, so a crash mid-save leaves the previous resume point intact.

Only rank 0 writes. Under FSDP the full model and optimizer state are gathered first (a
collective every rank joins); per-rank RNG states are gathered as bytes. Every rank reads the
files on resume, so RUN_DIR must be visible from every node (a shared filesystem) for a
multi-node resume.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from safeio import atomic_write_text, fsync_dir, give_default_permissions, read_regular_bytes
from trainer.apr_format import read_apr
from trainer.checkpoint import write_checkpoint
from trainer.data import TrainSampler
from trainer.distributed import DistContext, broadcast_bytes, gather_bytes
from trainer.parallel import ParallelModel
from trainer.resume_state import ResumeError, read_latest, validate_resume_point
from trainer.run_dir import RESUME_DIRNAME

LATEST = "latest.json"
FORMAT = "apr-resume-1"  # trainer.resume_state.State.format

#: RunConfig fields that shape the training trajectory; a resume must not change any of them.
TRAJECTORY_FIELDS = (
    "mode", "init", "model_config_name", "steps", "batch_size", "seq_len", "lr", "min_lr_ratio", "warmup",
    "weight_decay", "beta1", "beta2", "grad_clip", "val_fraction", "max_epochs", "seed", "ce_chunk_tokens",
)


@dataclass(frozen=True)
class ResumeInfo:
    step: int
    tokens_seen: int
    carry: dict[str, Any]
    source: Path


# --- RNG <-> JSON ---------------------------------------------------------------------------------


def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.cpu().numpy().tobytes()).decode()


def _unb64(s: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8).clone()


def rng_to_json() -> dict[str, Any]:
    """This process's python / numpy / torch (and CUDA) RNG states as plain JSON."""
    py = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    out: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": _b64(torch.get_rng_state()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = [_b64(s) for s in torch.cuda.get_rng_state_all()]
    return out


def rng_from_json(state: dict[str, Any]) -> None:
    v, keys, gauss = state["python"]
    random.setstate((v, tuple(keys), gauss))
    name, nkeys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(nkeys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(_unb64(state["torch"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_unb64(s) for s in state["cuda"]])


# --- optimizer state, named by parameter ----------------------------------------------------------


def _param_names(model: ParallelModel) -> dict[int, str]:
    return {id(p): n for n, p in model.lm.named_parameters()}


def optimizer_full_state(model: ParallelModel, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """``{"state": {name: {key: tensor}}, "param_groups": [{..., "params": [name]}]}`` in full (unsharded) form.

    Collective under FSDP; rank 0 gets the tensors. Names are ``CausalLM`` parameter names, so a
    resume does not depend on the wrapper.
    """
    if model.strategy == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        osd = get_optimizer_state_dict(
            model.module, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )
        if not model.ctx.is_main:
            return {}
        strip = lambda n: n.removeprefix("lm.")  # noqa: E731
        return {
            "state": {strip(n): {k: v.detach().cpu() for k, v in s.items()} for n, s in osd["state"].items()},
            "param_groups": [{**g, "params": [strip(n) for n in g["params"]]} for g in osd["param_groups"]],
        }
    names = _param_names(model)
    sd = optimizer.state_dict()
    flat = [p for g in optimizer.param_groups for p in g["params"]]
    idx_name = {i: names[id(p)] for i, p in enumerate(flat)}
    return {
        "state": {idx_name[i]: {k: v.detach().cpu().clone() for k, v in s.items()} for i, s in sd["state"].items()},
        "param_groups": [{**g, "params": [idx_name[i] for i in g["params"]]} for g in sd["param_groups"]],
    }


def load_optimizer_full_state(model: ParallelModel, optimizer: torch.optim.Optimizer, full: dict[str, Any]) -> None:
    """Inverse of ``optimizer_full_state``; every rank passes the same full state."""
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else dict(g) for g in full["param_groups"]]
    if model.strategy == "fsdp":
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        osd = {
            "state": {f"lm.{n}": s for n, s in full["state"].items()},
            "param_groups": [{**g, "params": [f"lm.{n}" for n in g["params"]]} for g in groups],
        }
        set_optimizer_state_dict(model.module, optimizer, osd, options=StateDictOptions(full_state_dict=True))
        return
    names = _param_names(model)
    flat = [p for g in optimizer.param_groups for p in g["params"]]
    name_idx = {names[id(p)]: i for i, p in enumerate(flat)}
    # Tensors stay on CPU: load_state_dict moves moments to each param's device and keeps AdamW's
    # ``step`` where the optimizer wants it (CPU unless capturable/fused).
    state = {name_idx[n]: dict(s) for n, s in full["state"].items()}
    optimizer.load_state_dict(
        {"state": state, "param_groups": [{**g, "params": [name_idx[n] for n in g["params"]]} for g in groups]}
    )


def _optimizer_to_files(full: dict[str, Any], directory: Path) -> dict[str, Any]:
    tensors = {f"{n}/{k}": v.contiguous() for n, s in full["state"].items() for k, v in s.items()}
    save_file(tensors, str(directory / "optimizer.safetensors"))
    give_default_permissions(directory / "optimizer.safetensors")  # safetensors writes 0600: resume on shared FS
    return {"param_groups": full["param_groups"], "state_keys": {n: sorted(s) for n, s in full["state"].items()}}


def _optimizer_from_files(directory: Path, meta: dict[str, Any]) -> dict[str, Any]:
    flat = load_file(str(directory / "optimizer.safetensors"))
    state = {n: {k: flat[f"{n}/{k}"] for k in keys} for n, keys in meta["state_keys"].items()}
    return {"state": state, "param_groups": meta["param_groups"]}


# --- save / load ----------------------------------------------------------------------------------


def trajectory_config(cfg: Any, world_size: int) -> dict[str, Any]:
    """The fields a resumed command must share with the interrupted one (plus the world size: RNG is per rank)."""
    dumped = json.loads(cfg.model_dump_json())
    out = {k: dumped.get(k) for k in TRAJECTORY_FIELDS}
    out["world_size"] = world_size
    return out


def _require_resume_state(run_dir: Path) -> None:
    if not (run_dir / RESUME_DIRNAME / LATEST).exists():
        raise ResumeError(
            f"{run_dir}: no resume state ({RESUME_DIRNAME}/{LATEST} is missing); the run must have been started "
            "with --save-every K and reached step K"
        )


def save_resume_state(
    run_dir: Path,
    *,
    model: ParallelModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    sampler: TrainSampler,
    step: int,
    tokens_seen: int,
    carry: dict[str, Any],
    cfg: Any,
    ctx: DistContext,
    provenance: dict[str, Any],
    keep: int = 2,
) -> Path | None:
    """Gather (every rank) and write (rank 0) the resume point after ``step`` completed updates."""
    tensors = model.full_state_dict()
    optim = optimizer_full_state(model, optimizer)
    rngs = gather_bytes(ctx, json.dumps(rng_to_json()).encode())
    if not ctx.is_main:
        ctx.barrier()
        return None
    assert rngs is not None
    root = run_dir / RESUME_DIRNAME
    name = f"step-{step:08d}"
    tmp = root / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_checkpoint(tmp / "model.apr", model.cfg, tensors, {**provenance, "steps": step, "resume": True})
    opt_meta = _optimizer_to_files(optim, tmp)
    state = {
        "format": FORMAT,
        "step": step,
        "tokens_seen": tokens_seen,
        "scheduler": scheduler.state_dict(),
        "sampler": sampler.state_dict(),
        "optimizer": opt_meta,
        "rng": [json.loads(r) for r in rngs],
        "carry": carry,
        "strategy": model.strategy,
        "trajectory": trajectory_config(cfg, ctx.world_size),
    }
    with open(tmp / "state.json", "w", encoding="utf-8") as fh:
        json.dump(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    final = root / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    fsync_dir(root)
    atomic_write_text(root / LATEST, json.dumps({"step": step, "dir": name}))
    for old in sorted(p for p in root.glob("step-*") if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    ctx.barrier()
    return final


def load_resume_state(
    run_dir: Path,
    *,
    model: ParallelModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    sampler: TrainSampler,
    cfg: Any,
    ctx: DistContext,
) -> ResumeInfo:
    """Restore model, optimizer, scheduler, data position and this rank's RNG from the latest resume point.

    Rank 0 validates first and broadcasts its verdict, so a mismatch fails on every rank with the
    same message instead of leaving the others in a collective.
    """
    error = ""
    if ctx.is_main:
        try:
            _require_resume_state(run_dir)
            validate_resume_point(
                run_dir, trajectory=trajectory_config(cfg, ctx.world_size), planned_steps=cfg.steps,
                world_size=ctx.world_size, tokens_per_step=cfg.batch_size * cfg.seq_len * ctx.world_size,
                sampler_n_train=sampler.n_train, sampler_seed=sampler.seed,
                batches_per_epoch=sampler.batches_per_epoch, max_epochs=sampler.max_epochs,
                param_shapes={n: tuple(p.shape) for n, p in model.lm.named_parameters()},
                model_shapes={n: tuple(t.shape) for n, t in model.lm.checkpoint_tensors().items()},
            )
        except ResumeError as exc:
            error = str(exc)
    error = broadcast_bytes(ctx, error.encode() if ctx.is_main else None).decode()
    if error:
        raise ResumeError(error)
    directory, _ = read_latest(run_dir)
    state = json.loads(read_regular_bytes(directory / "state.json"))
    _, tensors = read_apr(directory / "model.apr")
    model.load_full_state_dict(tensors)
    load_optimizer_full_state(model, optimizer, _optimizer_from_files(directory, state["optimizer"]))
    scheduler.load_state_dict(state["scheduler"])
    sampler.load_state_dict(state["sampler"])
    rng_from_json(state["rng"][ctx.rank])
    return ResumeInfo(int(state["step"]), int(state["tokens_seen"]), dict(state["carry"]), directory)


def trim_metrics(metrics: Path, step: int) -> None:
    """Drop records at or after ``step`` (from the lost tail of the interrupted run) before appending."""
    if not metrics.is_file():
        return
    kept = [line for line in metrics.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) < step]
    atomic_write_text(metrics, "".join(line + "\n" for line in kept))


_LOG_STEP = re.compile(r"^(?:eval )?step=(\d+)\b")


def trim_log(log: Path, step: int) -> None:
    """Cut ``train.log`` at its first line about step ``step`` or later: that tail is redone by the resume.

    Without this the eval at the resume step (and any step the interrupted run got past) would be
    logged twice, once by each run.
    """
    if not log.is_file():
        return
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    cut = next((i for i, line in enumerate(lines) if (m := _LOG_STEP.match(line)) and int(m[1]) >= step), len(lines))
    if cut < len(lines):
        atomic_write_text(log, "".join(lines[:cut]))

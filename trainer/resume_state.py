"""Validate a resume point before any of it is applied: schema, ranges, and agreement with this run.

``RUN_DIR/resume/latest.json`` and ``step-N/state.json`` are plain JSON a person (or a bad disk) can
change. A resume that trusts them can claim a million steps it never ran, restart the sampler
outside its permutation, carry a NaN step-0 loss into the summary, or die inside torch with a
traceback. Everything is checked here first, and every refusal names the file, the JSON location,
what is wrong and how to fix it:

- the shapes and types of both files (strict: ``true`` is not a step, ``3.5`` is not a cursor, NaN
  and Infinity are not losses);
- the ranges: ``1 <= step < planned steps`` (a resume point is only written before the last step),
  the sampler position inside its epochs, ``tokens_seen`` equal to what ``step`` steps consume, the
  scheduler at the same step, one RNG state per rank;
- agreement between the files: ``latest.json`` names the directory of its own step; the sampler's
  seed and dataset size are this run's; the optimizer state names exactly this model's parameters,
  and ``optimizer.safetensors`` and ``model.apr`` hold tensors of this model's shapes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from safeio import NotRegularFileError, open_regular, read_regular_bytes
from trainer.errors import TrainerInputError

FINITE = {"allow_inf_nan": False}
_STEP_DIR = re.compile(r"^step-\d{8}$")
_OPT_KEYS = {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
FIX = ("the resume state was edited or damaged; point latest.json at an earlier resume/step-N directory, or "
       "start the run again without --resume (--overwrite replaces the run directory)")


class ResumeError(TrainerInputError):
    """No usable resume state, or it belongs to a different run; the message says where and which field."""


def _located(path: Path, loc: str, what: str, fix: str = FIX) -> ResumeError:
    """A resume point that is malformed or impossible, located: file, JSON location, what, how to fix."""
    where = f"{path}: at {loc}" if loc else str(path)
    return ResumeError(f"{where}: {what}\n  how to fix: {fix}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Latest(_Strict):
    step: StrictInt = Field(ge=1)
    dir: str = Field(pattern=_STEP_DIR.pattern)


class Sampler(_Strict):
    epoch: StrictInt = Field(ge=0)
    cursor: StrictInt = Field(ge=0)
    seed: StrictInt
    n_train: StrictInt = Field(ge=1)


class Carry(_Strict):
    model_config = ConfigDict(extra="allow", strict=True)
    step_0_loss: float | None = Field(default=None, **FINITE)  # type: ignore[call-overload]
    val_loss_step_0: float | None = Field(default=None, **FINITE)  # type: ignore[call-overload]
    train_wall_s: float = Field(default=0.0, ge=0, **FINITE)  # type: ignore[call-overload]


class Scheduler(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    last_epoch: StrictInt = Field(ge=0)
    base_lrs: list[float] = Field(min_length=1)


class OptimizerMeta(_Strict):
    param_groups: list[dict[str, Any]] = Field(min_length=1)
    state_keys: dict[str, list[str]]


class State(_Strict):
    format: Literal["apr-resume-1"]
    step: StrictInt = Field(ge=1)
    tokens_seen: StrictInt = Field(ge=0)
    scheduler: Scheduler
    sampler: Sampler
    optimizer: OptimizerMeta
    rng: list[dict[str, Any]] = Field(min_length=1)
    carry: Carry
    strategy: Literal["none", "ddp", "fsdp"]
    trajectory: dict[str, Any]


def _load_json(path: Path) -> Any:
    try:
        data = read_regular_bytes(path)
    except FileNotFoundError:
        raise _located(path, "", "missing") from None
    except NotRegularFileError as exc:
        raise _located(path, "", f"is {exc.kind}, not a regular file") from None
    except OSError as exc:
        raise _located(path, "", f"cannot be read: {exc.strerror or exc}") from None
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, 5000-digit integers, deep nesting
        raise _located(path, "", f"not usable JSON ({str(exc).split(';')[0]})") from None


def _parse(model: type[BaseModel], path: Path, data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        got = err.get("input")
        shown = repr(got)[:60] if not isinstance(got, dict | list) else type(got).__name__
        raise _located(path, loc, f"{err['msg']} (got {shown})") from None


def read_latest(run_dir: Path, resume_dirname: str = "resume", latest: str = "latest.json") -> tuple[Path, Latest]:
    """The step directory ``latest.json`` names, checked to be a plain ``step-NNNNNNNN`` inside ``resume/``."""
    path = run_dir / resume_dirname / latest
    raw = _load_json(path)
    info: Latest = _parse(Latest, path, raw)
    directory = run_dir / resume_dirname / info.dir
    if info.dir != f"step-{info.step:08d}":
        raise _located(path, "dir", f"{info.dir!r} is not the directory of step {info.step}")
    if not directory.is_dir():
        raise _located(path, "dir", f"{directory} does not exist")
    return directory, info


def _check_finite_numbers(path: Path, loc: str, group: Mapping[str, Any]) -> None:
    for k, v in group.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise _located(path, f"{loc}.{k}", f"{v} is not a finite number")
        if isinstance(v, list) and any(isinstance(x, float) and not math.isfinite(x) for x in v):
            raise _located(path, f"{loc}.{k}", f"{v} holds a non-finite number")


def _is_int_list(v: Any, n: int, hi: int) -> bool:
    return isinstance(v, list) and len(v) == n and all(type(x) is int and 0 <= x < hi for x in v)


def _check_rng(path: Path, rank: int, r: Mapping[str, Any]) -> None:
    """The per-rank RNG states ``rng_to_json`` writes: python (v3, 625 words), numpy MT19937, torch bytes."""
    import base64
    import binascii

    import torch

    loc = f"rng.{rank}"
    py, npy, tch = r.get("python"), r.get("numpy"), r.get("torch")
    if not (isinstance(py, list) and len(py) == 3 and py[0] == 3 and _is_int_list(py[1], 625, 2**32)
            and (py[2] is None or type(py[2]) is float)):
        raise _located(path, f"{loc}.python", "not a Python random state (version 3, 625 words)")
    if not (isinstance(npy, list) and len(npy) == 5 and npy[0] == "MT19937" and _is_int_list(npy[1], 624, 2**32)
            and type(npy[2]) is int and 0 <= npy[2] <= 624 and npy[3] in (0, 1) and type(npy[4]) is float):
        raise _located(path, f"{loc}.numpy", "not a numpy MT19937 state")
    size = torch.get_rng_state().numel()
    try:
        ok = isinstance(tch, str) and len(base64.b64decode(tch, validate=True)) == size
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise _located(path, f"{loc}.torch", f"not a torch CPU generator state ({size} bytes, base64)")


def _check_optimizer(path: Path, meta: OptimizerMeta, params: Mapping[str, Sequence[int]]) -> None:
    seen: list[str] = []
    for i, g in enumerate(meta.param_groups):
        names = g.get("params")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _located(path, f"optimizer.param_groups.{i}.params", "must be a list of parameter names")
        _check_finite_numbers(path, f"optimizer.param_groups.{i}", g)
        lr = g.get("lr")
        if not isinstance(lr, int | float) or isinstance(lr, bool) or lr < 0:
            raise _located(path, f"optimizer.param_groups.{i}.lr", f"{lr!r} is not a learning rate")
        seen += names
    unknown = sorted(set(seen) - set(params))
    missing = sorted(set(params) - set(seen))
    if unknown or missing or len(seen) != len(set(seen)):
        what = (f"unknown parameter(s) {', '.join(unknown[:3])}" if unknown else
                f"parameter(s) {', '.join(missing[:3])} missing" if missing else "a parameter listed twice")
        raise _located(path, "optimizer.param_groups", f"{what}: this state is for another model")
    for name, keys in meta.state_keys.items():
        if name not in params:
            raise _located(path, f"optimizer.state_keys.{name}", "not a parameter of this model")
        bad = sorted(set(keys) - _OPT_KEYS)
        if bad:
            raise _located(path, f"optimizer.state_keys.{name}", f"unknown AdamW state {bad[0]!r}")


def _check_tensor_file(path: Path, want: Mapping[str, Sequence[int]], what: str) -> None:
    """Names and shapes in a safetensors header, read without loading any tensor."""
    from safetensors import safe_open

    try:
        with open_regular(path):
            pass
        with safe_open(str(path), framework="pt") as f:
            have = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 - not a dict
    except FileNotFoundError:
        raise _located(path, "", "missing") from None
    except NotRegularFileError as exc:
        raise _located(path, "", f"is {exc.kind}, not a regular file") from None
    except Exception as exc:  # safetensors raises its own SafetensorError for damaged headers
        raise _located(path, "", f"not a readable safetensors file ({exc})") from None
    for name, shape in want.items():
        if name not in have:
            raise _located(path, name, f"{what} tensor missing")
        if have[name] != tuple(shape):
            raise _located(path, name, f"shape {have[name]}, this model needs {tuple(shape)}")


def _check_model_file(path: Path, shapes: Mapping[str, Sequence[int]]) -> None:
    from trainer.apr_format import AprFile, AprFormatError

    try:
        with open_regular(path):
            pass
        with AprFile(path, verify=False) as f:
            have = {n: tuple(e.shape) for n, e in f.index.items()}
    except FileNotFoundError:
        raise _located(path, "", "missing") from None
    except NotRegularFileError as exc:
        raise _located(path, "", f"is {exc.kind}, not a regular file") from None
    except AprFormatError as exc:
        raise _located(path, "", str(exc)) from None
    for name, shape in shapes.items():
        if have.get(name) != tuple(shape):
            got = "missing" if name not in have else f"shape {have[name]}"
            raise _located(path, name, f"{got}, this model needs {tuple(shape)}")


def validate_resume_point(
    run_dir: Path, *, trajectory: Mapping[str, Any], planned_steps: int, world_size: int, tokens_per_step: int,
    sampler_n_train: int, sampler_seed: int, batches_per_epoch: int, max_epochs: int,
    param_shapes: Mapping[str, Sequence[int]], model_shapes: Mapping[str, Sequence[int]],
) -> tuple[Path, dict[str, Any]]:
    """The latest resume point's directory and its state.json, after every check above.

    ``trajectory`` is this command's (``resume.trajectory_config``): a difference is reported first,
    naming the fields, since it explains most of the range checks that would fail after it.
    """
    directory, latest = read_latest(run_dir)
    path = directory / "state.json"
    raw = _load_json(path)
    state: State = _parse(State, path, raw)
    diff = {k: (state.trajectory.get(k), v) for k, v in trajectory.items() if state.trajectory.get(k) != v}
    if diff:
        listed = ", ".join(f"{k}: saved {a!r} != now {b!r}" for k, (a, b) in diff.items())
        raise ResumeError(f"--resume {run_dir}: this command differs from the interrupted run ({listed})\n"
                          "  how to fix: rerun the original command with --resume, or start a new run")
    if state.step != latest.step:
        raise _located(path, "step", f"{state.step}, but latest.json says {latest.step}")
    if state.step >= planned_steps:
        raise _located(path, "step", f"{state.step} is not below the run's --steps {planned_steps}: no "
                               "resume point is written at or after the last step")
    if state.tokens_seen != state.step * tokens_per_step:
        raise _located(path, "tokens_seen", f"{state.tokens_seen:,} != step {state.step} x "
                               f"{tokens_per_step:,} tokens per step")
    s = state.sampler
    if (s.seed, s.n_train) != (sampler_seed, sampler_n_train):
        raise _located(path, "sampler", f"seed {s.seed} / {s.n_train} training windows, but this run has "
                               f"seed {sampler_seed} / {sampler_n_train} windows (other data or another run)")
    if s.cursor > batches_per_epoch or s.epoch >= max_epochs or s.epoch * batches_per_epoch + s.cursor != state.step:
        raise _located(path, "sampler", f"epoch {s.epoch}, cursor {s.cursor} is not the position after "
                               f"{state.step} batches of {batches_per_epoch} per epoch (max {max_epochs} epochs)")
    if state.scheduler.last_epoch != state.step:
        raise _located(path, "scheduler.last_epoch", f"{state.scheduler.last_epoch} != step {state.step}")
    _check_finite_numbers(path, "scheduler", state.scheduler.model_dump())
    if len(state.rng) != world_size:
        raise _located(path, "rng", f"{len(state.rng)} RNG state(s) for {world_size} rank(s)",
                               "resume with the world size the run was saved with")
    for rank, r in enumerate(state.rng):
        _check_rng(path, rank, r)
    if state.carry.step_0_loss is None or state.carry.val_loss_step_0 is None:
        raise _located(path, "carry", "step_0_loss and val_loss_step_0 are missing after completed steps")
    _check_optimizer(path, state.optimizer, param_shapes)
    want = {f"{n}/{k}": (() if k == "step" else tuple(param_shapes[n]))
            for n, keys in state.optimizer.state_keys.items() for k in keys}
    _check_tensor_file(directory / "optimizer.safetensors", want, "optimizer state")
    _check_model_file(directory / "model.apr", model_shapes)
    return directory, raw

"""Model <-> .apr: the metadata block a checkpoint carries and the model rebuilt from one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainer.apr_format import write_apr
from trainer.config import ModelConfig
from trainer.model import CausalLM


def apr_metadata(cfg: ModelConfig, provenance: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = cfg.model_dump()
    meta["param_count"] = cfg.param_count()
    meta["provenance"] = provenance
    meta["format"] = "apr-2.0"
    return meta


def save_model(model: CausalLM, path: str | Path, provenance: dict[str, Any]) -> Path:
    tensors = {n: t.detach().float().cpu() for n, t in model.checkpoint_tensors().items()}
    return write_apr(path, tensors, apr_metadata(model.cfg, provenance))

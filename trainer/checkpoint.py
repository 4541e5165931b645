"""Model <-> .apr: the metadata block a checkpoint carries, and the one function that writes a model checkpoint.

``write_checkpoint`` is the only place a model's tensors and its config become an ``.apr`` file:
the run's ``checkpoint.apr``, a resume point's ``model.apr`` and ``apr convert`` all go through
it, so the three cannot drift apart in metadata or tensor layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from trainer.apr_format import write_apr
from trainer.config import ModelConfig
from trainer.model import CausalLM


def apr_metadata(cfg: ModelConfig, provenance: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = cfg.model_dump()
    meta["param_count"] = cfg.param_count()
    meta["provenance"] = provenance
    meta["format"] = "apr-2.0"
    return meta


def full_tensors(model: CausalLM) -> dict[str, torch.Tensor]:
    """Detached fp32 CPU copies of the tensors a checkpoint stores (a tied lm_head once)."""
    return {n: t.detach().float().cpu().clone() for n, t in model.checkpoint_tensors().items()}


def write_checkpoint(
    path: str | Path, cfg: ModelConfig, tensors: dict[str, torch.Tensor], provenance: dict[str, Any]
) -> Path:
    """Write ``tensors`` (named as ``CausalLM.checkpoint_tensors``) with ``cfg``'s metadata, atomically."""
    return write_apr(path, tensors, apr_metadata(cfg, provenance))


def save_model(model: CausalLM, path: str | Path, provenance: dict[str, Any]) -> Path:
    """A single-process model's checkpoint (``apr convert``, tests); a training run saves through ``ParallelModel``."""
    return write_checkpoint(path, model.cfg, full_tensors(model), provenance)

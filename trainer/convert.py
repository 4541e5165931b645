"""Import a HF checkpoint directory into .apr, and export .apr back to a HF directory.

Import reads ``config.json`` first (encoders and unsupported architectures fail before any
weight file is opened), then ``*.safetensors`` only - pickled ``*.bin`` weights are refused.
Export writes ``config.json`` + ``model.safetensors``; ``pad_vocab_to`` appends zero rows to the
embedding table the way HF checkpoints carry reserved slots (Qwen2: 151,665 ids in a 151,936 row
table), which is how the CPU init-finetune evidence builds a Qwen-shaped init.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from safeio import give_default_permissions
from trainer.apr_format import read_apr
from trainer.checkpoint import save_model
from trainer.config import ConfigError, config_to_hf, model_config_for
from trainer.init_load import build_model_from_init, init_file_hashes


def hf_to_apr(hf_dir: str | Path, output: str | Path) -> Path:
    hf_dir = Path(hf_dir)
    _cfg, model, report = build_model_from_init(hf_dir)
    provenance = {
        "tool": "apr convert",
        "source": str(hf_dir),
        "source_sha256": init_file_hashes(hf_dir),
        "tensors_loaded": report["tensors_loaded"],
    }
    return save_model(model, output, provenance)


def apr_to_hf(apr_path: str | Path, out_dir: str | Path, *, pad_vocab_to: int | None = None) -> Path:
    from safetensors.torch import save_file

    _, tensors = read_apr(apr_path)
    cfg = model_config_for(init=apr_path)
    if pad_vocab_to is not None:
        if pad_vocab_to < cfg.vocab_size:
            raise ConfigError(f"--pad-vocab-to {pad_vocab_to} is below the checkpoint's vocab_size {cfg.vocab_size}")
        extra = pad_vocab_to - cfg.vocab_size
        for name in ("model.embed_tokens.weight", "lm_head.weight"):
            if name in tensors:
                t = tensors[name]
                tensors[name] = torch.cat([t, torch.zeros(extra, t.shape[1], dtype=t.dtype)])
        cfg = cfg.model_copy(update={"vocab_size": pad_vocab_to})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hf = config_to_hf(cfg)
    hf["torch_dtype"] = "float32"
    (out / "config.json").write_text(json.dumps(hf, indent=2) + "\n", encoding="utf-8")
    contiguous = {k: v.contiguous() for k, v in tensors.items()}
    save_file(contiguous, str(out / "model.safetensors"), metadata={"format": "pt"})
    give_default_permissions(out / "model.safetensors")  # safetensors writes 0600
    return out

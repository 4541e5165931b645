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
from trainer.checkpoint import save_model
from trainer.config import MAX_VOCAB, ConfigError, config_to_hf, model_config_for
from trainer.init_load import build_model_from_init, init_file_hashes, read_checked_init_tensors


def convert_direction(source: str | Path, *, output: str | Path | None = None, to_hf: str | Path | None = None,
                      pad_vocab_to: int | None = None) -> Path:
    """``apr convert``: the direction follows the source (a directory imports, a file exports), and every
    refusal names the flag that direction needs, never the other direction's."""
    source = Path(source)
    if not source.exists():
        raise ConfigError(f"{source}: does not exist; pass a HF directory (with --output X.apr) or an .apr file "
                          "(with --to-hf DIR)")
    if source.is_dir():
        if to_hf is not None or pad_vocab_to is not None:
            raise ConfigError(f"{source} is a directory, so this is an import (HF -> .apr); --to-hf and "
                              "--pad-vocab-to apply to exporting an .apr file. Pass --output X.apr instead.")
        if output is None:
            raise ConfigError(f"{source} is a directory, so this is an import (HF -> .apr): pass --output X.apr")
        return hf_to_apr(source, output)
    if output is not None:
        raise ConfigError(f"{source} is a file, so this is an export (.apr -> HF); --output names an import's .apr. "
                          "Pass --to-hf DIR instead (or give a HF directory as the source to import).")
    if to_hf is None:
        raise ConfigError(f"{source} is a file, so this is an export (.apr -> HF): pass --to-hf DIR "
                          "(add --pad-vocab-to N to append reserved embedding rows)")
    return apr_to_hf(source, to_hf, pad_vocab_to=pad_vocab_to)


def hf_to_apr(hf_dir: str | Path, output: str | Path) -> Path:
    hf_dir = Path(hf_dir)
    if Path(output).is_dir():
        raise ConfigError(f"--output {output}: is a directory; name the .apr file to write")
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

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--to-hf {out}: exists and is not a directory; name a new or existing directory")
    cfg = model_config_for(init=apr_path)
    if pad_vocab_to is not None and not cfg.vocab_size <= pad_vocab_to <= MAX_VOCAB:
        raise ConfigError(f"--pad-vocab-to {pad_vocab_to} must be between the checkpoint's vocab_size "
                          f"{cfg.vocab_size} and {MAX_VOCAB}")
    # The same gate as loading an init: every tensor present with the shape the metadata implies, floating
    # point and finite, so the exported config.json can only describe the weights written beside it.
    tensors = read_checked_init_tensors(cfg, apr_path)
    if pad_vocab_to is not None:
        extra = pad_vocab_to - cfg.vocab_size
        for name in ("model.embed_tokens.weight", "lm_head.weight"):
            if name in tensors:
                t = tensors[name]
                tensors[name] = torch.cat([t, torch.zeros(extra, t.shape[1], dtype=t.dtype)])
        cfg = cfg.model_copy(update={"vocab_size": pad_vocab_to})
    out.mkdir(parents=True, exist_ok=True)
    hf = config_to_hf(cfg)
    hf["torch_dtype"] = "float32"
    (out / "config.json").write_text(json.dumps(hf, indent=2) + "\n", encoding="utf-8")
    contiguous = {k: v.contiguous() for k, v in tensors.items()}
    save_file(contiguous, str(out / "model.safetensors"), metadata={"format": "pt"})
    give_default_permissions(out / "model.safetensors")  # safetensors writes 0600
    return out

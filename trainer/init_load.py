"""Load init weights (an .apr file or a HF directory of safetensors) into a model, all or nothing.

The architecture check happens in ``trainer.config`` before this module opens any weight file;
here every model parameter must be populated by a tensor of the right shape
(``preflight.check_init_tensors``), then the copy is verified by comparing checksums, so a
"loaded" model that silently kept random rows cannot exist.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from safeio import regular_files, sha256_file
from trainer.apr_format import AprFile
from trainer.config import ModelConfig, model_config_for
from trainer.model import CausalLM
from trainer.preflight import PreflightError, check_init_tensors

#: Tensors HF checkpoints may carry that are not parameters here.
_IGNORABLE_SUFFIXES = (".rotary_emb.inv_freq",)


def read_init_tensors(init: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of an init, by HF parameter name. Never unpickles (.bin/.pt are refused).

    Weight files follow safeio's symlink rule: links are followed (an HF cache snapshot is links into
    ``blobs/``), only regular files are read, and a ``*.safetensors`` entry that is not one (a FIFO, a
    dangling link, a directory) is refused by name rather than skipped: a skipped shard is missing weights.
    """
    path = Path(init)
    if path.is_dir():
        files, unreadable = regular_files(path, lambda name: name.endswith(".safetensors"))
        if unreadable:
            raise PreflightError("init-weights", f"{path}: weight entries that are not regular files: "
                                 f"{'; '.join(unreadable)}; only regular files (or links to them) are read")
        if not files:
            pickles = sorted(p.name for p in path.glob("*.bin")) + sorted(p.name for p in path.glob("*.pt"))
            hint = f" (found {', '.join(pickles)}: pickle formats are refused)" if pickles else ""
            raise PreflightError("init-weights", f"{path}: no *.safetensors files{hint}")
        from safetensors import safe_open

        out: dict[str, torch.Tensor] = {}
        for f in files:
            try:
                with safe_open(str(f), framework="pt") as st:
                    for name in st.keys():  # noqa: SIM118 - safe_open is not a Mapping
                        if name in out:
                            raise PreflightError("init-weights", f"{path}: tensor {name} appears in two shards")
                        out[name] = st.get_tensor(name)
            except PreflightError:
                raise
            except Exception as exc:  # safetensors raises its own error type for malformed files
                raise PreflightError("init-weights", f"{f}: not a readable safetensors file ({exc})") from exc
        return out
    with AprFile(path) as f:
        return f.tensors()


def expected_shapes(model: CausalLM) -> dict[str, tuple[int, ...]]:
    return {n: tuple(t.shape) for n, t in model.checkpoint_tensors().items()}


def check_init_values(tensors: dict[str, torch.Tensor], names: list[str], source: str | Path) -> None:
    """Every weight a model takes from ``source`` is floating point and finite.

    Copying a bool or integer tensor into a float parameter "works" (``copy_`` casts), so an I64
    embedding would load as a table of whole numbers; a NaN weight would surface only as a
    non-finite step-0 loss. Both are refused here, by name, before anything is copied.
    """
    wrong_dtype = [f"{n} ({tensors[n].dtype})" for n in names if not tensors[n].is_floating_point()]
    if wrong_dtype:
        raise PreflightError("init-weights", f"{source}: {len(wrong_dtype)} weight(s) are not floating point: "
                             f"{', '.join(wrong_dtype[:8])}. Weights must be F32, F16, BF16 or F64; a cast would "
                             "turn integers into weights silently. Re-export the checkpoint from its training code.")
    not_finite = [n for n in names if not bool(torch.isfinite(tensors[n]).all())]
    if not_finite:
        raise PreflightError("init-weights", f"{source}: {len(not_finite)} weight(s) hold NaN or Inf values: "
                             f"{', '.join(not_finite[:8])}. The checkpoint is corrupt or diverged; use an earlier one.")


def _checked_ignorable(model: CausalLM, tensors: dict[str, torch.Tensor], init: str | Path, *,
                       values: bool = True) -> list[str]:
    """Gate the init's tensors against ``model``'s shapes (and, with ``values``, dtypes and finiteness);
    returns the names that are legitimately extra."""
    ignorable = [n for n in tensors if n.endswith(_IGNORABLE_SUFFIXES)]
    if model.cfg.tie_word_embeddings and "lm_head.weight" in tensors:
        # HF sometimes stores the tied head explicitly; it must equal the embedding, then it is redundant.
        emb = tensors.get("model.embed_tokens.weight")
        if emb is not None and not torch.equal(tensors["lm_head.weight"], emb):
            raise PreflightError(
                "init-weights",
                f"{init}: config says tie_word_embeddings but lm_head.weight differs from model.embed_tokens.weight",
            )
        ignorable.append("lm_head.weight")
    expected = expected_shapes(model)
    check_init_tensors(expected, {n: tuple(t.shape) for n, t in tensors.items()}, ignorable=ignorable, source=str(init))
    if values:
        check_init_values(tensors, list(expected), init)
    return ignorable


def read_checked_init_tensors(cfg: ModelConfig, init: str | Path) -> dict[str, torch.Tensor]:
    """The init's tensors, gated against ``cfg`` *before* the real model is allocated.

    The shapes are compared with a model on the ``meta`` device (no memory), so a config.json or
    .apr metadata claiming sizes its weight files do not hold (say vocab_size 2**36) is refused
    with the mismatched names instead of attempting a multi-terabyte allocation.
    """
    tensors = read_init_tensors(init)
    with torch.device("meta"):
        shell = CausalLM(cfg)
    _checked_ignorable(shell, tensors, init)
    return tensors


def load_init_into(
    model: CausalLM, init: str | Path, *, tensors: dict[str, torch.Tensor] | None = None
) -> dict[str, object]:
    """Copy every tensor of ``init`` into ``model``; returns a small load report for the run summary.

    ``tensors``: the init's tensors if already read (``read_checked_init_tensors``), else read here.
    """
    checked = tensors is not None  # read_checked_init_tensors already gated dtypes and values
    if tensors is None:
        tensors = read_init_tensors(init)
    ignorable = _checked_ignorable(model, tensors, init, values=not checked)
    own = model.checkpoint_tensors()
    with torch.no_grad():
        for name, dst in own.items():
            dst.copy_(tensors[name].to(dst.dtype))
    # Verify the copy really landed (a stale reference or dtype cast gone wrong would show here).
    with torch.no_grad():
        own = model.checkpoint_tensors()
        for name, dst in own.items():
            src = tensors[name].to(dst.dtype)
            if not torch.equal(dst.cpu(), src):
                raise PreflightError("init-weights", f"{init}: parameter {name} did not take the init values")
    return {"tensors_loaded": len(own), "ignored": sorted(ignorable)}


def build_model(cfg: ModelConfig, init: str | Path | None) -> tuple[CausalLM, dict[str, object] | None]:
    """A model of architecture ``cfg``: random (seeded by the caller) or every tensor of ``init``, checked.

    Returns the model (on CPU) and the init's load report (``None`` without an init).
    """
    if init is None:
        return CausalLM(cfg), None
    tensors = read_checked_init_tensors(cfg, init)  # shapes match cfg before cfg sizes any allocation
    model = CausalLM(cfg)
    return model, load_init_into(model, init, tensors=tensors)


def build_model_from_init(init: str | Path) -> tuple[ModelConfig, CausalLM, dict[str, object]]:
    cfg = model_config_for(init=init)  # rejects encoders before any weight file is opened
    model, report = build_model(cfg, init)
    assert report is not None
    return cfg, model, report


def is_init_file(name: str) -> bool:
    """The files of a HF init directory that define it (and are hashed into provenance)."""
    return name.endswith((".json", ".safetensors"))


def init_file_hashes(init: str | Path) -> dict[str, str]:
    """sha256 of an init's files by name: the ``.apr`` itself, or a HF directory's ``*.json`` and ``*.safetensors``
    (regular files only; ``hashed_files`` says which entries were not hashed)."""
    return hashed_files(init, is_init_file)[0]


def hashed_files(path: str | Path, match: Callable[[str], bool]) -> tuple[dict[str, str], list[str]]:
    """sha256 by name of a file, or of a directory's regular files whose name satisfies ``match`` (subdirectories
    ignored); plus the matching entries that were not hashed, described (safeio's symlink rule)."""
    p = Path(path)
    if not p.is_dir():
        return {p.name: sha256_file(p)}, []
    files, skipped = regular_files(p, match, report_dirs=False)
    return {f.name: sha256_file(f) for f in files}, skipped

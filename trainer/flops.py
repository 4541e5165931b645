"""Model FLOPs per token, achieved TFLOP/s and MFU: how far a training step is from the hardware.

The count is the one PaLM defines for model FLOPs utilisation (Chowdhery et al. 2022, arXiv:2204.02311,
appendix B) and that nanoGPT's ``estimate_mfu`` and torchtitan's ``get_num_flop_per_token`` use::

    flops_per_token = 6 * N  +  12 * L * H * Q * T  +  6 * V * d

* ``6 * N``: every weight of a dense layer costs 2 FLOPs per token in the forward matmul (multiply
  + add) and 4 in the backward (gradient w.r.t. the input and w.r.t. the weight). ``N`` is the
  non-embedding parameter count: every decoder layer (q/k/v/o projections with their biases, the
  SwiGLU MLP, both RMSNorm gains) plus the final norm. The embedding lookup is a gather, not a
  matmul, so the embedding table is not in ``N`` (torchtitan's ``exclude_embedding``).
* ``12 * L * H * Q * T``: attention's two matmuls that have no weights (``Q K^T`` and
  ``softmax(.) V``), 2·H·Q·T FLOPs each per token and layer in the forward, times 3 for forward +
  backward. L layers, H query heads, Q head dim, T the training sequence length. As in PaLM and
  torchtitan, the causal mask's skipped upper triangle is *not* discounted, so MFU numbers stay
  comparable with theirs.
* ``6 * V * d``: the LM head, a ``[d, V]`` matmul per token. With tied embeddings (Qwen2-0.5B) the
  weight is the embedding table, so it is not in ``N``, but the matmul is still paid; an untied
  head is counted here, once, and likewise not in ``N``.

Activation-checkpointing recomputation is *not* counted (model FLOPs, not hardware FLOPs), which
is why MFU falls when checkpointing is on: the step does more work for the same model FLOPs.

MFU = achieved FLOP/s per device ÷ the device's dense bf16 peak. The peak comes from a small
table matched on ``torch.cuda.get_device_name()``; an unknown device gets no MFU (``None``), never
a guess, and ``--peak-tflops`` overrides the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trainer.config import ModelConfig

FLOPS_FORMULA = "6*N + 12*L*H*Q*T + 6*V*d (N non-embedding params; PaLM appendix B, no causal discount)"

#: Dense (no 2:4 sparsity) bf16 tensor-core peaks in TFLOP/s, from the vendors' datasheets, matched
#: against the upper-cased CUDA device name in order. A pattern that matches with ``None`` means "a
#: known name whose peak we do not state" (H100/H200 NVL, RTX 4090 D): no MFU rather than a wrong one.
PEAK_BF16_TFLOPS: tuple[tuple[str, float | None, str], ...] = (
    (r"H200.*NVL", None, "H200 NVL (peak not tabulated)"),
    (r"H200", 989.0, "H200 SXM"),
    (r"H100.*NVL", None, "H100 NVL (peak not tabulated)"),
    (r"H100.*PCIE", 756.0, "H100 PCIe"),
    (r"H100", 989.0, "H100 SXM"),  # "NVIDIA H100 80GB HBM3" is the SXM part
    (r"A100", 312.0, "A100"),
    (r"L40S", 362.0, "L40S"),
    (r"RTX 4090 D", None, "RTX 4090 D (peak not tabulated)"),
    (r"RTX 4090", 165.0, "RTX 4090"),
)


@dataclass(frozen=True)
class FlopsPerToken:
    """Model FLOPs per trained token (forward + backward), by term."""

    non_embedding_params: int
    dense: int  # 6 * N
    attention: int  # 12 * L * H * Q * T
    lm_head: int  # 6 * V * d
    seq_len: int

    @property
    def total(self) -> int:
        return self.dense + self.attention + self.lm_head


def non_embedding_params(cfg: ModelConfig) -> int:
    """Decoder layers + final norm: ``ModelConfig.param_count`` without the embedding table and LM head."""
    table = cfg.vocab_size * cfg.hidden_size
    head = 0 if cfg.tie_word_embeddings else table
    return cfg.param_count() - table - head


def flops_per_token(cfg: ModelConfig, seq_len: int) -> FlopsPerToken:
    """``6·N + 12·L·H·Q·T + 6·V·d`` for one token of a step at sequence length ``seq_len``."""
    if seq_len < 1:
        raise ValueError(f"seq_len must be >= 1, got {seq_len}")
    n = non_embedding_params(cfg)
    return FlopsPerToken(
        non_embedding_params=n,
        dense=6 * n,
        attention=12 * cfg.num_layers * cfg.num_heads * cfg.head_dim * seq_len,
        lm_head=6 * cfg.vocab_size * cfg.hidden_size,
        seq_len=seq_len,
    )


def _table_row(device_name: str) -> tuple[float | None, str | None]:
    name = device_name.upper()
    for pattern, tflops, label in PEAK_BF16_TFLOPS:
        if re.search(pattern, name):
            return tflops, label
    return None, None


def peak_bf16_tflops(device_name: str) -> float | None:
    """The dense bf16 peak of a CUDA device by name, or ``None`` when the table does not know it."""
    return _table_row(device_name)[0]


def device_peak_tflops(device_type: str, override: float | None = None) -> tuple[float | None, str]:
    """The peak to divide by and where it came from: the override, the table, or nothing.

    Only CUDA devices have a table entry; CPU throughput is reported, never an MFU.
    """
    if override is not None:
        return override, "--peak-tflops"
    if device_type != "cuda":
        return None, f"no peak for device type {device_type!r}"
    import torch

    name = torch.cuda.get_device_name()
    peak, label = _table_row(name)
    if peak is not None:
        return peak, f"table: {label} ({name})"
    return None, f"{label or 'unknown device'} {name!r}: pass --peak-tflops for an MFU"


@dataclass(frozen=True)
class StepFlops:
    """One step's accounting, per device."""

    flops_per_token: int
    tflops: float  # achieved model TFLOP/s per device
    mfu: float | None  # tflops / peak, or None when the peak is unknown


def step_flops(fpt: FlopsPerToken, tokens: int, seconds: float, world_size: int = 1,
               peak_tflops: float | None = None) -> StepFlops:
    """Achieved model TFLOP/s per device for ``tokens`` (all ranks together) trained in ``seconds``."""
    if seconds <= 0 or world_size < 1:
        raise ValueError(f"need seconds > 0 and world_size >= 1, got {seconds}, {world_size}")
    tflops = fpt.total * tokens / world_size / seconds / 1e12
    return StepFlops(fpt.total, tflops, tflops / peak_tflops if peak_tflops else None)

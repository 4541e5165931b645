"""FLOP accounting: the formula against a hand count for Qwen2-0.5B, the peak table, MFU arithmetic."""

from __future__ import annotations

import pytest
import torch

from trainer.config import PRESETS
from trainer.flops import device_peak_tflops, flops_per_token, non_embedding_params, peak_bf16_tflops, step_flops
from trainer.model import CausalLM

# Qwen2-0.5B's published config.json: d=896, 24 layers, 14 query heads of 64, 2 kv heads, MLP 4864,
# vocab 151,936, tied embeddings, bias on q/k/v.
D, LAYERS, HEADS, KV, HEAD_DIM, FF, VOCAB = 896, 24, 14, 2, 64, 4864, 151_936


def _qwen2_05b_layer_by_hand() -> int:
    q = D * HEADS * HEAD_DIM + HEADS * HEAD_DIM  # 896*896 + bias 896
    k = D * KV * HEAD_DIM + KV * HEAD_DIM  # 896*128 + bias 128
    v = D * KV * HEAD_DIM + KV * HEAD_DIM
    o = HEADS * HEAD_DIM * D  # no bias
    mlp = 3 * D * FF  # gate, up, down
    norms = 2 * D
    return q + k + v + o + mlp + norms


def test_qwen2_05b_flops_match_a_hand_count() -> None:
    layer = _qwen2_05b_layer_by_hand()
    assert layer == 14_912_384
    n = LAYERS * layer + D  # + final norm
    assert n == 357_898_112
    # The whole model is the "0.5B": 494,032,768 params with the tied 136M embedding table.
    assert n + VOCAB * D == 494_032_768 == PRESETS["qwen2-0.5b"].param_count()
    f = flops_per_token(PRESETS["qwen2-0.5b"], seq_len=512)
    assert f.non_embedding_params == n
    assert f.dense == 6 * 357_898_112 == 2_147_388_672
    assert f.attention == 12 * 24 * 14 * 64 * 512 == 132_120_576
    assert f.lm_head == 6 * 151_936 * 896 == 816_807_936
    assert f.total == 3_096_317_184  # ~3.10 GFLOP per token at T=512


def test_attention_term_scales_with_sequence_length_only() -> None:
    cfg = PRESETS["qwen2-0.5b"]
    a, b = flops_per_token(cfg, 512), flops_per_token(cfg, 1024)
    assert b.attention == 2 * a.attention and (b.dense, b.lm_head) == (a.dense, a.lm_head)
    with pytest.raises(ValueError):
        flops_per_token(cfg, 0)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_non_embedding_params_match_the_built_model(preset: str) -> None:
    """N is what the real module holds minus the embedding table (and an untied head): built on meta, free."""
    cfg = PRESETS[preset]
    with torch.device("meta"):
        model = CausalLM(cfg)
    emb = model.model.embed_tokens.weight.numel()
    head = 0 if cfg.tie_word_embeddings else model.lm_head.weight.numel()
    assert non_embedding_params(cfg) == model.param_count() - emb - head
    assert sum(p.numel() for layer in model.model.layers for p in layer.parameters()) + cfg.hidden_size == (
        non_embedding_params(cfg)
    )


def test_untied_head_counts_once_in_the_head_term() -> None:
    tied = PRESETS["test-tiny"]
    untied = tied.model_copy(update={"tie_word_embeddings": False})
    a, b = flops_per_token(tied, 64), flops_per_token(untied, 64)
    assert a == b  # the head matmul costs the same whether or not its weight is the embedding table


@pytest.mark.parametrize(
    ("name", "peak"),
    [
        ("NVIDIA H100 80GB HBM3", 989.0),
        ("NVIDIA H200", 989.0),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA A100 80GB PCIe", 312.0),
        ("NVIDIA L40S", 362.0),
        ("NVIDIA GeForce RTX 4090", 165.0),
        # Known names whose peak is not tabulated, and unknown devices: no MFU, never a guess.
        ("NVIDIA H100 NVL", None),
        ("NVIDIA H200 NVL", None),
        ("NVIDIA GeForce RTX 4090 D", None),
        ("NVIDIA GeForce RTX 3090", None),
        ("Tesla V100-SXM2-16GB", None),
        ("NVIDIA L40", None),
        ("", None),
    ],
)
def test_peak_table_matches_device_names(name: str, peak: float | None) -> None:
    assert peak_bf16_tflops(name) == peak


def test_step_flops_is_per_device_and_mfu_needs_a_peak() -> None:
    f = flops_per_token(PRESETS["qwen2-0.5b"], 512)
    # 8 x 512 tokens in 0.1 s on one device: 4096 * 3.096e9 / 0.1 = 126.8 TFLOP/s.
    one = step_flops(f, tokens=4096, seconds=0.1, world_size=1, peak_tflops=989.0)
    assert one.tflops == pytest.approx(4096 * 3_096_317_184 / 0.1 / 1e12)
    assert one.mfu == pytest.approx(one.tflops / 989.0)
    # The same global tokens over 2 devices in the same time: half the work per device.
    two = step_flops(f, tokens=4096, seconds=0.1, world_size=2, peak_tflops=989.0)
    assert two.tflops == pytest.approx(one.tflops / 2)
    assert step_flops(f, tokens=4096, seconds=0.1).mfu is None
    with pytest.raises(ValueError):
        step_flops(f, tokens=1, seconds=0.0)


def test_device_peak_comes_from_the_override_or_the_table_never_a_guess() -> None:
    assert device_peak_tflops("cpu") == (None, "no peak for device type 'cpu'")
    assert device_peak_tflops("cpu", override=500.0) == (500.0, "--peak-tflops")
    if not torch.cuda.is_available():
        return
    name = torch.cuda.get_device_name()
    peak, source = device_peak_tflops("cuda")
    assert peak == peak_bf16_tflops(name) and name in source and ("table" in source) == (peak is not None)

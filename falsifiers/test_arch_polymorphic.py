"""Falsifiers of contract apr-pretrain-arch-polymorphic-v1, run against the real trainer code.

Each test also runs its check against a deliberately broken variant (a wrong constant, a gate
with the wrong comparison, a builder that fills defaults, a tiled kv repeat, a late
architecture check) and asserts the check catches it, so a test that cannot fail cannot pass here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainer import apr_format, init_load
from trainer.checkpoint import write_checkpoint
from trainer.config import (
    ARCH_FIELDS,
    DEFAULT_PRESET,
    PRESETS,
    ConfigError,
    EncoderArchitectureError,
    ModelConfig,
    config_to_hf,
    model_config_for,
)
from trainer.model import Attention, grouped_query_attention, rope_cos_sin
from trainer.preflight import (
    PreflightError,
    assert_tokenizer_vocab_matches_model,
    preflight_tokenizer_vocab,
)

QWEN_TOKENIZER_VOCAB = 151_665
QWEN_MODEL_VOCAB = 151_936

# Qwen2-0.5B's published config.json (huggingface.co/Qwen/Qwen2-0.5B), the fields we model.
PUBLISHED_QWEN2_0_5B = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 896,
    "intermediate_size": 4864,
    "max_position_embeddings": 32768,
    "num_attention_heads": 14,
    "num_hidden_layers": 24,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "tie_word_embeddings": True,
    "vocab_size": 151936,
    "hidden_act": "silu",
    "use_sliding_window": False,
}


def _qwen_constant_mismatches(cfg: ModelConfig) -> list[str]:
    expected = {
        "architecture": "qwen2",
        "hidden_size": 896,
        "num_heads": 14,
        "num_kv_heads": 2,
        "intermediate_size": 4864,
        "num_layers": 24,
        "vocab_size": 151_936,
        "max_position_embeddings": 32_768,
        "rope_theta": 1e6,
        "rms_norm_eps": 1e-6,
        "qkv_bias": True,
        "tie_word_embeddings": True,
    }
    return [f"{k}={getattr(cfg, k)!r} != {v!r}" for k, v in expected.items() if getattr(cfg, k) != v]


def _hf_init_builder(directory: Path) -> Callable[[Mapping[str, Any]], ModelConfig]:
    """A HF config.json written to ``directory`` and read back the way ``--init`` reads it."""

    def build(hf: Mapping[str, Any]) -> ModelConfig:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").write_text(json.dumps(dict(hf)))
        return model_config_for(init=directory / "config.json")

    return build


@pytest.mark.falsifies("FALSIFY-ARCH-001")
def test_qwen2_0_5b_config_constants(tmp_path: Path) -> None:
    preset = PRESETS["qwen2-0.5b"]
    assert _qwen_constant_mismatches(preset) == []
    assert preset.head_dim == 64
    # The preset equals what the published config.json maps to, through the same importer users run.
    assert _hf_init_builder(tmp_path)(PUBLISHED_QWEN2_0_5B) == preset
    # Published parameter count of Qwen2-0.5B: 494M with tied embeddings.
    assert 493_000_000 < preset.param_count() < 495_000_000
    # Falsification: each counter-example class is caught by the same check.
    for broken in (
        preset.model_copy(update={"num_kv_heads": 14}),  # wrong constant
        preset.model_copy(update={"tie_word_embeddings": False}),  # untied embeddings
        preset.model_copy(update={"qkv_bias": False}),  # missing qkv bias
        preset.model_copy(update={"rope_theta": 10_000.0}),
    ):
        assert _qwen_constant_mismatches(broken), broken


_NON_DEFAULT_HF = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": 32_003,
    "hidden_size": 96,
    "num_hidden_layers": 3,
    "num_attention_heads": 6,
    "num_key_value_heads": 3,
    "intermediate_size": 250,
    "max_position_embeddings": 777,
    "rope_theta": 12_345.0,
    "rms_norm_eps": 3e-5,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "hidden_act": "silu",
}
_HF_KEY = {
    "architecture": "model_type",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "num_kv_heads": "num_key_value_heads",
    "qkv_bias": "attention_bias",
}


def _init_violations(builder: Callable[[Mapping[str, Any]], ModelConfig]) -> list[str]:
    """Problems of a config builder against the rule: take every field from the init, never default."""
    problems = []
    cfg = builder(_NON_DEFAULT_HF)
    for field in ARCH_FIELDS:
        hf_value = _NON_DEFAULT_HF[_HF_KEY.get(field, field)]
        if getattr(cfg, field) != hf_value:
            problems.append(f"{field}: {getattr(cfg, field)!r} != init {hf_value!r}")
    for field in ARCH_FIELDS:
        key = _HF_KEY.get(field, field)
        partial = {k: v for k, v in _NON_DEFAULT_HF.items() if k != key}
        try:
            builder(partial)
        except ConfigError as exc:
            if key not in str(exc):
                problems.append(f"dropping {key} raised without naming it: {exc}")
        else:
            problems.append(f"dropping {key} did not raise")
    return problems


@pytest.mark.falsifies("FALSIFY-ARCH-002")
def test_config_from_init_takes_every_field_from_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = PRESETS[DEFAULT_PRESET]
    # The init differs from the default in every field, so a silent default cannot pass unnoticed.
    assert all(getattr(default, f) != _NON_DEFAULT_HF[_HF_KEY.get(f, f)] for f in ARCH_FIELDS)
    from_config_json = _hf_init_builder(tmp_path / "hf")
    assert _init_violations(from_config_json) == []

    # The same through the other init forms: a HF directory and an .apr checkpoint's metadata.
    from_file = from_config_json(_NON_DEFAULT_HF)
    from_dir = model_config_for(init=tmp_path / "hf")
    assert from_dir == from_file
    assert model_config_for(init=write_checkpoint(tmp_path / "full.apr", from_dir, {}, {})) == from_dir
    meta = from_dir.model_dump()
    monkeypatch.setattr(apr_format, "REQUIRED_METADATA", ())  # an .apr from a writer that omits fields
    for field in ARCH_FIELDS:
        partial = apr_format.write_apr(tmp_path / f"no-{field}.apr", {}, {k: v for k, v in meta.items() if k != field})
        with pytest.raises(ConfigError, match=field):
            model_config_for(init=partial)

    # Falsification: a builder that fills missing fields from the preset (a silent default) and one
    # that overrides only some fields (partial override) are both caught.
    def silent_default(hf: Mapping[str, Any]) -> ModelConfig:
        full = {**config_to_hf(default), **hf}
        full.setdefault("attention_bias", True)
        return from_config_json(full)

    def partial_override(hf: Mapping[str, Any]) -> ModelConfig:
        cfg = from_config_json(hf)
        return cfg.model_copy(update={"rope_theta": default.rope_theta})

    assert _init_violations(silent_default)
    assert _init_violations(partial_override)


@pytest.mark.falsifies("FALSIFY-ARCH-003")
def test_config_without_init_is_from_scratch_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stray config.json in the working directory must not leak into a from-scratch config.
    (tmp_path / "config.json").write_text(json.dumps(_NON_DEFAULT_HF))
    monkeypatch.chdir(tmp_path)
    cfg = model_config_for(init=None)
    assert cfg == PRESETS[DEFAULT_PRESET] == PRESETS["qwen2-0.5b"]
    assert model_config_for(preset="llama-370m") == PRESETS["llama-370m"]
    # Falsification: the init path does produce something else, so equality above is not vacuous.
    assert model_config_for(init=tmp_path / "config.json") != cfg


def _reference_mha(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Plain softmax attention, one kv head per query head, causal."""
    t = q.shape[2]
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    mask = torch.ones(t, t, dtype=torch.bool).triu(1)
    return torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v


@pytest.mark.falsifies("FALSIFY-ARCH-004")
def test_gqa_7_to_1_matches_repeated_kv_mha() -> None:
    torch.manual_seed(0)
    b, t, d, h, g = 2, 9, 16, 14, 2
    q = torch.randn(b, h, t, d)
    k, v = torch.randn(b, g, t, d), torch.randn(b, g, t, d)
    expected = _reference_mha(q, k.repeat_interleave(7, dim=1), v.repeat_interleave(7, dim=1))
    torch.testing.assert_close(grouped_query_attention(q, k, v), expected, atol=1e-5, rtol=1e-5)

    # Module level: a 14:2 attention equals a 14:14 attention whose k/v projections repeat each kv
    # head's rows 7 times (the Qwen2-0.5B ratio).
    base = dict(
        architecture="qwen2", vocab_size=10, hidden_size=h * d, num_layers=1, num_heads=h, intermediate_size=8,
        max_position_embeddings=64, rope_theta=1e6, rms_norm_eps=1e-6, tie_word_embeddings=True, qkv_bias=True,
    )
    gqa = Attention(ModelConfig(num_kv_heads=g, **base))
    mha = Attention(ModelConfig(num_kv_heads=h, **base))
    with torch.no_grad():
        for name in ("q_proj", "o_proj"):
            getattr(mha, name).load_state_dict(getattr(gqa, name).state_dict())
        for name in ("k_proj", "v_proj"):
            src, dst = getattr(gqa, name), getattr(mha, name)
            dst.weight.copy_(src.weight.view(g, d, -1).repeat_interleave(7, dim=0).reshape(h * d, -1))
            dst.bias.copy_(src.bias.view(g, d).repeat_interleave(7, dim=0).reshape(-1))
    x = torch.randn(b, t, h * d)
    cos, sin = rope_cos_sin(t, d, 1e6, x.device, x.dtype)
    torch.testing.assert_close(gqa(x, cos, sin), mha(x, cos, sin), atol=1e-5, rtol=1e-5)

    # Falsification: the wrong kv order (tile instead of interleave) is detected by the same comparison.
    tiled = _reference_mha(q, k.repeat(1, 7, 1, 1), v.repeat(1, 7, 1, 1))
    assert not torch.allclose(tiled, expected, atol=1e-3)


@pytest.mark.falsifies("FALSIFY-ARCH-005")
def test_preflight_qwen_vocab_passes_with_qwen_init() -> None:
    preflight_tokenizer_vocab(QWEN_TOKENIZER_VOCAB, QWEN_MODEL_VOCAB, init_is_some=True)
    # Falsification: if the init path used the strict gate, this exact pair would be refused.
    with pytest.raises(PreflightError):
        assert_tokenizer_vocab_matches_model(QWEN_TOKENIZER_VOCAB, QWEN_MODEL_VOCAB)


@pytest.mark.falsifies("FALSIFY-ARCH-006")
def test_preflight_qwen_vocab_fails_without_init() -> None:
    with pytest.raises(PreflightError) as info:
        preflight_tokenizer_vocab(QWEN_TOKENIZER_VOCAB, QWEN_MODEL_VOCAB, init_is_some=False)
    msg = str(info.value)
    assert "151,665" in msg and "151,936" in msg
    assert "apr-pretrain-arch-polymorphic-v1" in msg and "FALSIFY-ARCH-006" in msg and "Fix:" in msg
    assert info.value.gate == "vocab-strict"
    # Falsification: the same pair passes under the relaxed route, so the strict route is what refused it.
    preflight_tokenizer_vocab(QWEN_TOKENIZER_VOCAB, QWEN_MODEL_VOCAB, init_is_some=True)


def _write_bert_init(root: Path, model_type: str = "bert", arch: str = "BertForMaskedLM") -> Path:
    root.mkdir(parents=True)
    cfg = {"architectures": [arch], "model_type": model_type, "vocab_size": 30522, "hidden_size": 768,
           "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
           "max_position_embeddings": 512}
    (root / "config.json").write_text(json.dumps(cfg))
    (root / "model.safetensors").write_bytes(b"not a safetensors file")  # reading it would raise differently
    return root


@pytest.mark.falsifies("FALSIFY-ARCH-007")
def test_encoder_architecture_init_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    real_read = init_load.read_init_tensors
    monkeypatch.setattr(init_load, "read_init_tensors", lambda p: (opened.append(str(p)), real_read(p))[1])

    bert = _write_bert_init(tmp_path / "bert")
    with pytest.raises(EncoderArchitectureError, match=r"'bert'.*encoder architecture") as info:
        init_load.build_model_from_init(bert)
    assert "FALSIFY-ARCH-007" in str(info.value)
    assert opened == []  # rejected before any weight was read
    with pytest.raises(EncoderArchitectureError):
        model_config_for(init=bert)

    # Through the CLI: exit 2 (bad input) with the architecture named.
    from apr.cli import main

    tok = tmp_path / "tok.json"
    tok.write_text(json.dumps({"vocab_size": 30522}))
    shards = tmp_path / "shards"
    shards.mkdir()
    torch.arange(4096, dtype=torch.int32).numpy().astype("<u4").tofile(shards / "shard-00000.bin")
    rc = main(["pretrain", "--mode", "from-init", "--init", str(bert), "--tokenizer", str(tok), "--shards-dir",
               str(shards), "--steps", "1", "--batch-size", "1", "--seq-len", "8", "--out", str(tmp_path / "run")])
    assert rc == 2
    assert not (tmp_path / "run" / "checkpoint.apr").exists()

    # Falsification: the same poisoned directory declared as a decoder gets past the architecture
    # check and fails on the weights instead, i.e. the check above is what stopped the encoder.
    decoder = _write_bert_init(tmp_path / "qwen", model_type="qwen2", arch="Qwen2ForCausalLM")
    hf = json.loads((decoder / "config.json").read_text())
    hf.update(num_key_value_heads=12, rope_theta=1e4, rms_norm_eps=1e-6, tie_word_embeddings=True)
    (decoder / "config.json").write_text(json.dumps(hf))
    with pytest.raises(Exception) as other:
        init_load.build_model_from_init(decoder)
    assert not isinstance(other.value, EncoderArchitectureError)
    assert opened == [str(decoder)]


_SMALL_VOCAB = st.integers(min_value=1, max_value=10**6)
Gate = Callable[[int, int, bool], None]


def _accepts(gate: Gate, tokenizer_vocab: int, model_vocab: int) -> bool:
    try:
        gate(tokenizer_vocab, model_vocab, True)
    except PreflightError:
        return False
    return True


def _relaxed_gate_violations(gate: Gate) -> list[str]:
    """Where an init-path gate disagrees with the rule ``tokenizer_vocab <= model_vocab``."""
    pairs = [(1, 1), (7, 7), (1, 151_936), (151_665, 151_936), (151_936, 151_936), (151_937, 151_936),
             (2, 1), (10**6 + 1, 10**6)]
    return [f"{t} vs {m}" for t, m in pairs if _accepts(gate, t, m) != (t <= m)]


def _raise_unless(ok: bool) -> None:
    if not ok:
        raise PreflightError("broken", "deliberately broken gate")


def _gate_strict_less(t: int, m: int, init: bool) -> None:
    _raise_unless(t < m)


def _gate_equal_only(t: int, m: int, init: bool) -> None:
    _raise_unless(t == m)


def _gate_anything_goes_under_init(t: int, m: int, init: bool) -> None:
    if not init:
        assert_tokenizer_vocab_matches_model(t, m)


def test_relaxed_gate_checker_catches_broken_gates() -> None:
    assert _relaxed_gate_violations(preflight_tokenizer_vocab) == []
    assert _relaxed_gate_violations(_gate_strict_less)
    assert _relaxed_gate_violations(_gate_equal_only)
    assert _relaxed_gate_violations(_gate_anything_goes_under_init)


@pytest.mark.falsifies("FALSIFY-ARCH-009")
@settings(max_examples=200, deadline=None)
@given(model_vocab=_SMALL_VOCAB, data=st.data())
def test_relaxed_bound_accepts_reserved_slots(model_vocab: int, data: st.DataObject) -> None:
    tokenizer_vocab = data.draw(st.integers(min_value=1, max_value=model_vocab))
    preflight_tokenizer_vocab(tokenizer_vocab, model_vocab, init_is_some=True)
    preflight_tokenizer_vocab(model_vocab, model_vocab, init_is_some=True)  # equality is admitted
    preflight_tokenizer_vocab(QWEN_TOKENIZER_VOCAB, QWEN_MODEL_VOCAB, init_is_some=True)
    # The domain is [1, model_vocab]: no vocab of 0 (or a bool posing as an int) slips through.
    for outside in (0, True):
        with pytest.raises(PreflightError, match="vocab-domain"):
            preflight_tokenizer_vocab(outside, model_vocab, init_is_some=True)
    # Falsification: the counter-example gates (< at equality, == only) reject admissible pairs.
    assert not _accepts(_gate_strict_less, model_vocab, model_vocab)
    assert not _accepts(_gate_equal_only, QWEN_TOKENIZER_VOCAB, QWEN_MODEL_VOCAB)


@pytest.mark.falsifies("FALSIFY-ARCH-010")
@settings(max_examples=200, deadline=None)
@given(model_vocab=_SMALL_VOCAB, excess=st.integers(min_value=1, max_value=10**6))
def test_relaxed_bound_rejects_oversized_tokenizer(model_vocab: int, excess: int) -> None:
    with pytest.raises(PreflightError) as info:
        preflight_tokenizer_vocab(QWEN_MODEL_VOCAB + 1, QWEN_MODEL_VOCAB, init_is_some=True)
    assert "151,937" in str(info.value) and "FALSIFY-ARCH-010" in str(info.value)
    for init_is_some in (True, False):
        with pytest.raises(PreflightError):
            preflight_tokenizer_vocab(model_vocab + excess, model_vocab, init_is_some=init_is_some)
    # Falsification: an "anything goes under init" gate lets the same oversized tokenizer through.
    assert _accepts(_gate_anything_goes_under_init, model_vocab + excess, model_vocab)


def _gapped_tokenizer(root: Path, n_ids: int = 512, max_id: int = 511_000) -> Path:
    """A HF tokenizer.json with ``n_ids`` ids spread over 0..max_id (BPE entries and one added token)."""
    step = max_id // (n_ids - 1)
    vocab = {f"t{i}": i * step for i in range(n_ids - 1)}
    root.mkdir(parents=True, exist_ok=True)
    (root / "tokenizer.json").write_text(json.dumps({
        "model": {"type": "BPE", "vocab": vocab, "merges": []},
        "added_tokens": [{"id": max_id, "content": "<|endoftext|>", "special": True}],
    }))
    return root


def _count_gate(t: int, m: int, init: bool, *, max_token_id: int | None = None) -> None:
    """The gate before the id-space fix: fed the distinct count, blind to gaps."""
    preflight_tokenizer_vocab(t, m, init)


def _id_safety_violations(gate: Callable[..., None], cases: list[tuple[set[int], int, bool]]) -> list[str]:
    """Where ``gate`` passes although some id of the tokenizer would index past the model's table."""
    out = []
    for ids, model_vocab, init in cases:
        try:
            gate(len(ids), model_vocab, init, max_token_id=max(ids))
        except PreflightError:
            continue
        if max(ids) >= model_vocab:
            out.append(f"{len(ids)} ids up to {max(ids)} passed against {model_vocab} rows (init={init})")
    return out


@pytest.mark.falsifies("FALSIFY-ARCH-011")
@settings(max_examples=300, deadline=None)
@given(ids=st.sets(st.integers(min_value=0, max_value=2**20), min_size=1, max_size=40),
       model_vocab=st.integers(min_value=1, max_value=2**20 + 1), init=st.booleans())
def test_preflight_pass_means_every_id_indexes_a_row(ids: set[int], model_vocab: int, init: bool) -> None:
    """The contract's safety obligation itself, over id sets with gaps: pass => max id < model_vocab."""
    assert _id_safety_violations(preflight_tokenizer_vocab, [(ids, model_vocab, init)]) == []
    # Falsification: the count-fed gate passes 512 ids spread over 0..511,000 against 512 rows.
    gapped = {i * 1000 for i in range(511)} | {511_000}
    assert _id_safety_violations(_count_gate, [(gapped, 512, False), (gapped, 512, True)]) != []


@pytest.mark.falsifies("FALSIFY-ARCH-011", "FALSIFY-HANDOFF-006")
def test_gap_id_tokenizer_is_refused_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The reproduction: 512 ids over 0..511,000 passed the strict gate of a 512-row model (test-tiny)
    and an out-of-range id was only caught when a batch drew it, at step 108."""
    import numpy as np

    from apr.cli import main
    from trainer.tokenizer_info import read_tokenizer_vocab

    _gapped_tokenizer(tmp_path / "tok")
    shards = tmp_path / "shards"
    shards.mkdir()
    (np.arange(40_000, dtype="<u4") % 512).tofile(shards / "shard-00000.bin")
    rc = main(["pretrain", "--mode", "from-scratch", "--model-config", "test-tiny",
               "--tokenizer", str(tmp_path / "tok"), "--shards-dir", str(shards), "--steps", "2",
               "--batch-size", "2", "--seq-len", "16", "--device", "cpu", "--progress", "off",
               "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2 and "vocab-strict" in err and "511,001" in err, err
    assert not (tmp_path / "run" / "checkpoint.apr").exists()
    tok = read_tokenizer_vocab(tmp_path / "tok")
    assert (tok.size, tok.id_space) == (512, 511_001)
    for init_is_some in (False, True):
        with pytest.raises(PreflightError, match=r"id space=511,001 \(max id 511,000; only 512 distinct ids"):
            preflight_tokenizer_vocab(tok.size, 512, init_is_some, max_token_id=tok.max_id)

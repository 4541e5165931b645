"""Typed model configs, presets, and the polymorphic config builder.

``model_config_for`` is where the contract ``apr-pretrain-arch-polymorphic-v1`` lives: with an
init checkpoint every architecture field comes from the init and a missing field is an error (a
silent default here is how a fine-tune ends up with the wrong rope theta or untied embeddings and
nobody notices); without an init the from-scratch preset is returned unchanged.

Nothing in this module imports torch, so the CLI can build and print configs cheaply.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from safeio import JSONInputError, JSONLimits, NotRegularFileError, read_json, require_regular
from trainer.apr_format import read_apr_metadata
from trainer.errors import TrainerInputError

ARCH_CONTRACT = "apr-pretrain-arch-polymorphic-v1"

Architecture = Literal["qwen2", "llama"]
SUPPORTED_ARCHITECTURES: tuple[str, ...] = ("qwen2", "llama")

#: Encoder-only (or encoder-decoder) HF model types: their weights cannot drive a causal LM.
ENCODER_MODEL_TYPES: frozenset[str] = frozenset(
    {
        "bert",
        "roberta",
        "xlm-roberta",
        "distilbert",
        "albert",
        "electra",
        "deberta",
        "deberta-v2",
        "camembert",
        "mpnet",
        "modernbert",
        "t5",
        "mt5",
        "bart",
        "mbart",
        "longformer",
        "ernie",
    }
)
_ENCODER_ARCH_SUFFIXES = ("ForMaskedLM", "ForSequenceClassification", "ForTokenClassification", "EncoderModel")


class ConfigError(TrainerInputError):
    """A model config could not be built; the message names the field and the source."""


class EncoderArchitectureError(ConfigError):
    """An encoder architecture was offered as init for a decoder-only causal LM."""


#: Upper bounds on the size fields, each far above any published decoder (Llama-3.1-405B: 126 layers,
#: hidden 16,384, MLP 53,248; Gemma-3: 262,144 ids; 10M-token contexts). They exist so a config
#: claiming ``num_layers`` 1e8 is refused in microseconds instead of hanging in the model build or
#: asking the allocator for petabytes; ``trainer.budget`` then checks what the config really needs.
MAX_VOCAB = 1 << 24
MAX_HIDDEN = 1 << 16
MAX_LAYERS = 1 << 10
MAX_HEADS = 1 << 10
MAX_INTERMEDIATE = 1 << 20
MAX_POSITIONS = 1 << 24


class ModelConfig(BaseModel):
    """Every field that determines the shape and numerics of the decoder-only model.

    Every number is finite and bounded (``allow_inf_nan=False``): an ``rms_norm_eps`` or
    ``rope_theta`` of Infinity would train "ok" while computing nothing meaningful.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    architecture: Architecture
    vocab_size: int = Field(gt=0, le=MAX_VOCAB)
    hidden_size: int = Field(gt=0, le=MAX_HIDDEN)
    num_layers: int = Field(gt=0, le=MAX_LAYERS)
    num_heads: int = Field(gt=0, le=MAX_HEADS)
    num_kv_heads: int = Field(gt=0, le=MAX_HEADS)
    intermediate_size: int = Field(gt=0, le=MAX_INTERMEDIATE)
    max_position_embeddings: int = Field(gt=0, le=MAX_POSITIONS)
    rope_theta: float = Field(gt=0)
    rms_norm_eps: float = Field(gt=0, lt=1)
    tie_word_embeddings: bool
    qkv_bias: bool

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads {self.num_heads} is not divisible by num_kv_heads {self.num_kv_heads} "
                "(grouped-query attention needs H mod G == 0)"
            )
        if (self.hidden_size // self.num_heads) % 2:
            raise ValueError(f"head_dim {self.hidden_size // self.num_heads} must be even for RoPE")
        return self

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def param_count(self) -> int:
        """Distinct trainable parameters (a tied lm_head counts once)."""
        h, kv = self.hidden_size, self.num_kv_heads * self.head_dim
        attn = h * h + 2 * h * kv + h * h + (h + 2 * kv if self.qkv_bias else 0)
        mlp = 3 * h * self.intermediate_size
        layer = attn + mlp + 2 * h
        emb = self.vocab_size * h
        head = 0 if self.tie_word_embeddings else self.vocab_size * h
        return emb + self.num_layers * layer + h + head


#: The architecture fields, i.e. everything an init must provide.
ARCH_FIELDS: tuple[str, ...] = tuple(ModelConfig.model_fields)

PRESETS: dict[str, ModelConfig] = {
    # Qwen2-0.5B's published config.json (Qwen2 technical report, arXiv:2407.10671).
    "qwen2-0.5b": ModelConfig(
        architecture="qwen2",
        vocab_size=151_936,
        hidden_size=896,
        num_layers=24,
        num_heads=14,
        num_kv_heads=2,
        intermediate_size=4864,
        max_position_embeddings=32_768,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        qkv_bias=True,
    ),
    "llama-370m": ModelConfig(
        architecture="llama",
        vocab_size=50_257,
        hidden_size=1024,
        num_layers=24,
        num_heads=16,
        num_kv_heads=4,
        intermediate_size=2816,
        max_position_embeddings=4096,
        rope_theta=10_000.0,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        qkv_bias=False,
    ),
    # Qwen2-shaped but CPU-sized: the real Qwen tokenizer's 151,665 ids, so a from-scratch run
    # passes the strict gate with the real vocabulary. The embedding table dominates the cost.
    "qwen2-tiny": ModelConfig(
        architecture="qwen2",
        vocab_size=151_665,
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        intermediate_size=176,
        max_position_embeddings=2048,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        qkv_bias=True,
    ),
    # Unit-test sized: small vocab so tests run in milliseconds.
    "test-tiny": ModelConfig(
        architecture="qwen2",
        vocab_size=512,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        rope_theta=10_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        qkv_bias=True,
    ),
}

DEFAULT_PRESET = "qwen2-0.5b"


def presets_with_vocab(vocab_size: int) -> list[str]:
    """Presets whose embedding table has exactly ``vocab_size`` rows (what a from-scratch run needs)."""
    return [name for name, cfg in PRESETS.items() if cfg.vocab_size == vocab_size]


def model_source(preset: str | None) -> str:
    """Where a from-scratch architecture came from, for messages."""
    return f"--model-config {preset}" if preset else f"the default model config {DEFAULT_PRESET}"


def validation_summary(exc: ValidationError) -> str:
    """Pydantic's errors as one line per field (``num_layers: Input should be less than or equal to 1024``)."""
    parts = []
    for e in exc.errors():
        field = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{field}: {msg} (got {e['input']!r})" if field else msg)
    return "; ".join(parts)


def _build(fields: Mapping[str, Any], where: str) -> ModelConfig:
    try:
        return ModelConfig(**fields)
    except ValidationError as exc:
        raise ConfigError(f"{where}: invalid architecture: {validation_summary(exc)}") from None


def _require(source: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in source or source[key] is None:
        raise ConfigError(
            f"{where}: required field {key!r} is missing; an init must state every architecture field "
            f"(no silent defaults, contract {ARCH_CONTRACT}, FALSIFY-ARCH-002)"
        )
    return source[key]


def _check_decoder_architecture(hf: Mapping[str, Any], where: str) -> str:
    """Reject encoder / unsupported HF configs before any weight is touched; returns the model_type."""
    given = hf.get("architectures") or []
    archs = [str(a) for a in (given if isinstance(given, list) else [given])]
    if not any(a.endswith(_ENCODER_ARCH_SUFFIXES) for a in archs):
        _require(hf, "model_type", where)
    model_type = str(hf.get("model_type", "")).lower()
    if (
        model_type in ENCODER_MODEL_TYPES
        or hf.get("is_encoder_decoder") is True
        or any(a.endswith(_ENCODER_ARCH_SUFFIXES) for a in archs)
    ):
        raise EncoderArchitectureError(
            f"{where}: model_type {model_type or '?'!r} (architectures {archs or '?'}) is an encoder "
            f"architecture; apr pretrain trains decoder-only causal LMs ({', '.join(SUPPORTED_ARCHITECTURES)}). "
            f"Use a decoder checkpoint as --init (contract {ARCH_CONTRACT}, FALSIFY-ARCH-007)."
        )
    if model_type not in SUPPORTED_ARCHITECTURES:
        raise ConfigError(
            f"{where}: model_type {model_type or '(missing)'!r} is not supported; "
            f"supported decoder architectures: {', '.join(SUPPORTED_ARCHITECTURES)}"
        )
    return model_type


def _from_hf(hf: Mapping[str, Any], where: str) -> ModelConfig:
    """Map a HF ``config.json`` onto ModelConfig, strictly: every field must be stated."""
    arch = _check_decoder_architecture(hf, where)
    rope = hf.get("rope_parameters") or hf.get("rope_scaling")
    if "rope_theta" in hf and hf["rope_theta"] is not None:
        rope_theta = hf["rope_theta"]
    elif isinstance(hf.get("rope_parameters"), Mapping) and "rope_theta" in hf["rope_parameters"]:
        rope_theta = hf["rope_parameters"]["rope_theta"]
    else:
        rope_theta = _require(hf, "rope_theta", where)
    if isinstance(rope, Mapping) and rope.get("rope_type", rope.get("type", "default")) not in ("default", None):
        raise ConfigError(f"{where}: rope scaling {dict(rope)!r} is not supported (only plain RoPE)")
    if hf.get("use_sliding_window") is True:
        raise ConfigError(f"{where}: sliding-window attention is not supported")
    if str(hf.get("hidden_act", "silu")) != "silu":
        raise ConfigError(f"{where}: hidden_act {hf.get('hidden_act')!r} is not supported (SwiGLU/silu only)")
    # Qwen2 has qkv bias by architecture (HF hard-codes it); Llama states it as attention_bias.
    qkv_bias = True if arch == "qwen2" else bool(_require(hf, "attention_bias", where))
    fields = {
        "architecture": arch,
        "vocab_size": _require(hf, "vocab_size", where),
        "hidden_size": _require(hf, "hidden_size", where),
        "num_layers": _require(hf, "num_hidden_layers", where),
        "num_heads": _require(hf, "num_attention_heads", where),
        "num_kv_heads": _require(hf, "num_key_value_heads", where),
        "intermediate_size": _require(hf, "intermediate_size", where),
        "max_position_embeddings": _require(hf, "max_position_embeddings", where),
        "rope_theta": rope_theta,
        "rms_norm_eps": _require(hf, "rms_norm_eps", where),
        "tie_word_embeddings": _require(hf, "tie_word_embeddings", where),
        "qkv_bias": qkv_bias,
    }
    return _build(fields, where)


def config_to_hf(cfg: ModelConfig) -> dict[str, Any]:
    """The HF ``config.json`` equivalent (for export and for the parity test)."""
    arch_name = {"qwen2": "Qwen2ForCausalLM", "llama": "LlamaForCausalLM"}[cfg.architecture]
    out: dict[str, Any] = {
        "architectures": [arch_name],
        "model_type": cfg.architecture,
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "num_key_value_heads": cfg.num_kv_heads,
        "intermediate_size": cfg.intermediate_size,
        "max_position_embeddings": cfg.max_position_embeddings,
        "rope_theta": cfg.rope_theta,
        "rms_norm_eps": cfg.rms_norm_eps,
        "tie_word_embeddings": cfg.tie_word_embeddings,
        "hidden_act": "silu",
        "use_sliding_window": False,
    }
    if cfg.architecture == "llama":
        out["attention_bias"] = cfg.qkv_bias
        out["mlp_bias"] = False
    return out


def _from_apr_metadata(meta: Mapping[str, Any], where: str) -> ModelConfig:
    """Read the architecture fields of an .apr file's JSON metadata, strictly."""
    arch = str(_require(meta, "architecture", where)).lower()
    _check_decoder_architecture({"model_type": arch}, where)
    fields = {name: _require(meta, name, where) for name in ARCH_FIELDS}
    return _build(fields, where)


def model_config_for(init: str | os.PathLike[str] | None = None, preset: str | None = None) -> ModelConfig:
    """The architecture of a run: the one way to obtain a ``ModelConfig``.

    ``init`` (an ``.apr`` file, a HF directory, or a HF ``config.json``): every field comes from
    the init and a missing one is an error. Otherwise ``preset`` (``--model-config``: a preset name
    or a HF ``config.json`` path), unchanged; neither gives the default preset ``qwen2-0.5b``.
    Both at once is an error: the architecture would be ambiguous.
    """
    if init is not None and preset is not None:
        raise ConfigError(
            "both an init and a model config were given; with --init the architecture comes from the "
            "init checkpoint, so drop --model-config"
        )
    if init is not None:
        return _from_init(Path(init))
    if preset is None:
        return PRESETS[DEFAULT_PRESET]
    if preset in PRESETS:
        return PRESETS[preset]
    path = Path(preset)
    if path.suffix == ".json" or path.is_file():
        return _from_hf(_read_json(path), str(path))
    raise ConfigError(f"unknown preset {preset!r}; choose one of: {', '.join(sorted(PRESETS))}")


def _from_init(path: Path) -> ModelConfig:
    if path.is_dir():
        cfg_path = path / "config.json"
        if not cfg_path.exists():
            raise ConfigError(f"{path}: init directory has no config.json")
        return _from_hf(_read_json(cfg_path), str(cfg_path))
    if not path.exists():
        raise ConfigError(f"{path}: init does not exist")
    try:
        require_regular(path)
    except NotRegularFileError as exc:
        raise ConfigError(f"--init {exc}") from None
    if path.suffix == ".json":
        return _from_hf(_read_json(path), str(path))
    return _from_apr_metadata(read_apr_metadata(path), str(path))


#: A HF config.json is a few kilobytes.
CONFIG_JSON_LIMITS = JSONLimits(max_bytes=16 << 20)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = read_json(path, CONFIG_JSON_LIMITS)
    except (JSONInputError, NotRegularFileError) as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object (a HF config.json), found {type(data).__name__}")
    return data

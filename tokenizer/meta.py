"""``tokenizer_meta.json``: the counts and provenance of an extracted tokenizer directory.

Downstream code (the trainer's vocab preflight, ``encode-corpus``) reads these numbers instead of
re-deriving them, so they are a validated pydantic model and carry the sha256 of the exact
``tokenizer.json`` they describe.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

META_FILE = "tokenizer_meta.json"
META_FORMAT = "apr-tokenizer-meta"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceInfo(_Model):
    kind: Literal["hf-tokenizer-json", "tiktoken-ranks"]
    path: str
    sha256: str


class FastEncoderCheck(_Model):
    """Whether the tiktoken encoder is structurally equivalent to this tokenizer.json, and why not."""

    eligible: bool
    reason: str | None = None
    tokenizer_json_sha256: str


class TokenizerMeta(_Model):
    format: Literal["apr-tokenizer-meta"] = META_FORMAT
    format_version: Literal[1] = 1
    producer: str
    tokenizer_json_sha256: str
    bpe_vocab_count: int = Field(ge=0)
    merges_count: int = Field(ge=0)
    added_tokens_count: int = Field(ge=0)
    effective_vocab_count: int = Field(ge=1, description="Distinct ids over BPE entries and added tokens.")
    max_token_id: int = Field(ge=0)
    vocab_size: int | None = Field(
        default=None, description="The model's declared embedding rows (config.json vocab_size), if known."
    )
    special_tokens: dict[str, int] = Field(default_factory=dict)
    eos_token: str | None = None
    pre_tokenizer_pattern: str | None = None
    normalizer: str | None = None
    source: SourceInfo
    fast_engine: FastEncoderCheck
    warnings: list[str] = Field(default_factory=list)

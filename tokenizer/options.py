"""The options of one encode-corpus run, below both the driver (:mod:`tokenizer.encode`) and the
modules it drives (:mod:`tokenizer.outdir`, :mod:`tokenizer.assembler`), so none imports another back."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tokenizer.progress import ProgressMode

DEFAULT_SHARD_TOKENS = 1 << 25
DEFAULT_EOS_TOKEN = "<|endoftext|>"


class EncodeOptions(BaseModel):
    """Validated options of one encode-corpus run (the CLI builds this from its arguments)."""

    model_config = ConfigDict(extra="forbid")

    corpus: Path
    tokenizer: Path
    output: Path
    shard_tokens: int = Field(default=DEFAULT_SHARD_TOKENS, ge=1)
    text_field: str = Field(default="text", min_length=1)
    eos_policy: Literal["none", "between", "after"] = "after"
    eos_token: str | None = None
    workers: int = Field(default=1, ge=1, le=512)
    resume: bool = False
    on_error: Literal["skip", "fail"] = "fail"
    special_text: Literal["ordinary", "recognize"] = "ordinary"
    engine: Literal["auto", "tiktoken", "hf"] = "auto"
    max_unk_rate: float = Field(default=0.001, ge=0.0, le=1.0)
    chunk_bytes: int = Field(default=1 << 20, ge=1)
    sample_documents: int = Field(default=32, ge=0)
    progress: ProgressMode = "auto"
    durable: bool = Field(
        default=True, description="fsync shards and manifests; False is still kill-safe but not power-loss-safe"
    )

"""The options of one encode-corpus run, below both the driver (:mod:`tokenizer.encode`) and the
modules it drives (:mod:`tokenizer.outdir`, :mod:`tokenizer.assembler`), so none imports another back."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tokenizer.pieces import DEFAULT_MAX_PIECE_CHARS
from tokenizer.progress import ProgressMode
from tokenizer.tasks import task_dir_name

DEFAULT_SHARD_TOKENS = 1 << 25
DEFAULT_EOS_TOKEN = "<|endoftext|>"
MAX_WORKERS = 1024


class EncodeOptions(BaseModel):
    """Validated options of one encode-corpus run (the CLI builds this from its arguments)."""

    model_config = ConfigDict(extra="forbid")

    corpus: list[Path] = Field(min_length=1, description="Files and directories, mixed.")
    tokenizer: Path
    output: Path
    shard_tokens: int = Field(default=DEFAULT_SHARD_TOKENS, ge=1)
    text_field: str = Field(default="text", min_length=1)
    eos_policy: Literal["none", "between", "after"] = "after"
    eos_token: str | None = None
    workers: int = Field(default=1, ge=1, le=MAX_WORKERS)
    resume: bool = False
    on_error: Literal["skip", "fail"] = "fail"
    special_text: Literal["ordinary", "recognize"] = "ordinary"
    engine: Literal["auto", "tiktoken", "hf"] = "auto"
    verify_engine: bool = Field(
        default=False, description="Compare the fast encoder with HF on this corpus's sample even when cached."
    )
    max_unk_rate: float = Field(default=0.001, ge=0.0, le=1.0)
    max_piece_chars: int = Field(default=DEFAULT_MAX_PIECE_CHARS, ge=0)
    exclude: list[str] = Field(default_factory=list, description="Globs (on corpus-relative paths) to skip.")
    num_tasks: int = Field(default=1, ge=1)
    task_index: int = Field(default=0, ge=0)
    chunk_bytes: int = Field(default=1 << 20, ge=1)
    sample_documents: int = Field(default=32, ge=0)
    progress: ProgressMode = "auto"
    durable: bool = Field(
        default=True, description="fsync shards and manifests; False is still kill-safe but not power-loss-safe"
    )

    @field_validator("corpus", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, (str, Path)) else value

    @property
    def task_output(self) -> Path:
        """Where this run writes: ``output`` itself, or its ``task-IIIII-of-NNNNN`` subdirectory."""
        return self.output / task_dir_name(self.task_index, self.num_tasks) if self.num_tasks > 1 else self.output

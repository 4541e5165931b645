"""``manifest.json`` of an encoded corpus: the pydantic schema, atomic writes, and validated reads.

The manifest is rewritten (atomically) after every completed shard, so at any instant it describes
exactly the complete shards on disk plus the corpus position a resumed run continues from. Fields that
legitimately differ between two runs producing identical shards (timings, worker count, paths of the
machine) live under ``run`` only; :func:`deterministic_view` drops them for comparisons.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from safeio import NotRegularFileError, atomic_write_text, read_regular_bytes
from tokenizer.corpus import CorpusFormat
from tokenizer.errors import TokenizeError

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "apr-token-shards"
#: 2: corpus files carry ``format`` (was ``gzip: bool``) and Parquet ``rows``; array tasks carry ``task``.
MANIFEST_VERSION = 2
SHARD_PATTERN = "shard-{:05d}.bin"
MAX_SKIPPED_RECORDS = 1000


def shard_name(index: int) -> str:
    return SHARD_PATTERN.format(index)


def utc_timestamp() -> str:
    """The form of ``run.started_at`` / ``run.updated_at``: UTC, ISO 8601, whole seconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Position(_Model):
    """Corpus position after the last document of the last complete shard.

    ``offset`` is a byte offset into the (decompressed) JSONL stream or a Parquet row index, ``line``
    the number of lines (rows) consumed from the file; ``file_index == len(files)`` means the whole
    corpus was consumed.
    """

    file_index: int = Field(ge=0)
    offset: int = Field(ge=0)
    line: int = Field(ge=0)


class CorpusFileEntry(_Model):
    path: str = Field(description="Relative to the corpus root, '/'-separated.")
    size: int = Field(ge=0, description="Size on disk in bytes.")
    sha256: str
    format: CorpusFormat = "jsonl"
    rows: int | None = Field(default=None, ge=0, description="Parquet only: the number of rows.")
    consumed: tuple[int, int] = Field(
        default=(0, 0),
        description="Range covered by complete shards: bytes of the (decompressed) JSONL stream, or Parquet rows.",
    )


class CorpusInfo(_Model):
    files: list[CorpusFileEntry] = Field(description="The files this output covers (an array task: its range only).")
    first_file: int = Field(default=0, ge=0, description="Index in the whole corpus of files[0].")
    total_files: int | None = Field(default=None, ge=0, description="Files in the whole corpus.")
    fingerprint: str | None = Field(
        default=None, description="sha256 of the whole corpus listing (path, size, format per file): equal for the "
        "tasks of one corpus, checked by `apr tokenize merge`.",
    )


class TokenizerInfo(_Model):
    sha256: str = Field(description="sha256 of tokenizer.json")
    bpe_vocab_count: int
    merges_count: int
    added_tokens_count: int
    effective_vocab_count: int
    max_token_id: int
    vocab_size: int | None = None
    normalizer: str | None = None
    unk_id: int | None = None


class EncodeConfig(_Model):
    text_field: str
    eos_policy: Literal["none", "between", "after"]
    eos_token: str | None
    eos_id: int | None
    shard_tokens: int = Field(ge=1)
    on_error: Literal["skip", "fail"]
    special_text: Literal["ordinary", "recognize"]
    max_piece_chars: int = Field(
        default=100_000, ge=0,
        description="A document with a pre-tokenizer piece longer than this is refused as a bad line (0: no limit).",
    )
    dtype: Literal["uint32-le"] = "uint32-le"
    boundary: Literal["document"] = Field(
        default="document",
        description="A document (with its EOS) is never split across shards; a shard is closed at the first "
        "document boundary at or after shard_tokens tokens.",
    )


class Counters(_Model):
    documents: int = 0
    tokens: int = 0
    skipped_lines: int = 0
    blank_lines: int = 0
    eos_tokens: int = 0
    unk_tokens: int = 0
    text_chars: int = 0


class ShardEntry(_Model):
    name: str
    tokens: int = Field(ge=0)
    bytes: int = Field(ge=0)
    sha256: str
    documents: int | None = None
    first_document: int | None = None
    end: Position | None = None


class SkippedLine(_Model):
    file: str
    line: int
    reason: str


class Verification(_Model):
    sample_documents: int = 0
    roundtrip_ok: bool = False
    sample_unk_rate: float = 0.0
    max_unk_rate: float = 0.0
    unk_rate: float = 0.0
    max_token_id_seen: int | None = None
    passed: bool = Field(
        default=True, description="False when the corpus-wide unknown-token rate exceeded max_unk_rate: do not train."
    )


class RunInfo(_Model):
    started_at: str = ""
    updated_at: str = ""
    elapsed_s: float = 0.0
    setup_s: float = 0.0
    tokens_per_s: float = 0.0
    resumes: int = 0
    workers: int = 1
    engine: str = ""
    engine_check: str = Field(default="", description="Why this engine: the equivalence evidence or the reason for HF.")
    corpus_root: str = ""
    tokenizer_dir: str = ""
    notes: list[str] = Field(default_factory=list)


class Cut(_Model):
    """A place in the corpus between two records: file index and offset (bytes, or rows for Parquet)."""

    file_index: int = Field(ge=0)
    offset: int = Field(ge=0)


class TaskInfo(_Model):
    """One array task's slice of the corpus: ``[start, end)``."""

    index: int = Field(ge=0)
    count: int = Field(ge=1)
    start: Cut
    end: Cut


class MergeInfo(_Model):
    tasks: int = Field(ge=1)
    shards_per_task: list[int]
    mode: Literal["hardlink", "copy"]


class Manifest(_Model):
    format: Literal["apr-token-shards"] = MANIFEST_FORMAT
    format_version: Literal[2] = MANIFEST_VERSION
    producer: str
    complete: bool = False
    repaired: bool = Field(default=False, description="Rebuilt from shard files alone; cannot be resumed.")
    tokenizer: TokenizerInfo | None = None
    config: EncodeConfig | None = None
    corpus: CorpusInfo | None = None
    position: Position = Field(default_factory=lambda: Position(file_index=0, offset=0, line=0))
    totals: Counters = Field(default_factory=Counters)
    shards: list[ShardEntry] = Field(default_factory=list)
    skipped: list[SkippedLine] = Field(default_factory=list, description=f"First {MAX_SKIPPED_RECORDS}.")
    verification: Verification | None = None
    task: TaskInfo | None = Field(default=None, description="Set in the output of one array task (--num-tasks).")
    merged: MergeInfo | None = Field(default=None, description="Set by `apr tokenize merge`.")
    run: RunInfo = Field(default_factory=RunInfo)

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Read a version-1 manifest (``gzip: bool`` per file) as version 2."""
        if isinstance(data, dict) and data.get("format_version") == 1:
            data = dict(data, format_version=2)
            corpus = data.get("corpus")
            if isinstance(corpus, dict) and isinstance(corpus.get("files"), list):
                files = []
                for f in corpus["files"]:
                    if isinstance(f, dict) and "gzip" in f:
                        gz = f["gzip"] is True
                        f = {k: v for k, v in f.items() if k != "gzip"}
                        f["format"] = "jsonl.gz" if gz else "jsonl"
                    files.append(f)
                data["corpus"] = dict(corpus, files=files)
        return data


def manifest_text(manifest: Manifest) -> str:
    """The file's content: taken in the main thread, possibly written later (see shards.Pipeline)."""
    return manifest.model_dump_json(indent=2) + "\n"


def write_manifest_text(directory: Path, text: str, *, durable: bool = True) -> None:
    atomic_write_text(directory / MANIFEST_FILE, text, durable=durable)


def write_manifest(directory: Path, manifest: Manifest, *, durable: bool = True) -> None:
    write_manifest_text(directory, manifest_text(manifest), durable=durable)


def read_manifest(directory: Path | str) -> Manifest:
    path = Path(directory) / MANIFEST_FILE
    try:
        data = read_regular_bytes(path)  # a FIFO or device named manifest.json is refused, not read forever
    except FileNotFoundError:
        raise TokenizeError(
            "no manifest.json", where=str(directory),
            fix="run `apr tokenize repair-manifest DIR` to rebuild one from the shards",
        ) from None
    except NotRegularFileError as exc:
        raise TokenizeError(f"is {exc.kind}, not a regular file", where=str(path),
                            fix="put the manifest file there, or run `apr tokenize repair-manifest DIR`") from None
    except OSError as exc:
        raise TokenizeError(f"cannot read the manifest: {exc.strerror or exc}", where=str(path)) from None
    try:
        return Manifest.model_validate_json(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise TokenizeError(
            f"invalid manifest: {err['msg']} at `{loc}`",
            where=str(path),
            fix="run `apr tokenize repair-manifest DIR` to rebuild it from the shards",
        ) from None


def deterministic_view(manifest: Manifest) -> dict[str, Any]:
    """The manifest without ``run`` (timings, workers, machine paths): equal for byte-identical outputs."""
    return manifest.model_dump(mode="json", exclude={"run"})

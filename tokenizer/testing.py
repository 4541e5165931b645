"""Builders shared by the tokenizer tests, falsifiers and benchmark (not used by the CLI).

Most tests need *a* real byte-level BPE, not the full 151k-entry Qwen vocabulary: the first ``k``
ranks of Qwen's table are themselves a valid BPE (every token is built from lower ranks), load in
milliseconds, and exercise the same code paths. Tests that are about Qwen itself use the full file.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import sysconfig
import tempfile
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

from tokenizer.importers import import_tiktoken
from tokenizer.loader import LoadedTokenizer, load_tokenizer
from tokenizer.meta import TokenizerMeta
from tokenizer.resources import find_qwen_tiktoken

SMALL_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def write_ranks(path: Path, ranks: dict[bytes, int]) -> Path:
    lines = [f"{base64.b64encode(tok).decode()} {rank}" for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1])]
    path.write_text("\n".join(lines) + "\n")
    return path


def truncated_qwen_ranks(k: int) -> dict[bytes, int]:
    """The first ``k`` ranks of the Qwen2 table (a closed, valid BPE vocabulary for k >= 256)."""
    out: dict[bytes, int] = {}
    with open(find_qwen_tiktoken(), "rb") as fh:
        for line in fh:
            tok, rank = line.split()
            r = int(rank)
            if r < k:
                out[base64.b64decode(tok)] = r
    return out


def make_small_tokenizer(directory: Path, k: int = 4096, normalizer: str = "nfc") -> TokenizerMeta:
    """A Qwen2-style tokenizer dir with ``k`` BPE ranks and three special tokens right after them."""
    directory.mkdir(parents=True, exist_ok=True)
    ranks = write_ranks(directory.parent / f"{directory.name}.tiktoken", truncated_qwen_ranks(k))
    specials = directory.parent / f"{directory.name}.specials.json"
    specials.write_text(json.dumps({s: k + i for i, s in enumerate(SMALL_SPECIALS)}))
    return import_tiktoken(
        ranks, directory / "tok", pattern="qwen2", special_tokens=str(specials), normalizer=normalizer,
        model_vocab_size=k + len(SMALL_SPECIALS), force=True,
    )


def make_qwen2_tokenizer(directory: Path) -> TokenizerMeta:
    return import_tiktoken(None, directory, pattern="qwen2", special_tokens="qwen2", force=True)


def stdlib_paths() -> list[Path]:
    """Every stdlib ``.py`` file in sorted order, without descending into site-packages."""
    root = Path(sysconfig.get_paths()["stdlib"])
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("site-packages", "__pycache__"))
        found += [Path(dirpath) / f for f in filenames if f.endswith(".py")]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def stdlib_documents(max_chars: int, *, start: int = 0) -> Iterator[tuple[str, str]]:
    """(relative path, text) of stdlib .py files in sorted order until ``max_chars`` characters."""
    root = Path(sysconfig.get_paths()["stdlib"])
    total = 0
    for path in stdlib_paths()[start:]:
        try:
            text = path.read_text("utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        yield path.relative_to(root).as_posix(), text
        total += len(text)
        if total >= max_chars:
            return


def write_jsonl(path: Path, docs: Iterable[str | dict], field: str = "text") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps(d if isinstance(d, dict) else {field: d}, ensure_ascii=False) + "\n")
    return path


def write_parquet(path: Path, docs: Iterable[str | None], *, field: str = "text", row_group_size: int = 1000,
                  extra: dict[str, list[object]] | None = None) -> Path:
    """The same documents as :func:`write_jsonl`, as a Parquet file with small row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    columns: dict[str, object] = {field: pa.array(list(docs), type=pa.string())}
    columns.update(extra or {})
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def compress_file(src: Path, dest: Path, *, frame_bytes: int = 1 << 16) -> Path:
    """``src`` as ``.gz`` or ``.zst`` (by ``dest``'s suffix); zstd is written as many frames, as pzstd does."""
    data = src.read_bytes()
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.name.endswith(".gz"):
        import gzip

        dest.write_bytes(gzip.compress(data, mtime=0))
    else:
        import zstandard

        cctx = zstandard.ZstdCompressor()
        dest.write_bytes(b"".join(cctx.compress(data[i : i + frame_bytes]) for i in range(0, len(data), frame_bytes)))
    return dest


_CACHE_ROOT: list[Path] = []


def _cache_root() -> Path:
    if not _CACHE_ROOT:
        root = Path(tempfile.mkdtemp(prefix="apr-tokenizer-tests-"))
        atexit.register(shutil.rmtree, root, True)
        _CACHE_ROOT.append(root)
    return _CACHE_ROOT[0]


@cache
def cached_qwen2_dir() -> Path:
    """The full Qwen2 tokenizer imported once per test session (the import takes a few seconds)."""
    out = _cache_root() / "qwen2"
    make_qwen2_tokenizer(out)
    return out


@cache
def cached_qwen2() -> LoadedTokenizer:
    return load_tokenizer(cached_qwen2_dir())


@cache
def cached_small_dir(k: int = 4096, normalizer: str = "nfc") -> Path:
    base = _cache_root() / f"small-{k}-{normalizer}"
    make_small_tokenizer(base, k, normalizer)
    return base / "tok"


@cache
def cached_small(k: int = 4096, normalizer: str = "nfc") -> LoadedTokenizer:
    return load_tokenizer(cached_small_dir(k, normalizer))


def cache_entry_file(tok_dir: Path) -> Path:
    """The one encoder-cache entry of a freshly imported tokenizer directory."""
    from tokenizer.encoder_cache import CACHE_DIR

    (entry,) = (tok_dir / CACHE_DIR).iterdir()
    return entry


def reseal_cache_entry(path: Path, change: dict[str, object]) -> None:
    """Edit an encoder-cache entry's header and recompute its checksum: a consistent forgery, not corruption."""
    import hashlib
    import struct

    from tokenizer.encoder_cache import MAGIC

    data = path.read_bytes()
    (n,) = struct.unpack_from("<Q", data, len(MAGIC))
    start = len(MAGIC) + 8
    header = json.loads(data[start : start + n])
    header.update(change)
    new = json.dumps(header).encode()
    body = MAGIC + struct.pack("<Q", len(new)) + new + data[start + n : -32]
    path.write_bytes(body + hashlib.sha256(body).digest())

"""The verified fast encoder, cached beside the tokenizer it describes, so start-up costs what tiktoken's does.

Without it every ``encode-corpus`` parses the 5 MB tokenizer.json in Python, loads the HF reference
(~1 s for Qwen2) and encodes probe texts with both encoders: over a second before the first token.

**Where**: ``<tokenizer dir>/.apr-encoder-cache/<sha256 of tokenizer.json>.bin``. The entry is a fact
about one tokenizer.json and the library versions that checked it, so it lives beside that file like
``tokenizer_meta.json``: it travels with the tokenizer to every machine of an array job (no cold
per-node cache, nothing in a home directory), and the import commands write it, so the first encode
is already fast. A read-only tokenizer directory just means the full check runs every time.

**What**: the tiktoken rank table, pattern and special tokens derived from tokenizer.json; the counts
the manifest records; and the HF reference's ids for the probe texts in both special-text modes.

**Trust**: an entry is used only if the whole file hashes to its trailing sha256 (no torn or
corrupted read), names the exact tokenizer.json sha256 just computed, was written by the same
tiktoken and tokenizers versions and for the same probe texts, and - every run - the encoder built
from it reproduces the recorded HF ids on every probe text. Anything else is ignored with a note and
the full check runs. Writes go to a unique temp file renamed into place, so concurrent writers (array
tasks starting together) and readers only ever see whole entries. This detects corruption, stale and
copied entries; it cannot stop someone who may write the tokenizer directory from forging an entry
consistently, just as they could replace tokenizer.json (whose sha256 the manifest records).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safeio import atomic_write_bytes, read_regular_bytes
from tokenizer.encoders import PROBE_TEXTS, HFEncoder, SpecialText, TiktokenEncoder, TiktokenSpec
from tokenizer.hf_json import TokenizerSummary

CACHE_DIR = ".apr-encoder-cache"
MAGIC = b"APRENGN1"
FORMAT_VERSION = 2


@dataclass(frozen=True)
class CachedEncoder:
    spec: TiktokenSpec
    summary: TokenizerSummary
    warnings: list[str]
    #: the HF reference's ids for each probe text, per special-text mode ("ordinary", "recognize")
    probe_ids: dict[str, list[list[int]]]


def _dist_version(name: str) -> str | None:
    """An installed distribution's version from its dist-info directory name, without importing it
    (importlib.metadata costs ~0.1 s; importing tokenizers loads its native library)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    found = sorted(Path(spec.origin).parent.parent.glob(f"{name}-*.dist-info"))
    return found[0].name[len(name) + 1 : -len(".dist-info")] if len(found) == 1 else None


def _probe_digest() -> str:
    return hashlib.sha256(json.dumps(PROBE_TEXTS).encode()).hexdigest()


def _context() -> dict[str, Any] | None:
    versions = {"tiktoken": _dist_version("tiktoken"), "tokenizers": _dist_version("tokenizers")}
    if None in versions.values():
        return None  # cannot tell which libraries made an entry: never trust one
    return {"format_version": FORMAT_VERSION, **versions, "probe_texts_sha256": _probe_digest()}


def entry_path(directory: Path, tokenizer_sha256: str) -> Path:
    return directory / CACHE_DIR / f"{tokenizer_sha256}.bin"


def load_entry(directory: Path, tokenizer_sha256: str) -> tuple[CachedEncoder | None, str | None]:
    """The cached encoder for this tokenizer.json, or (None, why it was not used; None if simply absent)."""
    path = entry_path(directory, tokenizer_sha256)
    try:
        data = read_regular_bytes(path)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"encoder cache {path.name} unreadable ({exc})"
    why = f"encoder cache {path.name} ignored"
    if len(data) < len(MAGIC) + 8 + 32 or not data.startswith(MAGIC):
        return None, f"{why}: not a cache file"
    if hashlib.sha256(data[:-32]).digest() != data[-32:]:
        return None, f"{why}: its checksum does not match (truncated or modified)"
    (header_len,) = struct.unpack_from("<Q", data, len(MAGIC))
    start = len(MAGIC) + 8
    try:
        header = json.loads(data[start : start + header_len])
    except ValueError:
        return None, f"{why}: unreadable header"
    context = _context()
    if context is None:
        return None, f"{why}: the installed tiktoken/tokenizers versions cannot be determined"
    if header.get("tokenizer_json_sha256") != tokenizer_sha256:
        return None, f"{why}: it describes a different tokenizer.json"
    stale = [k for k, v in context.items() if header.get(k) != v]
    if stale:
        return None, f"{why}: written with a different {', '.join(stale)}"
    payload = memoryview(data)[start + header_len : -32]
    n = int(header["ranks"])
    ids = np.frombuffer(payload, dtype="<u4", count=n).tolist()
    tokens = bytes(payload[4 * n :]).split(bytes.fromhex(header["separator"]))  # one C call, not 151k slices
    if len(tokens) != n:
        return None, f"{why}: its rank table is malformed"
    ranks = dict(zip(tokens, ids, strict=True))
    spec = TiktokenSpec(ranks=ranks, pattern=header["pattern"], special_tokens=header["special_tokens"],
                        nfc=header["nfc"])
    return CachedEncoder(spec=spec, summary=TokenizerSummary(**header["summary"]), warnings=header["warnings"],
                        probe_ids=header["probe_ids"]), None


def _join(tokens: list[bytes]) -> tuple[bytes, bytes]:
    """The tokens joined by a separator that splits them back exactly (so loading is one ``bytes.split``)."""
    for i in range(1000):
        sep = hashlib.sha256(b"apr-separator-%d" % i).digest()[:6]
        blob = sep.join(tokens)
        if blob.split(sep) == tokens:
            return sep, blob
    raise AssertionError("no separator found")  # pragma: no cover - 6 random bytes inside 2 MB of tokens


def store_entry(directory: Path, tokenizer_sha256: str, entry: CachedEncoder) -> str | None:
    """Write the entry atomically; returns why it could not be written (a read-only directory), or None."""
    context = _context()
    if context is None:
        return "the installed tiktoken/tokenizers versions cannot be determined; the encoder check is not cached"
    items = sorted(entry.spec.ranks.items(), key=lambda kv: kv[1])
    tokens = [k for k, _ in items]
    separator, blob = _join(tokens)
    header = json.dumps({
        "format": "apr-encoder-cache", **context, "tokenizer_json_sha256": tokenizer_sha256,
        "pattern": entry.spec.pattern, "special_tokens": entry.spec.special_tokens, "nfc": entry.spec.nfc,
        "summary": dataclasses.asdict(entry.summary), "warnings": entry.warnings, "probe_ids": entry.probe_ids,
        "ranks": len(items), "separator": separator.hex(),
    }).encode()
    body = b"".join([
        MAGIC, struct.pack("<Q", len(header)), header, np.array([v for _, v in items], dtype="<u4").tobytes(), blob,
    ])
    path = entry_path(directory, tokenizer_sha256)
    try:
        path.parent.mkdir(exist_ok=True)
        # a unique temp file renamed into place: concurrent writers and readers only see whole entries; a
        # cache needs no fsync (a torn entry after power loss fails its checksum and is rebuilt)
        atomic_write_bytes(path, body + hashlib.sha256(body).digest(), durable=False)
    except OSError as exc:
        return f"could not write the encoder cache in {directory} ({exc.strerror}); every run repeats the full check"
    return None


MODES: tuple[SpecialText, ...] = ("ordinary", "recognize")


def recorded_mismatch(fast: TiktokenEncoder, recorded: list[list[int]] | None) -> str | None:
    """The first probe text on which ``fast`` differs from the HF ids recorded in a cache entry."""
    if recorded is None or len(recorded) != len(PROBE_TEXTS):
        return "the entry has no reference ids for this mode"
    for i, (text, ids) in enumerate(zip(PROBE_TEXTS, recorded, strict=True)):
        if fast.encode(text).tolist() != ids:
            return f"probe text #{i} no longer gives the recorded HF ids"
    return None


def record_encoder(directory: Path, tokenizer_sha256: str, spec: TiktokenSpec, summary: TokenizerSummary,
                  warnings: list[str], reference: HFEncoder, fast: TiktokenEncoder) -> str | None:
    """Compare the encoders on the probe texts in both special-text modes and, when identical, cache the
    verdict with the reference ids. Returns a note when nothing was cached."""
    probe_ids: dict[str, list[list[int]]] = {}
    try:
        for mode in MODES:
            reference.set_special_text(mode)
            encoder = fast.with_special_text(mode)
            ids = [reference.encode(t).tolist() for t in PROBE_TEXTS]
            if recorded_mismatch(encoder, ids) is not None:
                return f"tiktoken differs from HF tokenizers on a probe text with --special-text {mode}; not cached"
            probe_ids[mode] = ids
    finally:
        reference.set_special_text(fast.special_text)  # as the caller had it
    entry = CachedEncoder(spec=spec, summary=summary, warnings=warnings, probe_ids=probe_ids)
    return store_entry(directory, tokenizer_sha256, entry)

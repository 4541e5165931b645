"""``import-hf`` and ``import-tiktoken``: produce the extracted tokenizer directory.

Both write the same four files - ``tokenizer.json`` (what engines load), ``vocab.json`` and
``merges.txt`` (for humans and other tools), and ``tokenizer_meta.json`` last, so a directory with a
meta file is a complete import.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from safeio import JSONInputError, atomic_write_bytes, atomic_write_text, read_json, read_regular_bytes
from tokenizer.encoder_cache import record_encoder
from tokenizer.encoders import HFEncoder, TiktokenEncoder, TiktokenSpec, tiktoken_spec
from tokenizer.errors import TokenizeError, json_error
from tokenizer.hf_json import TokenizerDefinition, build_tokenizer_json, check_ids, parse_tokenizer_json
from tokenizer.loader import TOKENIZER_FILE, check_vocab_format
from tokenizer.meta import META_FILE, FastEncoderCheck, SourceInfo, TokenizerMeta
from tokenizer.pattern import check_pattern, check_pretokenizer
from tokenizer.presets import DEFAULT_NORMALIZER, PATTERNS, QWEN2_MODEL_VOCAB_SIZE, SPECIAL_TOKEN_SETS
from tokenizer.ranks import check_byte_level, derive_merges, parse_tiktoken_ranks, read_ranks_file
from tokenizer.resources import find_qwen_tiktoken
from tokenizer.version import PRODUCER


def _check_output(output: Path, force: bool) -> None:
    """Checked before any work, so a typo in --output fails in milliseconds, not after the import."""
    if output.exists() and not output.is_dir():
        raise TokenizeError("exists and is not a directory", where=str(output))
    if output.is_dir() and any(output.iterdir()) and not force:
        raise TokenizeError(
            "output directory is not empty", where=str(output), fix="choose an empty directory or pass --force"
        )


def _merges_txt(defn: TokenizerDefinition) -> str:
    return "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in defn.merges)


def _guess_eos(specials: dict[str, int], declared: str | None) -> str | None:
    if "<|endoftext|>" in specials:
        return "<|endoftext|>"
    return declared if declared in specials else None


def write_extracted(
    output: Path, data: bytes, defn: TokenizerDefinition, *, source: SourceInfo, vocab_size: int | None,
    eos_token: str | None, warnings: list[str], fast: TiktokenSpec | str,
) -> TokenizerMeta:
    sha = hashlib.sha256(data).hexdigest()
    if vocab_size is not None and vocab_size < defn.effective_vocab_count:
        warnings.append(
            f"model vocab_size {vocab_size} is smaller than the tokenizer's {defn.effective_vocab_count} ids: "
            "ids at or above vocab_size would index past the embedding table"
        )
    meta = TokenizerMeta(
        producer=PRODUCER,
        tokenizer_json_sha256=sha,
        **defn.counts(),
        vocab_size=vocab_size,
        special_tokens=defn.special_tokens(),
        eos_token=eos_token,
        pre_tokenizer_pattern=defn.pattern,
        normalizer=defn.normalizer_name,
        source=source,
        fast_engine=FastEncoderCheck(
            eligible=isinstance(fast, TiktokenSpec),
            reason=None if isinstance(fast, TiktokenSpec) else fast,
            tokenizer_json_sha256=sha,
        ),
        warnings=warnings,
    )
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(output / TOKENIZER_FILE, data)
    vocab = dict(sorted(defn.vocab.items(), key=lambda kv: kv[1]))
    atomic_write_text(output / "vocab.json", json.dumps(vocab, ensure_ascii=False, indent=0) + "\n")
    atomic_write_text(output / "merges.txt", _merges_txt(defn))
    atomic_write_text(output / META_FILE, meta.model_dump_json(indent=2) + "\n")
    if isinstance(fast, TiktokenSpec):  # check the fast engine against HF now, so the first encode starts fast
        record_encoder(output, sha, fast, defn.summary(), warnings, HFEncoder(data.decode("utf-8"), "ordinary"),
                       TiktokenEncoder(fast, "ordinary"))
    return meta


def _read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file beside the tokenizer, or None when absent; a FIFO or hostile JSON is refused, located."""
    if not path.exists():
        return None
    try:
        obj = read_json(path)
    except JSONInputError as exc:
        raise json_error(exc) from None
    return obj if isinstance(obj, dict) else None


def import_hf(source: Path | str, output: Path | str, *, force: bool = False) -> TokenizerMeta:
    """Extract a byte-level BPE tokenizer from an HF model directory or a tokenizer.json file."""
    source, output = Path(source), Path(output)
    tj = source / TOKENIZER_FILE if source.is_dir() else source
    if not tj.exists():
        extra = " (found vocab.json/merges.txt only)" if (source / "vocab.json").is_file() else ""
        raise TokenizeError(
            f"no tokenizer.json{extra}",
            where=str(source),
            fix="pass an HF model directory containing tokenizer.json, or the tokenizer.json file itself",
        )
    _check_output(output, force)
    data = read_regular_bytes(tj)
    defn = parse_tokenizer_json(data, str(tj))
    check_ids(defn)
    check_pretokenizer(defn)
    warnings = check_vocab_format(defn)
    try:
        from tokenizers import Tokenizer

        Tokenizer.from_str(data.decode("utf-8"))
    except Exception as exc:  # the reference implementation must accept what we extract
        raise TokenizeError(f"HF tokenizers cannot load this file: {exc}", where=str(tj)) from None
    config = _read_json(tj.parent / "config.json")
    tok_config = _read_json(tj.parent / "tokenizer_config.json") or {}
    vocab_size = config.get("vocab_size") if config else None
    if vocab_size is not None and (not isinstance(vocab_size, int) or isinstance(vocab_size, bool)):
        raise TokenizeError(f"vocab_size {vocab_size!r} is not an integer", where=str(tj.parent / "config.json"))
    declared_eos = tok_config.get("eos_token")
    if isinstance(declared_eos, dict):
        declared_eos = declared_eos.get("content")
    fast = tiktoken_spec(defn)
    return write_extracted(
        output, data, defn,
        source=SourceInfo(kind="hf-tokenizer-json", path=str(tj), sha256=hashlib.sha256(data).hexdigest()),
        vocab_size=vocab_size,
        eos_token=_guess_eos(defn.special_tokens(), declared_eos if isinstance(declared_eos, str) else None),
        warnings=warnings,
        fast=fast,
    )


def _special_tokens_arg(value: str) -> dict[str, int]:
    if value in SPECIAL_TOKEN_SETS:
        return dict(SPECIAL_TOKEN_SETS[value])
    path = Path(value)
    obj = _read_json(path)
    if obj is None or not all(isinstance(k, str) and isinstance(v, int) for k, v in obj.items()):
        raise TokenizeError(
            f"--special-tokens {value!r} is neither a preset ({', '.join(SPECIAL_TOKEN_SETS)}) nor a JSON "
            "file mapping token text to id",
            fix='write a JSON object like {"<|endoftext|>": 100257}',
        )
    return obj


def import_tiktoken(
    ranks_path: Path | str | None,
    output: Path | str,
    *,
    pattern: str = "qwen2",
    special_tokens: str = "qwen2",
    normalizer: str = "auto",
    model_vocab_size: int | None = None,
    force: bool = False,
) -> TokenizerMeta:
    """Convert a tiktoken rank file into the extracted form (vocab + merges derived from ranks)."""
    if ranks_path is None:
        if pattern != "qwen2":
            raise TokenizeError("--ranks is required unless --pattern is qwen2", fix="pass --ranks FILE")
        ranks_path = find_qwen_tiktoken()
    ranks_path, output = Path(ranks_path), Path(output)
    _check_output(output, force)
    regex = PATTERNS.get(pattern, pattern)
    check_pattern(regex, f"--pattern {pattern!r}" if pattern in PATTERNS else "--pattern")
    if normalizer == "auto":
        norm = DEFAULT_NORMALIZER.get(pattern)
    elif normalizer in ("NFC", "nfc"):
        norm = "NFC"
    elif normalizer == "none":
        norm = None
    else:
        raise TokenizeError(f"unknown --normalizer {normalizer!r}", fix="use auto, nfc or none")
    specials = _special_tokens_arg(special_tokens)
    ranks_bytes = read_ranks_file(ranks_path)
    ranks = parse_tiktoken_ranks(ranks_bytes, str(ranks_path))
    check_byte_level(ranks, str(ranks_path))
    n = len(ranks)
    for tok, idx in specials.items():
        if idx < n:
            raise TokenizeError(
                f"special token {tok!r} has id {idx}, which is a BPE rank (ranks are 0..{n - 1})",
                where=str(ranks_path),
                fix="special token ids must come after the last rank",
            )
    if sorted(specials.values()) != list(range(n, n + len(specials))):
        raise TokenizeError(
            f"special token ids {min(specials.values())}..{max(specials.values())} do not continue the {n} ranks "
            f"(expected {n}..{n + len(specials) - 1})",
            where=f"--special-tokens {special_tokens}",
            fix="use a special-token table made for this rank file (the qwen2 preset needs the full Qwen2 ranks)",
        )
    merges = derive_merges(ranks, str(ranks_path))
    obj = build_tokenizer_json(ranks, merges, regex, specials, norm)
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    defn = parse_tokenizer_json(data, str(output / TOKENIZER_FILE))
    check_ids(defn)
    if model_vocab_size is None and pattern == "qwen2" and special_tokens == "qwen2":
        model_vocab_size = QWEN2_MODEL_VOCAB_SIZE
    fast = tiktoken_spec(defn, check_merges=False)  # merges were derived from these ranks just above
    return write_extracted(
        output, data, defn,
        source=SourceInfo(
            kind="tiktoken-ranks", path=str(ranks_path),
            sha256=hashlib.sha256(ranks_bytes).hexdigest(),
        ),
        vocab_size=model_vocab_size,
        eos_token=_guess_eos(specials, None),
        warnings=[],
        fast=fast,
    )

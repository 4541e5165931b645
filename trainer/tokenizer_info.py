"""How many distinct ids a tokenizer can emit: the ``tokenizer_vocab`` of the preflight gate.

The count is BPE entries plus added/special tokens, counted as distinct ids (the contract's
precondition). Sources, in order: a HF ``tokenizer.json``; a JSON descriptor stating
``vocab_size`` (as ``apr tokenize import-tiktoken`` writes); a ``*.tiktoken`` rank file plus the
special tokens listed next to it. Reading the count from the tokenizer itself (not from the
model config) is the point: the gate compares two independent numbers.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.errors import TrainerInputError

_DESCRIPTOR_NAMES = ("tokenizer_meta.json", "tokenizer_manifest.json", "tokenizer.apr.json", "manifest.json")


class TokenizerInfoError(TrainerInputError):
    """The tokenizer's vocabulary size could not be determined."""


@dataclass(frozen=True)
class TokenizerVocab:
    size: int
    source: str


def _hf_tokenizer_json(path: Path) -> int:
    data = json.loads(path.read_text(encoding="utf-8"))
    vocab = (data.get("model") or {}).get("vocab") or {}
    ids = set(vocab.values()) if isinstance(vocab, dict) else set(range(len(vocab)))
    ids.update(int(t["id"]) for t in data.get("added_tokens") or [])
    if not ids:
        raise TokenizerInfoError(f"{path}: tokenizer.json has no vocabulary")
    return len(ids)


def _descriptor_size(data: dict[str, Any]) -> int | None:
    # effective_vocab_count (distinct ids) first: tokenizer_meta.json's vocab_size is the *model's*
    # declared row count (e.g. 151,936), which is exactly the number the gate must not be fed.
    for key in ("effective_vocab_count", "tokenizer_vocab_size", "n_vocab", "vocab_size"):
        if isinstance(data.get(key), int):
            return int(data[key])
    tok = data.get("tokenizer")
    if isinstance(tok, dict):
        return _descriptor_size(tok)
    return None


def _tiktoken_size(path: Path) -> int:
    ids: set[int] = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            tok, rank = line.split()
            base64.b64decode(tok, validate=True)
            ids.add(int(rank))
        except ValueError as exc:
            raise TokenizerInfoError(f"{path}:{lineno}: not a tiktoken rank line") from exc
    specials_path = path.with_name("special_tokens.json")
    if specials_path.is_file():
        specials = json.loads(specials_path.read_text(encoding="utf-8"))
        values = specials.values() if isinstance(specials, dict) else [s["id"] for s in specials]
        ids.update(int(v) for v in values)
    return len(ids)


def read_tokenizer_vocab(path: str | Path) -> TokenizerVocab:
    p = Path(path)
    if not p.exists():
        raise TokenizerInfoError(f"{p}: tokenizer path does not exist")
    try:
        if p.is_dir():
            if (p / "tokenizer.json").is_file():
                return TokenizerVocab(_hf_tokenizer_json(p / "tokenizer.json"), str(p / "tokenizer.json"))
            for name in _DESCRIPTOR_NAMES:
                if (p / name).is_file():
                    size = _descriptor_size(json.loads((p / name).read_text(encoding="utf-8")))
                    if size is not None:
                        return TokenizerVocab(size, str(p / name))
            ranks = sorted(p.glob("*.tiktoken"))
            if len(ranks) == 1:
                return TokenizerVocab(_tiktoken_size(ranks[0]), str(ranks[0]))
            raise TokenizerInfoError(
                f"{p}: no tokenizer.json, no JSON descriptor with vocab_size, and not exactly one *.tiktoken file"
            )
        if p.name.endswith(".tiktoken"):
            return TokenizerVocab(_tiktoken_size(p), str(p))
        if p.suffix == ".json":
            data = json.loads(p.read_text(encoding="utf-8"))
            if "model" in data and "added_tokens" in data:
                return TokenizerVocab(_hf_tokenizer_json(p), str(p))
            size = _descriptor_size(data)
            if size is not None:
                return TokenizerVocab(size, str(p))
        raise TokenizerInfoError(f"{p}: unrecognised tokenizer file")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise TokenizerInfoError(f"{p}: cannot read tokenizer: {exc}") from exc

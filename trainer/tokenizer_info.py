"""Which ids a tokenizer can emit: the distinct count and the id space (max id + 1) of the preflight gate.

Both are taken over BPE entries plus added/special tokens. The gate compares the **id space** with
the model's rows (the contract's precondition): an embedding lookup indexes by id, so 512 ids spread
over 0..511,000 need 511,001 rows, however few of them there are. The count is kept for messages.
Sources, in order: a HF ``tokenizer.json``; a JSON descriptor stating ``effective_vocab_count``
(+ ``max_token_id``, as ``apr tokenize import-*`` writes) or ``vocab_size``; a ``*.tiktoken`` rank
file plus the special tokens listed next to it. Reading the numbers from the tokenizer itself (not
from the model config) is the point: the gate compares two independent numbers.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safeio import RefusedInputError, read_json, read_regular_text, regular_files
from trainer.errors import TrainerInputError

_DESCRIPTOR_NAMES = ("tokenizer_meta.json", "tokenizer_manifest.json", "tokenizer.apr.json", "manifest.json")


class TokenizerInfoError(TrainerInputError):
    """The tokenizer's vocabulary size could not be determined."""


@dataclass(frozen=True)
class TokenizerVocab:
    size: int  #: distinct ids
    source: str
    max_id: int | None = None  #: the largest id, when the source states it (None: ids are taken as 0..size-1)

    @property
    def id_space(self) -> int:
        """Rows an embedding table needs for every id this tokenizer can emit: max id + 1."""
        return self.size if self.max_id is None else self.max_id + 1


def _json_object(path: Path) -> dict[str, Any]:
    data = read_json(path)  # a FIFO or device is refused; nesting, integer size and non-finite numbers bounded
    if not isinstance(data, dict):
        raise TokenizerInfoError(f"{path}: cannot read tokenizer: expected a JSON object, found {type(data).__name__}")
    return data


def _from_ids(ids: set[Any], source: Path) -> TokenizerVocab:
    if not all(type(i) is int for i in ids):  # JSON true, 1.5 or "7" is not a token id
        raise TokenizerInfoError(f"{source}: token ids must be integers")
    if not ids:
        raise TokenizerInfoError(f"{source}: the tokenizer has no vocabulary")
    if min(ids) < 0:
        raise TokenizerInfoError(f"{source}: token id {min(ids)} is negative")
    return TokenizerVocab(len(ids), str(source), max(ids))


def _hf_tokenizer_json(path: Path, data: dict[str, Any] | None = None) -> TokenizerVocab:
    data = _json_object(path) if data is None else data
    vocab = (data.get("model") or {}).get("vocab") or {}
    ids = set(vocab.values()) if isinstance(vocab, dict) else set(range(len(vocab)))
    ids.update(t["id"] for t in data.get("added_tokens") or [])
    return _from_ids(ids, path)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None  # JSON true is not a count


def _descriptor_size(data: dict[str, Any], source: Path) -> TokenizerVocab | None:
    # effective_vocab_count (distinct ids) first: tokenizer_meta.json's vocab_size is the *model's*
    # declared row count (e.g. 151,936), which is exactly the number the gate must not be fed.
    for key in ("effective_vocab_count", "tokenizer_vocab_size", "n_vocab", "vocab_size"):
        size = _int(data.get(key))
        if size is not None:
            max_id = _int(data.get("max_token_id"))
            if max_id is not None and max_id + 1 < size:
                raise TokenizerInfoError(f"{source}: max_token_id {max_id} is below {key} {size} - 1")
            return TokenizerVocab(size, str(source), max_id)
    tok = data.get("tokenizer")
    if isinstance(tok, dict):
        return _descriptor_size(tok, source)
    return None


def _tiktoken_size(path: Path) -> TokenizerVocab:
    ids: set[Any] = set()
    for lineno, line in enumerate(read_regular_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            tok, rank = line.split()
            base64.b64decode(tok, validate=True)
            ids.add(int(rank))
        except ValueError as exc:
            raise TokenizerInfoError(f"{path}:{lineno}: not a tiktoken rank line") from exc
    specials_path = path.with_name("special_tokens.json")
    if specials_path.exists():
        specials = read_json(specials_path)
        values = specials.values() if isinstance(specials, dict) else [s["id"] for s in specials]
        ids.update(values)
    return _from_ids(ids, path)


def read_tokenizer_vocab(path: str | Path) -> TokenizerVocab:
    p = Path(path)
    if not p.exists():
        raise TokenizerInfoError(f"{p}: tokenizer path does not exist")
    try:
        if p.is_dir():
            if (p / "tokenizer.json").exists():
                return _hf_tokenizer_json(p / "tokenizer.json")
            for name in _DESCRIPTOR_NAMES:
                if (p / name).exists():
                    found = _descriptor_size(_json_object(p / name), p / name)
                    if found is not None:
                        return found
            ranks, unreadable = regular_files(p, lambda name: name.endswith(".tiktoken"))
            if unreadable:
                raise TokenizerInfoError(f"{p}: rank files that are not regular files: {'; '.join(unreadable)}")
            if len(ranks) == 1:
                return _tiktoken_size(ranks[0])
            raise TokenizerInfoError(
                f"{p}: no tokenizer.json, no JSON descriptor with vocab_size, and not exactly one *.tiktoken file"
            )
        if p.name.endswith(".tiktoken"):
            return _tiktoken_size(p)
        if p.suffix == ".json":
            data = _json_object(p)
            if "model" in data and "added_tokens" in data:
                return _hf_tokenizer_json(p, data)
            found = _descriptor_size(data, p)
            if found is not None:
                return found
        raise TokenizerInfoError(f"{p}: unrecognised tokenizer file")
    except RefusedInputError as exc:  # a FIFO or device, or JSON beyond the reader's limits
        raise TokenizerInfoError(f"--tokenizer: {exc}") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TokenizerInfoError(f"{p}: cannot read tokenizer: {exc}") from None

"""Read and write HF ``tokenizer.json`` for byte-level BPE, rejecting anything else with a reason.

The parsed :class:`TokenizerDefinition` is the one in-memory description every other module uses
(counts, engine selection, the extracted vocab.json/merges.txt), so the rules about what counts as a
token id live in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from safeio import JSONInputError, loads_json
from tokenizer.bytelevel import bytes_to_token, token_to_bytes
from tokenizer.errors import TokenizeError, json_error
from tokenizer.presets import GPT2_PATTERN


@dataclass(frozen=True)
class AddedToken:
    content: str
    id: int
    special: bool = True
    normalized: bool = False
    lstrip: bool = False
    rstrip: bool = False
    single_word: bool = False


@dataclass(frozen=True)
class TokenizerSummary:
    """What encoding needs to know about a tokenizer besides its engine: small enough to cache."""

    counts: dict[str, int]  # TokenizerDefinition.counts()
    normalizer: dict[str, Any] | None
    pattern: str | None
    special_tokens: dict[str, int]
    unk_id: int | None

    @property
    def effective_vocab_count(self) -> int:
        return self.counts["effective_vocab_count"]

    @property
    def normalizer_name(self) -> str | None:
        return None if self.normalizer is None else str(self.normalizer.get("type"))


@dataclass
class TokenizerDefinition:
    vocab: dict[str, int]
    merges: list[tuple[str, str]]
    added_tokens: list[AddedToken]
    pattern: str | None
    normalizer: dict[str, Any] | None
    pre_tokenizer: dict[str, Any] | None
    decoder: dict[str, Any] | None
    model: dict[str, Any] = field(default_factory=dict)
    source: str = "tokenizer.json"

    @property
    def bpe_vocab_count(self) -> int:
        return len(self.vocab)

    @property
    def merges_count(self) -> int:
        return len(self.merges)

    @property
    def added_tokens_count(self) -> int:
        return len(self.added_tokens)

    @property
    def all_ids(self) -> set[int]:
        return set(self.vocab.values()) | {t.id for t in self.added_tokens}

    @property
    def effective_vocab_count(self) -> int:
        return len(self.all_ids)

    @property
    def max_token_id(self) -> int:
        return max(self.all_ids)

    @cached_property
    def vocab_bytes(self) -> dict[str, bytes | None]:
        """Raw bytes of every vocab entry (None where it is not a byte-level spelling)."""
        return {tok: token_to_bytes(tok) for tok in self.vocab}

    @property
    def normalizer_name(self) -> str | None:
        return None if self.normalizer is None else str(self.normalizer.get("type"))

    def special_tokens(self) -> dict[str, int]:
        return {t.content: t.id for t in self.added_tokens}

    def counts(self) -> dict[str, int]:
        """The sizes recorded wherever a tokenizer is described (tokenizer_meta.json, a shard manifest)."""
        return {
            "bpe_vocab_count": self.bpe_vocab_count,
            "merges_count": self.merges_count,
            "added_tokens_count": self.added_tokens_count,
            "effective_vocab_count": self.effective_vocab_count,
            "max_token_id": self.max_token_id,
        }
    def token_id(self, content: str) -> int | None:
        for t in self.added_tokens:
            if t.content == content:
                return t.id
        return self.vocab.get(content)

    def summary(self) -> TokenizerSummary:
        unk = self.model.get("unk_token")
        return TokenizerSummary(
            counts=self.counts(), normalizer=self.normalizer, pattern=self.pattern,
            special_tokens=self.special_tokens(), unk_id=None if not isinstance(unk, str) else self.token_id(unk),
        )


def _fail(source: str, what: str, fix: str | None = None) -> TokenizeError:
    return TokenizeError(what, where=source, fix=fix)


def walk_pretokenizers(node: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not isinstance(node, dict):  # None, or junk in a hand-edited file: no usable step
        return []
    if node.get("type") == "Sequence":
        children = node.get("pretokenizers")
        return [p for child in (children if isinstance(children, list) else []) for p in walk_pretokenizers(child)]
    return [node]


def _pattern_of(pre: dict[str, Any] | None) -> str | None:
    for step in walk_pretokenizers(pre):
        if step.get("type") == "Split" and isinstance(step.get("pattern"), dict):
            regex = step["pattern"].get("Regex")
            if isinstance(regex, str):
                return regex
        if step.get("type") == "ByteLevel" and step.get("use_regex", True):
            return GPT2_PATTERN
    return None


def is_byte_level(pre: dict[str, Any] | None) -> bool:
    return any(step.get("type") == "ByteLevel" for step in walk_pretokenizers(pre))


def _parse_merges(raw: list[Any], source: str) -> list[tuple[str, str]]:
    """Both serializations HF has used: "a b" strings (tokenizers < 0.20) and ["a", "b"] pairs."""
    kinds = {type(m) for m in raw}
    if kinds == {str}:
        pairs: list[Any] = [m.split(" ") for m in raw]
    elif kinds <= {str, list}:
        pairs = [m.split(" ") if type(m) is str else m for m in raw]
    else:
        pairs = []
    if raw and (not pairs or {len(p) for p in pairs} != {2} or {type(x) for p in pairs for x in p} != {str}):
        i, m = next((i, m) for i, m in enumerate(raw)
                    if not (isinstance(m, str) and len(m.split(" ")) == 2)
                    and not (isinstance(m, list) and len(m) == 2 and all(isinstance(x, str) for x in m)))
        raise _fail(source, f"merge #{i} is {m!r}; expected 'a b' or ['a', 'b']")
    return [(a, b) for a, b in pairs]


#: Settings that make encoding random: a tokenizer with any of them set gives different ids for the same
#: text on two runs, so shards are not reproducible and a resume is not byte-identical.
NONDETERMINISTIC_SETTINGS = {
    "dropout": "BPE dropout (merges skipped at random)",
    "enable_sampling": "subword sampling",
    "nbest_size": "n-best subword sampling",
    "alpha": "sampling smoothing (subword regularization)",
}


def _random_settings(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{path}.{k}" if path else str(k)
            if k in NONDETERMINISTIC_SETTINGS and v not in (None, 0, 0.0, False):
                yield here, v
            elif k not in ("vocab", "merges"):
                yield from _random_settings(v, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _random_settings(v, f"{path}[{i}]")


def check_deterministic(obj: dict[str, Any], source: str) -> None:
    """Refuse a tokenizer whose encoding is random (BPE dropout, any sampling), naming the setting."""
    for key in ("model", "normalizer", "pre_tokenizer", "post_processor", "decoder"):
        for where, value in _random_settings(obj.get(key), key):
            what = NONDETERMINISTIC_SETTINGS[where.rsplit(".", 1)[-1]]
            raise _fail(
                source,
                f"non-deterministic tokenizer: {where} = {value!r} enables {what}; the same text would encode "
                "to different ids on two runs, so shards could not be reproduced or resumed byte-identically",
                f"set {where} to null (it is a training-time regularizer, not for encoding a corpus)",
            )


def parse_tokenizer_json(data: bytes, source: str) -> TokenizerDefinition:
    try:  # bounded: a 5000-digit integer, arrays nested 100k deep or NaN are located refusals, not crashes
        obj = loads_json(data, source)
    except JSONInputError as exc:
        raise json_error(exc) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("model"), dict):
        raise _fail(source, "no `model` object; this is not an HF tokenizer.json")
    if obj.get("normalizer") is not None and not isinstance(obj["normalizer"], dict):
        raise _fail(source, "`normalizer` must be an object or null")
    model = obj["model"]
    check_deterministic(obj, source)
    model_type = model.get("type") or ("BPE" if "merges" in model else None)
    if model_type != "BPE":
        raise _fail(
            source,
            f"model type is {model_type or 'unknown'!s}, not BPE",
            "only byte-level BPE tokenizers (GPT-2/Qwen/Llama-3 style) can be imported",
        )
    pre = obj.get("pre_tokenizer")
    if not is_byte_level(pre):
        raise _fail(
            source,
            "BPE without a ByteLevel pre-tokenizer (e.g. SentencePiece-style '▁' BPE) is not byte-level",
            "only byte-level BPE tokenizers can be imported",
        )
    vocab = model.get("vocab")
    if not isinstance(vocab, dict) or not vocab:
        raise _fail(source, "model.vocab is missing or empty")
    if {type(i) for i in vocab.values()} != {int} or min(vocab.values()) < 0:
        tok, idx = next((t, i) for t, i in vocab.items() if type(i) is not int or i < 0)
        raise _fail(source, f"vocab entry {tok!r} has id {idx!r}; ids must be non-negative integers")
    if len(set(vocab.values())) != len(vocab):
        raise _fail(source, "two vocab entries share one id", "every BPE token needs its own id")
    merges = _parse_merges(model.get("merges") or [], source)
    added: list[AddedToken] = []
    for i, t in enumerate(obj.get("added_tokens") or []):
        if not isinstance(t, dict) or not isinstance(t.get("content"), str) or type(t.get("id")) is not int \
                or t["id"] < 0:
            raise _fail(source, f"added_tokens[{i}] needs a string `content` and a non-negative integer `id`")
        added.append(
            AddedToken(
                content=t["content"],
                id=t["id"],
                special=bool(t.get("special", False)),
                normalized=bool(t.get("normalized", not t.get("special", False))),
                lstrip=bool(t.get("lstrip", False)),
                rstrip=bool(t.get("rstrip", False)),
                single_word=bool(t.get("single_word", False)),
            )
        )
    body = {k: v for k, v in model.items() if k not in ("vocab", "merges")}
    body["type"] = "BPE"
    return TokenizerDefinition(
        vocab=vocab,
        merges=merges,
        added_tokens=added,
        pattern=_pattern_of(pre),
        normalizer=obj.get("normalizer"),
        pre_tokenizer=pre,
        decoder=obj.get("decoder"),
        model=body,
        source=source,
    )


def check_ids(defn: TokenizerDefinition) -> None:
    """Ids must be exactly 0..effective-1: the trainer sizes its embedding table by the distinct count."""
    by_id = {i: tok for tok, i in defn.vocab.items()}
    for t in defn.added_tokens:
        other = by_id.get(t.id)
        if other is not None and other != t.content:
            raise _fail(defn.source, f"added token {t.content!r} reuses id {t.id} of BPE token {other!r}")
    if defn.max_token_id + 1 != defn.effective_vocab_count:
        raise _fail(
            defn.source,
            f"token ids are not contiguous: {defn.effective_vocab_count} distinct ids but the largest is "
            f"{defn.max_token_id}",
            "renumber the vocabulary to 0..N-1; a gap would let an id exceed the vocab the model is sized by",
        )


_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}


def build_tokenizer_json(
    ranks: dict[bytes, int],
    merges: list[tuple[bytes, bytes]],
    pattern: str,
    special_tokens: dict[str, int],
    normalizer: str | None,
) -> dict[str, Any]:
    """An HF tokenizer.json equivalent to tiktoken's ``Encoding(pattern, ranks, special_tokens)``."""
    vocab = {bytes_to_token(tok): rank for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1])}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": idx,
                "content": content,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for content, idx in sorted(special_tokens.items(), key=lambda kv: kv[1])
        ],
        "normalizer": {"type": normalizer} if normalizer else None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
                dict(_BYTE_LEVEL),
            ],
        },
        "post_processor": dict(_BYTE_LEVEL),
        "decoder": dict(_BYTE_LEVEL),
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": vocab,
            "merges": [f"{bytes_to_token(a)} {bytes_to_token(b)}" for a, b in merges],
        },
    }

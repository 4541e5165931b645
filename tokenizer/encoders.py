"""Encoders (text -> token ids) and the rule for when the fast one may stand in for the reference.

HF ``tokenizers`` is the reference: it is what a model's tokenizer.json means. A tiktoken
``Encoding`` built from the same vocabulary is about 5x faster, but it is only used when

1. the definition is structurally one tiktoken can express (:func:`tiktoken_spec` says why not
   otherwise): byte-level BPE, a Split regex + ByteLevel pre-tokenizer, no normalizer or NFC,
   only plain special added tokens, and merges exactly equal to those tiktoken's rank rule implies;
2. both encoders give identical ids on built-in probe texts and on a sample of the corpus itself
   (:func:`probe_mismatch`), checked on every run.

The test suite adds property-based and real-code equivalence checks on top.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from tokenizer.bytelevel import token_to_bytes
from tokenizer.errors import EngineError, TokenizeError, engine_failure, is_engine_panic
from tokenizer.hf_json import TokenizerDefinition, walk_pretokenizers
from tokenizer.ranks import iter_merges

SpecialText = Literal["ordinary", "recognize"]
EncoderKind = Literal["tiktoken", "hf"]


class Encoder(Protocol):
    """Encodes text to uint32 ids and decodes them back; ``name`` is what the manifest records as ``run.engine``."""

    name: str

    def encode(self, text: str) -> np.ndarray: ...

    def encode_many(self, texts: list[str]) -> list[np.ndarray]: ...

    def decode_bytes(self, ids: np.ndarray) -> bytes: ...


@dataclass(frozen=True)
class TiktokenSpec:
    ranks: dict[bytes, int]
    pattern: str
    special_tokens: dict[str, int]
    nfc: bool


@dataclass(frozen=True)
class EncoderSpec:
    """Everything a worker process needs to rebuild the encoder (picklable)."""

    kind: EncoderKind
    special_text: SpecialText
    tiktoken: TiktokenSpec | None = None
    tokenizer_json: str | None = None


def _structural_reason(defn: TokenizerDefinition) -> str | None:
    steps = walk_pretokenizers(defn.pre_tokenizer)
    kinds = [s.get("type") for s in steps]
    if kinds == ["Split", "ByteLevel"]:
        split, byte_level = steps
        if split.get("behavior") != "Isolated" or split.get("invert"):
            return "the Split pre-tokenizer is not behavior=Isolated, invert=false"
        if not isinstance(split.get("pattern"), dict) or "Regex" not in split["pattern"]:
            return "the Split pre-tokenizer pattern is not a regex"
        if byte_level.get("use_regex", True):
            return "ByteLevel after Split also applies the GPT-2 regex (use_regex=true)"
    elif kinds != ["ByteLevel"] or not steps[0].get("use_regex", True):
        return f"pre-tokenizer chain {kinds} is not Split+ByteLevel or a regex ByteLevel"
    if any(s.get("add_prefix_space") for s in steps if s.get("type") == "ByteLevel"):
        return "ByteLevel add_prefix_space=true has no tiktoken equivalent"
    if defn.normalizer is not None and defn.normalizer != {"type": "NFC"}:
        return f"normalizer {defn.normalizer.get('type')} has no tiktoken equivalent"
    model = defn.model
    if model.get("dropout") not in (None, 0, 0.0):
        return "BPE dropout is random"
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        return "continuing_subword_prefix/end_of_word_suffix are set"
    for t in defn.added_tokens:
        if not t.special or t.normalized or t.lstrip or t.rstrip or t.single_word:
            return f"added token {t.content!r} is not a plain special token"
    return None


def _regex_reason(pattern: str) -> str | None:
    """Why tiktoken's regex engine (fancy-regex) cannot run ``pattern``, if it cannot (Oniguruma may)."""
    import tiktoken

    try:
        tiktoken.Encoding("apr-regex-probe", pat_str=pattern, mergeable_ranks={bytes([b]): b for b in range(256)},
                          special_tokens={})
    except ValueError as exc:
        return f"tiktoken's regex engine rejects the pre-tokenizer pattern ({str(exc).splitlines()[0][:120]})"
    return None


def tiktoken_spec(defn: TokenizerDefinition, *, check_merges: bool = True) -> TiktokenSpec | str:
    """The tiktoken description of ``defn``, or a sentence saying why there is none."""
    reason = _structural_reason(defn)
    if reason is not None:
        return reason
    assert defn.pattern is not None
    reason = _regex_reason(defn.pattern)
    if reason is not None:
        return reason
    added = {t.content: t.id for t in defn.added_tokens}
    ranks: dict[bytes, int] = {}
    as_bytes = defn.vocab_bytes
    for tok, idx in defn.vocab.items():
        if added.get(tok) == idx:
            continue  # an added token listed in the vocab too (GPT-2's <|endoftext|>) is special only
        raw = as_bytes[tok]
        if raw is None:
            return f"vocab entry {tok!r} is not a byte-level token"
        ranks[raw] = idx
    if any(bytes([b]) not in ranks for b in range(256)):
        return "some of the 256 single-byte tokens are missing"
    if check_merges:
        reason = _merge_difference(ranks, defn)
        if reason is not None:
            return reason
    return TiktokenSpec(ranks=ranks, pattern=defn.pattern, special_tokens=added, nfc=defn.normalizer is not None)


def _merge_difference(ranks: dict[bytes, int], defn: TokenizerDefinition) -> str | None:
    """Compare the HF merge list with the one tiktoken's rank rule implies, stopping at the first difference."""
    derived = iter_merges(ranks, defn.source)
    i = -1
    try:
        for i, (a, b) in enumerate(defn.merges):
            want = next(derived, None)
            got = (token_to_bytes(a), token_to_bytes(b))
            if want != got:
                return f"merges differ from the rank order tiktoken would use (first difference at merge #{i}: " \
                    f"{a!r} {b!r})"
        if next(derived, None) is not None:
            return f"merges differ from the rank order tiktoken would use (only {i + 1} merges listed)"
    except TokenizeError as exc:
        return f"vocabulary is not a BPE rank table: {exc.what}"
    return None


_ENGINE_FIX = ("the tokenizer's pre-tokenizer regex backtracks catastrophically on this text (or matches empty "
               "text): fix the regex and re-import the tokenizer, or remove the document from the corpus")


@contextlib.contextmanager
def engine_errors(engine: str, texts: Sequence[str] = (), raises: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Turn a failure inside an engine's Rust code into an ``EngineError`` (exit 2) naming the document.

    A Rust panic reaches Python as ``pyo3_runtime.PanicException``, a ``BaseException`` that no
    ``except Exception`` stops, so it used to end the process with exit 1; tokenizers reports its own
    errors as a bare ``Exception``, tiktoken a regex failure (its backtracking limit) as ``ValueError``
    (``raises``). Anything else (a bug here, ``MemoryError``, Ctrl-C) passes through.
    """
    try:
        yield
    except BaseException as exc:
        if not (is_engine_panic(exc) or type(exc) is Exception or isinstance(exc, raises)):
            raise
        doc = f" on a document starting {texts[0][:60]!r}" if len(texts) == 1 else (
            f" on one of {len(texts)} documents (the first starts {texts[0][:60]!r})" if texts else "")
        raise EngineError(f"the {engine} encoder failed{doc}: {engine_failure(exc)}", fix=_ENGINE_FIX) from None


class TiktokenEncoder:
    name = "tiktoken"

    def __init__(self, spec: TiktokenSpec, special_text: SpecialText) -> None:
        import tiktoken

        try:
            self._enc = tiktoken.Encoding(
                "apr-bpe",
                pat_str=spec.pattern,
                mergeable_ranks=spec.ranks,
                special_tokens=spec.special_tokens,
            )
        except ValueError as exc:  # the pattern does not compile in tiktoken's regex engine
            raise TokenizeError(f"tiktoken cannot build this tokenizer: {exc}", fix="use --engine hf") from None
        self._nfc = spec.nfc
        self.special_text = special_text
        self._recognize = special_text == "recognize"
        self._special_ids = spec.special_tokens
        self._special_re = (
            re.compile("|".join(re.escape(s) for s in sorted(spec.special_tokens, key=len, reverse=True)))
            if spec.special_tokens
            else None
        )

    def with_special_text(self, special_text: SpecialText) -> TiktokenEncoder:
        """The same encoder (sharing its tiktoken Encoding) in the other special-text mode."""
        other = copy.copy(self)
        other.special_text = special_text
        other._recognize = special_text == "recognize"
        return other

    def _norm(self, text: str) -> str:
        if self._nfc and not text.isascii() and not unicodedata.is_normalized("NFC", text):
            return unicodedata.normalize("NFC", text)
        return text

    def _ordinary(self, text: str) -> np.ndarray:
        with engine_errors(self.name, [text], raises=(ValueError,)):  # no special token is disallowed here
            return self._enc.encode_to_numpy(self._norm(text), allowed_special=set(), disallowed_special=())

    def encode(self, text: str) -> np.ndarray:
        if not self._recognize or self._special_re is None:
            return self._ordinary(text)
        # HF extracts added tokens before normalizing, so normalize each segment separately.
        parts: list[np.ndarray] = []
        pos = 0
        for m in self._special_re.finditer(text):
            if m.start() > pos:
                parts.append(self._ordinary(text[pos : m.start()]))
            parts.append(np.array([self._special_ids[m.group()]], dtype=np.uint32))
            pos = m.end()
        if pos < len(text) or not parts:
            parts.append(self._ordinary(text[pos:]))
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def encode_many(self, texts: list[str]) -> list[np.ndarray]:
        return [self.encode(t) for t in texts]

    def decode_bytes(self, ids: np.ndarray) -> bytes:
        with engine_errors(self.name):
            return self._enc.decode_bytes([int(i) for i in ids])


class HFEncoder:
    name = "hf-tokenizers"

    def __init__(self, tokenizer_json: str, special_text: SpecialText) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from tokenizers import Tokenizer

        try:
            self._tok = Tokenizer.from_str(tokenizer_json)
        except Exception as exc:  # tokenizers raises a bare Exception: unknown merge token, bad regex, ...
            raise TokenizeError(f"HF tokenizers cannot load this tokenizer.json: {engine_failure(exc)}",
                                fix="re-import the tokenizer with `apr tokenize import-hf` (which checks that HF "
                                "loads it) or restore the original file") from None
        self.set_special_text(special_text)

    def set_special_text(self, special_text: SpecialText) -> None:
        self._tok.encode_special_tokens = special_text == "ordinary"

    def encode(self, text: str) -> np.ndarray:
        with engine_errors(self.name, [text]):
            return np.asarray(self._tok.encode(text, add_special_tokens=False).ids, dtype=np.uint32)

    def encode_many(self, texts: list[str]) -> list[np.ndarray]:
        try:
            with engine_errors(self.name, texts):
                encs = self._tok.encode_batch(texts, add_special_tokens=False)
        except EngineError:
            if len(texts) > 1:
                for text in texts:  # name the document that fails (its own error is raised here)
                    self.encode(text)
            raise
        return [np.asarray(e.ids, dtype=np.uint32) for e in encs]

    def decode_bytes(self, ids: np.ndarray) -> bytes:
        with engine_errors(self.name):
            text = self._tok.decode([int(i) for i in ids], skip_special_tokens=False)
        return text.encode("utf-8", "surrogatepass")


def build_encoder(spec: EncoderSpec) -> Encoder:
    if spec.kind == "tiktoken":
        assert spec.tiktoken is not None
        return TiktokenEncoder(spec.tiktoken, spec.special_text)
    assert spec.tokenizer_json is not None
    return HFEncoder(spec.tokenizer_json, spec.special_text)


#: Texts chosen to hit every branch of the Qwen/GPT-style regexes and the byte-level fallback.
PROBE_TEXTS: tuple[str, ...] = (
    "def f(x):\n    return x ** 2  # square\n\n\n",
    "class A(B):\r\n\tpass\r\n",
    "I'M here, you'RE there; it's 'quoted' and DON'T\n",
    "   leading spaces and trailing   \n  \n\t\t\n",
    "numbers 1234567890 3.14159 1e-9 0xFF_FF",
    "Unicode: naïve café Ελληνικά русский 中文字符 日本語 한국어 العربية עברית हिन्दी",
    "combining: e\u0301 a\u0308 \u1e9b\u0323 n\u0303 — nfc vs nfd",
    "emoji 👩\u200d💻🚀 flags 🇺🇸 \U0001f600 and \u00a0nbsp\u2009thin\u3000ideographic",
    "odd whitespace \u0085 next line \u2028 sep \u2029 para \x0b\x0c end",
    "special tokens <|endoftext|> <|im_start|>user<|im_end|> <tool_call></tool_call> <|endoftext",
    "<|endoftext|>\u0338 after special",
    "mixed CASE 'S 'T 'Re 'VE 'M 'LL 'D words\n",
    "!!!???...,,,;;;:::+++---***///\\\\\\|||",
    "",
)


def probe_mismatch(candidate: Encoder, reference: Encoder, texts: list[str]) -> str | None:
    """The first text on which the encoders disagree, described; None when they agree on all."""
    for i, text in enumerate(list(PROBE_TEXTS) + texts):
        a = candidate.encode(text)
        b = reference.encode(text)
        if not np.array_equal(a, b):
            kind = f"probe text #{i}" if i < len(PROBE_TEXTS) else f"corpus sample #{i - len(PROBE_TEXTS)}"
            j = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
            return f"{kind}: ids differ at position {j} ({candidate.name} {a[j:j + 4].tolist()} vs " \
                f"{reference.name} {b[j:j + 4].tolist()})"
    return None

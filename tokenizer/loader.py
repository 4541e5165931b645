"""Load an extracted tokenizer directory and decide which encoder may encode with it.

Loading is where the wrong-vocab-format class of bug is caught first: a vocab.json whose entries
are raw strings (``" the"``) instead of byte-level spellings (``"Ġthe"``) still loads in HF
``tokenizers`` and silently turns most text into ``<unk>`` or nothing at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pydantic import ValidationError

from safeio import NotRegularFileError, read_regular_bytes
from tokenizer.bytelevel import token_to_bytes
from tokenizer.encoder_cache import MODES, load_entry, recorded_mismatch
from tokenizer.encoders import EncoderSpec, SpecialText, TiktokenEncoder, TiktokenSpec, tiktoken_spec
from tokenizer.errors import TokenizeError
from tokenizer.hf_json import TokenizerDefinition, TokenizerSummary, check_ids, parse_tokenizer_json
from tokenizer.meta import META_FILE, TokenizerMeta
from tokenizer.pattern import check_pretokenizer

TOKENIZER_FILE = "tokenizer.json"
#: More than this share of vocab entries outside the byte alphabet means the vocab is not byte-level.
MAX_NON_BYTE_LEVEL_SHARE = 0.01


@dataclass
class LoadedTokenizer:
    """An extracted tokenizer directory. ``definition`` (the parsed tokenizer.json, ~1 s for Qwen2) is only
    built when something needs it: with a valid encoder cache, encoding never does."""

    directory: Path
    data: bytes  # tokenizer.json
    sha256: str
    meta: TokenizerMeta | None
    fast: TiktokenSpec | str
    summary: TokenizerSummary
    warnings: list[str] = field(default_factory=list)
    #: True when ``fast`` came from the encoder cache and reproduced the HF ids it records on every probe text
    cache_verified: bool = False
    notes: list[str] = field(default_factory=list)

    @cached_property
    def json_text(self) -> str:
        return self.data.decode("utf-8")

    @cached_property
    def definition(self) -> TokenizerDefinition:
        return parse_tokenizer_json(self.data, str(self.directory / TOKENIZER_FILE))

    @property
    def effective_vocab_count(self) -> int:
        return self.summary.effective_vocab_count

    @property
    def pattern(self) -> str | None:
        """The pre-tokenizer regex (None: the whole text is one piece)."""
        return self.summary.pattern

    @property
    def unk_id(self) -> int | None:
        return self.summary.unk_id

    def token_id(self, content: str) -> int | None:
        if content in self.summary.special_tokens:
            return self.summary.special_tokens[content]
        if "definition" not in self.__dict__ and isinstance(self.fast, TiktokenSpec):
            raw = token_to_bytes(content)  # byte-level spelling -> the rank table's raw bytes
            return None if raw is None else self.fast.ranks.get(raw)
        return self.definition.vocab.get(content)

    def tiktoken_encoder(self, special_text: SpecialText) -> TiktokenEncoder:
        """The fast encoder, built once per tokenizer (constructing tiktoken's Encoding is the costly part)."""
        assert isinstance(self.fast, TiktokenSpec)
        built: TiktokenEncoder | None = self.__dict__.get("_tiktoken")
        if built is None:
            built = self.__dict__["_tiktoken"] = TiktokenEncoder(self.fast, special_text)
        return built.with_special_text(special_text)

    def encoder_spec(self, kind: str, special_text: SpecialText) -> EncoderSpec:
        if kind == "tiktoken":
            if not isinstance(self.fast, TiktokenSpec):
                raise TokenizeError(
                    f"the tiktoken encoder is not equivalent to this tokenizer: {self.fast}",
                    where=str(self.directory),
                    fix="use --engine auto or --engine hf",
                )
            return EncoderSpec(kind="tiktoken", special_text=special_text, tiktoken=self.fast)
        return EncoderSpec(kind="hf", special_text=special_text, tokenizer_json=self.json_text)


def non_byte_level_entries(defn: TokenizerDefinition) -> list[str]:
    added = {t.content for t in defn.added_tokens}
    return [tok for tok, raw in defn.vocab_bytes.items() if raw is None and tok not in added]


def check_vocab_format(defn: TokenizerDefinition) -> list[str]:
    """Refuse a vocab that is not spelled in the byte-level alphabet; warn about a few odd entries."""
    bad = non_byte_level_entries(defn)
    share = len(bad) / max(1, len(defn.vocab))
    examples = ", ".join(repr(t) for t in bad[:3])
    if share > MAX_NON_BYTE_LEVEL_SHARE:
        raise TokenizeError(
            f"vocab is not in byte-level format: {len(bad)} of {len(defn.vocab)} entries ({share:.1%}) use "
            f"characters outside the byte alphabet, e.g. {examples}",
            where=defn.source,
            fix="byte-level vocabularies spell a space as 'Ġ' and a newline as 'Ċ'; re-export the tokenizer "
            "with HF tokenizers, or use import-tiktoken for a raw-bytes rank file",
        )
    return [f"{len(bad)} vocab entries are not byte-level strings (e.g. {examples})"] if bad else []


def read_tokenizer_json(path: Path) -> tuple[str, bytes]:
    try:
        data = read_regular_bytes(path)  # a FIFO or device is refused by name, never read
    except NotRegularFileError:
        raise
    except OSError as exc:
        raise TokenizeError(f"cannot read: {exc.strerror}", where=str(path)) from None
    try:
        return data.decode("utf-8"), data
    except UnicodeDecodeError:
        raise TokenizeError("not UTF-8 text", where=str(path)) from None


def _read_meta(meta_path: Path, sha: str) -> TokenizerMeta | None:
    if not meta_path.exists():
        return None
    try:
        meta = TokenizerMeta.model_validate_json(read_regular_bytes(meta_path))
    except ValidationError as exc:
        raise TokenizeError(
            f"invalid {META_FILE}: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}",
            where=str(meta_path),
            fix="re-run the import command that produced this directory",
        ) from None
    if meta.tokenizer_json_sha256 != sha:
        raise TokenizeError(
            f"{META_FILE} describes a different tokenizer.json (sha256 {meta.tokenizer_json_sha256[:12]}…, "
            f"file is {sha[:12]}…)",
            where=str(meta_path),
            fix="re-run the import command; tokenizer.json was edited or replaced after import",
        )
    return meta


def load_tokenizer(path: Path | str, *, use_cache: bool = True) -> LoadedTokenizer:
    """Load ``DIR/tokenizer.json`` (+ ``tokenizer_meta.json`` when present) and pick the encoder rules.

    With ``use_cache``, a valid encoder cache entry for these exact bytes (see :mod:`tokenizer.encoder_cache`)
    replaces parsing tokenizer.json.
    """
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    tj_path = path / TOKENIZER_FILE if path.is_dir() else path
    if not tj_path.exists():
        raise TokenizeError(
            f"no {TOKENIZER_FILE} found",
            where=str(path),
            fix="point --tokenizer at a directory made by `apr tokenize import-hf` or `import-tiktoken`",
        )
    text, data = read_tokenizer_json(tj_path)
    sha = hashlib.sha256(data).hexdigest()
    meta = _read_meta(directory / META_FILE, sha)
    notes: list[str] = []
    if use_cache:
        cached, why = load_entry(directory, sha)
        if cached is not None:
            tok = LoadedTokenizer(directory=directory, data=data, sha256=sha, meta=meta, fast=cached.spec,
                                  summary=cached.summary, warnings=cached.warnings)
            # the entry is trusted only if the encoder built from it reproduces the recorded HF ids
            why = next((f"encoder cache ignored: {m}" for mode in MODES
                        if (m := recorded_mismatch(tok.tiktoken_encoder(mode), cached.probe_ids.get(mode)))), None)
            if why is None:
                tok.cache_verified = True
                return tok
        if why is not None:
            notes.append(why)
    defn = parse_tokenizer_json(data, str(tj_path))
    check_ids(defn)
    check_pretokenizer(defn)  # a hand-edited regex must not reach an encoder that panics on it
    warnings = check_vocab_format(defn)
    if meta is not None and meta.fast_engine.tokenizer_json_sha256 == sha:
        # The 1-2 s merge re-derivation was done at import time for these exact bytes.
        fast = tiktoken_spec(defn, check_merges=False) if meta.fast_engine.eligible else (
            meta.fast_engine.reason or "not eligible"
        )
    else:
        fast = tiktoken_spec(defn)
    tok = LoadedTokenizer(directory=directory, data=data, sha256=sha, meta=meta, fast=fast, summary=defn.summary(),
                          warnings=warnings, notes=notes)
    tok.__dict__["definition"] = defn
    tok.__dict__["json_text"] = text
    return tok

"""Pre-tokenizer regexes are checked before they are trusted: they compile, never match empty text, run in bounded time.

A pre-tokenizer regex comes from ``--pattern`` or from a ``tokenizer.json`` anyone may have edited,
and both encoders run it on every document in Rust, where a bad one does not raise but panics:
tiktoken indexes past a slice on an empty match (``(?=a)``, ``x*``, the empty pattern), and HF's
Oniguruma gives up on catastrophic backtracking (``(a|aa)+$``) with a panic. A panic is a
``BaseException``, so it escaped every handler and exited 1, which ``apr`` documents as "target
val_loss not reached". So a pattern is refused at import and at load unless it

1. is not empty and compiles in the reference engine (HF tokenizers / Oniguruma);
2. runs over the probe texts plus adversarial runs (a long run of one letter, digit, space, symbol)
   in HF without hitting Oniguruma's backtracking limit, and within :data:`PROBE_TIMEOUT_S` in the
   ``regex`` module (a backtracking engine like Oniguruma, but one that can be timed out);
3. never matches the empty string on those texts.

What probing cannot see (a document that backtracks where no probe does) is still caught: the
encoders turn an engine panic into a located error (``tokenizer.encoders``), exit 2.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from tokenizer.encoders import PROBE_TEXTS
from tokenizer.errors import TokenizeError, engine_failure, is_engine_panic
from tokenizer.hf_json import TokenizerDefinition, walk_pretokenizers

#: Wall-clock bound on running a pattern over all probe texts in the ``regex`` module.
PROBE_TIMEOUT_S = 5.0

_ADVERSARIAL = tuple(ch * 1024 + tail for ch in ("a", "1", " ", "!", "é", "\n") for tail in ("", "!", "a", " "))


def _probe_texts() -> Iterator[str]:
    yield from PROBE_TEXTS
    yield from _ADVERSARIAL


def _refuse(pattern: str, where: str, what: str, fix: str) -> TokenizeError:
    shown = pattern if len(pattern) <= 120 else pattern[:117] + "..."
    return TokenizeError(f"pre-tokenizer regex {shown!r} {what}", where=where, fix=fix)


_FIX = ("use a regex that splits text into non-empty pieces, e.g. a preset (--pattern qwen2 or gpt2) or the "
        "pattern published with the tokenizer")


def check_pattern(pattern: str, where: str) -> None:
    """Raise a located ``TokenizeError`` unless ``pattern`` is safe to hand to both encoders."""
    if not isinstance(pattern, str) or not pattern:
        raise _refuse(str(pattern), where, "is empty: it matches the empty string everywhere", _FIX)
    from tokenizers import Regex, pre_tokenizers

    try:
        split = pre_tokenizers.Split(Regex(pattern), "isolated")
    except Exception as exc:  # tokenizers raises a bare Exception carrying Oniguruma's message
        raise _refuse(pattern, where, f"does not compile in HF tokenizers: {exc}", _FIX) from None
    texts = list(_probe_texts())
    for text in texts:
        try:
            with _rust_panic_message_hidden():
                split.pre_tokenize_str(text)
        except BaseException as exc:  # a pyo3 PanicException (retry-limit-in-match over) is a BaseException
            if not is_engine_panic(exc) and not isinstance(exc, Exception):
                raise
            raise _refuse(pattern, where, f"fails in HF tokenizers on a {len(text)}-character probe text "
                          f"({engine_failure(exc)}): catastrophic backtracking", _FIX) from None
    _check_matches(pattern, where, texts)


@contextlib.contextmanager
def _rust_panic_message_hidden() -> Iterator[None]:
    """Rust's panic hook writes to file descriptor 2 before pyo3 raises; here the raised error says it all."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _check_matches(pattern: str, where: str, texts: list[str]) -> None:
    import time

    import regex

    try:
        compiled = regex.compile(pattern)
    except (regex.error, ValueError, OverflowError):
        return  # Oniguruma-only syntax: the HF run above is the check; tiktoken_spec reports its own verdict
    deadline = time.monotonic() + PROBE_TIMEOUT_S
    for text in texts:
        remaining = deadline - time.monotonic()
        try:
            for m in compiled.finditer(text, timeout=max(remaining, 0.01)):
                if m.end() == m.start():
                    raise _refuse(pattern, where, f"matches the empty string (at offset {m.start()} of the probe "
                                  f"text {text[:40]!r}); tiktoken panics on an empty piece", _FIX)
        except TimeoutError:
            raise _refuse(pattern, where, f"takes over {PROBE_TIMEOUT_S:g} s on the probe texts (at a "
                          f"{len(text)}-character text starting {text[:12]!r}): catastrophic backtracking",
                          _FIX) from None


def check_pretokenizer(defn: TokenizerDefinition) -> None:
    """``check_pattern`` on every Split regex of a tokenizer.json's pre-tokenizer chain (and no empty Split string)."""
    for i, step in enumerate(walk_pretokenizers(defn.pre_tokenizer)):
        if step.get("type") != "Split":
            continue
        pat = step.get("pattern")
        where = f"{defn.source}: pre_tokenizer step {i} (Split)"
        if isinstance(pat, dict) and "Regex" in pat:
            check_pattern(pat["Regex"], where)
        elif not (isinstance(pat, dict) and isinstance(pat.get("String"), str) and pat["String"]):
            raise TokenizeError(f"the Split pattern {pat!r} is neither a regex nor a non-empty string", where=where,
                                fix=_FIX)

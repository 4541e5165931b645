"""The bound on pathological text: a document with a pre-tokenizer piece longer than a limit is refused.

BPE merges within one pre-tokenized piece, and its cost grows faster than linearly with the piece's
length: tiktoken 0.14 encodes a 10 MB line of one letter 7x slower per character than source code,
older versions take minutes. Such a piece (a minified blob, a scraping bug, a DNA dump) is not
language; encoding it would cost a worker that long and give the model one huge useless token run.
So a document containing a piece longer than ``max_piece_chars`` (default 100,000) is a bad line,
located and handled by ``--on-error skip|fail`` like invalid JSON. Everything else is encoded
unchanged: ids stay identical to the reference engine for all text that is not refused.

The check costs nothing for a document shorter than the limit (no piece can be longer). A longer
document is first screened in C speed (numpy): for the Qwen2 and GPT-2 patterns, every piece lies
within a run of characters of one ASCII class (letters, digits, whitespace, punctuation; a non-ASCII
character matches any class) plus one prefix character, except punctuation followed by newlines,
which is two such runs; so a piece longer than L needs such a run of at least R = (L-1)//2, and such a
run contains a whole aligned block of R//2 characters with fewer than two classes. Only when some
block is like that are the real pieces computed with the tokenizer's own regex. For any other pattern
every document longer than the limit is split into its real pieces; a tokenizer with no pre-tokenizer
regex has one piece per document.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenizer.presets import GPT2_PATTERN, QWEN2_PATTERN

DEFAULT_MAX_PIECE_CHARS = 100_000
#: Patterns whose pieces are bounded by ASCII class runs as described above.
CLASS_RUN_PATTERNS = frozenset({QWEN2_PATTERN, GPT2_PATTERN})


def _ascii_classes() -> np.ndarray:
    table = np.zeros(128, dtype=np.uint8)  # 0: could be anything (controls are \s in some engines only)
    for c in range(128):
        ch = chr(c)
        if ch.isalpha():
            table[c] = 1
        elif ch.isdigit():
            table[c] = 2
        elif ch in " \t\n\r\x0b\x0c":
            table[c] = 3
        elif 0x21 <= c <= 0x7E:
            table[c] = 4
    return table


_CLASSES = _ascii_classes()


def may_hold_class_run(text: str, run: int) -> bool:
    """False only if no stretch of ``run`` characters is of one ASCII class (non-ASCII = any class).

    Such a stretch contains a whole aligned block of ``run // 2`` characters, so it is enough that every
    block holds two different classes: four vectorized comparisons, no index arrays (a 10 MB document
    is screened in tens of milliseconds).
    """
    if text.isascii():
        cls = _CLASSES[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    else:
        cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        cls = np.where(cp < 128, _CLASSES[np.minimum(cp, 127)], 0).astype(np.uint8)
    block = max(1, run // 2)
    blocks = cls[: cls.size // block * block].reshape(-1, block)
    classes_per_block = sum((blocks == c).any(axis=1).astype(np.uint8) for c in (1, 2, 3, 4))
    return bool((classes_per_block < 2).any())


class PieceGuard:
    """Finds the first piece longer than ``limit`` characters, cheaply for ordinary text."""

    def __init__(self, pattern: str | None, limit: int) -> None:
        self.pattern = pattern
        self.limit = limit
        self._screen = pattern in CLASS_RUN_PATTERNS
        self._regex: Any = None

    def _pieces(self, text: str) -> Any:
        if self.pattern is None:
            return iter([(0, len(text))])
        if self._regex is None:
            import regex

            self._regex = regex.compile(self.pattern)
        return (m.span() for m in self._regex.finditer(text))

    def long_piece(self, text: str) -> tuple[int, int] | None:
        """(start, length) of the first piece longer than the limit, or None."""
        if self.limit <= 0 or len(text) <= self.limit:
            return None
        if self._screen and not may_hold_class_run(text, (self.limit - 1) // 2):
            return None
        for start, end in self._pieces(text):
            if end - start > self.limit:
                return start, end - start
        return None

    def problem(self, text: str) -> str | None:
        found = self.long_piece(text)
        if found is None:
            return None
        start, length = found
        return (
            f"a single pre-tokenizer piece of {length:,} characters (at character {start + 1:,}) exceeds "
            f"--max-piece-chars {self.limit:,}: BPE cost grows faster than linearly with a piece's length, and "
            "text like this is a scraping or minification artifact, not language"
        )

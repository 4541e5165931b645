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
which is two such runs. Only when such a run reaches half the limit are the real pieces computed with
the tokenizer's own regex. For any other pattern every document longer than the limit is split into
its real pieces; a tokenizer with no pre-tokenizer regex has one piece per document.
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


def longest_class_run(text: str) -> int:
    """Length of the longest stretch with no two characters of different ASCII classes (non-ASCII = wildcard)."""
    if text.isascii():
        cls = _CLASSES[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    else:
        cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        cls = np.where(cp < 128, _CLASSES[np.minimum(cp, 127)], 0).astype(np.uint8)
    n = int(cls.size)
    idx = np.flatnonzero(cls)
    if idx.size == 0:
        return n
    c = cls[idx]
    change = np.flatnonzero(c[1:] != c[:-1]) + 1  # where, among classified characters, a new class starts
    left = np.concatenate(([-1], idx[change - 1]))  # the last character of the previous class
    right = np.concatenate((idx[change], [n]))  # the first character of the next class
    return int((right - left - 1).max())


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
        if self._screen and 2 * longest_class_run(text) + 1 < self.limit:
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

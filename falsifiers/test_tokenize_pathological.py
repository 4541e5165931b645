"""Falsifier FALSIFY-TOK-013: pathological text is refused, before BPE ever sees it; ordinary text is untouched.

A 10 MB line of one letter is a single pre-tokenizer piece; BPE's cost grows faster than linearly with
a piece's length (tiktoken 0.14 takes ~7x longer per character on it than on source code, older
versions minutes). ``encode-corpus`` refuses a document with a piece over ``--max-piece-chars``
(default 100,000) as a located bad line, whichever encoder runs; ``--on-error skip`` drops exactly
that document. The check itself must be cheap and exact:

- the 10 MB document never reaches the encoder (a spy records every text it is given);
- no document of the Python standard library (31M characters of real code) is refused, so its ids
  are those of the unguarded encoder, and a guarded and an unguarded encode-corpus run agree byte for byte;
- the guard's C-speed screen never hides a long piece: on generated texts (letters, digits, spaces,
  newlines, punctuation, non-ASCII letters and marks, long runs) its answer equals a brute-force scan
  of the real pieces, for the Qwen2 and GPT-2 patterns.

Negative case: a screen that only looks for runs of letters misses a long run of punctuation followed
by newlines (one Qwen2 piece), and the brute-force comparison reports it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenizer import pieces as pieces_mod
from tokenizer import worker as worker_mod
from tokenizer.encode import encode_corpus
from tokenizer.errors import CorpusLineError
from tokenizer.manifest import read_manifest
from tokenizer.options import EncodeOptions
from tokenizer.pieces import DEFAULT_MAX_PIECE_CHARS, PieceGuard
from tokenizer.presets import GPT2_PATTERN, QWEN2_PATTERN
from tokenizer.shards import read_tokens
from tokenizer.testing import cached_small, cached_small_dir, stdlib_documents, write_jsonl

PATHOLOGICAL = "a" * 10_000_000


def brute_force(pattern: str, text: str, limit: int) -> tuple[int, int] | None:
    """The first real piece longer than ``limit``, by scanning every piece."""
    for m in regex.finditer(pattern, text):
        if m.end() - m.start() > limit:
            return m.start(), m.end() - m.start()
    return None


def _corpus(tmp: Path, with_line: bool) -> Path:
    docs = [t for _, t in stdlib_documents(60_000, start=500)]
    lines: list[str] = docs[:3] + ([PATHOLOGICAL] if with_line else []) + docs[3:]
    return write_jsonl(tmp / ("with.jsonl" if with_line else "without.jsonl"), lines)


def _encode(corpus: Path, out: Path, **kw: object) -> Path:
    opts = EncodeOptions(corpus=corpus, tokenizer=cached_small_dir(), output=out, shard_tokens=3_000, workers=1,
                         progress="none", durable=False, **kw)  # type: ignore[arg-type]
    encode_corpus(opts, tokenizer=cached_small())
    return out


@pytest.mark.falsifies("FALSIFY-TOK-013")
@pytest.mark.parametrize("engine", ["tiktoken", "hf"])
def test_a_10mb_line_of_letters_is_refused_before_bpe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      engine: str) -> None:
    seen: list[int] = []
    real_current = worker_mod.current_encoder

    def spying_encoder() -> object:
        encoder = real_current()

        class Spy:
            name = encoder.name

            def encode_many(self, texts: list[str]) -> list[np.ndarray]:
                seen.extend(len(t) for t in texts)
                return encoder.encode_many(texts)

        return Spy()

    monkeypatch.setattr(worker_mod, "current_encoder", spying_encoder)
    corpus = _corpus(tmp_path, with_line=True)
    with pytest.raises(CorpusLineError) as err:
        _encode(corpus, tmp_path / "fail", engine=engine)
    assert err.value.where == "with.jsonl:4"
    assert "a single pre-tokenizer piece of 10,000,000 characters" in err.value.what and "--on-error skip" in str(
        err.value)
    skipped = read_manifest(_encode(corpus, tmp_path / "skip", engine=engine, on_error="skip"))
    assert [(s.file, s.line) for s in skipped.skipped] == [("with.jsonl", 4)] and skipped.complete
    assert max(seen) < DEFAULT_MAX_PIECE_CHARS  # the 10 MB document never reached the encoder
    without = _encode(_corpus(tmp_path, with_line=False), tmp_path / "without", engine=engine)
    assert read_tokens(tmp_path / "skip").tobytes() == read_tokens(without).tobytes()


@pytest.mark.falsifies("FALSIFY-TOK-013")
def test_no_stdlib_document_is_refused_so_ordinary_ids_are_unchanged(tmp_path: Path) -> None:
    guard = PieceGuard(QWEN2_PATTERN, DEFAULT_MAX_PIECE_CHARS)
    docs = [t for _, t in stdlib_documents(10**9)]
    assert sum(map(len, docs)) > 25_000_000 and sum(len(d) > DEFAULT_MAX_PIECE_CHARS for d in docs) >= 20
    assert [i for i, d in enumerate(docs) if guard.long_piece(d) is not None] == []
    # at a limit just under the longest real piece, the guard finds exactly what a full scan finds
    sample = [d for d in docs if len(d) > 2_000][:150]
    for d in sample:
        assert PieceGuard(QWEN2_PATTERN, 60).long_piece(d) == brute_force(QWEN2_PATTERN, d, 60)
    corpus = write_jsonl(tmp_path / "c.jsonl", docs[:400])
    guarded = _encode(corpus, tmp_path / "guarded")
    unguarded = _encode(corpus, tmp_path / "unguarded", max_piece_chars=0)
    assert read_tokens(guarded).tobytes() == read_tokens(unguarded).tobytes()


_ALPHABET = st.sampled_from(["a", "Z", "é", "中", "\u0301", "7", "٣", " ", "\n", "\r", "\t", "!", "<", "—",
                             "\u00a0", "\x1c", "'s", "'"])
_TEXT = st.lists(st.tuples(_ALPHABET, st.integers(1, 40)), max_size=25).map(
    lambda runs: "".join(ch * n for ch, n in runs))


@pytest.mark.falsifies("FALSIFY-TOK-013")
@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXT, limit=st.integers(2, 60))
def test_the_screen_never_hides_a_long_piece(text: str, limit: int) -> None:
    for pattern in (QWEN2_PATTERN, GPT2_PATTERN):
        assert PieceGuard(pattern, limit).long_piece(text) == brute_force(pattern, text, limit)


@pytest.mark.falsifies("FALSIFY-TOK-013")
def test_a_screen_that_only_counts_letters_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "x" + "!" * 30 + "\n" * 30  # one Qwen2 piece of 60: punctuation, then the newlines it swallows
    assert PieceGuard(QWEN2_PATTERN, 50).long_piece(text) == brute_force(QWEN2_PATTERN, text, 50) == (1, 60)

    def letters_only(t: str, run: int) -> bool:
        return regex.search(rf"\p{{L}}{{{run}}}", t) is not None

    monkeypatch.setattr(pieces_mod, "may_hold_class_run", letters_only)
    assert PieceGuard(QWEN2_PATTERN, 50).long_piece(text) != brute_force(QWEN2_PATTERN, text, 50)

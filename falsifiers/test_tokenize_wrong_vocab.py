"""Falsifier FALSIFY-TOK-008: a wrong-format vocabulary is refused (round trip / unk rate), never encoded.

The incident: a loader accepted a vocab in the wrong format and produced a corpus that was 99.99%
``<unk>``; training on it "passed" with val_loss 0.0008. Three broken tokenizers are built from a
good one: (A) vocab keys as raw strings instead of byte-level spellings, (B) byte-level but missing
every non-ASCII byte, with an ``<unk>`` token, and (C) the same without ``<unk>``, where HF
tokenizers silently *drops* what it cannot spell. encode-corpus must refuse each before writing a
shard, and a corpus whose unknown tokens appear only after the checked sample must still fail the
run on its unknown-token rate. The negative case disables the guards and shows the same input then
"succeeds" with silently lossy output - so the guards, not luck, are what stop it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tokenizer import encode as encode_mod
from tokenizer import loader as loader_mod
from tokenizer.bytelevel import token_to_bytes
from tokenizer.encode import EncodeOptions, encode_corpus
from tokenizer.encoders import HFEncoder
from tokenizer.errors import TokenizeError, VerificationError
from tokenizer.manifest import read_manifest
from tokenizer.shards import read_tokens, verify_output
from tokenizer.testing import cached_small, stdlib_documents, write_jsonl


def _write(directory: Path, obj: dict) -> Path:
    directory.mkdir(parents=True)
    (directory / "tokenizer.json").write_text(json.dumps(obj, ensure_ascii=False))
    return directory


def _renumbered(obj: dict, keep: list[str], extra: list[str]) -> dict:
    """Keep ``keep`` vocab entries (+ ``extra``) with contiguous ids; added tokens follow them."""
    vocab = {t: i for i, t in enumerate(keep + extra)}
    kept = set(vocab)
    obj["model"]["vocab"] = vocab
    obj["model"]["merges"] = [m for m in obj["model"]["merges"]
                              if all(p in kept for p in m.split(" ")) and m.replace(" ", "") in kept]
    for i, t in enumerate(obj["added_tokens"]):
        t["id"] = len(vocab) + i
    return obj


def raw_string_vocab(directory: Path) -> Path:
    """(A) the classic bug: vocab keys are the raw token text (' the'), not byte-level ('Ġthe')."""
    obj = json.loads((cached_small().directory / "tokenizer.json").read_text())
    keep = [token_to_bytes(t).decode("latin-1") for t in sorted(obj["model"]["vocab"], key=obj["model"]["vocab"].get)]
    obj = _renumbered(obj, [], [*keep, "<unk>"])
    obj["model"]["merges"] = []
    obj["model"]["unk_token"] = "<unk>"
    return _write(directory, obj)


def ascii_only_vocab(directory: Path, with_unk: bool, missing: range = range(0x80, 0x100)) -> Path:
    """(B)/(C) byte-level spelling, but every token containing a byte in ``missing`` removed."""
    obj = json.loads((cached_small().directory / "tokenizer.json").read_text())
    vocab = obj["model"]["vocab"]
    keep = [t for t in sorted(vocab, key=vocab.get) if not set(token_to_bytes(t)) & set(missing)]
    obj = _renumbered(obj, keep, ["<unk>"] if with_unk else [])
    obj["model"]["unk_token"] = "<unk>" if with_unk else None
    return _write(directory, obj)


ASCII_DOCS = [t for _, t in stdlib_documents(30_000, start=50)]
UNICODE_DOC = "# café, naïve, 中文, русский, emoji 🚀\nprint('¿qué?')\n"


def _encode(tmp: Path, tok_dir: Path, docs: list[str], **kw: object) -> Path:
    corpus = write_jsonl(tmp / f"corpus-{tok_dir.name}.jsonl", docs)
    out = tmp / f"out-{tok_dir.name}"
    encode_corpus(EncodeOptions(corpus=corpus, tokenizer=tok_dir, output=out, progress="none", durable=False, **kw))
    return out


@pytest.mark.falsifies("FALSIFY-TOK-008")
def test_wrong_format_vocab_is_refused(tmp_path: Path) -> None:
    docs = [UNICODE_DOC, *ASCII_DOCS]
    # (A) refused at load: most entries are outside the byte alphabet
    with pytest.raises(TokenizeError, match="not in byte-level format"):
        _encode(tmp_path, raw_string_vocab(tmp_path / "A"), docs)
    # (B) and (C) pass the format check but cannot reproduce the sample: refused before any output
    for name, with_unk in [("B", True), ("C", False)]:
        with pytest.raises(VerificationError, match="round trip failed") as err:
            _encode(tmp_path, ascii_only_vocab(tmp_path / name, with_unk), docs)
        assert "corpus-" in str(err.value) and ":1" in str(err.value)  # names the file and line
        assert not (tmp_path / f"out-{name}").exists()


@pytest.mark.falsifies("FALSIFY-TOK-008")
def test_unknown_tokens_after_the_sample_fail_the_run(tmp_path: Path) -> None:
    # only the lead bytes of Armenian (U+0500-U+057F) are missing: the built-in probe texts and the
    # sample (the first 32 documents) round-trip, the Armenian document later on does not
    tok_dir = ascii_only_vocab(tmp_path / "B", with_unk=True, missing=range(0xD4, 0xD6))
    docs = ["x = 1\n"] * 40 + ["# Բարեւ աշխարհ " * 20 + "\n", *ASCII_DOCS]
    with pytest.raises(VerificationError, match="unknown-token rate"):
        _encode(tmp_path, tok_dir, docs)
    m = read_manifest(tmp_path / "out-B")
    assert m.totals.unk_tokens > 0 and m.verification.unk_rate > 0.001  # type: ignore[union-attr]
    assert not m.verification.passed  # type: ignore[union-attr]
    assert any("verification failed" in p for p in verify_output(tmp_path / "out-B").problems)


@pytest.mark.falsifies("FALSIFY-TOK-008")
def test_without_the_guards_the_same_input_is_silently_lossy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader_mod, "check_vocab_format", lambda defn: [])
    monkeypatch.setattr(encode_mod, "check_roundtrip", lambda *a, **k: 0.0)
    docs = [UNICODE_DOC, *ASCII_DOCS]
    tok_dir = ascii_only_vocab(tmp_path / "C", with_unk=False)
    out = _encode(tmp_path, tok_dir, docs, eos_policy="none")  # "succeeds"
    m = read_manifest(out)
    assert m.complete and m.totals.unk_tokens == 0  # no <unk> to count: HF dropped the characters
    text = HFEncoder((tok_dir / "tokenizer.json").read_text(), "ordinary").decode_bytes(read_tokens(out))
    assert text.decode("utf-8") != "".join(docs)
    assert "中文" not in text.decode("utf-8")
    # and the raw-string vocab, with both guards off, encodes into mostly one repeated id
    out_a = _encode(tmp_path, raw_string_vocab(tmp_path / "A"), docs, eos_policy="none", max_unk_rate=1.0)
    ids = read_tokens(out_a)
    assert ids.size and np.count_nonzero(ids == read_manifest(out_a).tokenizer.unk_id) / ids.size > 0.1  # type: ignore[union-attr]

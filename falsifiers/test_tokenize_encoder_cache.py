"""Falsifier FALSIFY-TOK-015: a cached encoder verdict is never trusted unless it still holds.

``encode-corpus`` skips parsing tokenizer.json and loading the HF reference when
``<tokenizer>/.apr-encoder-cache/<sha256>.bin`` holds a verified tiktoken rank table for those exact
bytes. Six kinds of tampering - a flipped byte, a truncated file, an entry for another tokenizer.json,
an entry from another tiktoken version (re-sealed), forged reference ids (re-sealed) and a forged
rank table (re-sealed) - must each be ignored with a note naming why, the full check must run, the
output must be right, and a valid entry must be written back.

Negative case: without the load-time re-check against the recorded reference ids, the forged rank
table is used and the ids it produces differ from the reference's, which the comparison catches.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenizer import loader as loader_mod
from tokenizer.encode import encode_corpus
from tokenizer.encoder_cache import load_entry, store_entry
from tokenizer.options import EncodeOptions
from tokenizer.shards import read_tokens
from tokenizer.testing import cache_entry_file, make_small_tokenizer, reseal_cache_entry, write_jsonl

TEXT = ["the cat sat in the hat", "in the beginning"] * 3


@pytest.fixture
def tok_dir(tmp_path: Path) -> Path:
    make_small_tokenizer(tmp_path / "base", 2048)
    return tmp_path / "base" / "tok"


def forge_ranks(tok_dir: Path) -> None:
    """Swap the ranks of two common tokens and re-seal: a consistent, wrong rank table."""
    path = cache_entry_file(tok_dir)
    entry = load_entry(tok_dir, path.stem)[0]
    assert entry is not None
    ranks = dict(entry.spec.ranks)
    ranks[b" the"], ranks[b"in"] = ranks[b"in"], ranks[b" the"]
    spec = type(entry.spec)(ranks=ranks, pattern=entry.spec.pattern, special_tokens=entry.spec.special_tokens,
                            nfc=entry.spec.nfc)
    assert store_entry(tok_dir, path.stem, type(entry)(spec=spec, summary=entry.summary, warnings=entry.warnings,
                                                      probe_ids=entry.probe_ids)) is None


def _encode(tok_dir: Path, out: Path) -> object:
    corpus = write_jsonl(out.parent / "c.jsonl", TEXT)
    opts = EncodeOptions(corpus=corpus, tokenizer=tok_dir, output=out, progress="none", durable=False)
    return encode_corpus(opts)


@pytest.mark.falsifies("FALSIFY-TOK-015")
@pytest.mark.parametrize(("tamper", "why"), [
    ("flip", "checksum does not match"),
    ("truncate", "checksum does not match"),
    ("other-tokenizer", "describes a different tokenizer.json"),
    ("old-tiktoken", "written with a different tiktoken"),
    ("forged-ids", "probe text #0 no longer gives the recorded HF ids"),
    ("forged-ranks", "probe text"),
])
def test_a_tampered_entry_is_never_trusted(tok_dir: Path, tmp_path: Path, tamper: str, why: str) -> None:
    path = cache_entry_file(tok_dir)
    data = path.read_bytes()
    if tamper == "flip":
        path.write_bytes(data[:-100] + bytes([data[-100] ^ 1]) + data[-99:])
    elif tamper == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif tamper == "other-tokenizer":
        reseal_cache_entry(path, {"tokenizer_json_sha256": "0" * 64})
    elif tamper == "old-tiktoken":
        reseal_cache_entry(path, {"tiktoken": "0.0.1"})
    elif tamper == "forged-ids":
        header_ids = load_entry(tok_dir, path.stem)[0].probe_ids  # type: ignore[union-attr]
        reseal_cache_entry(path, {"probe_ids": {m: [[i + 1 for i in ids] for ids in v] for m, v in header_ids.items()}})
    else:
        forge_ranks(tok_dir)
    reference = read_tokens(_encode_reference(tmp_path))
    manifest = _encode(tok_dir, tmp_path / "o")
    assert any(why in n for n in manifest.run.notes), manifest.run.notes
    assert manifest.run.engine_check.startswith("tiktoken: merges equal the rank order")  # the full check ran
    assert load_entry(tok_dir, path.stem)[0] is not None  # ... and rewrote a valid entry
    assert (read_tokens(tmp_path / "o") == reference).all()
    assert _encode(tok_dir, tmp_path / "again").run.engine_check.startswith(  # type: ignore[attr-defined]
        "tiktoken: equivalence to HF tokenizers cached")


def _encode_reference(tmp_path: Path) -> Path:
    """The same corpus through a fresh import of the same tokenizer (its own, untouched cache)."""
    make_small_tokenizer(tmp_path / "clean", 2048)
    out = tmp_path / "ref" / "o"
    out.parent.mkdir()
    _encode(tmp_path / "clean" / "tok", out)
    return out


@pytest.mark.falsifies("FALSIFY-TOK-015")
def test_without_the_recheck_a_forged_rank_table_gives_wrong_ids(tok_dir: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    reference = read_tokens(_encode_reference(tmp_path))
    forge_ranks(tok_dir)
    monkeypatch.setattr(loader_mod, "recorded_mismatch", lambda encoder, ids: None)  # mutation: trust blindly
    manifest = _encode(tok_dir, tmp_path / "o")
    assert manifest.run.engine_check.startswith("tiktoken: equivalence to HF tokenizers cached")  # type: ignore[attr-defined]
    ids = read_tokens(tmp_path / "o")
    assert ids.size != reference.size or not (ids == reference).all()

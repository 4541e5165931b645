"""Falsifier FALSIFY-TOK-012: the input format does not change the output.

The same documents - real code, unicode, an empty document, a null text (a bad record, skipped) - are
written as one Parquet file (several row groups), and as JSONL, ``.jsonl.gz`` and multi-frame
``.jsonl.zst``. Encoded with the same tokenizer and options (2 workers, small chunks so chunk and
row-group boundaries fall everywhere), every format must give byte-identical shards and the same
totals, per-shard counts and skipped-record list (by line/row and reason). A mixed directory of all
four formats must give the concatenation, in path order.

Negative cases: a zstd reader that decodes only the first frame (what one ``decompressobj`` does;
``pzstd`` and ``zstd -T`` write many frames), and a discovery that drops one format when another is
present (the reference tool's Parquet reader once silently dropped JSONL files), are each caught by
the same comparison.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zstandard

from tokenizer import chunks as chunks_mod
from tokenizer import corpus as corpus_mod
from tokenizer.encode import encode_corpus
from tokenizer.errors import TokenizeError
from tokenizer.manifest import read_manifest
from tokenizer.options import EncodeOptions
from tokenizer.shards import read_tokens
from tokenizer.testing import (
    cached_small,
    cached_small_dir,
    compress_file,
    stdlib_documents,
    write_jsonl,
    write_parquet,
)

FORMATS = ("parquet", "jsonl", "jsonl.gz", "jsonl.zst")


def documents() -> list[str | None]:
    texts = [t for _, t in stdlib_documents(400_000, start=300)]
    docs: list[str | None] = [t[i : i + 2000] for t in texts for i in range(0, len(t), 2000)]
    docs[5:5] = ["", None, "unicode: naïve café 中文 e\u0301 \U0001f600 <|endoftext|>"]
    return docs


def write_as(fmt: str, directory: Path, docs: list[str | None], name: str = "docs") -> Path:
    if fmt == "parquet":
        return write_parquet(directory / f"{name}.parquet", docs, row_group_size=37)
    plain = write_jsonl(directory / f"{name}.jsonl", [{"text": d} for d in docs])
    if fmt == "jsonl":
        return plain
    out = compress_file(plain, directory / f"{name}.{fmt}", frame_bytes=50_000)
    plain.unlink()
    return out


def encode(path: Path, out: Path) -> Path:
    opts = EncodeOptions(corpus=path, tokenizer=cached_small_dir(), output=out, workers=2, chunk_bytes=20_000,
                         shard_tokens=4_000, eos_policy="after", on_error="skip", progress="none", durable=False)
    encode_corpus(opts, tokenizer=cached_small())
    return out


def summary(out: Path) -> tuple[object, ...]:
    m = read_manifest(out)
    return (m.totals, [(s.tokens, s.documents, s.sha256) for s in m.shards],
            [(s.line, s.reason) for s in m.skipped], m.verification)


def format_differences(a: Path, b: Path) -> list[str]:
    diffs = []
    if read_tokens(a).tobytes() != read_tokens(b).tobytes():
        diffs.append("token stream")
    if summary(a) != summary(b):
        diffs.append("manifest totals, shards or skipped records")
    return diffs


@pytest.mark.falsifies("FALSIFY-TOK-012")
def test_every_format_gives_byte_identical_shards(tmp_path: Path) -> None:
    docs = documents()
    outs = {fmt: encode(write_as(fmt, tmp_path / fmt, docs), tmp_path / f"out-{fmt}") for fmt in FORMATS}
    ref = read_manifest(outs["parquet"])
    assert len(ref.shards) >= 10 and ref.totals.skipped_lines == 1
    assert ref.corpus.files[0].format == "parquet" and ref.corpus.files[0].rows == len(docs)  # type: ignore[union-attr]
    for fmt in FORMATS[1:]:
        assert read_manifest(outs[fmt]).corpus.files[0].format == fmt  # type: ignore[union-attr]
        assert format_differences(outs["parquet"], outs[fmt]) == [], fmt

    # one directory mixing all four formats = the four parts in path order
    mixed = tmp_path / "mixed"
    quarter = len(docs) // 4
    parts = [docs[i * quarter : (i + 1) * quarter if i < 3 else None] for i in range(4)]
    for i, (fmt, part) in enumerate(zip(FORMATS, parts, strict=True)):
        write_as(fmt, mixed, part, name=f"part-{i}")
    assert [f.format for f in read_manifest(encode(mixed, tmp_path / "out-mixed")).corpus.files] == list(FORMATS)  # type: ignore[union-attr]
    single = tmp_path / "single"
    write_as("jsonl", single, [d for p in parts for d in p])
    concatenated = read_tokens(encode(single, tmp_path / "out-single")).tobytes()
    assert read_tokens(tmp_path / "out-mixed").tobytes() == concatenated


@pytest.mark.falsifies("FALSIFY-TOK-012")
def test_a_reader_that_drops_data_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = documents()
    ref = encode(write_as("jsonl", tmp_path / "jsonl", docs), tmp_path / "ref")
    zst = write_as("jsonl.zst", tmp_path / "zst", docs)

    def first_frame_only(f: object, raw: io.BufferedIOBase) -> io.BufferedIOBase:
        return io.BytesIO(zstandard.ZstdDecompressor().decompressobj().decompress(raw.read()))

    monkeypatch.setattr(chunks_mod, "open_decompressed", first_frame_only)
    assert "token stream" in format_differences(ref, encode(zst, tmp_path / "one-frame"))
    monkeypatch.undo()

    both = tmp_path / "both"
    write_as("parquet", both, docs[:40], name="a")
    write_as("jsonl", both, docs[40:], name="b")
    whole = encode(both, tmp_path / "whole")
    real = corpus_mod.format_of
    monkeypatch.setattr(corpus_mod, "format_of", lambda name: None if name.endswith(".jsonl") else real(name))
    with pytest.raises(TokenizeError, match=r"unknown extension: b\.jsonl"):  # an unread format is an error ...
        encode(both, tmp_path / "refused")
    monkeypatch.undo()
    real_add = corpus_mod._Walk.add_file

    def drop_jsonl(self: corpus_mod._Walk, path: Path, *args: object, **kw: object) -> None:
        if not path.name.endswith(".jsonl"):
            real_add(self, path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(corpus_mod._Walk, "add_file", drop_jsonl)
    assert format_differences(whole, encode(both, tmp_path / "dropped")) != []  # ... and a silent drop shows

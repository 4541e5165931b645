"""JSONL discovery, chunking and line parsing: every bad line is reported with its own problem."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tokenizer.corpus import discover_corpus, iter_chunks, parse_lines
from tokenizer.errors import TokenizeError


def test_each_kind_of_bad_line_gets_its_own_message() -> None:
    data = (
        b'{"text": "ok"}\n'
        b"not json\n"
        b"[1, 2]\n"
        b'{"body": "x", "id": 3}\n'
        b'{"text": 42}\n'
        b'{"text": "bad \xff byte"}\n'
        b'{"text": "lone \\ud800 surrogate"}\n'
        b"   \n"
        b'{"text": ""}\r\n'
        b'{"text": "last, no newline"}'
    )
    p = parse_lines(data, 0, "text")
    assert p.texts == ["ok", "", "last, no newline"]
    assert p.doc_line == [0, 8, 9] and p.blank == [7] and p.n_lines == 10
    msgs = dict(p.errors)
    assert msgs[1].startswith("not valid JSON")
    assert "line is an array" in msgs[2]
    assert "no 'text' field (keys: body, id)" in msgs[3] and "--text-field" in msgs[3]
    assert "field 'text' is a number" in msgs[4]
    assert "invalid UTF-8: byte 0xff at column 15" in msgs[5]
    assert "lone surrogate \\ud800" in msgs[6]
    assert p.doc_end[-1] == len(data)


def test_hostile_json_is_a_located_line_error_not_a_crash() -> None:
    # json.loads raises plain ValueError / RecursionError (not JSONDecodeError) for these
    data = (
        b'{"text": "a", "n": ' + b"1" * 5000 + b"}\n"
        + b"[" * 100_000 + b"\n"
        + b'{"text": "b", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}\n"
        + b'{"text": "ok"}\n'
    )
    p = parse_lines(data, 0, "text")
    assert p.texts == ["ok"] and p.doc_line == [3]
    msgs = dict(p.errors)
    assert sorted(msgs) == [0, 1, 2]
    assert "4300 digits" in msgs[0]
    assert "nest too deeply" in msgs[1] and "nest too deeply" in msgs[2]


def test_bom_at_file_start_is_not_content() -> None:
    p = parse_lines(b'\xef\xbb\xbf{"text": "a"}\n', 0, "text")
    assert p.texts == ["a"] and not p.errors


def test_chunks_end_at_newlines_and_cover_every_byte(tmp_path: Path) -> None:
    lines = [f'{{"text": "{"x" * (i % 50)}"}}\n'.encode() for i in range(300)]
    data = b"".join(lines)
    (tmp_path / "a.jsonl").write_bytes(data)
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(data))
    _, files = discover_corpus(tmp_path)
    assert [f.rel for f in files] == ["a.jsonl", "b.jsonl.gz"] and files[1].gzip
    for chunk_bytes in (1, 100, 4096, 1 << 20):
        chunks = list(iter_chunks(files, 0, 0, chunk_bytes))
        for idx in (0, 1):
            mine = [c for c in chunks if c.file_index == idx]
            assert b"".join(c.read() for c in mine) == data
            assert all(c.read().endswith(b"\n") for c in mine)
            assert [c.start for c in mine[1:]] == [c.end for c in mine[:-1]]
    resumed = list(iter_chunks(files, 1, len(lines[0]) * 3, 4096))
    assert resumed[0].start == len(lines[0]) * 3 and resumed[0].file_index == 1


def test_discovery_errors(tmp_path: Path) -> None:
    with pytest.raises(TokenizeError, match="does not exist"):
        discover_corpus(tmp_path / "missing")
    with pytest.raises(TokenizeError, match=r"no \*.jsonl"):
        discover_corpus(tmp_path)
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with pytest.raises(TokenizeError, match="corpus is empty"):
        discover_corpus(tmp_path)

"""JSONL discovery, chunking and line parsing: every bad line is reported with its own problem."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
import zstandard

from tokenizer.chunks import iter_chunks
from tokenizer.corpus import discover_corpus
from tokenizer.errors import TokenizeError
from tokenizer.records import parse_lines
from tokenizer.testing import write_parquet


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


def zstd_frames(*parts: bytes) -> bytes:
    return b"".join(zstandard.ZstdCompressor().compress(p) for p in parts)


def test_chunks_end_at_newlines_and_cover_every_byte(tmp_path: Path) -> None:
    lines = [f'{{"text": "{"x" * (i % 50)}"}}\n'.encode() for i in range(300)]
    data = b"".join(lines)
    (tmp_path / "a.jsonl").write_bytes(data)
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(data))
    # two zstd frames: a reader that stops after the first frame would lose the second half
    half = len(b"".join(lines[:150]))
    (tmp_path / "c.jsonl.zst").write_bytes(zstd_frames(data[:half], data[half:]))
    files = discover_corpus(tmp_path).files
    assert [(f.rel, f.format) for f in files] == [("a.jsonl", "jsonl"), ("b.jsonl.gz", "jsonl.gz"),
                                                  ("c.jsonl.zst", "jsonl.zst")]
    for chunk_bytes in (1, 100, 4096, 1 << 20):
        chunks = list(iter_chunks(files, 0, 0, chunk_bytes))
        for idx in (0, 1, 2):
            mine = [c for c in chunks if c.file_index == idx]
            assert b"".join(c.read() for c in mine) == data
            assert all(c.read().endswith(b"\n") for c in mine)
            assert [c.start for c in mine[1:]] == [c.end for c in mine[:-1]]
    resumed = list(iter_chunks(files, 1, len(lines[0]) * 3, 4096))
    assert resumed[0].start == len(lines[0]) * 3 and resumed[0].file_index == 1


def test_discovery_errors(tmp_path: Path) -> None:
    with pytest.raises(TokenizeError, match="does not exist"):
        discover_corpus(tmp_path / "missing")
    with pytest.raises(TokenizeError, match=r"no corpus files \(\*.jsonl"):
        discover_corpus(tmp_path)
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with pytest.raises(TokenizeError, match="corpus is empty"):
        discover_corpus(tmp_path)


def _doc(tmp: Path, rel: str, text: str = "x") -> Path:
    path = tmp / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'{{"text": "{text}"}}\n')
    return path


def test_unknown_extension_is_an_error_never_a_silent_skip(tmp_path: Path) -> None:
    _doc(tmp_path, "data/a.jsonl")
    (tmp_path / "data" / "README.md").write_text("# about")
    (tmp_path / "data" / "part-0.json.gz").write_bytes(b"")
    with pytest.raises(TokenizeError) as err:
        discover_corpus(tmp_path / "data")
    msg = str(err.value)
    assert "2 file(s) with an unknown extension: README.md, part-0.json.gz" in msg and "--exclude" in msg
    corpus = discover_corpus(tmp_path / "data", exclude=["*.md", "*.json.gz"])
    assert [f.rel for f in corpus.files] == ["a.jsonl"]
    assert corpus.notes == ["skipped 2 file(s) matching --exclude"]
    with pytest.raises(TokenizeError, match="unknown extension"):  # an explicit file is never excluded
        discover_corpus(tmp_path / "data" / "README.md", exclude=["*.md"])


def test_hidden_entries_are_skipped_and_reported(tmp_path: Path) -> None:
    _doc(tmp_path, "a.jsonl")
    _doc(tmp_path, ".cache/b.jsonl")
    (tmp_path / ".gitattributes").write_text("*.jsonl filter=lfs")
    corpus = discover_corpus(tmp_path)
    assert [f.rel for f in corpus.files] == ["a.jsonl"]
    assert corpus.notes == ["skipped 2 hidden entries: .cache/, .gitattributes"]


def test_symlinked_corpus_subdirectory_is_read_and_loops_are_reported(tmp_path: Path) -> None:
    """Issue 16 item 9: a symlinked subdirectory used to be skipped silently. The rule now: follow
    links, enter each directory once (a loop or a second path to it is skipped and reported)."""
    _doc(tmp_path, "elsewhere/shard/b.jsonl", "linked")
    _doc(tmp_path, "corpus/a.jsonl")
    (tmp_path / "corpus" / "linked").symlink_to(tmp_path / "elsewhere" / "shard", target_is_directory=True)
    (tmp_path / "corpus" / "again").symlink_to(tmp_path / "elsewhere" / "shard", target_is_directory=True)
    (tmp_path / "corpus" / "linked" / "loop").symlink_to(tmp_path / "corpus", target_is_directory=True)
    (tmp_path / "corpus" / "same.jsonl").symlink_to(tmp_path / "corpus" / "a.jsonl")
    corpus = discover_corpus(tmp_path / "corpus")
    assert [f.rel for f in corpus.files] == ["a.jsonl", "again/b.jsonl"]
    assert corpus.notes == [
        "skipped 2 directory link(s) to a directory already read (loop guard): again/loop/, linked/",
        "skipped 1 second path(s) to a file already listed: same.jsonl (same file as a.jsonl)",
    ]
    (tmp_path / "corpus" / "gone.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    with pytest.raises(TokenizeError, match=r"gone\.jsonl: a symbolic link whose target does not exist"):
        discover_corpus(tmp_path / "corpus")


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    _doc(tmp_path, "a.jsonl")
    os.mkfifo(tmp_path / "b.jsonl")
    with pytest.raises(TokenizeError, match=r"b\.jsonl: not a regular file"):
        discover_corpus(tmp_path)


def test_several_corpus_paths_in_any_order_give_one_sorted_list(tmp_path: Path) -> None:
    _doc(tmp_path, "x/b.jsonl")
    _doc(tmp_path, "x/sub/c.jsonl")
    _doc(tmp_path, "y/a.jsonl")
    one = discover_corpus([tmp_path / "y" / "a.jsonl", tmp_path / "x"])
    two = discover_corpus([tmp_path / "x", tmp_path / "y" / "a.jsonl", tmp_path / "x" / "b.jsonl"])
    assert one.root == tmp_path and [f.rel for f in one.files] == ["x/b.jsonl", "x/sub/c.jsonl", "y/a.jsonl"]
    assert [f.rel for f in two.files] == [f.rel for f in one.files]
    assert two.notes == ["skipped 1 second path(s) to a file already listed: x/b.jsonl (same file as x/b.jsonl)"]


def test_content_must_match_the_extension(tmp_path: Path) -> None:
    plain = _doc(tmp_path, "a.jsonl")
    (tmp_path / "b.jsonl").write_bytes(gzip.compress(plain.read_bytes()))  # gzip named .jsonl: read as gzip
    assert [f.format for f in discover_corpus(tmp_path).files] == ["jsonl", "jsonl.gz"]
    (tmp_path / "c.jsonl.zst").write_bytes(plain.read_bytes())
    with pytest.raises(TokenizeError, match=r"c\.jsonl\.zst: the name says jsonl\.zst but the content"):
        discover_corpus(tmp_path)


def test_parquet_schema_problems_name_the_file_and_column(tmp_path: Path) -> None:
    write_parquet(tmp_path / "a.parquet", ["x"], field="body", extra={"n": [1]})
    with pytest.raises(TokenizeError, match=r"a.parquet: no column 'text' \(columns: body, n\)"):
        discover_corpus(tmp_path)
    with pytest.raises(TokenizeError, match="column 'n' has type int64, expected a string column"):
        discover_corpus(tmp_path, text_field="n")
    assert discover_corpus(tmp_path, text_field="body").files[0].row_groups == (1,)
    (tmp_path / "b.parquet").write_bytes(b"PAR1 truncated")
    with pytest.raises(TokenizeError, match=r"b\.parquet: not a readable Parquet file"):
        discover_corpus(tmp_path, text_field="body")


def test_parquet_rows_parse_like_lines_with_located_problems(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "a.parquet", ["one", None, "", "four", "five"], row_group_size=2)
    files = discover_corpus(tmp_path).files
    assert files[0].row_groups == (2, 2, 1)
    chunks = list(iter_chunks(files, 0, 1, 1 << 20))  # resume at row 1: inside the first row group
    assert [(c.start, c.end, c.row_group) for c in chunks] == [(1, 2, 0), (2, 4, 1), (4, 5, 2)]
    parsed = [c.parse("text") for c in chunks]
    assert parsed[0].errors == [(0, "field 'text' is null, expected a string")] and parsed[0].texts == []
    assert parsed[1].texts == ["", "four"] and parsed[1].doc_end == [3, 4]
    assert chunks[-1].progress == path.stat().st_size

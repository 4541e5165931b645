"""safeio's bounded JSON reader: every hostile shape is a located JSONInputError, real files pass at low cost."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from safeio import JSONInputError, JSONLimits, NotRegularFileError, RefusedInputError, loads_json, read_json
from safeio.regular import regular_files

HOSTILE = [
    (b'{"a": ' + b"9" * 5000 + b"}", "line 1 column 7", "a number is too long to read"),
    (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "line 1 column 70", "nested more than 64 levels"),
    (b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}", "line 1 column 70", "nested more than 64 levels"),
    (b'{"a": {"b": [1, 2, NaN]}}', "`a.b[2]`", "the number nan is not finite"),
    (b'{"a": -Infinity}', "`a`", "the number -inf is not finite"),
    (b'{"a": 1e400}', "`a`", "the number inf is not finite"),
    (b'{"x y": [' + b"1" * 41 + b"]}", '`["x y"][0]`', "an integer of 41 digits is over the 40-digit limit"),
    (b'{"a": 1,}', "line 1 column 9", "not valid JSON"),
    (b'\xff{}', None, "not UTF-8 text (byte 0"),
]


@pytest.mark.parametrize(("data", "where", "what"), HOSTILE,
                         ids=["int-5000-digits", "nested-100k", "nested-100", "nan", "minus-inf", "float-overflow",
                              "int-41-digits", "syntax", "not-utf8"])
def test_hostile_json_is_refused_with_file_location_and_fix(data: bytes, where: str | None, what: str) -> None:
    with pytest.raises(JSONInputError) as info:
        loads_json(data, "cfg.json")
    err = info.value
    assert err.source == "cfg.json" and err.where == where and what in err.what
    text = str(err)
    assert text.startswith(f"cfg.json at {where}: " if where else "cfg.json: ") and "how to fix:" in text
    assert isinstance(err, RefusedInputError) and isinstance(err, ValueError)
    assert str(pickle.loads(pickle.dumps(err))) == text  # crosses a worker-process boundary intact


def test_the_standard_library_alone_accepts_what_the_reader_refuses() -> None:
    """Falsification: without the reader, these values arrive as inf, nan, a 41-digit size or 100 levels."""
    accepted = [data for data, _, _ in HOSTILE if _stdlib_accepts(data)]
    assert len(accepted) == 5


def _stdlib_accepts(data: bytes) -> bool:
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return False
    return True


def test_real_files_pass_including_hf_s_huge_model_max_length() -> None:
    doc = {"model_max_length": 1000000000000000019884624838656, "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]],
           "eps": 1e-6, "nested": [[[{"x": None, "y": True}]]]}
    assert loads_json(json.dumps(doc).encode(), "tokenizer_config.json") == doc
    assert loads_json(json.dumps(doc), "as text") == doc


def test_limits_are_parameters(tmp_path: Path) -> None:
    small = JSONLimits(max_bytes=10, max_depth=2, max_int_digits=3)
    with pytest.raises(JSONInputError, match="11 bytes is over the 10-byte limit"):
        loads_json(b"[1, 2, 345]", "x", small)
    with pytest.raises(JSONInputError, match="an integer of 4 digits is over the 3-digit limit"):
        loads_json(b"[1000]", "x", small)
    with pytest.raises(JSONInputError, match="line 1 column 3: containers are nested more than 2"):
        loads_json(b"[[[]]]", "x", small)
    assert loads_json(b"[[999]]", "x", small) == [[999]]
    big = tmp_path / "big.json"
    big.write_text("[" + "0," * 20 + "0]")
    with pytest.raises(JSONInputError, match="43 bytes is over the 10-byte limit"):
        read_json(big, small)


@pytest.mark.skipif(os.name != "posix", reason="FIFOs and device files are POSIX")
def test_read_json_refuses_a_fifo_and_a_device_by_name(tmp_path: Path) -> None:
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError, match=r"config\.json: is a FIFO"):
        read_json(fifo)  # returns at once: no writer is waited for
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(NotRegularFileError, match=r"zero\.json: is a character device"):
        read_json(link)


@pytest.mark.skipif(os.name != "posix", reason="FIFOs and symlinks are POSIX")
def test_regular_files_follows_links_and_describes_the_rest(tmp_path: Path) -> None:
    """The one symlink rule: links followed wherever they point, only regular files read, the rest described."""
    outside = tmp_path / "blobs" / "abc"
    outside.parent.mkdir()
    outside.write_bytes(b"w")
    d = tmp_path / "snap"
    d.mkdir()
    (d / "a.safetensors").symlink_to(outside)  # an HF cache snapshot: links out of the directory
    (d / "b.safetensors").write_bytes(b"w")
    os.mkfifo(d / "c.safetensors")
    (d / "d.safetensors").symlink_to(tmp_path / "gone")
    (d / "e.safetensors").mkdir()
    (d / "loop.safetensors").symlink_to(d / "loop.safetensors")
    (d / "z.txt").write_text("not matched")
    files, other = regular_files(d, lambda name: name.endswith(".safetensors"))
    assert [f.name for f in files] == ["a.safetensors", "b.safetensors"]
    assert other[0] == "c.safetensors: a FIFO (named pipe)"
    assert other[1] == "d.safetensors: a symbolic link whose target does not exist"
    assert other[2] == "e.safetensors: a directory"
    assert other[3].startswith("loop.safetensors: cannot be read (") and len(other) == 4
    assert regular_files(d, lambda name: name.endswith(".safetensors"), report_dirs=False)[1][2].startswith("loop")

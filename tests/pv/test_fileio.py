"""pv reads only regular files: a FIFO, a device or a folder is refused by name, before any read."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pv.fileio import NotRegularFile, ReadTimeout, TooLarge, read_bytes, read_text, sha256_file, sha256_of, tail_text
from tests.pv.conftest import no_hang


def test_a_regular_file_reads_hashes_and_tails(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("héllo\nworld\n", encoding="utf-8")
    assert read_text(path) == "héllo\nworld\n"
    assert sha256_of(path) == sha256_file(path) == __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    assert tail_text(path, 6) == "world\n"


@pytest.mark.parametrize(("make", "kind"), [
    (lambda p: p.mkdir(), "directory"),
    (lambda p: os.mkfifo(p), "FIFO (named pipe)"),
    (lambda p: p.symlink_to("/dev/zero"), "character device"),
])
def test_anything_but_a_regular_file_is_refused_by_name(tmp_path: Path, make, kind: str) -> None:
    path = tmp_path / "thing.py"
    make(path)
    for reader in (read_bytes, read_text, sha256_of, lambda p: tail_text(p, 10)):
        with pytest.raises(NotRegularFile) as info:
            no_hang(lambda reader=reader: reader(path), fifos=[path], seconds=10)
        assert info.value.kind == kind
        assert str(info.value) == f"[Errno {info.value.errno}] is a {kind}, not a regular file: '{path}'"
    assert sha256_file(path) is None  # "cannot be read" still means "changed", never a crash


def test_a_size_limit_refuses_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b"x" * 1000)
    assert read_bytes(path, limit=1000) == b"x" * 1000
    with pytest.raises(TooLarge, match="is 1000 bytes, more than the 999 bytes pv reads"):
        read_bytes(path, limit=999)


def test_hashing_stops_at_the_deadline(tmp_path: Path) -> None:
    path = tmp_path / "artifact.bin"
    path.write_bytes(b"\0" * 3_000_000)
    assert sha256_of(path, deadline=time.monotonic() + 600) == sha256_of(path)
    with pytest.raises(ReadTimeout) as info:
        sha256_of(path, deadline=time.monotonic() - 1)
    assert info.value.filename == str(path)


def test_not_utf8_says_at_which_byte(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.write_bytes(b'{"a": 1}\xff')
    with pytest.raises(UnicodeDecodeError) as info:
        read_text(path)
    assert info.value.start == 8

"""safeio: atomic replacement, umask-respecting permissions, regular-file-only reads, and its layering."""

from __future__ import annotations

import ast
import hashlib
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import safeio
from safeio import (
    AtomicFile,
    DigestCache,
    LockHeldError,
    NotRegularFileError,
    atomic_write_bytes,
    atomic_write_text,
    exclusive_lock,
    give_default_permissions,
    open_regular,
    read_regular_bytes,
    read_regular_text,
    sha256_file,
)

ROOT = Path(__file__).resolve().parents[2]
posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs, device files and umask are POSIX")


@pytest.fixture
def umask():
    """Set a umask for one test and restore the previous one."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _temps(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if ".tmp" in p.name)


def test_atomic_write_replaces_content_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    atomic_write_text(target, "first\n")
    atomic_write_bytes(target, b"second\r\n")
    assert target.read_bytes() == b"second\r\n"  # bytes as given: no newline translation
    atomic_write_text(target, "caf\u00e9", durable=False)
    assert target.read_bytes() == "caf\u00e9".encode()
    assert _temps(tmp_path) == []


@posix_only
@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_atomic_write_gives_the_permissions_open_would(tmp_path: Path, umask, mask: int) -> None:
    umask(mask)
    atomic_write_text(tmp_path / "atomic", "x")
    with open(tmp_path / "plain", "w") as fh:
        fh.write("x")
    want = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert want == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "atomic").stat().st_mode) == want  # mkstemp would give 0o600


def test_an_exception_while_writing_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), AtomicFile(target) as fh:
        fh.write(b"half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert _temps(tmp_path) == []


def test_a_killed_writer_never_tears_the_target(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    code = (
        "import os, sys; from safeio import AtomicFile\n"
        "f = AtomicFile(sys.argv[1]); f.write(b'new but unfinished'); os._exit(9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(target)], cwd=ROOT, timeout=60)
    assert proc.returncode == 9
    assert target.read_text() == "old"
    assert len(_temps(tmp_path)) == 1  # the leftover is a dot-file beside the target, never the target
    assert _temps(tmp_path)[0].startswith(".state.json.tmp-")


def test_a_named_temp_file_is_truncated_and_renamed(tmp_path: Path) -> None:
    tmp = tmp_path / "shard-00000.bin.tmp"
    tmp.write_bytes(b"leftover of a killed run, longer than the new content")
    f = AtomicFile(tmp_path / "shard-00000.bin", tmp=tmp, durable=False)
    f.write(b"abcd")
    assert f.commit() == tmp_path / "shard-00000.bin"
    assert (tmp_path / "shard-00000.bin").read_bytes() == b"abcd"
    assert not tmp.exists()


def test_sha256_file_and_regular_reads(tmp_path: Path) -> None:
    p = tmp_path / "data.bin"
    data = os.urandom(3 << 16) + "é\n".encode()
    p.write_bytes(data)
    assert sha256_file(p) == hashlib.sha256(data).hexdigest()
    assert read_regular_bytes(p) == data
    (tmp_path / "t.txt").write_bytes("a\r\nb é".encode())
    assert read_regular_text(tmp_path / "t.txt") == "a\r\nb é"
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe")
    with pytest.raises(UnicodeDecodeError):
        read_regular_text(tmp_path / "bad.txt")
    with pytest.raises(FileNotFoundError):
        open_regular(tmp_path / "missing")


def test_a_directory_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(NotRegularFileError, match="is a directory, not a regular file") as info:
        sha256_file(tmp_path)
    assert isinstance(info.value, OSError) and info.value.filename == str(tmp_path)


@posix_only
def test_a_character_device_is_refused_rather_than_read(tmp_path: Path) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero on this machine")
    with pytest.raises(NotRegularFileError, match="/dev/zero: is a character device"):
        read_regular_bytes("/dev/zero")  # open() would read forever
    link = tmp_path / "looks-like-a-file.jsonl"
    link.symlink_to("/dev/zero")
    with pytest.raises(NotRegularFileError, match="character device"):
        sha256_file(link)


@posix_only
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "corpus.jsonl"
    os.mkfifo(fifo)
    # in a child with a timeout: a plain open() of a FIFO with no writer would hang this test forever
    code = (
        "import sys; from safeio import NotRegularFileError, sha256_file\n"
        "try:\n    sha256_file(sys.argv[1])\nexcept NotRegularFileError as e:\n    print(e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(fifo)], cwd=ROOT, timeout=60,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "is a FIFO (named pipe), not a regular file" in proc.stdout


def test_safeio_is_the_bottom_layer() -> None:
    """safeio may be imported by anything, so it must import nothing from this project."""
    project = {"pv", "tokenizer", "trainer", "apr", "falsifiers", "benchmarks", "tests"}
    package = Path(safeio.__file__).parent
    seen: set[str] = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                seen |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                seen.add(node.module.split(".")[0])
    assert "os" in seen  # the scan itself works
    assert seen - {"safeio", "__future__"} <= set(sys.stdlib_module_names)
    assert not seen & project


_HOLD = (
    "import sys, time; from safeio import exclusive_lock\n"
    "with exclusive_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(600)\n"
)


@posix_only
def test_a_second_writer_is_refused_at_once_naming_the_holder(tmp_path: Path) -> None:
    lock = tmp_path / ".lock"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(lock)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(LockHeldError, match=f"pid {holder.pid} on ") as info, exclusive_lock(lock):
            pass
        assert isinstance(info.value, OSError)
        # in-process too: two holders in one process are two writers (flock is per open file)
        holder.kill()
        holder.wait()
        with exclusive_lock(lock), pytest.raises(LockHeldError, match=f"pid {os.getpid()} "), exclusive_lock(lock):
            pass
    finally:
        holder.kill()
        holder.wait()


@posix_only
def test_a_killed_holder_leaves_no_stale_lock_and_a_release_removes_the_file(tmp_path: Path) -> None:
    lock = tmp_path / ".lock"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(lock)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    holder.kill()  # SIGKILL: no cleanup ran, the file is still there
    holder.wait()
    assert lock.exists()
    with exclusive_lock(lock):
        assert lock.read_text().startswith(f"pid {os.getpid()} on ")
    assert not lock.exists()


@posix_only
def test_a_forked_child_can_drop_the_inherited_lock(tmp_path: Path) -> None:
    """A worker forked while the lock is held must not keep it alive after its parent dies."""
    lock = tmp_path / ".lock"
    code = (
        "import os, sys, time; from safeio import exclusive_lock, close_inherited_locks\n"
        "with exclusive_lock(sys.argv[1]):\n"
        "    if os.fork() == 0:\n"
        "        if sys.argv[2] == 'drop': close_inherited_locks()\n"
        "        print('child', os.getpid(), flush=True); time.sleep(600)\n"
        "    time.sleep(600)\n"
    )
    for mode, expect_free in (("drop", True), ("keep", False)):
        proc = subprocess.Popen([sys.executable, "-c", code, str(lock), mode], cwd=ROOT, stdout=subprocess.PIPE,
                                text=True, start_new_session=True)
        assert proc.stdout is not None
        child = int(proc.stdout.readline().split()[1])
        proc.kill()  # the parent dies; the child lives on
        proc.wait()
        try:
            if expect_free:
                with exclusive_lock(lock):
                    pass
            else:  # the negative case: an inherited descriptor keeps the dead parent's lock held
                with pytest.raises(LockHeldError), exclusive_lock(lock):
                    pass
        finally:
            os.kill(child, 9)


def test_digest_cache_hashes_a_file_once_per_version(tmp_path: Path) -> None:
    data = tmp_path / "shard-00000.bin"
    data.write_bytes(b"\x01\x00\x00\x00" * 1000)
    fresh = DigestCache(tmp_path / "cache")  # written just now: not remembered (timestamps tick coarsely)
    assert fresh.digest(data) == sha256_file(data) and fresh.save() and not (tmp_path / "cache").exists()
    cache = DigestCache(tmp_path / "cache", settle_s=0)
    assert cache.digest(data) == sha256_file(data) and (cache.hits, cache.misses) == (0, 1)
    assert cache.save() and (tmp_path / "cache" / "sha256-cache.json").is_file()
    again = DigestCache(tmp_path / "cache", settle_s=0)
    assert again.digest(data) == sha256_file(data) and (again.hits, again.misses) == (1, 0)
    # same size, mtime put back: ctime still moved, so the change is seen
    st, old = data.stat(), sha256_file(data)
    time.sleep(0.05)  # past the filesystem's timestamp tick
    data.write_bytes(b"\x02\x00\x00\x00" * 1000)
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))
    third = DigestCache(tmp_path / "cache", settle_s=0)
    assert third.digest(data) == sha256_file(data) != old and third.misses == 1
    # a corrupt cache is ignored, an unwritable one skipped; neither is an error
    (tmp_path / "cache" / "sha256-cache.json").write_text("{not json")
    assert DigestCache(tmp_path / "cache").digest(data) == sha256_file(data)
    blocked = DigestCache(tmp_path / "file-not-dir" / "x", settle_s=0)
    (tmp_path / "file-not-dir").write_text("")
    blocked.digest(data)
    assert blocked.save() is False


@posix_only
def test_digest_cache_refuses_a_device_by_name(tmp_path: Path) -> None:
    link = tmp_path / "shard-00000.bin"
    link.symlink_to("/dev/zero")
    with pytest.raises(NotRegularFileError, match="character device"):
        DigestCache(tmp_path / "cache").digest(link)


@posix_only
@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_give_default_permissions_matches_open(tmp_path: Path, umask, mask: int) -> None:
    umask(mask)
    private = tmp_path / "private"
    private.write_text("x")
    private.chmod(0o600)
    give_default_permissions(private)
    assert stat.S_IMODE(private.stat().st_mode) == 0o666 & ~mask

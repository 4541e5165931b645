"""pv's process runner: own session, whole group killed on a timeout and after the leader exits."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from pv import procrun

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir() or os.name != "posix",
                                reason="process-group checks read /proc (Linux)")


def alive(pid: int) -> bool:
    """Running and not a zombie (a killed orphan may linger as a zombie until init reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def wait_gone(pid: int, within_s: float = 3.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


def read_pid(path: Path, within_s: float = 5.0) -> int:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        text = path.read_text().strip() if path.exists() else ""
        if text:
            return int(text)
        time.sleep(0.02)
    raise AssertionError(f"{path} was never written")


def test_exit_code_duration_and_output_tail(tmp_path: Path) -> None:
    result = procrun.run("echo out; echo err >&2; exit 3", cwd=tmp_path)
    assert (result.exit_code, result.timed_out, result.ok) == (3, False, False)
    assert "out" in result.output_tail and "err" in result.output_tail
    assert result.duration_s >= 0
    assert procrun.run([sys.executable, "-c", "pass"], cwd=tmp_path).ok


def test_runs_from_the_given_directory_with_the_given_environment(tmp_path: Path) -> None:
    result = procrun.run('pwd; echo "v=$PV_PROBE"', cwd=tmp_path, env={**os.environ, "PV_PROBE": "42"})
    assert str(tmp_path.resolve()) in result.output_tail and "v=42" in result.output_tail


def test_only_the_tail_of_a_huge_output_is_kept(tmp_path: Path) -> None:
    result = procrun.run([sys.executable, "-c", "print('x' * 2_000_000); print('THE END')"], cwd=tmp_path,
                         tail_chars=100)
    assert result.ok and len(result.output_tail) <= 100 and result.output_tail.rstrip().endswith("THE END")


def test_a_missing_program_is_a_start_error_not_an_exception(tmp_path: Path) -> None:
    result = procrun.run(["pv-no-such-program-xyz"], cwd=tmp_path)
    assert result.exit_code is None and not result.timed_out
    assert result.start_error and "pv-no-such-program-xyz" in result.start_error


def test_timeout_kills_the_whole_group_including_grandchildren(tmp_path: Path) -> None:
    # The shell starts a sleeping grandchild and waits for it. Killing only the shell (what
    # subprocess.run(timeout=...) does) would leave the grandchild running for 60 s.
    start = time.monotonic()
    result = procrun.run("sleep 60 & echo $! > child.pid; wait", cwd=tmp_path, timeout_s=1.0)
    assert result.timed_out and result.exit_code is None
    assert time.monotonic() - start < 15
    assert wait_gone(read_pid(tmp_path / "child.pid")), "the grandchild outlived the timeout"


def test_a_grandchild_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    script = ("import os, signal, time, pathlib; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "pathlib.Path('child.pid').write_text(str(os.getpid())); time.sleep(60)")
    result = procrun.run(f"{sys.executable} -c \"{script}\" & wait", cwd=tmp_path, timeout_s=1.0, grace_s=0.5)
    assert result.timed_out
    assert wait_gone(read_pid(tmp_path / "child.pid"))


def test_leftovers_of_a_command_that_exited_are_killed_and_do_not_hold_the_run(tmp_path: Path) -> None:
    # A daemon left behind keeps the output open: a pipe reader would wait 60 s for its EOF.
    start = time.monotonic()
    result = procrun.run("sleep 60 & echo $! > child.pid; echo started", cwd=tmp_path, timeout_s=30)
    assert result.ok and "started" in result.output_tail and result.killed_leftovers
    assert time.monotonic() - start < 15
    assert wait_gone(read_pid(tmp_path / "child.pid"))


def test_output_files_given_by_the_caller_receive_the_output(tmp_path: Path) -> None:
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("wb") as o, err.open("wb") as e:
        result = procrun.run("echo to-out; echo to-err >&2", cwd=tmp_path, stdout=o, stderr=e)
    assert out.read_text() == "to-out\n" and err.read_text() == "to-err\n"
    assert "to-out" in result.output_tail and "to-err" in result.output_tail

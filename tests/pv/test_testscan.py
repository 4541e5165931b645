"""The test scan reads only regular files inside the repository and says what it refused."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

from pv.testscan import scan_tests
from tests.pv.conftest import Repo, falsifier, no_hang, valid_contract

TEST = "def test_one():\n    assert True\n"


def test_a_fifo_named_like_a_test_is_refused_not_waited_on(repo: Repo) -> None:
    """Issue 16 item 3: the scan used to block for ever opening it."""
    repo.write("falsifiers/test_real.py", TEST)
    fifo = repo.root / "falsifiers" / "test_pipe.py"
    os.mkfifo(fifo)
    index = no_hang(lambda: scan_tests(repo.root), fifos=[fifo])
    assert index.refused == {"falsifiers/test_pipe.py": "is a FIFO (named pipe), not a regular file"}
    assert list(index.functions) == ["falsifiers/test_real.py"]


def test_a_folder_named_like_a_test_file_is_walked_not_read(repo: Repo) -> None:
    """Issue 16 item 1: ``falsifiers/test_dir.py/`` used to end in IsADirectoryError and exit 70."""
    repo.write("falsifiers/test_dir.py/test_inner.py", TEST)
    index = scan_tests(repo.root)
    assert index.refused == {}
    assert list(index.functions) == ["falsifiers/test_dir.py/test_inner.py"]


def test_symlinks_follow_the_one_path_rule(repo: Repo, tmp_path_factory) -> None:
    """Issue 16 item 9: a link leading out is refused (and said so); a link inside is followed, each real
    folder once (so a loop ends, and an alias does not make every test name in it ambiguous)."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "test_evil.py").write_text("def test_evil():\n    open('/tmp/pwned', 'w')\n")
    repo.write("falsifiers/real/test_a.py", TEST)
    os.symlink(outside / "test_evil.py", repo.root / "falsifiers" / "test_evil.py")
    os.symlink(outside, repo.root / "tests" / "ext")
    os.symlink(repo.root / "falsifiers" / "real", repo.root / "tests" / "alias")  # inside, already walked
    os.symlink(repo.root / "falsifiers" / "real", repo.root / "falsifiers" / "0link")  # inside, walked first
    os.symlink("..", repo.root / "falsifiers" / "real" / "up")  # a loop back to falsifiers/
    index = scan_tests(repo.root)
    assert sorted(index.functions) == ["falsifiers/real/test_a.py"]
    assert set(index.refused) == {"falsifiers/test_evil.py", "tests/ext"}
    assert index.refused["falsifiers/test_evil.py"] == \
        f"'falsifiers/test_evil.py' leads outside the repository through a symlink (to {outside / 'test_evil.py'})"
    assert "leads outside the repository through a symlink" in index.refused["tests/ext"]


def test_a_test_dir_setting_outside_the_repository_is_refused(repo: Repo) -> None:
    index = scan_tests(repo.root, ("tests", "../elsewhere"))
    assert index.refused["../elsewhere"].startswith("'../elsewhere' leaves the repository")


def test_a_link_to_dev_zero_cannot_eat_memory(repo: Repo) -> None:
    """Issue 16 item 3: the scan read /dev/zero until 2.9 GB, then died with exit 70. Now: refused, by name."""
    repo.write("falsifiers/test_demo.py", TEST)
    repo.contract(valid_contract(falsifiers=[falsifier("FALSIFY-DEMO-001", "falsifiers/test_demo.py::test_one")]))
    os.symlink("/dev/zero", repo.root / "falsifiers" / "test_zero.py")

    def limit_memory() -> None:  # a runaway read fails fast instead of taking the machine with it
        resource.setrlimit(resource.RLIMIT_AS, (1 << 31, 1 << 31))

    proc = subprocess.run([sys.executable, "-m", "pv.cli", "lint", "--root", str(repo.root)], capture_output=True,
                          text=True, timeout=120, preexec_fn=limit_memory, cwd=Path(__file__).parents[2])
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "falsifiers/test_zero.py: warning[test-binding]: not scanned for tests: 'falsifiers/test_zero.py' " \
           "leads outside the repository through a symlink (to /dev/zero)" in proc.stdout

"""One path rule for whatever a contract or config names: resolve, then require inside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from pv.repo_path import UnsafePath, safe_repo_path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "real.txt").write_text("x")
    (tmp_path / "outside.txt").write_text("secret")
    (repo / "data" / "in.txt").symlink_to(repo / "data" / "real.txt")
    (repo / "data" / "out.txt").symlink_to(tmp_path / "outside.txt")
    (repo / "escape").symlink_to(tmp_path)
    (repo / "loop").symlink_to("loop")
    return repo


def test_paths_inside_resolve_symlinks_included(root: Path) -> None:
    assert safe_repo_path(root, "data/real.txt") == root / "data" / "real.txt"
    assert safe_repo_path(root, "data/in.txt") == root / "data" / "real.txt"  # a link that stays inside is fine
    assert safe_repo_path(root, "data/../data/real.txt") == root / "data" / "real.txt"
    assert safe_repo_path(root, "data/not-yet.txt") == root / "data" / "not-yet.txt"  # may not exist yet


@pytest.mark.parametrize(("rel", "message"), [
    ("../outside.txt", "'../outside.txt' leaves the repository (resolves to {tmp}/outside.txt)"),
    ("data/out.txt", "'data/out.txt' leads outside the repository through a symlink (to {tmp}/outside.txt)"),
    ("escape/outside.txt", "'escape/outside.txt' leads outside the repository through a symlink "
                           "(to {tmp}/outside.txt)"),
    ("/etc/passwd", "'/etc/passwd' is absolute; contract paths must be relative to the repository root"),
    ("~/x", "'~/x' is absolute; contract paths must be relative to the repository root"),
    ("a\0b", "'a\\x00b' contains a NUL byte"),
])
def test_a_symlink_out_is_refused_exactly_like_dotdot(root: Path, rel: str, message: str) -> None:
    with pytest.raises(UnsafePath) as info:
        safe_repo_path(root, rel)
    assert str(info.value) == message.format(tmp=root.parent)


def test_names_too_long_for_any_file_system_are_refused_before_the_os_sees_them(root: Path) -> None:
    with pytest.raises(UnsafePath, match=r"has a path component of 303 bytes .* limited to 255 bytes"):
        safe_repo_path(root, "docs/" + "a" * 300 + ".md")
    with pytest.raises(UnsafePath, match="has a path component of 256 bytes"):
        safe_repo_path(root, "é" * 128)  # 256 bytes in UTF-8, though 128 characters
    with pytest.raises(UnsafePath, match="longer than 4096 bytes"):
        safe_repo_path(root, "/".join(["d" * 200] * 30))


def test_a_symlink_loop_is_refused(root: Path) -> None:
    with pytest.raises(UnsafePath, match="'loop/x' is not a usable path"):
        safe_repo_path(root, "loop/x")

"""find_qwen_tiktoken: lookup order, checksum verification, and a helpful error when nothing is found."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from tokenizer import resources
from tokenizer.errors import TokenizeError
from tokenizer.resources import ENV_VAR, QWEN_TIKTOKEN_SHA256, find_qwen_tiktoken


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def _fake_repo(tmp: Path, content: bytes | None) -> Path:
    repo = tmp / "clone"
    repo.mkdir()
    if content is not None:
        (tmp / "shared" / "data").mkdir(parents=True)
        (tmp / "shared" / "data" / "qwen.tiktoken").write_bytes(content)
    return repo


def test_the_real_file_is_found_and_verified(no_env: None) -> None:
    path = find_qwen_tiktoken()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == QWEN_TIKTOKEN_SHA256


def test_explicit_path_wins_and_is_verified(tmp_path: Path, no_env: None) -> None:
    bogus = tmp_path / "other.tiktoken"
    bogus.write_bytes(b"IQ== 0\n")
    with pytest.raises(TokenizeError, match="does not match the expected"):
        find_qwen_tiktoken(bogus)
    assert find_qwen_tiktoken(bogus, expected_sha256=None) == bogus
    with pytest.raises(TokenizeError, match="not a file"):
        find_qwen_tiktoken(tmp_path / "missing")


def test_env_var_beats_shared_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = find_qwen_tiktoken()
    monkeypatch.setenv(ENV_VAR, str(real))
    repo = _fake_repo(tmp_path, b"corrupt")
    assert find_qwen_tiktoken(repo_root=repo) == real  # the corrupt shared copy is never consulted


def test_shared_copy_with_wrong_checksum_is_an_error_not_a_fallthrough(tmp_path: Path, no_env: None) -> None:
    repo = _fake_repo(tmp_path, b"corrupt")
    with pytest.raises(TokenizeError, match="sha256"):
        find_qwen_tiktoken(repo_root=repo)


def test_dashscope_copy_is_found_without_importing_dashscope(
    tmp_path: Path, no_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "site" / "dashscope"
    (pkg / "resources").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('dashscope must not be imported')\n")
    (pkg / "resources" / "qwen.tiktoken").write_bytes(find_qwen_tiktoken().read_bytes())
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    repo = _fake_repo(tmp_path, None)
    found = find_qwen_tiktoken(repo_root=repo)
    assert found == pkg / "resources" / "qwen.tiktoken"
    assert "dashscope" not in sys.modules


def test_nothing_found_says_where_it_looked(tmp_path: Path, no_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "dashscope_candidate", lambda: None)
    with pytest.raises(TokenizeError) as err:
        find_qwen_tiktoken(repo_root=_fake_repo(tmp_path, None))
    text = str(err.value)
    assert ENV_VAR in text and "shared/data/qwen.tiktoken" in text and "pip install dashscope" in text

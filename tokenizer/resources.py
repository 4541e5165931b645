"""Locate the Qwen2 BPE rank file without downloading anything.

Lookup order (first hit wins, every hit is sha256-verified):

1. an explicit ``path`` argument, else the ``APR_QWEN_TIKTOKEN`` environment variable;
2. ``<repo root>/../shared/data/qwen.tiktoken`` (CI places ``shared/`` beside the clone);
3. ``dashscope/resources/qwen.tiktoken`` from an installed ``dashscope`` package, found with
   :func:`importlib.util.find_spec` so dashscope itself is never imported.

A candidate that exists but has the wrong checksum is an error rather than a silent fall-through:
a corrupted rank file would otherwise be replaced by a different one without anyone noticing.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from safeio import sha256_file
from tokenizer.errors import TokenizeError

QWEN_TIKTOKEN_SHA256 = "b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186"
ENV_VAR = "APR_QWEN_TIKTOKEN"
REPO_ROOT = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=16)
def _cached_sha(path: str, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # part of the cache key only
    return sha256_file(Path(path))


def _verified(path: Path, origin: str, expected: str | None) -> Path:
    if not path.is_file():
        raise TokenizeError(
            f"{origin} points to {path}, which is not a file",
            fix=f"point {origin} at the qwen.tiktoken rank file, or unset it to use the default lookup",
        )
    if expected is not None:
        st = path.stat()
        actual = _cached_sha(str(path.resolve()), st.st_size, st.st_mtime_ns)
        if actual != expected:
            raise TokenizeError(
                f"sha256 {actual} does not match the expected {expected}",
                where=str(path),
                fix="the file is corrupt or a different vocabulary; restore the original qwen.tiktoken",
            )
    return path


def dashscope_candidate() -> Path | None:
    """Where ``dashscope`` ships the rank file, without importing dashscope."""
    try:
        spec = importlib.util.find_spec("dashscope")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "resources" / "qwen.tiktoken"
        if candidate.is_file():
            return candidate
    return None


def find_qwen_tiktoken(
    path: str | os.PathLike[str] | None = None,
    *,
    expected_sha256: str | None = QWEN_TIKTOKEN_SHA256,
    repo_root: Path = REPO_ROOT,
) -> Path:
    """Return a verified path to ``qwen.tiktoken`` or raise a :class:`TokenizeError` saying where to get it.

    Pass ``expected_sha256=None`` to accept an explicit file that is deliberately not Qwen's.
    """
    if path is not None:
        return _verified(Path(path), "the explicit path", expected_sha256)
    env = os.environ.get(ENV_VAR)
    if env:
        return _verified(Path(env), f"${ENV_VAR}", expected_sha256)
    shared = repo_root.parent / "shared" / "data" / "qwen.tiktoken"
    if shared.is_file():
        return _verified(shared, "the shared data copy", expected_sha256)
    packaged = dashscope_candidate()
    if packaged is not None:
        return _verified(packaged, "the dashscope package copy", expected_sha256)
    raise TokenizeError(
        "cannot find the Qwen2 rank file qwen.tiktoken; looked at "
        f"${ENV_VAR} (unset), {shared} (missing) and the dashscope package (not installed)",
        fix=(
            f"set {ENV_VAR}=/path/to/qwen.tiktoken, place it at {shared}, "
            "or `pip install dashscope` (it ships dashscope/resources/qwen.tiktoken)"
        ),
    )

"""Pre-tokenizer regexes are checked at import and load; an engine failure is exit 2, never a Rust panic's exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apr.cli import main
from tokenizer.errors import TokenizeError
from tokenizer.pattern import check_pattern
from tokenizer.presets import GPT2_PATTERN, QWEN2_PATTERN
from tokenizer.testing import truncated_qwen_ranks, write_jsonl, write_ranks

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")

BAD = [
    ("", "is empty"),
    ("(", "does not compile in HF tokenizers: Oniguruma error"),
    ("(?=a)", "matches the empty string"),
    ("x*", "matches the empty string"),
    ("a|", "matches the empty string"),
    (r"\b", "matches the empty string"),
    (r"(a|aa)+$", "catastrophic backtracking"),
    (r"(\w+\s?)+$", "catastrophic backtracking"),
]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_ranks(tmp_path_factory.mktemp("ranks") / "r.tiktoken", truncated_qwen_ranks(1024))


@pytest.mark.parametrize("pattern", [QWEN2_PATTERN, GPT2_PATTERN, LLAMA3_PATTERN, r"[\s\S]", r"\p{L}+|[^\p{L}]+"])
def test_real_patterns_pass(pattern: str) -> None:
    check_pattern(pattern, "--pattern")


@pytest.mark.parametrize(("pattern", "reason"), BAD, ids=[b[0] or "empty" for b in BAD])
def test_import_tiktoken_refuses_a_pattern_the_engines_cannot_run(
    tmp_path: Path, ranks: Path, capsys: pytest.CaptureFixture[str], pattern: str, reason: str
) -> None:
    """These were accepted with exit 0, and encoding then panicked (exit 1) or hung."""
    out = tmp_path / "tok"
    rc = main(["tokenize", "import-tiktoken", "--ranks", str(ranks), "--special-tokens", "none", "--pattern", pattern,
               "--output", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"--pattern: pre-tokenizer regex {pattern!r}" in err and reason in err and "how to fix:" in err
    assert not (out / "tokenizer.json").exists()


def _small_tokenizer(root: Path, ranks: Path, pattern: str = "gpt2") -> Path:
    assert main(["tokenize", "import-tiktoken", "--ranks", str(ranks), "--special-tokens", "none", "--pattern", pattern,
                 "--output", str(root)]) == 0
    return root


def _set_regex(tok: Path, regex: str) -> None:
    obj = json.loads((tok / "tokenizer.json").read_text())
    obj["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = regex
    (tok / "tokenizer.json").write_text(json.dumps(obj))
    (tok / "tokenizer_meta.json").unlink()  # a hand-made directory: nothing was checked at import


@pytest.mark.parametrize(("pattern", "reason"), [("(?=a)", "matches the empty string"), ("(", "does not compile")])
def test_a_hand_edited_regex_is_refused_at_load(
    tmp_path: Path, ranks: Path, capsys: pytest.CaptureFixture[str], pattern: str, reason: str
) -> None:
    """A zero-width regex made tiktoken panic (exit 1), a broken one crashed HF's loader (exit 70)."""
    tok = _small_tokenizer(tmp_path / "tok", ranks)
    _set_regex(tok, pattern)
    corpus = write_jsonl(tmp_path / "c.jsonl", ["def f(x):\n    return x\n"] * 4)
    for engine in ("auto", "hf"):
        rc = main(["tokenize", "encode-corpus", "--corpus", str(corpus), "--tokenizer", str(tok), "--output",
                   str(tmp_path / f"out-{engine}"), "--workers", "1", "--eos-policy", "none", "--engine", engine,
                   "--progress", "none"])
        err = capsys.readouterr().err
        assert rc == 2, err
        assert "tokenizer.json: pre_tokenizer step 0 (Split): pre-tokenizer regex" in err and reason in err


def test_an_engine_failure_on_one_document_exits_2_naming_it(tmp_path: Path, ranks: Path) -> None:
    """A regex that backtracks only on a text no probe contains: each engine gives up in Rust (HF by panicking,
    tiktoken by raising); that is bad input, exit 2 with the document, at any worker count."""
    corpus = write_jsonl(tmp_path / "c.jsonl", ["hello world", "x" * 40 + "z", "bye"])
    # covering the text (as tiktoken needs) while backtracking exponentially on runs of x
    tok = _small_tokenizer(tmp_path / "tok", ranks, r"(?:x|xx)+(?=y)|[\s\S]")
    env = {**os.environ, "RUST_BACKTRACE": "0"}
    for engine, workers in (("auto", "1"), ("hf", "2"), ("tiktoken", "2")):
        proc = subprocess.run(
            [sys.executable, "-m", "apr", "tokenize", "encode-corpus", "--corpus", str(corpus), "--tokenizer", str(tok),
             "--output", str(tmp_path / f"o-{engine}"), "--workers", workers, "--eos-policy", "none", "--engine",
             engine, "--progress", "none"], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 2, (engine, proc.stderr)
        name = "hf-tokenizers" if engine == "hf" else "tiktoken"
        assert f"the {name} encoder failed on a document starting 'xxxxxxxx" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_engine_errors_lets_ordinary_exceptions_and_interrupts_through() -> None:
    """The mapping is for engine failures only: a bug or Ctrl-C inside keeps its meaning."""
    from tokenizer.encoders import engine_errors
    from tokenizer.errors import EngineError

    class PanicException(BaseException):  # pyo3's class, as seen from Python
        pass

    with pytest.raises(EngineError, match="the hf encoder failed on a document starting 'doc': panic: boom"), \
            engine_errors("hf", ["doc"]):
        raise PanicException("boom")
    for exc in (KeyboardInterrupt(), TypeError("a bug"), ValueError("not tiktoken's")):
        with pytest.raises(type(exc)), engine_errors("hf", ["doc"]):
            raise exc
    assert issubclass(EngineError, TokenizeError) and EngineError("x").exit_code == 2

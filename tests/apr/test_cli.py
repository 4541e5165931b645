"""The ``apr`` console script: one tree over both subjects, cheap to start, crashes never read as verdicts."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

import pytest

import apr.cli

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_both_subjects_without_importing_heavy_modules() -> None:
    code = (
        "import sys, apr.cli\n"
        "apr.cli.build_parser()\n"
        "print([m for m in ('torch', 'tiktoken', 'tokenizers', 'numpy') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
    helped = subprocess.run([sys.executable, "-m", "apr", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert helped.returncode == 0, helped.stderr
    assert all(cmd in helped.stdout for cmd in ("tokenize", "pretrain", "inspect", "convert"))
    # `apr tokenize ...` builds only the tokenizer's tree: the trainer's CLI is not even imported
    code = "import sys, apr.cli\napr.cli.build_parser('tokenize')\nprint('trainer.cli' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_an_unexpected_exception_exits_70_not_a_verdict_code(monkeypatch, capsys) -> None:
    """A crash must never read as exit 1 ("target val_loss not reached") or any other verdict."""

    def boom(args):
        raise MemoryError("simulated out of memory")

    parser = apr.cli.build_parser()
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(command="inspect", func=boom))
    monkeypatch.setattr(apr.cli, "build_parser", lambda command=None: parser)
    assert apr.cli.main(["inspect", "x.apr"]) == apr.cli.INTERNAL_ERROR == 70
    err = capsys.readouterr().err
    assert "MemoryError: simulated out of memory" in err
    assert "internal error (exit 70)" in err


def test_an_interrupt_exits_130(monkeypatch, capsys) -> None:
    def interrupted(args):
        raise KeyboardInterrupt

    parser = apr.cli.build_parser()
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(command="pretrain", func=interrupted))
    monkeypatch.setattr(apr.cli, "build_parser", lambda command=None: parser)
    assert apr.cli.main(["pretrain"]) == 130
    assert "apr: interrupted" in capsys.readouterr().err


@pytest.mark.parametrize("subject", ["tokenizer", "trainer", "safeio"])
def test_no_subject_imports_the_cli_above_it(subject: str) -> None:
    """apr hangs from the subjects; a subject importing apr back would make a cycle through the CLI."""
    files = sorted((ROOT / subject).rglob("*.py"))
    assert files
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            bad = [n for n in names if n == "apr" or n.startswith("apr.")]
            assert not bad, f"{path.relative_to(ROOT)}:{node.lineno} imports {bad[0]}"


def test_a_rust_panic_escaping_a_handler_exits_70_never_1(monkeypatch, capsys) -> None:
    """pyo3's PanicException is a BaseException: past ``except Exception`` it ended the process with exit 1,
    which apr documents as "target val_loss not reached"."""

    class PanicException(BaseException):  # pyo3_runtime.PanicException, as Python sees it
        pass

    def panics(args):
        raise PanicException("range end index 2 out of range for slice of length 0")

    parser = apr.cli.build_parser()
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(command="tokenize", func=panics))
    monkeypatch.setattr(apr.cli, "build_parser", lambda command=None: parser)
    assert apr.cli.main(["tokenize"]) == 70
    assert "internal error (exit 70)" in capsys.readouterr().err

    def exits(args):
        raise SystemExit(4)  # other BaseExceptions keep their meaning

    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(command="tokenize", func=exits))
    with pytest.raises(SystemExit):
        apr.cli.main(["tokenize"])


def test_a_safeio_refusal_from_any_layer_exits_2(monkeypatch, capsys, tmp_path) -> None:
    from safeio import NotRegularFileError

    def refuses(args):
        raise NotRegularFileError(tmp_path / "pipe", "a FIFO (named pipe)")

    parser = apr.cli.build_parser()
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(command="pretrain", func=refuses))
    monkeypatch.setattr(apr.cli, "build_parser", lambda command=None: parser)
    assert apr.cli.main(["pretrain"]) == 2
    err = capsys.readouterr().err
    assert "apr pretrain: error:" in err and "pipe: is a FIFO (named pipe), not a regular file" in err
    assert "Traceback" not in err

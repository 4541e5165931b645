"""The package's public API: every exported name resolves, importing it stays cheap, and str paths work."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import tokenizer
from tokenizer.testing import cached_small_dir, stdlib_documents, write_jsonl


def test_every_exported_name_is_the_library_object() -> None:
    assert tokenizer.__version__ == "0.1.0"
    for name in tokenizer.__all__:
        if name == "__version__":
            continue
        home = importlib.import_module(f"tokenizer.{tokenizer._HOME[name]}")
        assert getattr(tokenizer, name) is getattr(home, name), name
    assert set(tokenizer._HOME) | {"__version__"} == set(tokenizer.__all__)
    assert "encode_corpus" in dir(tokenizer)


def test_unknown_names_and_submodules_behave_as_in_any_package() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        tokenizer.no_such_thing  # noqa: B018
    from tokenizer import manifest  # a submodule, not an exported name

    assert manifest.MANIFEST_FILE == "manifest.json"


def test_importing_the_package_loads_no_heavy_module() -> None:
    code = (
        "import sys, tokenizer\n"
        "print([m for m in ('numpy', 'pydantic', 'tiktoken', 'tokenizers', 'rich') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_encode_and_read_back_through_the_public_api_with_str_paths(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", [t for _, t in stdlib_documents(20_000)])
    out = str(tmp_path / "out")
    tok = tokenizer.load_tokenizer(str(cached_small_dir()))
    opts = tokenizer.EncodeOptions(corpus=str(corpus), tokenizer=str(cached_small_dir()), output=out,
                                   shard_tokens=1000, progress="none", durable=False)
    manifest = tokenizer.encode_corpus(opts, tokenizer=tok)
    assert manifest.complete and len(manifest.shards) > 1
    assert tokenizer.read_manifest(out) == manifest
    assert tokenizer.verify_output(out, check_sha=True, check_ids=True).ok
    ids = tokenizer.read_tokens(out)
    assert ids.size == manifest.totals.tokens and int(ids.max()) < tok.effective_vocab_count

"""Falsifier FALSIFY-TOK-007: the Qwen2 import has 151,643 BPE entries + 22 added = 151,665 ids <= 151,936.

Checked on both import paths (tiktoken ranks, and HF tokenizer.json + config.json) and against what
HF tokenizers itself reports for the written tokenizer.json. The negative cases run the same count
checker on an import without the added tokens and on a model config too small for the tokenizer.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from tokenizer.importers import import_hf
from tokenizer.meta import TokenizerMeta
from tokenizer.presets import QWEN2_SPECIAL_TOKENS
from tokenizer.testing import cached_qwen2_dir, cached_small

EXPECTED = {
    "bpe_vocab_count": 151_643,
    "merges_count": 151_387,
    "added_tokens_count": 22,
    "effective_vocab_count": 151_665,
    "max_token_id": 151_664,
    "vocab_size": 151_936,
}


def qwen2_count_violations(meta: TokenizerMeta, directory: Path) -> list[str]:
    problems = [
        f"{k} = {getattr(meta, k)}, expected {v}" for k, v in EXPECTED.items() if getattr(meta, k) != v
    ]
    if meta.vocab_size is None or meta.effective_vocab_count > meta.vocab_size:
        problems.append(f"effective {meta.effective_vocab_count} exceeds the model vocab {meta.vocab_size}")
    if meta.special_tokens != QWEN2_SPECIAL_TOKENS:
        problems.append("added tokens differ from <|endoftext|>=151643 … <|file_sep|>=151664")
    hf = Tokenizer.from_file(str(directory / "tokenizer.json"))
    if hf.get_vocab_size(with_added_tokens=True) != EXPECTED["effective_vocab_count"]:
        problems.append(f"HF tokenizers reports {hf.get_vocab_size(with_added_tokens=True)} ids")
    vocab = json.loads((directory / "vocab.json").read_text())
    merges = (directory / "merges.txt").read_text().splitlines()[1:]
    if len(vocab) != EXPECTED["bpe_vocab_count"] or len(merges) != EXPECTED["merges_count"]:
        problems.append(f"vocab.json has {len(vocab)} entries, merges.txt {len(merges)} merges")
    return problems


def _meta(directory: Path) -> TokenizerMeta:
    return TokenizerMeta.model_validate_json((directory / "tokenizer_meta.json").read_text())


@pytest.mark.falsifies("FALSIFY-TOK-007")
def test_qwen2_counts_from_tiktoken_and_hf_imports(tmp_path: Path) -> None:
    converted = cached_qwen2_dir()
    meta = _meta(converted)
    assert qwen2_count_violations(meta, converted) == []
    assert meta.fast_engine.eligible and meta.eos_token == "<|endoftext|>"
    assert meta.special_tokens["<|endoftext|>"] == 151_643 and meta.special_tokens["<|file_sep|>"] == 151_664

    # the HF path: a model directory with tokenizer.json and the published config.json vocab_size
    model = tmp_path / "Qwen2-0.5B"
    model.mkdir()
    shutil.copy(converted / "tokenizer.json", model / "tokenizer.json")
    (model / "config.json").write_text(json.dumps({"model_type": "qwen2", "vocab_size": 151_936}))
    hf_meta = import_hf(model, tmp_path / "from-hf")
    assert qwen2_count_violations(hf_meta, tmp_path / "from-hf") == []
    assert hf_meta.tokenizer_json_sha256 == meta.tokenizer_json_sha256 == hf_meta.source.sha256


@pytest.mark.falsifies("FALSIFY-TOK-007")
def test_count_check_catches_missing_added_tokens_and_small_model(tmp_path: Path) -> None:
    converted = cached_qwen2_dir()
    meta = _meta(converted)
    no_added = meta.model_copy(update={"added_tokens_count": 0, "effective_vocab_count": 151_643,
                                       "max_token_id": 151_642, "special_tokens": {}})
    problems = qwen2_count_violations(no_added, converted)
    assert any("effective_vocab_count = 151643" in p for p in problems)
    assert any("added tokens differ" in p for p in problems)
    too_small = meta.model_copy(update={"vocab_size": 151_600})
    assert any("exceeds the model vocab" in p for p in qwen2_count_violations(too_small, converted))

    # the importer itself warns when config.json's vocab_size cannot hold every id
    small = cached_small()
    model = tmp_path / "small-model"
    model.mkdir()
    shutil.copy(small.directory / "tokenizer.json", model / "tokenizer.json")
    (model / "config.json").write_text(json.dumps({"vocab_size": small.effective_vocab_count - 1}))
    warned = import_hf(model, tmp_path / "small-out")
    assert any("smaller than the tokenizer" in w for w in warned.warnings)

"""Parsing untrusted tokenizer inputs: tiktoken rank files, tokenizer.json, and the two importers."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from tokenizer.bytelevel import bytes_to_token, token_to_bytes
from tokenizer.errors import TokenizeError
from tokenizer.hf_json import parse_tokenizer_json
from tokenizer.importers import import_hf, import_tiktoken
from tokenizer.loader import load_tokenizer
from tokenizer.ranks import derive_merges, parse_tiktoken_ranks
from tokenizer.testing import cached_small, write_ranks


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def test_byte_level_alphabet_round_trips_every_byte() -> None:
    for b in range(256):
        assert token_to_bytes(bytes_to_token(bytes([b]))) == bytes([b])
    assert bytes_to_token(b" the\n") == "ĠtheĊ"
    assert token_to_bytes(" the") is None  # a raw space is not in the alphabet


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"IQ== 0\nIg==\n", ":2: expected `<base64 token> <rank>`"),
        (b"IQ== 0\n!!notb64 1\n", ":2: token field"),
        (b"IQ== zero\n", ":1: rank 'zero' is not an integer"),
        (b"IQ== 0\nIQ== 1\n", ":2: token b'!' repeated"),
        (b"IQ== 0\nIg== 0\n", ":2: rank 0 repeated (first on line 1)"),
        (b"\n\n", "rank file is empty"),
    ],
)
def test_rank_file_errors_name_the_line(text: bytes, message: str) -> None:
    with pytest.raises(TokenizeError) as err:
        parse_tiktoken_ranks(text, "r.tiktoken")
    assert message in str(err.value)


def test_merges_are_derived_in_rank_order() -> None:
    ranks = {bytes([b]): b for b in range(256)}
    ranks.update({b"ab": 256, b"abc": 257, b"bc": 258, b"xabc": 259})
    assert derive_merges(ranks) == [(b"a", b"b"), (b"ab", b"c"), (b"b", b"c"), (b"x", b"abc")]
    # 'xyz' cannot be formed from two lower-ranked tokens: not a BPE table
    ranks[b"xyz"] = 260
    with pytest.raises(TokenizeError, match="cannot be built by merging"):
        derive_merges(ranks)


def test_import_tiktoken_rejects_incomplete_and_colliding_tables(tmp_path: Path) -> None:
    partial = write_ranks(tmp_path / "partial.tiktoken", {bytes([b]): b for b in range(200)})
    with pytest.raises(TokenizeError, match="single-byte tokens are missing"):
        import_tiktoken(partial, tmp_path / "o1", special_tokens="none")
    full = write_ranks(tmp_path / "full.tiktoken", {bytes([b]): b for b in range(256)})
    clash = tmp_path / "clash.json"
    clash.write_text(json.dumps({"<|endoftext|>": 10}))
    with pytest.raises(TokenizeError, match="is a BPE rank"):
        import_tiktoken(full, tmp_path / "o2", special_tokens=str(clash))
    with pytest.raises(TokenizeError, match="neither a preset"):
        import_tiktoken(full, tmp_path / "o3", special_tokens="qwen3")
    meta = import_tiktoken(full, tmp_path / "o4", pattern="gpt2", special_tokens="none")
    assert (meta.bpe_vocab_count, meta.merges_count, meta.effective_vocab_count) == (256, 0, 256)
    with pytest.raises(TokenizeError, match="not empty"):
        import_tiktoken(full, tmp_path / "o4", pattern="gpt2", special_tokens="none")


def test_both_merge_serializations_are_read() -> None:
    obj = json.loads((cached_small().directory / "tokenizer.json").read_text())
    as_strings = parse_tokenizer_json(json.dumps(obj).encode(), "s.json").merges
    obj["model"]["merges"] = [m.split(" ") for m in obj["model"]["merges"]]
    assert parse_tokenizer_json(json.dumps(obj).encode(), "p.json").merges == as_strings
    obj["model"]["merges"][3] = ["a", "b", "c"]
    with pytest.raises(TokenizeError, match=r"merge #3 is \['a', 'b', 'c'\]"):
        parse_tokenizer_json(json.dumps(obj).encode(), "p.json")


def test_tokenizer_json_errors_are_located(tmp_path: Path) -> None:
    with pytest.raises(TokenizeError, match=r"t.json:1:\d+: not valid JSON"):
        parse_tokenizer_json(b'{"model": ', "t.json")
    with pytest.raises(TokenizeError, match="no `model` object"):
        parse_tokenizer_json(b"[1, 2]", "t.json")


def _save(tmp: Path, tok: Tokenizer, name: str) -> Path:
    d = tmp / name
    d.mkdir()
    (d / "tokenizer.json").write_text(tok.to_str())
    return d


def test_import_hf_refuses_non_bpe_and_non_byte_level(tmp_path: Path) -> None:
    wordlevel = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    with pytest.raises(TokenizeError, match="model type is WordLevel, not BPE"):
        import_hf(_save(tmp_path, wordlevel, "wl"), tmp_path / "o1")
    unigram = Tokenizer(models.Unigram([("a", -1.0), ("b", -2.0)], 0, False))
    with pytest.raises(TokenizeError, match="not BPE"):
        import_hf(_save(tmp_path, unigram, "ug"), tmp_path / "o2")
    spm_bpe = Tokenizer(models.BPE({"▁a": 0, "▁": 1, "a": 2}, [("▁", "a")]))
    spm_bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    with pytest.raises(TokenizeError, match="not byte-level"):
        import_hf(_save(tmp_path, spm_bpe, "spm"), tmp_path / "o3")
    (tmp_path / "only-vocab").mkdir()
    (tmp_path / "only-vocab" / "vocab.json").write_text("{}")
    with pytest.raises(TokenizeError, match=r"found vocab\.json/merges\.txt only"):
        import_hf(tmp_path / "only-vocab", tmp_path / "o4")
    assert not (tmp_path / "o1").exists()


def test_import_hf_writes_the_extracted_form(tmp_path: Path) -> None:
    src = tmp_path / "model"
    src.mkdir()
    (src / "tokenizer.json").write_bytes((cached_small().directory / "tokenizer.json").read_bytes())
    (src / "config.json").write_text(json.dumps({"vocab_size": 5000}))
    (src / "tokenizer_config.json").write_text(json.dumps({"eos_token": {"content": "<|im_end|>"}}))
    meta = import_hf(src, tmp_path / "out")
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [".apr-encoder-cache", "merges.txt", "tokenizer.json",
                                                     "tokenizer_meta.json", "vocab.json"]
    assert meta.vocab_size == 5000 and meta.eos_token == "<|endoftext|>" and meta.fast_engine.eligible
    assert meta.pre_tokenizer_pattern and meta.pre_tokenizer_pattern.startswith("(?i:'s")
    assert len(json.loads((out / "vocab.json").read_text())) == meta.bpe_vocab_count == 4096
    assert (out / "merges.txt").read_text().count("\n") == meta.merges_count + 1
    loaded = load_tokenizer(out)
    assert loaded.effective_vocab_count == 4099 and loaded.meta == meta


def test_loader_refuses_a_meta_for_another_tokenizer_json(tmp_path: Path) -> None:
    import shutil

    d = tmp_path / "tok"
    shutil.copytree(cached_small().directory, d)
    obj = json.loads((d / "tokenizer.json").read_text())
    obj["added_tokens"][0]["content"] = "<|eot|>"
    (d / "tokenizer.json").write_text(json.dumps(obj))
    with pytest.raises(TokenizeError, match=r"describes a different tokenizer\.json"):
        load_tokenizer(d)


def test_gapped_ids_are_refused(tmp_path: Path) -> None:
    obj = json.loads((cached_small().directory / "tokenizer.json").read_text())
    obj["added_tokens"][-1]["id"] = 9_999
    with pytest.raises(TokenizeError, match="not contiguous"):
        load_tokenizer(_write(tmp_path, obj))


def _write(tmp: Path, obj: dict) -> Path:
    d = tmp / "t"
    d.mkdir()
    (d / "tokenizer.json").write_text(json.dumps(obj))
    return d


def test_hostile_tokenizer_json_is_a_clear_error_not_a_crash() -> None:
    with pytest.raises(TokenizeError, match=r"t\.json:1:27: a number is too long to read"):
        parse_tokenizer_json(b'{"model": {"vocab": {"a": ' + b"1" * 5000 + b"}}}", "t.json")
    with pytest.raises(TokenizeError, match=r"t\.json:1:65: containers are nested more than 64 levels deep"):
        parse_tokenizer_json(b"[" * 100_000, "t.json")
    with pytest.raises(TokenizeError, match=r"t\.json at `model.dropout`: the number nan is not finite"):
        parse_tokenizer_json(b'{"model": {"dropout": NaN}}', "t.json")
    good = {"model": {"type": "BPE", "vocab": {"a": 0, "c": 2}, "merges": []},
            "pre_tokenizer": {"type": "ByteLevel"}, "added_tokens": []}
    # a negative added-token id fills the gap at id 1 in the count, so "contiguous" alone would pass it
    for bad_id in (-1, True):
        obj = {**good, "added_tokens": [{"content": "<e>", "id": bad_id}]}
        with pytest.raises(TokenizeError, match="non-negative integer `id`"):
            parse_tokenizer_json(json.dumps(obj).encode(), "t.json")
    for pre in ("ByteLevel", {"type": "Sequence", "pretokenizers": [1, "x"]}):
        with pytest.raises(TokenizeError, match="not byte-level"):
            parse_tokenizer_json(json.dumps({**good, "pre_tokenizer": pre}).encode(), "t.json")
    with pytest.raises(TokenizeError, match="`normalizer` must be an object"):
        parse_tokenizer_json(json.dumps({**good, "normalizer": "NFC"}).encode(), "t.json")


def test_hostile_config_json_beside_tokenizer_json_is_a_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "model"
    src.mkdir()
    (src / "tokenizer.json").write_bytes((cached_small().directory / "tokenizer.json").read_bytes())
    (src / "config.json").write_bytes(b'{"vocab_size": ' + b"9" * 5000 + b"}")
    with pytest.raises(TokenizeError, match=r"config\.json:1:16: a number is too long to read \(Exceeds the limit"):
        import_hf(src, tmp_path / "out")


@pytest.mark.parametrize(("where", "value"), [
    (("model", "dropout"), 0.1),
    (("pre_tokenizer", "pretokenizers", 0, "enable_sampling"), True),
    (("normalizer", "alpha"), 0.2),
])
def test_random_tokenizer_settings_are_refused_wherever_they_sit(where: tuple, value: object) -> None:
    obj = json.loads((cached_small().directory / "tokenizer.json").read_text())
    obj["normalizer"] = {"type": "NFC"}
    node = obj
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    dotted = ".".join(str(k) for k in where).replace(".0.", "[0].")
    with pytest.raises(TokenizeError, match=rf"non-deterministic tokenizer: {re.escape(dotted)} = "):
        parse_tokenizer_json(json.dumps(obj).encode(), "t.json")
    node[where[-1]] = 0 if value is not True else False  # switched off: accepted
    assert parse_tokenizer_json(json.dumps(obj).encode(), "t.json").effective_vocab_count > 0

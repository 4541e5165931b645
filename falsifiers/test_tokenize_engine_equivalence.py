"""Falsifier FALSIFY-TOK-006: the converted HF tokenizer and tiktoken produce identical ids.

"tiktoken" here is an ``Encoding`` built by tiktoken's own loader straight from qwen.tiktoken - it
shares no code with our converter - and the HF side is the tokenizer.json that ``import-tiktoken``
wrote (vocab and merges derived from the ranks, NFC normalizer as Qwen2 publishes it). They must
agree on real code and on generated text with special-token spellings, in both special-token modes,
and so must the engine encode-corpus actually uses. Negative cases: a converter that drops or
reorders one merge is caught both by the id comparison and by the structural check that gates the
fast engine, and a fast engine that skips NFC is caught by the run-time probe.
"""

from __future__ import annotations

import json
import unicodedata
from functools import cache

import numpy as np
import pytest
import tiktoken
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiktoken.load import load_tiktoken_bpe
from tokenizers import Tokenizer

from tokenizer.encoders import HFEncoder, TiktokenEncoder, TiktokenSpec, probe_mismatch, tiktoken_spec
from tokenizer.hf_json import parse_tokenizer_json
from tokenizer.presets import QWEN2_PATTERN, QWEN2_SPECIAL_TOKENS
from tokenizer.resources import find_qwen_tiktoken
from tokenizer.testing import cached_qwen2, cached_qwen2_dir, cached_small, stdlib_documents, truncated_qwen_ranks

SPECIAL_BITS = [*QWEN2_SPECIAL_TOKENS, "<|", "|>", "<|endoftext", "\r\n", "  \n", "'s", "'S", "\u0338", "e\u0301"]


@cache
def raw_tiktoken() -> tiktoken.Encoding:
    ranks = load_tiktoken_bpe(str(find_qwen_tiktoken()))
    return tiktoken.Encoding("qwen2-raw", pat_str=QWEN2_PATTERN, mergeable_ranks=ranks,
                             special_tokens=QWEN2_SPECIAL_TOKENS)


@cache
def converted_hf(recognize: bool = False) -> Tokenizer:
    tok = Tokenizer.from_file(str(cached_qwen2_dir() / "tokenizer.json"))
    tok.encode_special_tokens = not recognize
    return tok


@cache
def raw_small_tiktoken() -> tiktoken.Encoding:
    """tiktoken over the first 4096 Qwen ranks, the vocabulary of ``cached_small()``."""
    tok = cached_small()
    return tiktoken.Encoding("small-raw", pat_str=QWEN2_PATTERN, mergeable_ranks=truncated_qwen_ranks(4096),
                             special_tokens=tok.definition.special_tokens())


def _raw_ids(enc: tiktoken.Encoding, text: str, recognize: bool) -> list[int]:
    """Qwen2 semantics from raw tiktoken: NFC, and (when recognized) specials cut out before NFC."""
    if not recognize:
        return enc.encode_ordinary(unicodedata.normalize("NFC", text))
    specials = {s: enc.encode_single_token(s) for s in enc.special_tokens_set}
    ids: list[int] = []
    rest = text
    while rest:
        hits = [(rest.find(s), s) for s in specials if s in rest]
        if not hits:
            break
        i, s = min(hits, key=lambda h: (h[0], -len(h[1])))
        ids += [*enc.encode_ordinary(unicodedata.normalize("NFC", rest[:i])), specials[s]]
        rest = rest[i + len(s) :]
    return ids + enc.encode_ordinary(unicodedata.normalize("NFC", rest))


def id_mismatches(hf: Tokenizer, texts: list[str], recognize: bool = False, enc: tiktoken.Encoding | None = None
                  ) -> list[int]:
    """Indices of texts on which the HF tokenizer and raw tiktoken disagree."""
    enc = enc or raw_tiktoken()
    hf_ids = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
    return [i for i, (a, t) in enumerate(zip(hf_ids, texts, strict=True)) if a != _raw_ids(enc, t, recognize)]


@cache
def real_code() -> list[str]:
    return [t for _, t in stdlib_documents(700_000, start=300)]


@pytest.mark.falsifies("FALSIFY-TOK-006")
def test_converted_hf_and_tiktoken_ids_identical_on_real_code() -> None:
    texts = real_code()
    assert len(texts) > 20
    assert id_mismatches(converted_hf(), texts) == []
    # the engine encode-corpus uses is the fast one, and it agrees with the reference too
    tok = cached_qwen2()
    assert isinstance(tok.fast, TiktokenSpec)
    fast, ref = TiktokenEncoder(tok.fast, "ordinary"), HFEncoder(tok.json_text, "ordinary")
    assert probe_mismatch(fast, ref, texts[:40]) is None


text_with_specials = st.lists(st.one_of(st.text(max_size=24), st.sampled_from(SPECIAL_BITS)), max_size=12).map(
    "".join
)


@pytest.mark.falsifies("FALSIFY-TOK-006")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=text_with_specials, recognize=st.booleans())
def test_converted_hf_and_tiktoken_ids_identical_on_generated_text(text: str, recognize: bool) -> None:
    assert id_mismatches(converted_hf(recognize), [text], recognize) == []
    tok = cached_qwen2()
    mode = "recognize" if recognize else "ordinary"
    fast = _fast_engine(mode)
    assert np.array_equal(fast.encode(text), np.asarray(converted_hf(recognize).encode(text).ids, dtype=np.uint32))
    assert tok.effective_vocab_count == 151_665


@cache
def _fast_engine(mode: str) -> TiktokenEncoder:
    return TiktokenEncoder(cached_qwen2().fast, mode)  # type: ignore[arg-type]


def _mutated(edit: str) -> tuple[Tokenizer, object]:
    obj = json.loads((cached_small().directory / "tokenizer.json").read_text())
    merges = obj["model"]["merges"]
    if edit == "drop":
        del merges[merges.index("Ġ t")]
    else:  # move an early, frequent merge to the end: same merges, wrong priority
        merges.append(merges.pop(merges.index("i n")))
    data = json.dumps(obj, ensure_ascii=False)
    hf = Tokenizer.from_str(data)
    hf.encode_special_tokens = True
    return hf, tiktoken_spec(parse_tokenizer_json(data.encode(), "mutated tokenizer.json"))


@pytest.mark.falsifies("FALSIFY-TOK-006")
@pytest.mark.parametrize("edit", ["drop", "reorder"])
def test_broken_converter_is_caught(edit: str) -> None:
    texts = real_code()[:8]
    intact = Tokenizer.from_file(str(cached_small().directory / "tokenizer.json"))
    intact.encode_special_tokens = True
    assert id_mismatches(intact, texts, enc=raw_small_tiktoken()) == []
    hf, spec = _mutated(edit)
    assert id_mismatches(hf, texts, enc=raw_small_tiktoken()) != []  # the id comparison sees it
    assert isinstance(spec, str) and "merges differ" in spec  # and the fast engine would not be used


@pytest.mark.falsifies("FALSIFY-TOK-006")
def test_runtime_probe_catches_a_diverging_fast_engine() -> None:
    tok = cached_qwen2()
    assert isinstance(tok.fast, TiktokenSpec)
    no_nfc = TiktokenSpec(tok.fast.ranks, tok.fast.pattern, tok.fast.special_tokens, nfc=False)
    mismatch = probe_mismatch(TiktokenEncoder(no_nfc, "ordinary"), HFEncoder(tok.json_text, "ordinary"), [])
    assert mismatch is not None and "probe text" in mismatch

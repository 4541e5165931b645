"""Falsifier FALSIFY-TOK-005: EOS count is N-1 for --eos-policy between, N for after, 0 for none.

The corpus has N documents including an empty one, documents longer than a shard, and documents that
spell '<|endoftext|>' in their text (which, as ordinary text, must not produce the EOS id). Beyond
the count, the stream split at EOS ids must give back exactly the documents. Negative cases: an
assembler that appends EOS after every document under 'between', and 'recognize' mode (where the
literal text does become EOS ids), both fail the same check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tokenizer import encode as encode_mod
from tokenizer.encode import EncodeOptions, encode_corpus
from tokenizer.encoders import TiktokenEncoder
from tokenizer.loader import LoadedTokenizer
from tokenizer.manifest import read_manifest
from tokenizer.shards import read_tokens
from tokenizer.testing import cached_small, stdlib_documents, write_jsonl


def _docs() -> list[str]:
    code = [t for _, t in stdlib_documents(60_000, start=200)]
    return ["first", "", *code, "literal <|endoftext|> in text", "<|endoftext|>", "last document\n"]


def _encode(tmp: Path, docs: list[str], policy: str, **kw: object) -> Path:
    tok = cached_small()
    corpus = write_jsonl(tmp / "corpus.jsonl", docs)
    out = tmp / f"out-{policy}-{len(list(tmp.iterdir()))}"
    opts = EncodeOptions(corpus=corpus, tokenizer=tok.directory, output=out, eos_policy=policy, shard_tokens=900,
                         progress="none", durable=False, **kw)
    encode_corpus(opts, tokenizer=tok)
    return out


def eos_violations(out: Path, tok: LoadedTokenizer, docs: list[str], policy: str) -> list[str]:
    eos = tok.token_id("<|endoftext|>")
    ids = read_tokens(out)
    n = len(docs)
    expected = {"none": 0, "between": n - 1, "after": n}[policy]
    found = int(np.count_nonzero(ids == eos))
    problems = []
    if found != expected:
        problems.append(f"{found} EOS ids in the shards, expected {expected} for {policy} with {n} documents")
    if read_manifest(out).totals.eos_tokens != expected:
        problems.append(f"manifest eos_tokens {read_manifest(out).totals.eos_tokens} != {expected}")
    if policy != "none":
        split = np.split(ids, np.flatnonzero(ids == eos))
        pieces = [split[0]] + [p[1:] for p in split[1:]]  # drop the EOS each later piece starts with
        if policy == "after":
            pieces = pieces[:-1]  # the stream ends with EOS, leaving one empty piece
        encoder = TiktokenEncoder(tok.fast, "ordinary")  # type: ignore[arg-type]
        decoded = [encoder.decode_bytes(p).decode("utf-8") for p in pieces]
        if decoded != docs:
            problems.append(f"splitting at EOS gives {len(decoded)} pieces that differ from the {n} documents")
    return problems


@pytest.mark.falsifies("FALSIFY-TOK-005")
@pytest.mark.parametrize("policy", ["between", "after", "none"])
def test_eos_count_matches_policy(tmp_path: Path, policy: str) -> None:
    docs = _docs()
    out = _encode(tmp_path, docs, policy)
    m = read_manifest(out)
    assert m.totals.documents == len(docs) and len(m.shards) >= 5
    assert eos_violations(out, cached_small(), docs, policy) == []


@pytest.mark.falsifies("FALSIFY-TOK-005")
def test_eos_check_catches_wrong_policy_and_recognized_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _docs()
    tok = cached_small()
    recognized = _encode(tmp_path, docs, "between", special_text="recognize")
    assert any("EOS ids" in p for p in eos_violations(recognized, tok, docs, "between"))

    # mutation: the workers frame documents as if the policy were "after"
    real_job = encode_mod.JobSpec
    monkeypatch.setattr(encode_mod, "JobSpec", lambda **kw: real_job(**{**kw, "eos_policy": "after"}))
    broken = _encode(tmp_path, docs, "between")
    assert eos_violations(broken, tok, docs, "between") != []

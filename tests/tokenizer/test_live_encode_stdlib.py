"""FALSIFY-TOK-LIVE-001 can fail: its document-by-document comparison and the contract's check catch each break.

The LIVE run itself takes minutes (``pv verify --live -k FALSIFY-TOK-LIVE-001``); these cases run
its comparison on small streams and evaluate the contract's own ``check:`` expression on metrics a
broken encoder would produce, so neither can pass vacuously.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from falsifiers.live.encode_stdlib import compare, write_corpus
from pv.expr import parse
from pv.loader import load_contract

ROOT = Path(__file__).resolve().parents[2]
EOS = 9
REFERENCE = [[1, 2, 3], [], [4, 5]]  # an empty document still gets its EOS


def _stream(docs: list[list[int]]) -> np.ndarray:
    return np.asarray([i for d in docs for i in [*d, EOS]], dtype=np.uint32)


def test_identical_ids_compare_clean() -> None:
    assert compare(_stream(REFERENCE), REFERENCE, EOS) == (0, None)


@pytest.mark.parametrize(("stream", "why"), [
    (_stream([[1, 2, 7], [], [4, 5]]), "document 0: first difference at token 2"),
    (_stream([[1, 2, 3], [4, 5]]), "document 1"),                     # a dropped document
    (_stream([*REFERENCE, [6]]), "the shards hold 10 ids, the reference 8"),  # an extra document
    (_stream(REFERENCE)[:-1], "document 2"),                          # a truncated last shard
])
def test_each_kind_of_break_is_counted(stream: np.ndarray, why: str) -> None:
    mismatched, first = compare(stream, REFERENCE, EOS)
    assert mismatched >= 1 and first is not None and first.startswith(why)


def test_corpus_keeps_document_order_across_files(tmp_path: Path) -> None:
    docs = [(f"m{i}.py", f"x = {i}\n") for i in range(19)]
    texts = write_corpus(docs, tmp_path / "corpus")
    assert texts == [t for _, t in docs]
    assert sorted(p.name for p in (tmp_path / "corpus").iterdir())[0] == "stdlib-00.jsonl"


GOOD = {"documents": 1790, "corpus_documents": 1790, "docs_mismatched": 0, "unk_rate": 0.0, "max_id": 151643,
        "vocab_size": 151665, "tokens_per_s": 484175.0, "speed_vs_reference": 9.2}


@pytest.fixture(scope="module")
def check():
    contract = load_contract(ROOT / "contracts" / "apr-tokenize-encode-corpus-v1.yaml").contract
    (ft,) = [f for f in contract.falsification_tests if f.id == "FALSIFY-TOK-LIVE-001"]
    return parse(ft.check)


@pytest.mark.parametrize("broken", [
    {"docs_mismatched": 1}, {"unk_rate": 0.0001}, {"documents": 1789}, {"documents": 12, "corpus_documents": 12},
    {"max_id": 151665}, {"tokens_per_s": 40000.0}, {"speed_vs_reference": 1.05},  # an HF-engine fallback
])
def test_the_contract_check_rejects_a_broken_run(check, broken: dict) -> None:
    assert check.evaluate(GOOD) is True
    assert check.evaluate({**GOOD, **broken}) is False

"""Mutation demo: weakening a guarded invariant (<= to <) turns its falsifier red and blocks promotion.

The repo is a real git checkout, so it also shows the ledger's freshness rule: a pass recorded
before the edit does not count for the edited code, even before anyone re-runs `pv verify`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pv.cli import main
from pv.enums import Status
from pv.ledger import Outcome, read_ledger
from pv.loader import load_contract
from pv.promote import promote
from pv.verify import verify
from pv.workspace import Workspace
from tests.pv.conftest import Repo, falsifier, valid_contract

PREFLIGHT = '''
def check_vocab(tokenizer_vocab: int, model_vocab: int) -> None:
    """Relaxed bound: every emitted id must index a row of the embedding table."""
    if not tokenizer_vocab <= model_vocab:
        raise ValueError(f"tokenizer_vocab={tokenizer_vocab} > model_vocab={model_vocab}")
'''

FALSIFIERS = '''
import pytest
from demo_preflight import check_vocab

def test_equal_vocab_passes():
    check_vocab(151936, 151936)  # the boundary: <= admits equality

def test_reserved_slots_pass():
    check_vocab(151665, 151936)

def test_oversized_tokenizer_rejected():
    with pytest.raises(ValueError):
        check_vocab(151937, 151936)
'''

T = "falsifiers/test_vocab.py"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=pv@example.invalid", "-c", "user.name=pv tests", *args], cwd=root,
                   check=True, capture_output=True)


@pytest.fixture
def mutation_repo(repo: Repo) -> Repo:
    repo.write("demo_preflight.py", PREFLIGHT)
    repo.write(T, FALSIFIERS)
    repo.write(".gitignore", ".pv/\n")
    repo.contract(valid_contract("vocab-v1", falsifiers=[
        falsifier("FALSIFY-VOCAB-001", f"{T}::test_equal_vocab_passes"),
        falsifier("FALSIFY-VOCAB-002", f"{T}::test_reserved_slots_pass"),
        falsifier("FALSIFY-VOCAB-003", f"{T}::test_oversized_tokenizer_rejected"),
    ]))
    git(repo.root, "init", "-q")
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-q", "-m", "vocab preflight")
    return repo


def test_weakening_the_bound_turns_the_falsifier_red_and_promotion_refuses(
        mutation_repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = mutation_repo.root
    contract = root / "contracts" / "vocab-v1.yaml"

    report = verify(Workspace(root), [contract])
    assert report.ok and {v.entry.outcome for v in report.verdicts} == {Outcome.PASS}
    assert "demo_preflight.py" in read_ledger(root / ".pv" / "ledger.json").entries["FALSIFY-VOCAB-001"].inputs
    assert promote(Workspace(root), contract, Status.FUNCTIONAL, dry_run=True).ok

    # The mutation: the relaxed bound <= becomes <.
    source = root / "demo_preflight.py"
    mutated = PREFLIGHT.replace("if not tokenizer_vocab <= model_vocab", "if not tokenizer_vocab < model_vocab")
    assert mutated != PREFLIGHT
    source.write_text(mutated)

    stale = promote(Workspace(root), contract, Status.FUNCTIONAL, dry_run=True)
    assert not stale.ok
    assert any("FALSIFY-VOCAB-001: ledger verdict is stale: demo_preflight.py changed" in m for m in stale.missing)

    red = {v.entry.falsifier_id: v.entry for v in verify(Workspace(root), [contract]).verdicts}
    assert red["FALSIFY-VOCAB-001"].outcome is Outcome.FAIL
    assert "151936 > model_vocab=151936" in red["FALSIFY-VOCAB-001"].reason
    assert red["FALSIFY-VOCAB-002"].outcome is Outcome.PASS  # only the boundary falsifier catches it
    assert red["FALSIFY-VOCAB-003"].outcome is Outcome.PASS

    before = contract.read_text()
    assert main(["promote", str(contract), "--to", "FUNCTIONAL", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "refused" in out and "stays DRAFT" in out
    assert "FALSIFY-VOCAB-001: fail in the ledger" in out
    assert "FALSIFY-VOCAB-002" not in out  # refusal names exactly what is missing
    assert contract.read_text() == before

    # Undo the mutation: green again, and the promotion goes through.
    source.write_text(PREFLIGHT)
    assert verify(Workspace(root), [contract]).ok
    assert main(["promote", str(contract), "--to", "FUNCTIONAL", "--root", str(root)]) == 0
    promoted = load_contract(contract)
    assert promoted.ok and promoted.contract.metadata.status is Status.FUNCTIONAL
    assert promoted.contract.metadata.version == "1.2.0"
    assert "counted 3 of 3 non-LIVE falsifiers with a fresh pass (3 declared) in .pv/ledger.json, inputs digest" \
        in promoted.contract.metadata.changelog[-1].change

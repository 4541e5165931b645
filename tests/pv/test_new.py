"""`pv new`: the skeleton passes validate and strict lint as written, its stubs fail verify, nothing is overwritten."""

from __future__ import annotations

import json

import pytest

from pv.cli import main
from pv.scaffold import default_area
from tests.pv.conftest import Repo, falsifier, valid_contract


def test_new_contract_is_green_on_static_gates_and_red_on_verify(repo: Repo,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = str(repo.root)
    assert main(["new", "my-tokenizer-v1", "--kind", "tokenizer", "--falsifiers", "2", "--root", root]) == 0
    said = capsys.readouterr().out
    contract = repo.root / "contracts" / "my-tokenizer-v1.yaml"
    tests = repo.root / "falsifiers" / "test_my_tokenizer_v1.py"
    assert "wrote contracts/my-tokenizer-v1.yaml" in said and contract.is_file() and tests.is_file()
    text = contract.read_text()
    assert "status: DRAFT" in text and "kind: tokenizer" in text and "# one of:" in text  # commented fields
    assert text.count("- id: FALSIFY-TOKENIZER-") == 2
    assert tests.read_text().count('pytest.fail("not written")') == 2

    assert main(["validate", str(contract), "--root", root]) == 0
    capsys.readouterr()
    assert main(["lint", "--strict-test-binding", "--root", root, "--format", "json"]) == 0
    lint = json.loads(capsys.readouterr().out)
    assert lint["passed"] and not [d for d in lint["diagnostics"] if d["severity"] == "error"]

    assert main(["verify", "--root", root, "--format", "json"]) == 1  # stubs never pass vacuously
    verdicts = json.loads(capsys.readouterr().out)["contracts"][0]["falsifiers"]
    assert [(v["falsifier_id"], v["outcome"]) for v in verdicts] == [
        ("FALSIFY-TOKENIZER-001", "fail"), ("FALSIFY-TOKENIZER-002", "fail")]
    assert all("not written" in v["reason"] for v in verdicts)


def test_new_refuses_to_overwrite(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(repo.root)
    assert main(["new", "demo-v1", "--root", root]) == 0
    tests = repo.root / "falsifiers" / "test_demo_v1.py"
    tests.write_text("# my real tests\n")
    capsys.readouterr()
    assert main(["new", "demo-v1", "--root", root]) == 2
    assert "already exists; pv new never overwrites" in capsys.readouterr().err
    assert tests.read_text() == "# my real tests\n"
    (repo.root / "contracts" / "demo-v1.yaml").unlink()
    assert main(["new", "demo-v1", "--root", root]) == 2  # the test module alone is enough to refuse
    assert not (repo.root / "contracts" / "demo-v1.yaml").exists()  # and nothing half-written is left


def test_new_keeps_falsifier_ids_unique(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.contract(valid_contract("old-tok-v1", falsifiers=[falsifier("FALSIFY-TOK-001")]))
    root = str(repo.root)
    assert main(["new", "other-tok-v1", "--root", root]) == 2
    assert "FALSIFY-TOK-001 is already declared by another contract; pass --area" in capsys.readouterr().err
    assert main(["new", "other-tok-v1", "--area", "tok2", "--root", root]) == 0
    assert "FALSIFY-TOK2-001" in (repo.root / "contracts" / "other-tok-v1.yaml").read_text()
    assert main(["new", "Bad Id", "--root", root]) == 2
    assert "is not a contract id" in capsys.readouterr().err


def test_default_area() -> None:
    assert default_area("apr-tokenize-encode-corpus-v1") == "CORPUS"
    assert default_area("x_v2") == "X"
    assert default_area("v1") == "V1"

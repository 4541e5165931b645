"""The reference pv's fields are typed and checked; where the formats conflict, validation says what to change."""

from __future__ import annotations

import copy

import pytest

from pv.lint import lint
from pv.loader import load_contract
from pv.workspace import Workspace
from tests.pv.conftest import Repo, falsifier, valid_contract


def reference_shaped(**over) -> dict:
    """A contract of ours carrying every reference-format field pv types."""
    data = valid_contract("ref-v1", falsifiers=[falsifier("FALSIFY-REF-001", "CMD: true")])
    data["metadata"]["registry"] = True
    data["equations"] = {"layout": {"formula": "bytes == 4 * tokens"}, "bound": {"formula": "id < vocab"}}
    data["proof_obligations"] = [
        {"id": "REF-INV-001", "type": "invariant", "property": "four bytes per token", "applies_to": ["layout"]},
        {"id": "REF-SND-002", "type": "soundness", "property": "ids below vocab", "tolerance": 0.0},
        {"id": "REF-TERM-003", "type": "termination", "property": "the writer terminates"},
        {"type": "liveness", "property": "a finished shard becomes visible"},
    ]
    data["kani_harnesses"] = [
        {"id": "KH-REF-001", "obligation": "layout", "property": "bytes_eq", "bound": 8},
        {"id": "KH-REF-002", "obligation": "REF-SND-002", "bound": 4, "strategy": "bounded_int", "solver": "kissat",
         "harness": "verify_ids_below_vocab"},
        {"id": "KH-REF-003", "obligation": "the writer terminates", "strategy": "exhaustive"},
    ]
    data["verification_summary"] = {"total_obligations": 4, "proven": 3, "tested": 1, "status": "partial",
                                    "falsifiers_total": 1, "falsifiers_bound": 1}
    for path, value in over.items():
        target = data
        *parents, last = path.split(".")
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        if value is DELETE:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return data


DELETE = object()


def diagnostics(repo: Repo, data: dict, name: str = "ref-v1") -> list:
    return load_contract(repo.contract(copy.deepcopy(data), name)).diagnostics


def test_reference_fields_are_accepted_and_every_gate_passes(repo: Repo) -> None:
    path = repo.contract(reference_shaped())
    assert load_contract(path).ok
    report = lint(Workspace(repo.root), [path], strict_test_binding=True)
    assert report.passed, [d.one_line() for d in report.diagnostics]


@pytest.mark.parametrize(("path", "value", "message"), [
    ("metadata.registry", "yes", "not a boolean"),
    ("kani_harnesses.0.bound", 0, "greater than or equal to 1"),
    ("kani_harnesses.0.strategy", "random", "is not a valid strategy"),
    ("kani_harnesses.0.obligation", DELETE, "missing required key 'obligation'"),
    ("proof_obligations.1.tolerance", float("nan"), "finite number"),
    ("proof_obligations.0.id", "has spaces", "wrong form for id"),
    ("verification_summary.proven", -1, "greater than or equal to 0"),
    ("proof_obligations.0.type", "termnation", "did you mean `termination`?"),
])
def test_reference_fields_are_typed(repo: Repo, path: str, value, message: str) -> None:
    found = diagnostics(repo, reference_shaped(**{path: value}))
    assert any(message in d.one_line() for d in found), [d.one_line() for d in found]


def test_conflicts_say_exactly_what_to_change(repo: Repo) -> None:
    data = reference_shaped()
    del data["metadata"]["id"]
    data["metadata"]["kind"] = "schema"
    del data["falsification_tests"][0]["ship_blocking"]
    data["proof_obligations"][0]["applies_to"] = "layout"
    found = {d.key_path: d for d in diagnostics(repo, data, "ref-v1")}
    assert found["metadata.id"].hint.startswith("add `id: ref-v1` under metadata")
    assert found["metadata.kind"].message == "'schema' is the reference pv's kind, not one of this schema's"
    assert found["metadata.kind"].hint == "use `kind: tooling` (`pv migrate` maps it)"
    assert "pv migrate --ship-blocking-default true|false" in found["falsification_tests[0].ship_blocking"].hint
    assert "write `applies_to: [layout]`" in found["proof_obligations[0].applies_to"].hint
    data["metadata"]["kind"] = "pattern"
    pattern = {d.key_path: d for d in diagnostics(repo, data, "ref-v1")}["metadata.kind"]
    assert "has no equivalent here" in pattern.message and "pv migrate --kind pattern=KIND" in pattern.hint

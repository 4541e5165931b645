"""`pv graph`: the same contract graph as Mermaid, dot and JSON; layers by dependency depth."""

from __future__ import annotations

import json

import pytest

from pv.cli import main
from pv.graph import build_graph, layers, to_dot, to_mermaid
from pv.workspace import Workspace
from tests.pv.conftest import Repo, falsifier, valid_contract


@pytest.fixture
def chain(repo: Repo) -> Repo:
    repo.write("falsifiers/test_a.py", "def test_a():\n    pass\n")
    repo.contract(valid_contract("base-v1", falsifiers=[falsifier("FALSIFY-BASE-001", "test_a")]))
    repo.contract(valid_contract("mid-v1", depends_on=["base-v1"], falsifiers=[
        falsifier("FALSIFY-MID-001", "LIVE: echo hi"), falsifier("FALSIFY-MID-002")]))
    repo.contract(valid_contract("top-v1", depends_on=["mid-v1", "base-v1", "gone-v1"],
                                 falsifiers=[falsifier("FALSIFY-TOP-001", "test_missing")]))
    return repo


def test_graph_json_has_contracts_edges_and_bindings(chain: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--root", str(chain.root), "--format", "json"]) == 0
    g = json.loads(capsys.readouterr().out)
    assert {n["id"]: n["kind"] for n in g["nodes"]} == {"base-v1": "contract", "mid-v1": "contract",
                                                       "top-v1": "contract", "gone-v1": "missing"}
    assert {(e["source"], e["target"]) for e in g["edges"]} == {
        ("mid-v1", "base-v1"), ("top-v1", "mid-v1"), ("top-v1", "base-v1"), ("top-v1", "gone-v1")}
    assert main(["graph", "--root", str(chain.root), "--format", "json", "--falsifiers"]) == 0
    g = json.loads(capsys.readouterr().out)
    bound = {(e["source"], e["target"]) for e in g["edges"] if e["kind"] == "bound_to"}
    assert bound == {("FALSIFY-BASE-001", "falsifiers/test_a.py::test_a"), ("FALSIFY-MID-001", "LIVE:FALSIFY-MID-001"),
                     ("FALSIFY-TOP-001", "test_missing")}
    kinds = {n["id"]: n["kind"] for n in g["nodes"]}
    assert kinds["test_missing"] == "missing" and kinds["FALSIFY-MID-002"] == "falsifier"


def test_mermaid_and_dot_text(chain: Repo) -> None:
    ws = Workspace(chain.root)
    graph = build_graph(ws.contracts, ws.test_index)
    mermaid = to_mermaid(graph)
    assert mermaid.startswith("flowchart LR\n")
    assert "n_top_v1 -->|depends on| n_mid_v1" in mermaid
    assert 'n_base_v1["base-v1<br/>DRAFT"]' in mermaid
    dot = to_dot(graph)
    assert dot.startswith("digraph contracts {") and dot.rstrip().endswith("}")
    assert '"top-v1" -> "mid-v1" [label="depends on"];' in dot
    assert dot.count("{") == dot.count("}")


def test_layers_put_dependencies_left_and_survive_cycles(chain: Repo) -> None:
    graph = build_graph(Workspace(chain.root).contracts)
    assert layers(graph) == [["base-v1", "gone-v1"], ["mid-v1"], ["top-v1"]]
    chain.contract(valid_contract("base-v1", depends_on=["top-v1"], falsifiers=[falsifier("FALSIFY-BASE-001")]))
    cyclic = build_graph(Workspace(chain.root).contracts)
    assert sorted(n for layer in layers(cyclic) for n in layer) == sorted(cyclic.nodes)  # every node placed once


def test_around_keeps_one_step_each_way(chain: Repo) -> None:
    graph = build_graph(Workspace(chain.root).contracts)
    assert set(graph.around("mid-v1").nodes) == {"mid-v1", "base-v1", "top-v1"}
    assert set(graph.around("base-v1").nodes) == {"base-v1", "mid-v1", "top-v1"}

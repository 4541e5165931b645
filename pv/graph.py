"""The contract graph: contracts and their ``depends_on``, optionally falsifiers and their bound tests.

One model, three notations (Mermaid, Graphviz dot, JSON), and a layered layout the HTML report
draws as SVG, so the graph on the page and the graph ``pv graph`` prints are the same graph.
An edge points from the dependent to what it depends on, as ``depends_on`` reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pv.binding import BindingKind, parse_binding, resolve
from pv.loader import LoadedContract
from pv.testscan import TestIndex

FORMATS = ("mermaid", "dot", "json")


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # "contract" | "falsifier" | "test" | "missing"
    label: str
    status: str | None = None  # contracts: metadata.status


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # "depends_on" | "declares" | "bound_to"


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def add(self, node: Node) -> None:
        self.nodes.setdefault(node.id, node)

    def around(self, contract_id: str) -> Graph:
        """The contract, what it depends on and what depends on it (one step each way)."""
        keep = {contract_id}
        for e in self.edges:
            if e.kind == "depends_on" and contract_id in (e.source, e.target):
                keep |= {e.source, e.target}
        sub = Graph({k: n for k, n in self.nodes.items() if k in keep})
        sub.edges = [e for e in self.edges if e.source in keep and e.target in keep]
        return sub


def build_graph(loaded: list[LoadedContract], index: TestIndex | None = None) -> Graph:
    """Contracts and ``depends_on`` edges; with ``index``, also falsifiers and the tests they bind to."""
    g = Graph()
    valid = [lc.contract for lc in loaded if lc.contract is not None]
    for c in valid:
        g.add(Node(c.metadata.id, "contract", c.metadata.id, c.metadata.status.value))
    for c in valid:
        for dep in c.metadata.depends_on:
            if dep not in g.nodes:
                g.add(Node(dep, "missing", f"{dep} (not found)"))
            g.edges.append(Edge(c.metadata.id, dep, "depends_on"))
    if index is None:
        return g
    for c in valid:
        for ft in c.falsification_tests:
            g.add(Node(ft.id, "falsifier", ft.id))
            g.edges.append(Edge(c.metadata.id, ft.id, "declares"))
            binding = parse_binding(ft.test)
            if binding.kind is BindingKind.LIVE:
                g.add(Node(f"LIVE:{ft.id}", "test", "LIVE command"))
                g.edges.append(Edge(ft.id, f"LIVE:{ft.id}", "bound_to"))
            elif binding.kind is not BindingKind.UNBOUND:
                target = resolve(binding, index).target
                node_id = target.node_id if target else (ft.test or "")
                g.add(Node(node_id, "test" if target else "missing", node_id))
                g.edges.append(Edge(ft.id, node_id, "bound_to"))
    return g


def layers(g: Graph) -> list[list[str]]:
    """Nodes in columns by dependency depth: those that depend on nothing first, their dependents after."""
    deps: dict[str, list[str]] = {n: [] for n in g.nodes}
    for e in g.edges:
        if e.kind == "depends_on":
            deps[e.source].append(e.target)
    depth: dict[str, int] = {}

    def visit(node: str, seen: frozenset[str]) -> int:
        if node in depth:
            return depth[node]
        if node in seen:  # a cycle (lint reports it); cut it here
            return 0
        d = 1 + max((visit(t, seen | {node}) for t in deps[node]), default=-1)
        depth[node] = d
        return d

    for node in sorted(g.nodes):
        visit(node, frozenset())
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in sorted(g.nodes):
        out[depth[node]].append(node)
    return out


_MERMAID_ID = re.compile(r"[^A-Za-z0-9_]")


def _mid(node_id: str) -> str:
    return "n_" + _MERMAID_ID.sub("_", node_id)


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(g: Graph) -> str:
    lines = ["flowchart LR"]
    shapes = {"contract": ('["', '"]'), "falsifier": ('(["', '"])'), "test": ('[/"', '"/]'),
              "missing": ('{{"', '"}}')}
    for node in g.nodes.values():
        left, right = shapes[node.kind]
        label = node.label + (f"<br/>{node.status}" if node.status else "")
        lines.append(f"  {_mid(node.id)}{left}{_mermaid_label(label)}{right}")
    arrows = {"depends_on": "-->|depends on|", "declares": "---", "bound_to": "-.->"}
    for e in g.edges:
        lines.append(f"  {_mid(e.source)} {arrows[e.kind]} {_mid(e.target)}")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(g: Graph) -> str:
    lines = ["digraph contracts {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    shapes = {"contract": "box", "falsifier": "ellipse", "test": "note", "missing": "octagon"}
    for node in g.nodes.values():
        label = node.label + (f"\n{node.status}" if node.status else "")
        lines.append(f"  {_dot_quote(node.id)} [label={_dot_quote(label)}, shape={shapes[node.kind]}];")
    styles = {"depends_on": ' [label="depends on"]', "declares": " [arrowhead=none]", "bound_to": " [style=dashed]"}
    for e in g.edges:
        lines.append(f"  {_dot_quote(e.source)} -> {_dot_quote(e.target)}{styles[e.kind]};")
    return "\n".join([*lines, "}"]) + "\n"


def to_json(g: Graph) -> str:
    return json.dumps({
        "nodes": [{"id": n.id, "kind": n.kind, "label": n.label, "status": n.status} for n in g.nodes.values()],
        "edges": [{"source": e.source, "target": e.target, "kind": e.kind} for e in g.edges],
    }, indent=2)


RENDERERS = {"mermaid": to_mermaid, "dot": to_dot, "json": to_json}

"""``pv graph [CONTRACTS] [--format mermaid|dot|json] [--falsifiers]``: the contract dependency graph."""

from __future__ import annotations

import argparse
import sys

from pv.commands.common import add_contract_paths, add_root, contract_paths, workspace
from pv.graph import RENDERERS, build_graph


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "graph", help="print the contract graph (depends_on; optionally falsifiers -> tests)",
        description="Print contracts and their depends_on edges (an arrow points from a contract to what it "
                    "depends on) as Mermaid (paste into GitHub Markdown), Graphviz dot (`| dot -Tsvg`) or JSON. "
                    "With --falsifiers, also each contract's falsifiers and the tests (or LIVE commands) they "
                    "are bound to. The HTML report (`pv report`) draws the same graph. Reads files only; exit 0, "
                    "or 2 on a usage error.",
    )
    add_contract_paths(parser)
    parser.add_argument("--format", choices=("mermaid", "dot", "json"), default="mermaid",
                        help="mermaid (default), dot or json")
    parser.add_argument("--falsifiers", action="store_true", help="include falsifiers and their bound tests")
    add_root(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ws = workspace(args)
    loaded = ws.load(contract_paths(args.paths, ws, default_all=True))
    for d in (d for lc in loaded for d in lc.diagnostics):
        print(f"pv graph: left out: {d.one_line()}", file=sys.stderr)
    graph = build_graph(loaded, ws.test_index if args.falsifiers else None)
    print(RENDERERS[args.format](graph), end="")
    return 0

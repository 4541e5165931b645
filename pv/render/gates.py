"""How ``pv gates`` looks: the registered gates, numbered, as a table (rich or Markdown) or JSON."""

from __future__ import annotations

import inspect
from typing import Any

from rich.console import Console
from rich.markup import escape

from pv.lint import GateCatalog
from pv.render.text import table
from pv.render.view import View


def text(con: Console, catalog: GateCatalog) -> None:
    tbl = table("pv lint gates", ["#", "gate", "checks", "fails when"])
    for i, g in enumerate(catalog.gates, 1):
        tbl.add_row(str(i), g.GATE.name, escape(g.GATE.title), escape(g.GATE.fails_when))
    con.print(tbl)


def to_json(catalog: GateCatalog) -> dict[str, Any]:
    return {"command": "gates", "gates": [
        {"number": i, "name": g.GATE.name, "title": g.GATE.title, "fails_when": g.GATE.fails_when,
         "rationale": inspect.getdoc(g) or ""} for i, g in enumerate(catalog.gates, 1)]}


def markdown(catalog: GateCatalog) -> str:
    rows = ["| # | gate | fails when |", "|---|------|-----------|"]
    for i, g in enumerate(catalog.gates, 1):
        cells = [str(i), g.GATE.name, g.GATE.fails_when]
        rows.append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
    return "\n".join(rows)


VIEW = View(GateCatalog, text, to_json, markdown=markdown)

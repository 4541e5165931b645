"""How ``pv new`` looks: what it wrote, and the commands to run next."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from pv.render.view import View
from pv.scaffold import Scaffold


def text(con: Console, scaffold: Scaffold) -> None:
    n = len(scaffold.falsifiers)
    con.print(f"wrote {escape(scaffold.contract_rel)} (DRAFT, {n} falsifier(s): {escape(scaffold.falsifiers[0].id)}"
              f"{' …' if n > 1 else ''}) and {escape(scaffold.test_rel)} ({n} failing stub(s))")
    con.print("next: replace every TODO, write the tests, then\n"
              f"  pv validate {escape(scaffold.contract_rel)} && pv lint --strict-test-binding\n"
              f"  pv verify {escape(scaffold.contract_rel)}   # fails until the stubs are written")


def to_json(scaffold: Scaffold) -> dict[str, Any]:
    return {"command": "new", "contract": scaffold.contract_rel, "tests": scaffold.test_rel,
            "falsifiers": [{"id": f.id, "test": f.node_id} for f in scaffold.falsifiers]}


VIEW = View(Scaffold, text, to_json)

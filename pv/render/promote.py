"""How ``pv promote`` looks: the edit it made (or would make), or every piece the promotion still lacks."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from pv.promote import PromotionResult
from pv.render.view import View
from pv.requirements import STATUS_RULES


def text(con: Console, result: PromotionResult) -> None:
    frm = result.current.value if result.current else "?"
    if not result.ok:
        con.print(f"[red]refused[/red]: {escape(result.contract_file)} stays {frm}; "
                  f"{result.target.value} still needs:")
        for need in result.missing:
            con.print(f"  [red]✗[/red] {escape(need)}")
        con.print(f"[dim]rule: {escape(STATUS_RULES[result.target])}[/dim]")
        return
    if result.diff:
        con.print(escape(result.diff), highlight=False)
    verb = "promoted" if result.written else "would promote"
    con.print(f"[green]{verb}[/green] {escape(result.contract_file)}: {frm} -> {result.target.value}, "
              f"version {result.version}")


def to_json(result: PromotionResult) -> dict[str, Any]:
    return {"command": "promote", "file": result.contract_file, "ok": result.ok,
            "from": result.current.value if result.current else None, "to": result.target.value,
            "version": result.version, "change": result.change, "written": result.written,
            "missing": result.missing, "diff": result.diff}


VIEW = View(PromotionResult, text, to_json)

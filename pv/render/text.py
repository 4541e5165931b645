"""Human output with rich: one located line per diagnostic, tables for summaries."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pv.diagnostics import Diagnostic, Severity


def console(stderr: bool = False) -> Console:
    # Rich falls back to 80 columns off a terminal, which folds ledger tables in CI logs beyond reading.
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or "COLUMNS" in os.environ else 160
    # emoji=False: rich would print `file.yaml:100:3` as `file.yaml💯3` (":100:" is an emoji code).
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width, emoji=False)


def print_diagnostics(con: Console, diagnostics: list[Diagnostic]) -> None:
    if con.color_system is None:  # no colour to add: rich would only strip its markup again, at ~1 ms a line
        con.file.write("".join(f"{d.one_line()}\n" for d in diagnostics))
        return
    for d in diagnostics:
        color = "red" if d.severity is Severity.ERROR else "yellow"
        where = f" [dim]at {escape(d.key_path)}[/dim]" if d.key_path else ""
        hint = f" [cyan](fix: {escape(d.hint)})[/cyan]" if d.hint else ""
        con.print(f"[bold]{escape(d.location)}[/bold]: [{color}]{d.severity.value}[/{color}]"
                  f"[dim]\\[{escape(d.code)}][/dim]{where}: {escape(d.message)}{hint}")


def table(title: str, columns: list[str]) -> Table:
    tbl = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        tbl.add_column(column)
    return tbl

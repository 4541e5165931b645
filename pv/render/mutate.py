"""How ``pv mutate`` looks: a table per contract (verdict, killed/competent, score), then the survivors.

Each surviving mutant is one line, ``file:line: original -> mutant``, so an author can add the
assertion that kills it or mark a true equivalent with ``# pragma: no mutate`` where it lives.
SARIF and GitHub annotations carry one finding per INERT / NO-SUBJECT / ERROR falsifier (an error
when ship-blocking and INERT or ERROR) and one note per survivor, at the mutated line.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from pv.diagnostics import Diagnostic, Severity
from pv.ledger import MutationEntry, MutationVerdict
from pv.mutate.report import FalsifierMutation, MutateReport
from pv.render.sarif import Finding, SarifRun, described, diagnostic_finding
from pv.render.text import table
from pv.render.view import View

STYLE = {MutationVerdict.STRONG: "green", MutationVerdict.INERT: "red", MutationVerdict.NO_SUBJECT: "yellow",
         MutationVerdict.ERROR: "red"}
RULES = {"mutate": "a falsifier's bound test killed no mutant of its subject (or could not be judged)",
         "mutate-survivor": "a mutant of the subject survived the falsifier's bound test"}
SHOWN_SURVIVORS = 20  # per falsifier in text; --format json lists them all


def score_text(entry: MutationEntry) -> str:
    return "-" if entry.score is None else f"{entry.score:.1f}%"


def text(con: Console, report: MutateReport) -> None:
    by_contract: dict[str, list[FalsifierMutation]] = {}
    for r in report.results:
        by_contract.setdefault(r.planned.contract.id, []).append(r)
    for cid, results in by_contract.items():
        tbl = table(f"{cid}: mutation analysis", ["falsifier", "verdict", "killed", "survived", "timed out",
                                                  "incompetent", "score"])
        tbl.add_column("subject / reason", overflow="fold")
        for r in results:
            e = r.entry
            style = STYLE[e.verdict] if e.ship_blocking or e.verdict is MutationVerdict.STRONG else "yellow"
            kept = " [dim](kept)[/dim]" if r.kept else ""
            sampled = f" (a sample: {e.not_run} more not run)" if e.not_run else ""
            detail = ", ".join(e.subject) + sampled + (f"\n[dim]{escape(e.reason)}[/dim]" if e.reason else "")
            tbl.add_row(e.falsifier_id, f"[{style}]{e.verdict.value}[/{style}]{kept}", str(e.killed),
                        str(e.survived), str(e.timed_out), str(e.incompetent), score_text(e), escape(detail))
        con.print(tbl)
        for r in results:
            if r.entry.survivors:
                con.print(f"[bold]{r.entry.falsifier_id}[/bold]: {len(r.entry.survivors)} surviving mutant(s)")
                for s in r.entry.survivors[:SHOWN_SURVIVORS]:
                    con.print(f"  {escape(s.file)}:{s.line}: {escape(s.diff)}", highlight=False)
                if len(r.entry.survivors) > SHOWN_SURVIVORS:
                    con.print(f"  … and {len(r.entry.survivors) - SHOWN_SURVIVORS} more (--format json lists all)")
    for p, why in report.not_mutated:
        con.print(f"[dim]{p.falsifier.id}: not mutated: {escape(why)}[/dim]")
    done = sum(not r.kept for r in report.results)
    kept = len(report.results) - done
    con.print(f"{done} falsifier(s) mutated ({report.mutants_run} mutant runs, {report.workers} worker(s), "
              f"{report.duration_s:.1f}s)" + (f", {kept} fresh verdict(s) kept" if kept else ""))
    for r in report.blocking_problems:
        con.print(f"[red]FAIL[/red]: {r.entry.falsifier_id} is ship-blocking and {r.entry.verdict.value}")
    if report.ok:
        con.print("[green]mutation OK[/green]: no ship-blocking falsifier is INERT")


def to_json(report: MutateReport) -> dict[str, Any]:
    return {
        "command": "mutate", "ok": report.ok, "duration_s": report.duration_s, "workers": report.workers,
        "mutants_run": report.mutants_run, "ledger": str(report.ledger_file) if report.ledger_file else None,
        "falsifiers": [{**r.entry.model_dump(mode="json", exclude={"inputs"}), "score": r.entry.score,
                        "kept": r.kept, "contract_file": r.planned.contract.display} for r in report.results],
        "not_mutated": [{"falsifier_id": p.falsifier.id, "reason": why} for p, why in report.not_mutated],
    }


def diagnostics(report: MutateReport) -> list[Diagnostic]:
    out = []
    for r in report.results:
        e = r.entry
        if e.verdict is not MutationVerdict.STRONG:
            error = e.ship_blocking and e.verdict in (MutationVerdict.INERT, MutationVerdict.ERROR)
            out.append(Diagnostic(file=r.planned.contract.display, line=r.planned.line, code="mutate",
                                  severity=Severity.ERROR if error else Severity.WARNING,
                                  message=f"{e.falsifier_id}: {e.verdict.value}: {e.reason or ''}".rstrip(": ")))
        out += [Diagnostic(file=s.file, line=s.line, code="mutate-survivor", severity=Severity.WARNING,
                           message=f"{e.falsifier_id}: mutant survived: {s.diff}",
                           hint="add an assertion that fails on this mutant, or mark a true equivalent "
                                "`# pragma: no mutate`") for s in e.survivors]
    return out


def sarif(report: MutateReport) -> SarifRun:
    findings: list[Finding] = [diagnostic_finding(d) for d in diagnostics(report)]
    return SarifRun("pv mutate", described(RULES), findings)


VIEW = View(MutateReport, text, to_json, sarif=sarif, github=diagnostics)

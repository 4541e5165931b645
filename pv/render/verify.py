"""How ``pv verify`` looks: rich tables, JSON, SARIF 2.1.0, GitHub annotations and JUnit XML.

SARIF results carry a ``kind`` (pass / fail / notApplicable / open) so code-scanning UIs show
passing falsifiers as passes, not as problems; only failures get level error (ship-blocking) or
warning (advisory). JUnit maps each contract to a ``<testsuite>`` and each falsifier to a
``<testcase>``, so any CI's test-report viewer can show falsifiers next to ordinary tests.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from rich.console import Console
from rich.markup import escape

from pv.diagnostics import Diagnostic, Severity, display_path
from pv.ledger import Outcome, brief
from pv.render.sarif import Finding, SarifRun, diagnostic_finding
from pv.render.text import print_diagnostics, table
from pv.render.view import View
from pv.verify import Verdict, VerifyReport

STYLE = {
    Outcome.PASS: "green", Outcome.FAIL: "red", Outcome.ERROR: "red", Outcome.SKIPPED: "yellow",
    Outcome.NOT_BOUND: "dim", Outcome.LIVE_NOT_RUN: "cyan", Outcome.CMD_NOT_RUN: "cyan",
}
_ORDER = [Outcome.FAIL, Outcome.ERROR, Outcome.SKIPPED, Outcome.LIVE_NOT_RUN, Outcome.CMD_NOT_RUN, Outcome.NOT_BOUND,
          Outcome.PASS]


def sort_key(v: Verdict) -> tuple[int, int, int]:
    """Ship-blocking failures first, then advisory failures, then the rest; contract order within."""
    return (0 if v.entry.ship_blocking or not v.entry.outcome.failed else 1, _ORDER.index(v.entry.outcome),
            v.planned.position)


def text(con: Console, report: VerifyReport, *, show_output: bool = False) -> None:
    print_diagnostics(con, report.diagnostics)
    if show_output and report.pytest_output:
        con.print(report.pytest_output, markup=False, highlight=False)
    elif report.pytest_exit not in (None, 0, 1) and report.pytest_output:
        con.print(f"[yellow]pytest exited {report.pytest_exit}; its output:[/yellow]")
        con.print(report.pytest_output[-3000:], markup=False, highlight=False)
    for c in report.contracts:
        meta = c.contract.contract.metadata if c.contract.contract else None
        title = f"{c.contract.id} v{meta.version} [{meta.status.value}]" if meta else c.contract.id
        tbl = table(f"{title}: {c.passed}/{len(c.verdicts)} falsifiers passed", ["falsifier", "outcome", "blocking",
                                                                                    "time"])
        tbl.add_column("test / reason", overflow="fold")
        for v in sorted(c.verdicts, key=sort_key):
            e = v.entry
            style = STYLE[e.outcome] if e.ship_blocking or not e.outcome.failed else "yellow"
            where = e.node_id or (e.binding or "")
            reason = f"[dim]{escape(brief(e.reason, 400))}[/dim]" if e.reason else ""
            detail = "\n".join(part for part in (escape(where), reason) if part)
            kept = " [dim](kept)[/dim]" if v.kept else ""
            tbl.add_row(e.falsifier_id, f"[{style}]{e.outcome.value.upper()}[/{style}]{kept}",
                        "yes" if e.ship_blocking else "no", f"{e.duration_s:.2f}s", detail)
            if show_output and v.output:
                tbl.add_row("", "", "", "", f"[dim]{escape(v.output[-2000:])}[/dim]")
        con.print(tbl)
    blocking = [v for c in report.contracts for v in c.blocking_failures]
    total = len(report.verdicts)
    passed = sum(v.entry.outcome is Outcome.PASS for v in report.verdicts)
    color = "red" if not report.ok else "green"
    ledger = f"; ledger: {display_path(report.ledger_file)}" if report.ledger_file else ""
    ran = sum(not v.kept and v.entry.outcome not in (Outcome.NOT_BOUND, Outcome.LIVE_NOT_RUN) for v in report.verdicts)
    kept = f" ({ran} run, {report.kept} fresh verdict(s) kept)" if report.kept else ""
    con.print(f"[{color}]{passed}/{total} falsifiers passed{kept}; {len(blocking)} ship-blocking failure(s)"
              f"[/{color}] in {report.duration_s:.1f}s{ledger}")


def verdict_diagnostics(report: VerifyReport) -> list[Diagnostic]:
    """Failures and errors as located diagnostics (for GitHub annotations); advisory ones are warnings."""
    out = list(report.diagnostics)
    for v in report.verdicts:
        e = v.entry
        if not e.outcome.failed:
            continue
        out.append(Diagnostic(file=v.planned.contract.display, line=v.planned.line, key_path=(
            f"falsification_tests[{v.planned.position}].test"), message=f"{e.falsifier_id} {e.outcome.value}: "
            f"{e.reason or 'no reason recorded'}", hint=v.planned.falsifier.if_fails, code=e.falsifier_id,
            severity=Severity.ERROR if e.ship_blocking else Severity.WARNING))
    return out


def to_json(report: VerifyReport) -> dict[str, Any]:
    return {
        "command": "verify",
        "ok": report.ok,
        "ledger": str(report.ledger_file) if report.ledger_file else None,
        "duration_s": report.duration_s,
        "kept": report.kept,
        "pytest_exit": report.pytest_exit,
        "contracts": [{
            "id": c.contract.id,
            "file": c.contract.display,
            "status": c.contract.contract.metadata.status.value if c.contract.contract else None,
            "version": c.contract.contract.metadata.version if c.contract.contract else None,
            "passed": c.passed,
            "total": len(c.verdicts),
            "ship_blocking_failures": [v.entry.falsifier_id for v in c.blocking_failures],
            "falsifiers": [{**v.entry.model_dump(mode="json", exclude={"inputs"}), "kept": v.kept,
                            "inputs": len(v.entry.inputs) if v.entry.inputs is not None else None}
                           for v in c.verdicts],
        } for c in report.contracts],
        "diagnostics": [d.model_dump(mode="json") for d in report.diagnostics],
    }


_SARIF_KIND = {
    Outcome.PASS: ("pass", "none"), Outcome.SKIPPED: ("notApplicable", "none"),
    Outcome.LIVE_NOT_RUN: ("notApplicable", "none"), Outcome.CMD_NOT_RUN: ("notApplicable", "none"),
    Outcome.NOT_BOUND: ("open", "none"),
}


def sarif(report: VerifyReport) -> SarifRun:
    run = SarifRun("pv verify")
    for v in report.verdicts:
        ft, e = v.planned.falsifier, v.entry
        run.rules[e.falsifier_id] = {
            "shortDescription": {"text": ft.rule}, "fullDescription": {"text": f"Prediction: {ft.prediction}"},
            "help": {"text": f"If it fails: {ft.if_fails}"},
            "properties": {"ship_blocking": ft.ship_blocking, "binding": ft.test}}
        kind, level = _SARIF_KIND.get(e.outcome, ("fail", "error" if e.ship_blocking else "warning"))
        text = f"{e.falsifier_id}: {e.outcome.value}" + (f": {e.reason}" if e.reason else "")
        run.findings.append(Finding(e.falsifier_id, level, text, v.planned.contract.display, v.planned.line,
                                    kind=kind, properties={"outcome": e.outcome.value, "node_id": e.node_id,
                                                           "duration_s": e.duration_s,
                                                           "exit_code": e.exit_code, "timed_out": e.timed_out}))
    run.findings += [diagnostic_finding(d) for d in report.diagnostics]
    return run


def to_junit(report: VerifyReport) -> str:
    suites = ET.Element("testsuites", name="pv verify", time=f"{report.duration_s:.3f}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for c in report.contracts:
        counts = {"tests": len(c.verdicts), "failures": 0, "errors": 0, "skipped": 0}
        suite = ET.SubElement(suites, "testsuite", name=c.contract.id, file=c.contract.display)
        for v in c.verdicts:
            e = v.entry
            case = ET.SubElement(suite, "testcase", classname=c.contract.id, name=e.falsifier_id,
                                 time=f"{e.duration_s:.3f}", file=c.contract.display)
            props = ET.SubElement(case, "properties")
            for name, value in (("ship_blocking", str(e.ship_blocking).lower()), ("node_id", e.node_id or ""),
                                ("outcome", e.outcome.value), ("timed_out", str(e.timed_out).lower())):
                ET.SubElement(props, "property", name=name, value=value)
            if e.exit_code is not None:
                ET.SubElement(props, "property", name="exit_code", value=str(e.exit_code))
            if e.outcome is Outcome.FAIL:
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=e.reason or "failed", type="falsified").text = e.reason
            elif e.outcome is Outcome.ERROR:
                counts["errors"] += 1
                ET.SubElement(case, "error", message=e.reason or "error", type="error").text = e.reason
            elif e.outcome is not Outcome.PASS:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=f"{e.outcome.value}: {e.reason or ''}".rstrip(": "))
            if e.output_tail:
                ET.SubElement(case, "system-out").text = e.output_tail
        time = sum(v.entry.duration_s for v in c.verdicts)
        suite.set("time", f"{time:.3f}")
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


VIEW = View(VerifyReport, text, to_json, sarif, verdict_diagnostics)

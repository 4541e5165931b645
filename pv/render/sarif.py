"""The one SARIF 2.1.0 builder, for every command that speaks it (validate, lint, verify).

A command's view turns its result into a ``SarifRun``: rules (id -> rule fields beyond ``id``) and
findings; this module does the indexing and the envelope. Results carry a ``kind`` only when it
is not SARIF's default ("fail"), so a verify run can show passing falsifiers as passes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pv import __version__
from pv.diagnostics import Diagnostic, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://provable-train.dev/pv"


@dataclass(frozen=True)
class Finding:
    rule_id: str
    level: str  # error | warning | note | none
    text: str
    file: str
    line: int | None = None
    col: int | None = None
    kind: str | None = None  # pass | fail | notApplicable | open ...; None: SARIF's default, fail
    properties: dict[str, Any] | None = None


@dataclass
class SarifRun:
    tool: str
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> shortDescription, help, ...
    findings: list[Finding] = field(default_factory=list)


def diagnostic_finding(d: Diagnostic) -> Finding:
    text = d.message + (f" (at {d.key_path})" if d.key_path else "") + (f" Fix: {d.hint}" if d.hint else "")
    level = "error" if d.severity is Severity.ERROR else "warning"
    return Finding(d.code, level, text, d.file, d.line, d.col)


def described(rules: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Rules that carry only a one-line description."""
    return {rid: {"shortDescription": {"text": text}} for rid, text in rules.items()}


def sarif_log(run: SarifRun) -> str:
    rule_ids = sorted(set(run.rules) | {f.rule_id for f in run.findings})
    rules = [{"id": rid, **run.rules.get(rid, {"shortDescription": {"text": rid}})} for rid in rule_ids]
    results = []
    for f in run.findings:
        result: dict[str, Any] = {"ruleId": f.rule_id, "ruleIndex": rule_ids.index(f.rule_id)}
        if f.kind is not None:
            result["kind"] = f.kind
        result.update({"level": f.level, "message": {"text": f.text}, "locations": [_location(f)]})
        if f.properties is not None:
            result["properties"] = f.properties
        results.append(result)
    driver = {"name": run.tool, "version": __version__, "informationUri": INFORMATION_URI, "rules": rules}
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0",
                       "runs": [{"tool": {"driver": driver}, "results": results}]}, indent=2)


def _location(f: Finding) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": Path(f.file).as_posix()}}
    if f.line is not None:
        physical["region"] = {"startLine": f.line, **({"startColumn": f.col} if f.col is not None else {})}
    return {"physicalLocation": physical}

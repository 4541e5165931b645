"""Machine formats: JSON, SARIF 2.1.0 (code-scanning UIs) and GitHub Actions annotations."""

from __future__ import annotations

import json
from typing import Any

from pv import __version__
from pv.diagnostics import Diagnostic, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def render_json(diagnostics: list[Diagnostic], summary: dict[str, Any]) -> str:
    payload = {**summary, "diagnostics": [d.model_dump(mode="json") for d in diagnostics]}
    return json.dumps(payload, indent=2, sort_keys=False)


def render_sarif(diagnostics: list[Diagnostic], rules: dict[str, str]) -> str:
    used = sorted({d.code for d in diagnostics} | set(rules))
    results = []
    for d in diagnostics:
        region: dict[str, int] = {}
        if d.line is not None:
            region["startLine"] = d.line
            if d.col is not None:
                region["startColumn"] = d.col
        location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": d.file}}}
        if region:
            location["physicalLocation"]["region"] = region
        text = d.message + (f" (at {d.key_path})" if d.key_path else "") + (f" Fix: {d.hint}" if d.hint else "")
        results.append({
            "ruleId": d.code,
            "ruleIndex": used.index(d.code),
            "level": "error" if d.severity is Severity.ERROR else "warning",
            "message": {"text": text},
            "locations": [location],
        })
    run = {
        "tool": {"driver": {
            "name": "pv",
            "version": __version__,
            "informationUri": "https://provable-train.dev/pv",
            "rules": [{"id": r, "shortDescription": {"text": rules.get(r, r)}} for r in used],
        }},
        "results": results,
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2)


def _escape(value: str, *, prop: bool) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def render_github(diagnostics: list[Diagnostic]) -> str:
    lines = []
    for d in diagnostics:
        props = [f"file={_escape(d.file, prop=True)}"]
        if d.line is not None:
            props.append(f"line={d.line}")
        if d.col is not None:
            props.append(f"col={d.col}")
        props.append(f"title={_escape('pv ' + d.code, prop=True)}")
        kind = "error" if d.severity is Severity.ERROR else "warning"
        message = d.message + (f" at {d.key_path}" if d.key_path else "") + (f". Fix: {d.hint}" if d.hint else "")
        lines.append(f"::{kind} {','.join(props)}::{_escape(message, prop=False)}")
    return "\n".join(lines)

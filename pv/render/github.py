"""GitHub Actions workflow commands: one ``::error``/``::warning`` annotation per diagnostic."""

from __future__ import annotations

from pv.diagnostics import Diagnostic, Severity


def _escape(value: str, *, prop: bool) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def annotations(diagnostics: list[Diagnostic]) -> str:
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

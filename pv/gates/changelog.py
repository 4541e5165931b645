"""The changelog tells the same story as metadata.

The newest entry's version equals ``metadata.version``, versions strictly increase as semver,
and dates never go backwards; ``updated`` is not before the newest entry.
"""

from __future__ import annotations

from pv.diagnostics import Diagnostic
from pv.lint_context import GateInfo, LintContext
from pv.semver import parse_semver

GATE = GateInfo(
    name="changelog",
    title="changelog matches version, semver and dates ordered",
    fails_when="newest entry ≠ `metadata.version`, versions not strictly increasing, dates going backwards",
)


def check(ctx: LintContext) -> list[Diagnostic]:
    out = []
    for lc, contract in ctx.valid:
        meta, log = contract.metadata, contract.metadata.changelog
        for i in range(1, len(log)):
            prev, cur = log[i - 1], log[i]
            if parse_semver(cur.version) <= parse_semver(prev.version):
                out.append(ctx.diag(lc, ["metadata", "changelog", i, "version"],
                                    f"changelog version {cur.version} does not increase over {prev.version}",
                                    hint="list entries oldest first, each with a higher version", code=GATE.name))
            if cur.date < prev.date:
                out.append(ctx.diag(lc, ["metadata", "changelog", i, "date"],
                                    f"changelog date {cur.date} is before the previous entry's {prev.date}",
                                    hint="entries are oldest first; fix the date or the order", code=GATE.name))
        newest = log[-1]
        if newest.version != meta.version:
            out.append(ctx.diag(lc, ["metadata", "version"],
                                f"metadata.version {meta.version} != newest changelog entry {newest.version}",
                                hint=f"add a changelog entry for {meta.version} or set version: {newest.version}",
                                code=GATE.name))
        if meta.updated < newest.date:
            out.append(ctx.diag(lc, ["metadata", "updated"],
                                f"updated {meta.updated} is before the newest changelog date {newest.date}",
                                hint=f"set updated: {newest.date}", code=GATE.name))
        if meta.created > log[0].date:
            out.append(ctx.diag(lc, ["metadata", "created"],
                                f"created {meta.created} is after the first changelog date {log[0].date}",
                                hint=f"set created: {log[0].date}", code=GATE.name))
    return out

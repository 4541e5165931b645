"""Gate 3: the changelog tells the same story as metadata.

The newest entry's version equals ``metadata.version``, versions strictly increase as semver,
and dates never go backwards; ``updated`` is not before the newest entry.
"""

from __future__ import annotations

from pv.diagnostics import Diagnostic
from pv.lint_context import LintContext
from pv.semver import parse_semver


def check(ctx: LintContext) -> list[Diagnostic]:
    out = []
    for lc, contract in ctx.valid:
        meta, log = contract.metadata, contract.metadata.changelog
        for i in range(1, len(log)):
            prev, cur = log[i - 1], log[i]
            if parse_semver(cur.version) <= parse_semver(prev.version):
                out.append(ctx.diag(lc, ["metadata", "changelog", i, "version"],
                                    f"changelog version {cur.version} does not increase over {prev.version}",
                                    hint="list entries oldest first, each with a higher version", code="changelog"))
            if cur.date < prev.date:
                out.append(ctx.diag(lc, ["metadata", "changelog", i, "date"],
                                    f"changelog date {cur.date} is before the previous entry's {prev.date}",
                                    hint="entries are oldest first; fix the date or the order", code="changelog"))
        newest = log[-1]
        if newest.version != meta.version:
            out.append(ctx.diag(lc, ["metadata", "version"],
                                f"metadata.version {meta.version} != newest changelog entry {newest.version}",
                                hint=f"add a changelog entry for {meta.version} or set version: {newest.version}",
                                code="changelog"))
        if meta.updated < newest.date:
            out.append(ctx.diag(lc, ["metadata", "updated"],
                                f"updated {meta.updated} is before the newest changelog date {newest.date}",
                                hint=f"set updated: {newest.date}", code="changelog"))
        if meta.created > log[0].date:
            out.append(ctx.diag(lc, ["metadata", "created"],
                                f"created {meta.created} is after the first changelog date {log[0].date}",
                                hint=f"set created: {log[0].date}", code="changelog"))
    return out

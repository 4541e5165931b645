"""Print a command's result in the format asked for: one ``render``, one view per result type.

``text`` is for people (rich), ``json`` for scripts, ``sarif`` for code-scanning UIs and
``github`` for Actions annotations, ``markdown`` for documents; each command offers the formats its
result's view supports.
"""

from __future__ import annotations

import json
from typing import Any

from pv.render import coverage, dashboard, diff, gates, lint, migrate, mutate, promote, scaffold, validate, verify
from pv.render.github import annotations
from pv.render.sarif import sarif_log
from pv.render.text import console
from pv.render.view import View

VIEWS: dict[type, View] = {m.VIEW.result_type: m.VIEW for m in (validate, lint, gates, verify, dashboard,
                                                                  promote, coverage, diff, scaffold,
                                                                  migrate, mutate)}


def formats(result_type: type) -> tuple[str, ...]:
    """The output formats a command returning ``result_type`` can offer."""
    return VIEWS[result_type].formats


def render(result: Any, fmt: str, **options: Any) -> None:
    """Print ``result`` to stdout as ``fmt``; ``options`` go to the text view (e.g. ``show_output``)."""
    if fmt == "text":
        VIEWS[type(result)].text(console(), result, **options)
        return
    out = dumps(result, fmt)
    if out:
        print(out)


def dumps(result: Any, fmt: str) -> str:
    """``result`` as json, sarif, github or markdown text; empty when there is nothing to say."""
    view = VIEWS[type(result)]
    if fmt == "json":
        return json.dumps(view.json(result), indent=2)
    if fmt == "sarif" and view.sarif is not None:
        return sarif_log(view.sarif(result))
    if fmt == "github" and view.github is not None:
        return annotations(view.github(result))
    if fmt == "markdown" and view.markdown is not None:
        return view.markdown(result)
    raise ValueError(f"no {fmt} output for {type(result).__name__}")

"""What a result type supplies so ``pv.render.render`` can print it in each output format."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pv.diagnostics import Diagnostic
from pv.render.sarif import SarifRun


@dataclass(frozen=True)
class View:
    """How one result type looks: text for people always, json always, sarif/github where they make sense."""

    result_type: type
    text: Callable[..., None]  # (console, result, **options)
    json: Callable[[Any], dict[str, Any]]
    sarif: Callable[[Any], SarifRun] | None = None
    github: Callable[[Any], list[Diagnostic]] | None = None  # one annotation per diagnostic
    markdown: Callable[[Any], str] | None = None  # for documents

    @property
    def formats(self) -> tuple[str, ...]:
        optional = {"sarif": self.sarif, "github": self.github, "markdown": self.markdown}
        return ("text", "json", *(fmt for fmt, how in optional.items() if how is not None))

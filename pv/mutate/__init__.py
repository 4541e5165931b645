"""``pv mutate``: mutation analysis of each falsifier's bound test against the code it guards.

Public API: ``mutate(ws, paths, ...) -> MutateReport`` (``pv.mutate.session``). The modules, in
the order data flows: ``subject`` (what to mutate), ``mutants`` (mutmut's operators), ``runner``
and ``worker`` (warm interpreters, one forked child per run) with ``overlay`` (the mutant is
imported, never written), ``verdict`` (kills, survivors, STRONG / INERT / NO-SUBJECT), ``report``.
"""

from __future__ import annotations

from typing import Any

_LAZY = {"mutate": "pv.mutate.session", "MutateReport": "pv.mutate.report"}


def __getattr__(name: str) -> Any:
    """The API, imported on first use: linting a contract must not import libcst and mutmut."""
    if name not in _LAZY:
        raise AttributeError(f"module 'pv.mutate' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)

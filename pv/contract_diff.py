"""What changed between two versions of a contract, and the semver bump that change requires.

A contract's version is a promise to the people who rely on it: a ledger verdict, a promotion,
a downstream ``depends_on`` all refer to what the contract claimed at that version. So:

* **major**: the contract now promises *less*: a falsifier or equation removed, a falsifier
  made advisory or unbound, a loss floor dropped, an invariant removed, a precondition added
  (the claim holds in fewer cases), the id changed;
* **minor**: it promises something new or different: a falsifier, equation, invariant or
  obligation added; a rule, prediction, formula, check or binding changed; the status changed
  (``pv promote`` bumps minor). pv cannot tell a reworded rule from a weakened one, so a changed
  rule asks for minor at least; weakening it is a major change its author must declare;
* **patch**: wording that changes no claim: ``if_fails``, descriptions, references, notes.

``version``, ``updated`` and ``changelog`` are the bump itself and are not compared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from pv.models import Contract, Equation, FalsificationTest
from pv.semver import parse_semver


class Bump(IntEnum):
    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Change:
    bump: Bump
    where: str  # key path, e.g. "falsification_tests[FALSIFY-X-001].if_fails"
    what: str


def _same(a: object, b: object) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return " ".join(a.split()) == " ".join(b.split())  # re-folding a YAML paragraph is no change
    return a == b


def _field(out: list[Change], where: str, name: str, old: Any, new: Any, bump: Bump, what: str | None = None) -> None:
    if not _same(old, new):
        out.append(Change(bump, f"{where}.{name}", what or f"{name} changed"))


def _keyed(out: list[Change], where: str, old: Iterable[str], new: Iterable[str], *, added: Bump, removed: Bump,
           noun: str) -> None:
    old_set, new_set = list(dict.fromkeys(old)), list(dict.fromkeys(new))
    out += [Change(removed, where, f"{noun} removed: {x}") for x in old_set if x not in new_set]
    out += [Change(added, where, f"{noun} added: {x}") for x in new_set if x not in old_set]


def diff_contracts(old: Contract, new: Contract) -> list[Change]:
    out: list[Change] = []
    om, nm = old.metadata, new.metadata
    if om.id != nm.id:
        out.append(Change(Bump.MAJOR, "metadata.id", f"id changed: {om.id} -> {nm.id} (a different contract)"))
    if om.status is not nm.status:
        out.append(Change(Bump.MINOR, "metadata.status", f"status {om.status.value} -> {nm.status.value}"))
    _field(out, "metadata", "kind", om.kind, nm.kind, Bump.MINOR, f"kind {om.kind.value} -> {nm.kind.value}")
    _keyed(out, "metadata.depends_on", om.depends_on, nm.depends_on, added=Bump.MINOR, removed=Bump.MINOR,
           noun="dependency")
    for name in ("description", "author"):
        _field(out, "metadata", name, getattr(om, name), getattr(nm, name), Bump.PATCH)
    _keyed(out, "metadata.references", om.references, nm.references, added=Bump.PATCH, removed=Bump.PATCH,
           noun="reference")

    _keyed(out, "equations", old.equations, new.equations, added=Bump.MINOR, removed=Bump.MAJOR, noun="equation")
    for name in old.equations.keys() & new.equations.keys():
        _equation(out, f"equations.{name}", old.equations[name], new.equations[name])

    old_ob = {o.property: o for o in old.proof_obligations}
    new_ob = {o.property: o for o in new.proof_obligations}
    _keyed(out, "proof_obligations", old_ob, new_ob, added=Bump.MINOR, removed=Bump.MAJOR, noun="obligation")
    for prop in old_ob.keys() & new_ob.keys():
        a, b = old_ob[prop], new_ob[prop]
        where = f"proof_obligations[{prop[:40]}]"
        _field(out, where, "type", a.type, b.type, Bump.MINOR)
        _field(out, where, "formal", a.formal, b.formal, Bump.MINOR)
        _field(out, where, "applies_to", sorted(a.applies_to), sorted(b.applies_to), Bump.MINOR)

    old_f = {f.id: f for f in old.falsification_tests}
    new_f = {f.id: f for f in new.falsification_tests}
    _keyed(out, "falsification_tests", old_f, new_f, added=Bump.MINOR, removed=Bump.MAJOR, noun="falsifier")
    for fid in [f for f in old_f if f in new_f]:
        _falsifier(out, f"falsification_tests[{fid}]", old_f[fid], new_f[fid])

    if (old.verification_summary or None) != (new.verification_summary or None):
        out.append(Change(Bump.PATCH, "verification_summary", "verification_summary changed"))
    return out


def _equation(out: list[Change], where: str, a: Equation, b: Equation) -> None:
    _field(out, where, "formula", a.formula, b.formula, Bump.MINOR)
    for name in ("domain", "codomain"):
        _field(out, where, name, getattr(a, name), getattr(b, name), Bump.MINOR)
    _field(out, where, "description", a.description, b.description, Bump.PATCH)
    _keyed(out, f"{where}.invariants", a.invariants, b.invariants, added=Bump.MINOR, removed=Bump.MAJOR,
           noun="invariant")
    # A new precondition narrows where the claim holds: that weakens it.
    _keyed(out, f"{where}.preconditions", a.preconditions, b.preconditions, added=Bump.MAJOR, removed=Bump.MINOR,
           noun="precondition")


_Rule = Callable[[Any, Any], tuple[Bump, str] | None]


def _ship_blocking(a: bool, b: bool) -> tuple[Bump, str] | None:
    if a == b:
        return None
    return (Bump.MAJOR, "made advisory (ship_blocking true -> false)") if a else \
        (Bump.MINOR, "made ship-blocking (false -> true)")


def _binding(a: str | None, b: str | None) -> tuple[Bump, str] | None:
    if _same(a, b):
        return None
    if a and not b:
        return Bump.MAJOR, f"unbound (was {a})"
    if b and not a:
        return Bump.MINOR, f"bound to {b}"
    return Bump.MINOR, f"rebound: {a} -> {b}"


def _loss_floor(a: float | None, b: float | None) -> tuple[Bump, str] | None:
    if a == b:
        return None
    if b is None:
        return Bump.MAJOR, f"loss_floor {a} removed"
    return Bump.MINOR, f"loss_floor {a} -> {b}"


def _text(bump: Bump) -> _Rule:
    return lambda a, b: None if _same(a, b) else (bump, "changed")


FALSIFIER_RULES: dict[str, _Rule] = {
    "ship_blocking": _ship_blocking,
    "test": _binding,
    "loss_floor": _loss_floor,
    "rule": _text(Bump.MINOR),
    "prediction": _text(Bump.MINOR),
    "check": _text(Bump.MINOR),
    "metrics_file": _text(Bump.MINOR),
    "artifacts": lambda a, b: None if sorted(a) == sorted(b) else (Bump.MINOR, "artifacts changed"),
    "applies_to": lambda a, b: None if sorted(a) == sorted(b) else (Bump.PATCH, "equation links changed"),
    "if_fails": _text(Bump.PATCH),
    "counter_example_classes": lambda a, b: None if sorted(a) == sorted(b) else (Bump.PATCH, "changed"),
    "discharge_level": lambda a, b: None if a == b else (Bump.PATCH, f"{a.value} -> {b.value}"),
    "verdict": lambda a, b: None if a == b else (Bump.PATCH, f"{a.value} -> {b.value}"),
}


def _falsifier(out: list[Change], where: str, a: FalsificationTest, b: FalsificationTest) -> None:
    for name in FalsificationTest.model_fields:
        if name == "id":
            continue
        rule = FALSIFIER_RULES.get(name, _text(Bump.MINOR))  # a field added to the schema later: minor
        found = rule(getattr(a, name), getattr(b, name))
        if found is not None:
            bump, what = found
            out.append(Change(bump, f"{where}.{name}", f"{name} {what}" if not what.startswith(name) else what))


def required_bump(changes: list[Change]) -> Bump:
    return max((c.bump for c in changes), default=Bump.NONE)


def version_bump(old: str, new: str) -> Bump | None:
    """The bump from ``old`` to ``new`` (NONE when equal), or None when ``new`` is not higher."""
    a, b = parse_semver(old), parse_semver(new)
    if b == a:
        return Bump.NONE
    if b < a:
        return None
    if b[0] > a[0]:
        return Bump.MAJOR
    if b[1] > a[1]:
        return Bump.MINOR
    return Bump.PATCH


def next_version(old: str, bump: Bump) -> str:
    major, minor, patch, _ = parse_semver(old)
    if bump is Bump.MAJOR:
        return f"{major + 1}.0.0"
    if bump is Bump.MINOR:
        return f"{major}.{minor + 1}.0"
    if bump is Bump.PATCH:
        return f"{major}.{minor}.{patch + 1}"
    return old


@dataclass(frozen=True)
class DiffReport:
    """What changed from ``old`` to ``new``, and whether ``new`` carries the bump and changelog entry it needs."""

    old_name: str  # how the caller named each side (a file, or REV:PATH)
    new_name: str
    changes: list[Change]
    required: Bump
    actual: Bump | None  # None: the version went down or sideways
    old_version: str
    new_version: str
    changelog_entry: bool  # the newest changelog entry is new and names the new version

    @property
    def problems(self) -> list[str]:
        out = []
        if self.actual is None:
            out.append(f"version went from {self.old_version} to {self.new_version}, which is not higher")
        elif self.actual < self.required:
            needed = next_version(self.old_version, self.required)
            out.append(f"changes need a {self.required.label} bump (to {needed} at least), but the version "
                       + (f"stayed {self.new_version}" if self.actual is Bump.NONE
                          else f"only got a {self.actual.label} bump ({self.old_version} -> {self.new_version})"))
        if self.required is not Bump.NONE and not self.changelog_entry:
            out.append(f"no new changelog entry for {self.new_version}")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems


def judge(old: Contract, new: Contract, *, old_name: str = "old", new_name: str = "new") -> DiffReport:
    changes = diff_contracts(old, new)
    old_v, new_v = old.metadata.version, new.metadata.version
    old_log = {(e.version, e.date, e.change) for e in old.metadata.changelog}
    newest = new.metadata.changelog[-1]
    fresh_entry = newest.version == new_v and (newest.version, newest.date, newest.change) not in old_log
    return DiffReport(old_name, new_name, changes, required_bump(changes), version_bump(old_v, new_v), old_v, new_v,
                      fresh_entry)

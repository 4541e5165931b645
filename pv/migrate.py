"""``pv migrate`` as a library: rewrite reference-format contracts into this project's schema.

The reference ``pv`` (the Rust provable-contracts tool) and this one share most of a contract's
shape; what the reference format lacks or says differently is changed here, round-trip (comments,
key order and quoting kept, through ``pv.yaml_edit``):

* ``metadata.id`` from the file name;
* ``kind`` mapped (``pv.enums.REFERENCE_KINDS``, overridable per word), or left for a person
  when the reference word has no equivalent (``pattern``);
* a missing ``status`` becomes DRAFT (nothing is claimed), a missing ``created`` the first
  changelog date, and a newest-first changelog is put oldest first;
* a scalar ``applies_to`` becomes a one-item list when it names an equation, and is dropped when
  it is a reference implementation word (``all``, ``scalar``, ``simd``, ``converter``);
* a bare shell command as ``test:`` becomes a ``CMD:`` binding (prose stays for a person);
* ``ship_blocking`` is set on every falsifier lacking it, from the stated default;
* all of it is recorded in a new changelog entry, with a minor version bump and ``updated``.

Whatever cannot be decided mechanically is listed as needing a person, and that file is not
written: a migrated file must validate. Running it again on a migrated file changes nothing.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from pv.binding import BindingKind, parse_binding
from pv.commandline import looks_like_command
from pv.diagnostics import display_path
from pv.enums import REFERENCE_KINDS, ContractKind, Status
from pv.fileio import atomic_write_text
from pv.loader import load_contract
from pv.semver import bump_minor, parse_semver
from pv.workspace import Workspace
from pv.yaml_edit import (
    EditError,
    bump_with_changelog,
    changelog_entry,
    edit_yaml_text,
    insert_key,
    reformats,
)

IMPLEMENTATION_WORDS = {"all", "scalar", "simd", "converter"}
METADATA_ORDER = ["id", "version", "status", "kind", "created", "updated", "author", "description", "references",
                  "depends_on", "changelog"]


@dataclass
class MigrationResult:
    file: str
    changes: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)  # what a person must decide; the file is not written
    version: str | None = None  # the new version, when changed
    diff: str = ""
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.needs

    @property
    def unchanged(self) -> bool:
        return self.ok and not self.changes


@dataclass
class MigrationReport:
    results: list[MigrationResult]
    write: bool  # whether the caller asked for files to be written
    show_diff: bool = False

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


def migrate(ws: Workspace, paths: list[Path], *, ship_blocking_default: bool = True,
            kind_map: Mapping[str, ContractKind] | None = None, date: dt.date | None = None,
            write: bool = False, show_diff: bool = False) -> MigrationReport:
    """Migrate every contract file at ``paths`` (see ``migrate_file``)."""
    return MigrationReport([migrate_file(p, ws.root, ship_blocking_default=ship_blocking_default, kind_map=kind_map,
                                         date=date, write=write) for p in paths], write, show_diff)


def migrate_file(path: Path, root: Path, *, ship_blocking_default: bool = True,
                 kind_map: Mapping[str, ContractKind] | None = None, date: dt.date | None = None,
                 write: bool = False) -> MigrationResult:
    shown = display_path(path, root)
    result = MigrationResult(shown)
    date = date or dt.date.today()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        result.needs.append(f"cannot read the file: {exc}")
        return result
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    plan = _Plan(stem, ship_blocking_default, {**_default_kinds(), **(kind_map or {})}, date)
    try:
        reformatted = reformats(text)
        new_text = edit_yaml_text(text, plan.apply, allow_reformat=True)
    except EditError as exc:
        result.needs.append(str(exc))
        return result
    result.changes, result.needs, result.version = plan.changes, plan.needs, plan.version
    if reformatted and plan.changes:
        result.changes.append("formatting normalized by the round trip (mixed indentation styles or escapes; comments "
                              "and key order kept)")
    if result.needs:
        return result
    problems = _validate(path.name, new_text if plan.changes else text, shown)
    if problems:
        verb = "still invalid after migration" if plan.changes else "invalid, and nothing pv migrate can change"
        result.needs += [f"{verb}: {p}" for p in problems]
        return result
    if not plan.changes:
        return result
    result.diff = "".join(difflib.unified_diff(text.splitlines(True), new_text.splitlines(True),
                                               fromfile=shown, tofile=shown))
    if write:
        atomic_write_text(path, new_text)
        result.written = True
    return result


def _default_kinds() -> dict[str, ContractKind]:
    return {word: ours for word, ours in REFERENCE_KINDS.items() if ours is not None}


def _validate(name: str, text: str, shown: str) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="pv-migrate-") as tmp:
        probe = Path(tmp) / name
        probe.write_text(text, encoding="utf-8")
        lc = load_contract(probe, shown)
    return [d.one_line() for d in lc.diagnostics]


class _Plan:
    """The edits for one document, gathered while applying them to the round-trip tree."""

    def __init__(self, stem: str, ship_blocking: bool, kinds: dict[str, ContractKind], date: dt.date) -> None:
        self.stem, self.ship_blocking, self.kinds, self.date = stem, ship_blocking, kinds, date
        self.changes: list[str] = []
        self.needs: list[str] = []
        self.version: str | None = None

    def apply(self, doc: CommentedMap) -> None:
        meta = doc.get("metadata")
        if not isinstance(meta, CommentedMap):
            self.needs.append("no `metadata:` mapping")
            return
        self._metadata(meta)
        self._obligations(doc)
        self._falsifiers(doc)
        if self.changes and not self.needs:
            self._record(meta)

    # -- metadata --------------------------------------------------------------------------

    def _metadata(self, meta: CommentedMap) -> None:
        cid = meta.get("id")
        if cid is None:
            _insert(meta, "id", self.stem)
            self.changes.append(f"metadata.id: {self.stem} (from the file name)")
        elif cid != self.stem:
            self.needs.append(f"metadata.id {cid!r} differs from the file name {self.stem!r}: rename the file or "
                              "change the id")
        self._kind(meta)
        status = meta.get("status")
        if status is None:
            _insert(meta, "status", Status.DRAFT.value)
            self.changes.append("status: DRAFT (none was stated; DRAFT claims nothing)")
        elif status not in {s.value for s in Status}:
            self.needs.append(f"status {status!r} is not one of {', '.join(s.value for s in Status)}: choose the "
                              "status the evidence supports")
        for key in ("author", "description", "version"):
            if not meta.get(key):
                self.needs.append(f"metadata.{key} is missing: add it")
        self._changelog(meta)

    def _kind(self, meta: CommentedMap) -> None:
        kind = meta.get("kind")
        ours = {k.value for k in ContractKind}
        if kind is None:
            _insert(meta, "kind", ContractKind.KERNEL.value)
            self.changes.append("kind: kernel (the reference pv's default when none is stated)")
        elif kind in ours and kind not in self.kinds:
            return
        elif isinstance(kind, str) and kind in self.kinds:
            target = self.kinds[kind].value
            if target != kind:
                meta["kind"] = target
                self.changes.append(f"kind: {kind} -> {target}")
        else:
            self.needs.append(f"kind {kind!r} has no equivalent here: choose one of {', '.join(sorted(ours))} and "
                              f"rerun with --kind {kind}=KIND")

    def _changelog(self, meta: CommentedMap) -> None:
        log = meta.get("changelog")
        if log is None:
            if "created" not in meta:
                _insert(meta, "created", _fresh(self.date))
                self.changes.append(f"created: {self.date} (none was stated; the migration date)")
            return
        if not isinstance(log, list) or not all(isinstance(e, Mapping) for e in log):
            self.needs.append("metadata.changelog is not a list of entries")
            return
        try:
            versions = [parse_semver(str(e.get("version"))) for e in log]
        except ValueError:
            self.needs.append("a changelog version is not a semantic version (like 1.2.0)")
            return
        if len(log) > 1 and all(a > b for a, b in itertools.pairwise(versions)):
            log.reverse()
            self.changes.append("changelog put oldest first (it was newest first)")
        if "created" not in meta and log:
            _insert(meta, "created", log[0].get("date"))
            self.changes.append(f"created: {log[0].get('date')} (the first changelog date)")

    # -- obligations and falsifiers ----------------------------------------------------------

    def _obligations(self, doc: CommentedMap) -> None:
        equations = doc.get("equations") if isinstance(doc.get("equations"), Mapping) else {}
        obligations = doc.get("proof_obligations")
        if not isinstance(obligations, list):
            return
        for i, ob in enumerate(obligations):
            if not isinstance(ob, CommentedMap) or not isinstance(ob.get("applies_to"), str):
                continue
            word = ob["applies_to"]
            where = ob.get("id") or f"proof_obligations[{i}]"
            if word in equations:
                seq = CommentedSeq([word])
                seq.fa.set_flow_style()
                ob["applies_to"] = seq
                self.changes.append(f"{where}: applies_to: {word} -> [{word}]")
            elif word.lower() in IMPLEMENTATION_WORDS:
                del ob["applies_to"]
                self.changes.append(f"{where}: applies_to: {word} dropped (a reference implementation word, "
                                    "not an equation)")
            else:
                self.needs.append(f"{where}: applies_to {word!r} names no equation: list the equations it covers")

    def _falsifiers(self, doc: CommentedMap) -> None:
        tests = doc.get("falsification_tests")
        if not isinstance(tests, list):
            return
        defaulted = []
        for ft in tests:
            if not isinstance(ft, CommentedMap):
                continue
            fid = ft.get("id", "?")
            raw = ft.get("test")
            if isinstance(raw, str) and parse_binding(raw).kind is BindingKind.INVALID:
                if looks_like_command(raw):
                    ft["test"] = f"CMD: {raw.strip()}"
                    self.changes.append(f"{fid}: test becomes `CMD: {raw.strip()}`")
                else:
                    self.needs.append(f"{fid}: test {raw.strip()!r} is neither a test nor a known command: write "
                                      "`CMD: <command>`, a pytest node id, or remove `test:` to leave it unbound")
            if "ship_blocking" not in ft:
                _insert_after(ft, "ship_blocking", self.ship_blocking, "if_fails")
                defaulted.append(str(fid))
        if defaulted:
            value = str(self.ship_blocking).lower()
            self.changes.append(f"ship_blocking: {value} on {len(defaulted)} falsifier(s) ({', '.join(defaulted)}; "
                                "the reference format has no such field; the stated default)")

    # -- the record ------------------------------------------------------------------------

    def _record(self, meta: CommentedMap) -> None:
        try:
            self.version = bump_minor(str(meta.get("version")))
        except ValueError:
            self.needs.append(f"version {meta.get('version')!r} is not a semantic version (like 1.2.0)")
            return
        if "updated" not in meta:
            _insert(meta, "updated", _fresh(self.date))
        change = "Migrated from the reference pv format (pv migrate): " + "; ".join(self.changes) + "."
        if isinstance(meta.get("changelog"), list):
            bump_with_changelog(meta, self.version, self.date, change)
            return
        _insert(meta, "changelog", CommentedSeq([changelog_entry(self.version, self.date, change)]))
        meta["version"] = self.version
        meta["updated"] = _fresh(self.date)


def _insert(mapping: CommentedMap, key: str, value: Any) -> None:
    """Insert a metadata key where this project's contracts keep it (after its predecessors)."""
    order = METADATA_ORDER
    before = order[: order.index(key)] if key in order else list(mapping)
    position = 0
    for i, existing in enumerate(mapping):
        if existing in before:
            position = i + 1
    insert_key(mapping, position, key, value)


def _insert_after(mapping: CommentedMap, key: str, value: Any, after: str) -> None:
    keys = list(mapping)
    insert_key(mapping, keys.index(after) + 1 if after in keys else len(keys), key, value)


def _fresh(date: Any) -> Any:
    return dt.date(date.year, date.month, date.day) if isinstance(date, dt.date) else date

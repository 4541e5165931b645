"""Read a contract file into a validated model, or into located diagnostics - never a traceback."""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from yaml.nodes import Node

from pv.diagnostics import Diagnostic, format_key_path
from pv.enums import REFERENCE_KINDS, ContractKind
from pv.fileio import NotRegularFile, read_text
from pv.models import Contract
from pv.semver import MAX_DIGITS, SEMVER_PATTERN
from pv.yaml_nodes import Positions, YamlLoadError, build, compose


@dataclass
class LoadedContract:
    """A contract file as loaded: the model when it validated, the diagnostics otherwise.

    The YAML node tree (for locating later findings) is recomposed from ``text`` on demand rather
    than kept: holding thousands of node trees alive makes Python's cyclic GC rescan millions of
    objects, which more than doubled the cost of loading a large contract set.
    """

    path: Path
    display: str
    contract: Contract | None = None
    data: Any = None
    text: str | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @cached_property
    def node(self) -> Node | None:
        if self.text is None:
            return None
        try:
            return compose(self.text)
        except YamlLoadError:
            return None

    @cached_property
    def positions(self) -> Positions:
        """Where each key and value of the document sits, for locating findings."""
        return Positions(self.node)

    @property
    def ok(self) -> bool:
        return self.contract is not None and not self.diagnostics

    @property
    def id(self) -> str:
        if self.contract is not None:
            return self.contract.metadata.id
        return self.path.stem


def load_contract(path: Path, display: str | None = None) -> LoadedContract:
    shown = display or str(path)
    try:
        text = read_text(path)
    except FileNotFoundError:
        return _failed(path, shown, "file not found", hint="check the path")
    except NotRegularFile as exc:
        return _failed(path, shown, f"{exc.strerror}, so not a contract file",
                       hint="pass contract files, e.g. contracts/*.yaml")
    except UnicodeDecodeError as exc:
        return _failed(path, shown, f"not valid UTF-8 (byte {exc.start})", hint="save the file as UTF-8")
    except OSError as exc:
        return _failed(path, shown, f"cannot read: {exc.strerror}")
    return load_contract_text(text, path, shown)


def _failed(path: Path, shown: str, message: str, **kw: Any) -> LoadedContract:
    return LoadedContract(path=path, display=shown, diagnostics=[
        Diagnostic(file=shown, message=message, code="schema", **kw)])


def load_contract_text(text: str, path: Path, display: str | None = None) -> LoadedContract:
    """Validate contract ``text`` as if it were the file ``path`` (its name must match metadata.id).

    For contracts that are not on disk as such: a file at an older git revision, an edit not yet
    written.
    """
    shown = display or str(path)
    loaded = LoadedContract(path=path, display=shown)

    def fail(message: str, line: int | None = None, col: int | None = None, **kw: Any) -> LoadedContract:
        loaded.diagnostics.append(Diagnostic(file=shown, line=line, col=col, message=message, code="schema", **kw))
        return loaded

    try:
        node = compose(text)
        if node is None:
            return fail("empty document", 1, 1, hint="a contract needs at least `metadata:`")
        data = build(node)
    except YamlLoadError as exc:
        return fail(exc.message, exc.line, exc.col, hint=exc.hint)
    loaded.text, loaded.data = text, data

    if not isinstance(data, dict):
        line, col = Positions(node).locate([]) or (1, 1)
        return fail(f"top level is a {type(data).__name__}, expected a mapping", line, col,
                    hint="start with `metadata:`")
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    try:
        loaded.contract = Contract.model_validate(data)
    except ValidationError as exc:
        loaded.diagnostics.extend(_schema_diagnostics(exc, node, shown, stem))
        return loaded

    if loaded.contract.metadata.id != stem:
        line, col = Positions(node).locate(["metadata", "id"]) or (None, None)
        fail(f"metadata.id {loaded.contract.metadata.id!r} does not match the file name {stem!r}",
             line, col, key_path="metadata.id", hint=f"set `id: {stem}` or rename the file")
        loaded.contract = None
    return loaded


def _schema_diagnostics(exc: ValidationError, node: Node, shown: str, stem: str) -> list[Diagnostic]:
    errors = [(err, _clean_loc(err["loc"])) for err in exc.errors(include_url=False)]
    renamed = _renamed_keys(errors)
    out = []
    positions = Positions(node)  # one index for all the errors: each lookup is then O(depth)
    for err, loc in errors:
        kind = err["type"]
        if kind == "missing" and loc in renamed.values():
            continue  # reported once, with the unknown key that is its misspelling
        line_col = positions.locate(loc, at_key=kind == "extra_forbidden") or (None, None)
        if loc in renamed:
            wanted = renamed[loc][-1]
            message = f"`{loc[-1]}` is not a key; did you mean `{wanted}`, which is missing?"
            hint = f"rename `{loc[-1]}:` to `{wanted}:`"
        else:
            message, hint = _reference_format_conflict(err, loc, stem) or _explain(err, loc)
        out.append(Diagnostic(file=shown, line=line_col[0], col=line_col[1], key_path=format_key_path(loc),
                              message=message, hint=hint, code="schema"))
    return out


def _renamed_keys(errors: list[tuple[Any, tuple[str | int, ...]]]) -> dict[tuple, tuple]:
    """Unknown keys that are misspellings of a missing required key in the same mapping: one finding, not two."""
    missing: dict[tuple, list[str]] = {}  # parent mapping -> its missing keys (linear in the errors)
    for err, loc in errors:
        if err["type"] == "missing" and loc:
            missing.setdefault(loc[:-1], []).append(str(loc[-1]))
    out: dict[tuple, tuple] = {}
    for err, loc in errors:
        siblings = missing.get(loc[:-1]) if err["type"] == "extra_forbidden" and loc else None
        close = difflib.get_close_matches(str(loc[-1]), siblings, n=1) if siblings else None
        if close:
            siblings.remove(close[0])  # one misspelling per missing key
            out[loc] = (*loc[:-1], close[0])
    return out


def _clean_loc(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    # pydantic inserts validator names (e.g. 'str', 'function-after[...]') for union members.
    return tuple(p for p in loc if isinstance(p, int) or not (str(p).endswith("]") or p in {"str", "none"}))


def _reference_format_conflict(err: Any, loc: tuple[str | int, ...], stem: str) -> tuple[str, str] | None:
    """Where the reference pv's format and ours truly differ: say exactly what to change."""
    kind, value = err["type"], err.get("input")
    if kind == "missing" and loc == ("metadata", "id"):
        return ("missing required key 'id'", f"add `id: {stem}` under metadata (the reference pv takes the id "
                "from the file name; `pv migrate` adds it)")
    if kind == "missing" and len(loc) == 3 and loc[0] == "falsification_tests" and loc[2] == "ship_blocking":
        return ("missing required key 'ship_blocking'", "add `ship_blocking: true` (a failure blocks shipping) or "
                "`false` (advisory); for a reference-format suite `pv migrate --ship-blocking-default true|false` "
                "sets it on every falsifier and records it in the changelog")
    if kind == "missing" and loc in (("metadata", "updated"), ("metadata", "changelog")):
        what = "`updated: YYYY-MM-DD`" if loc[1] == "updated" else "a `changelog:` list with an entry per version"
        return (f"missing required key {loc[1]!r}", f"add {what} (reference-format contracts may lack it; "
                "`pv migrate` adds it)")
    if kind == "list_type" and len(loc) == 3 and loc[0] == "proof_obligations" and loc[2] == "applies_to" \
            and isinstance(value, str):
        return ("applies_to is a single word, not a list of equation names",
                f"write `applies_to: [{value}]` if {value!r} is an equation; the reference pv's words for "
                "implementations (all, scalar, simd, converter) have no meaning here: drop them (`pv migrate` "
                "does both)")
    if kind == "enum" and loc == ("metadata", "kind") and isinstance(value, str) and value in REFERENCE_KINDS:
        ours = REFERENCE_KINDS[value]
        choices = ", ".join(k.value for k in ContractKind)
        if ours is None:
            return (f"{value!r} is the reference pv's kind and has no equivalent here",
                    f"choose one of {choices} (`pv migrate --kind {value}=KIND` sets it)")
        return (f"{value!r} is the reference pv's kind, not one of this schema's",
                f"use `kind: {ours.value}` (`pv migrate` maps it)")
    return None


def _explain(err: Any, loc: tuple[str | int, ...]) -> tuple[str, str | None]:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    name = str(loc[-1]) if loc else "document"
    if kind == "extra_forbidden":
        allowed = sorted(_fields_at(loc[:-1]))
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f"did you mean `{close[0]}`?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"unknown key {name!r}", hint
    if kind == "missing":
        return f"missing required key {name!r}", f"add `{name}:`"
    if kind == "enum":
        expected = ctx.get("expected", "")
        options = [o.strip(" '") for o in expected.replace(" or ", ", ").split(",") if o.strip(" '")]
        close = difflib.get_close_matches(str(value), options, n=1)
        hint = f"did you mean `{close[0]}`?" if close else f"use one of {expected}"
        return f"{_shown(value)} is not a valid {name}", hint
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        if "FALSIFY" in pattern:
            hint = "use FALSIFY-<AREA>-NNN, e.g. FALSIFY-TOK-001"
        elif pattern == SEMVER_PATTERN:
            hint = (f"use a semantic version like 1.2.0, each number at most {MAX_DIGITS} digits; "
                    "quote it if YAML reads it as a number")
        else:
            hint = f"must match {pattern}"
        return f"{_shown(value)} has the wrong form for {name}", hint
    if kind.startswith("bool"):
        return f"{_shown(value)} is not a boolean", "write true or false, unquoted"
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"{_shown(value)} is not a date", "write YYYY-MM-DD"
    if kind == "finite_number" or (kind == "float_type" and isinstance(value, int) and not isinstance(value, bool)):
        return (f"{_shown(value)} is not a finite number" if kind == "finite_number" else
                f"{_shown(value)} is too large to be a finite number",
                f"write a finite number for {name}: NaN or infinity would switch the bound off")
    if kind in {"string_type", "int_type", "float_type", "list_type", "dict_type", "model_type"}:
        expected = {"string_type": "a string", "int_type": "an integer", "float_type": "a number",
                    "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping"}[kind]
        shown = "null" if value is None else type(value).__name__
        hint = f"quote it: '{value}'" if kind == "string_type" and isinstance(value, int | float) else None
        return f"expected {expected}, got {shown}", hint
    if kind in {"too_short", "string_too_short"}:
        return f"{name} must not be empty", None
    return err["msg"], None


def _shown(value: Any, limit: int = 80) -> str:
    """``repr`` of a value, cut short: a message quotes the input, it does not reprint 5000 digits of it."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 12]}…({len(text)} chars)"


def _fields_at(loc: tuple[str | int, ...]) -> set[str]:
    """Field names of the model that sits at ``loc``, for did-you-mean hints."""
    current: Any = Contract
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return set()
            current = info.annotation
        else:
            args = typing.get_args(current)
            current = args[-1] if args else None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return set(current.model_fields)
    return set()


def _unwrap(tp: Any) -> Any:
    """Strip Optional/Annotated so we reach the model or container type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = members[0] if len(members) == 1 else tp
            if len(members) != 1:
                return tp
        else:
            return tp

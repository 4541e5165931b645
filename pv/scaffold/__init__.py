"""``pv new``: a DRAFT contract skeleton and matching pytest stubs that fail until written.

The skeleton passes ``pv validate`` and ``pv lint --strict-test-binding`` as written (every
falsifier is bound to a stub that exists and claims it), so a new contract starts green on the
static gates and red on ``pv verify``: the stubs call ``pytest.fail("not written")`` and can
never pass vacuously. Nothing is ever overwritten.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import re
from dataclasses import dataclass
from pathlib import Path

from pv.enums import ContractKind, DischargeLevel, ObligationType, values
from pv.models import CONTRACT_ID_PATTERN

_VERSION_SUFFIX = re.compile(r"[-_.]v\d+$")


class ScaffoldError(Exception):
    """The skeleton cannot be written as asked; the message says why and what to do."""


@dataclass(frozen=True)
class StubFalsifier:
    id: str
    function: str
    node_id: str


@dataclass(frozen=True)
class Scaffold:
    root: Path
    contract_path: Path
    test_path: Path
    contract_text: str
    test_text: str
    falsifiers: list[StubFalsifier]

    @property
    def contract_rel(self) -> str:
        return self.contract_path.relative_to(self.root).as_posix()

    @property
    def test_rel(self) -> str:
        return self.test_path.relative_to(self.root).as_posix()


def folder_of(glob: str) -> Path:
    """The folder a contracts glob points into: ``specs/**/*.yaml`` -> ``specs``."""
    parts = []
    for part in Path(glob).parts:
        if any(ch in part for ch in "*?["):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def default_area(contract_id: str) -> str:
    """``apr-tokenize-encode-corpus-v1`` -> ``CORPUS``: the last word before the version, upper-cased."""
    stem = _VERSION_SUFFIX.sub("", contract_id)
    word = re.split(r"[-_.]", stem)[-1] or stem
    return re.sub(r"[^A-Z0-9]", "", word.upper())[:12] or "NEW"


def plan_new(root: Path, contract_id: str, *, kind: str = ContractKind.PIPELINE.value, falsifiers: int = 3,
             area: str | None = None, contracts_dir: Path = Path("contracts"), test_dir: Path = Path("falsifiers"),
             taken_ids: set[str] | None = None, author: str | None = None, today: dt.date | None = None) -> Scaffold:
    if not re.match(CONTRACT_ID_PATTERN, contract_id):
        raise ScaffoldError(f"{contract_id!r} is not a contract id: use lower-case letters, digits, '.', '_' and "
                            "'-', starting with a letter or digit (e.g. my-tokenizer-v1)")
    if kind not in values(ContractKind):
        raise ScaffoldError(f"unknown kind {kind!r}; use one of {', '.join(values(ContractKind))}")
    if not 1 <= falsifiers <= 999:
        raise ScaffoldError("--falsifiers must be between 1 and 999")
    area = (area or default_area(contract_id)).upper()
    if not re.fullmatch(r"[A-Z0-9]+(-[A-Z0-9]+)*", area):
        raise ScaffoldError(f"area {area!r} must be upper-case letters and digits (e.g. TOK), joined by '-'")
    contract_path = root / contracts_dir / f"{contract_id}.yaml"
    module = "test_" + re.sub(r"[^a-z0-9_]", "_", contract_id)
    test_path = root / test_dir / f"{module}.py"
    for path in (contract_path, test_path):
        if path.exists():
            raise ScaffoldError(f"{path.relative_to(root)} already exists; pv new never overwrites (choose another "
                                "id, or move the file away)")
    ids = [f"FALSIFY-{area}-{n:03d}" for n in range(1, falsifiers + 1)]
    clash = sorted(set(ids) & (taken_ids or set()))
    if clash:
        raise ScaffoldError(f"falsifier id {clash[0]} is already declared by another contract; pass --area with an "
                            "area of its own")
    test_rel = test_path.relative_to(root).as_posix()
    functions = ["test_" + fid.lower().replace("-", "_") for fid in ids]
    stubs = [StubFalsifier(fid, fn, f"{test_rel}::{fn}") for fid, fn in zip(ids, functions, strict=True)]

    import jinja2  # here, not at the top: pv.render imports this module for every command, even `pv lint`

    env = jinja2.Environment(loader=jinja2.PackageLoader("pv.scaffold", "templates"), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["yaml"] = lambda s: json.dumps(s, ensure_ascii=False)  # a JSON string is a YAML scalar
    context = {
        "id": contract_id, "version": "0.1.0", "kind": kind, "kinds": values(ContractKind),
        "obligation_types": values(ObligationType), "discharge_levels": values(DischargeLevel),
        "today": (today or dt.date.today()).isoformat(), "author": author or _author(),
        "falsifiers": stubs, "contract_path": contract_path.relative_to(root).as_posix(), "test_path": test_rel,
    }
    return Scaffold(root, contract_path, test_path, env.get_template("contract.yaml.j2").render(context),
                    env.get_template("test_stub.py.j2").render(context), stubs)


def write_scaffold(scaffold: Scaffold) -> None:
    """Create both files, refusing (before writing anything) if either exists."""
    for path in (scaffold.contract_path, scaffold.test_path):
        if path.exists():
            raise ScaffoldError(f"{path} already exists; pv new never overwrites")
    written: list[Path] = []
    try:
        for path, text in ((scaffold.contract_path, scaffold.contract_text), (scaffold.test_path, scaffold.test_text)):
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as handle:  # "x": fails if it appeared meanwhile
                written.append(path)
                handle.write(text)
    except FileExistsError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise ScaffoldError(f"{exc.filename} appeared while writing; nothing was kept") from None


def _author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "TODO author"

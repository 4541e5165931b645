#!/usr/bin/env python3
"""Dead-code check: report code in the project's packages that nothing calls (vulture).

Scans the packages together with everything that uses them (tests, falsifiers, benchmarks) but
reports only what is unused in the packages: a test may take a fixture it never names, while
product code that no one calls is dead. Exit 1 when anything is found, with one line per find.

Not reported, because vulture cannot see their use:
- fields of pydantic models and members of enums (data read from and written to files; found
  below from the AST, so a new field needs no whitelist entry);
- names frameworks call: pytest hooks and fixtures, torch's ``forward``, pydantic's
  ``model_config`` and validators, Python's module ``__getattr__``/``__dir__`` (PEP 562);
- the attributes in WHITELIST, which third-party objects read;
- names the jinja2 templates (``*.j2`` in the packages) read: templates are code vulture cannot
  parse, so every identifier inside their ``{{ }}`` and ``{% %}`` counts as used.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from vulture.core import Vulture

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pv", "tokenizer", "trainer", "safeio", "apr")
USERS = ("tests", "falsifiers", "benchmarks")
MIN_CONFIDENCE = 60

FRAMEWORK_NAMES = ["pytest_*", "forward", "model_config", "__getattr__", "__dir__"]
FRAMEWORK_DECORATORS = ["@pytest.fixture", "@pytest.hookimpl", "@model_validator", "@field_validator"]
WHITELIST = {
    "encode_special_tokens": "set on a tokenizers.Tokenizer, which reads it when encoding",
    "preserve_quotes": "set on a ruamel.yaml.YAML, which reads it on a round trip",
    "whitespace_split": "set on a shlex.shlex, which reads it when splitting a CMD: command",
    "commenters": "set on a shlex.shlex, which reads it when splitting a CMD: command",
    "min_width": "set on a rich.table.Column, which reads it when measuring the table (apr inspect)",
    "get_source": "a loader method the import system and linecache call (pv/mutate/overlay.py)",
    "get_code": "a loader method the import system calls (pv/mutate/overlay.py)",
    "dont_write_bytecode": "set on sys, which the import system reads",
}
DATA_BASES = {"BaseModel", "Enum", "StrEnum", "IntEnum"}


def data_field_names(files: list[Path]) -> set[str]:
    """Field and member names of every pydantic model and enum (subclasses of those too)."""
    classes = [node for f in files for node in ast.walk(ast.parse(f.read_bytes())) if isinstance(node, ast.ClassDef)]
    data_classes, names = set(DATA_BASES), set()
    grew = True
    while grew:
        grew = False
        for cls in classes:
            bases = {b.id if isinstance(b, ast.Name) else b.attr
                     for b in cls.bases if isinstance(b, ast.Name | ast.Attribute)}
            if cls.name not in data_classes and bases & data_classes:
                data_classes.add(cls.name)
                grew = True
    for cls in classes:
        if cls.name in data_classes:
            for stmt in cls.body:
                if isinstance(stmt, ast.Assign):
                    names.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
                elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    names.add(stmt.target.id)
    return names


def template_names(packages: list[Path]) -> set[str]:
    """Every identifier in the expressions and statements of the packages' jinja2 templates."""
    names: set[str] = set()
    for template in sorted(f for p in packages for f in p.rglob("*.j2")):
        for block in re.findall(r"\{\{.*?\}\}|\{%.*?%\}", template.read_text(encoding="utf-8"), re.S):
            names.update(re.findall(r"[A-Za-z_]\w*", block))
    return names


def dead_code(root: Path = ROOT) -> list[str]:
    packages = [root / p for p in PACKAGES if (root / p).is_dir()]
    users = [root / p for p in USERS if (root / p).is_dir()]
    product = sorted(f for p in packages for f in p.rglob("*.py"))
    vulture = Vulture(ignore_names=[*FRAMEWORK_NAMES, *WHITELIST, *sorted(data_field_names(product)),
                                    *sorted(template_names(packages))],
                      ignore_decorators=FRAMEWORK_DECORATORS)
    vulture.scavenge([str(p) for p in [*packages, *users]])
    return [item.get_report() for item in vulture.get_unused_code(min_confidence=MIN_CONFIDENCE)
            if Path(item.filename).resolve().is_relative_to(root) and
            Path(item.filename).resolve().relative_to(root).parts[0] in PACKAGES]


def main() -> int:
    found = dead_code()
    for line in found:
        print(line)
    print(f"dead code: {len(found)} find(s) in {', '.join(p for p in PACKAGES if (ROOT / p).is_dir())}",
          file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())

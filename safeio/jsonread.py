"""Parse JSON from files anyone may have edited, within bounds: size, nesting depth, integer size, finite numbers.

``json.loads`` on hostile input raises ``RecursionError`` (arrays nested 100,000 deep), a bare
``ValueError`` with no location (an integer of 5,000 digits), or returns ``inf`` / ``nan``
(``Infinity``, ``1e999``) and 40-digit integers that later become allocation sizes or silently
disable a comparison. A checkpoint's metadata, a HF ``config.json``, a ``tokenizer.json`` and a
manifest are all such input, so they are read through this one reader: it applies one set of
limits and reports the file, where in it (``line:col`` or the JSON path of the value), what is
wrong and how to fix it, as a :class:`JSONInputError` (a :class:`RefusedInputError` and a
``ValueError``).

The limits guard the parser and the process; what a value *means* (a vocab size of 10**30) is
checked by the models that read it.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from typing import Any

from safeio.regular import RefusedInputError, open_regular


@dataclass(frozen=True)
class JSONLimits:
    #: bytes of the file; a config is kilobytes, a Qwen2 tokenizer.json 7 MB
    max_bytes: int = 256 << 20
    #: containers inside containers; real files in these formats nest fewer than 8 levels
    max_depth: int = 64
    #: decimal digits of an integer; HF's tokenizer_config.json writes model_max_length as int(1e30), 31 digits
    max_int_digits: int = 40


DEFAULT_LIMITS = JSONLimits()
_FIX = "restore the file from its source (or re-create it with the tool that wrote it)"


class JSONInputError(RefusedInputError, ValueError):
    """A JSON file that cannot be read safely, located by ``line``/``column`` or by the JSON ``path`` of a value.

    ``where`` renders the location (``line 3 column 7`` or ```model.vocab```); callers with their own
    convention (``file:line:col``) use the fields.
    """

    def __init__(self, source: str, what: str, *, line: int | None = None, column: int | None = None,
                 path: str | None = None, fix: str = _FIX) -> None:
        self.source, self.what, self.fix = source, what, fix
        self.line, self.column, self.path = line, column, path
        super().__init__(str(self))

    @property
    def where(self) -> str | None:
        if self.line is not None:
            return f"line {self.line} column {self.column}"
        return self.path

    def __str__(self) -> str:
        at = f" at {self.where}" if self.where else ""
        return f"{self.source}{at}: {self.what}\n  how to fix: {self.fix}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.source, self.what, self.line, self.column, self.path, self.fix))


def _rebuild(source: str, what: str, line: int | None, column: int | None, path: str | None,
             fix: str) -> JSONInputError:
    return JSONInputError(source, what, line=line, column=column, path=path, fix=fix)


def _line_col(text: str, pos: int | None) -> dict[str, int]:
    if pos is None:
        return {}
    return {"line": text.count("\n", 0, pos) + 1, "column": pos - (text.rfind("\n", 0, pos) + 1) + 1}


_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _too_deep_at(text: str, max_depth: int) -> int | None:
    """Offset of the first bracket opening a container deeper than ``max_depth`` (strings skipped)."""
    depth = 0
    for m in _STRUCTURE.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > max_depth:
                return m.start()
        elif c in "]}":
            depth -= 1
    return None


def _json_path(path: tuple[Any, ...]) -> str:
    if not path:
        return "the top level"
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,63}", key):
            out += f".{key}" if out else key
        else:
            out += f"[{json.dumps(key[:64])}{'…' if len(key) > 64 else ''}]"
    return f"`{out}`"


def _scalar_problem(value: Any, limits: JSONLimits) -> str | None:
    if type(value) is float and not math.isfinite(value):
        return f"the number {value} is not finite (NaN, Infinity or out of float range); JSON numbers must be finite"
    if type(value) is int:
        bound = 10 ** limits.max_int_digits
        if not -bound < value < bound:
            return f"an integer of {len(str(abs(value)))} digits is over the {limits.max_int_digits}-digit limit"
    return None


_PLAIN = frozenset({str, bool, type(None)})


def _find_problem(obj: Any, limits: JSONLimits) -> tuple[tuple[Any, ...], str, bool] | None:
    """(JSON path, what, too_deep) of the first bad value, or None. Iterative, so depth cannot overflow it."""
    bound = 10 ** limits.max_int_digits
    stack: list[tuple[Any, tuple[Any, ...], int]] = [(obj, (), 0)]
    while stack:
        node, path, depth = stack.pop()
        if not isinstance(node, dict | list):
            problem = _scalar_problem(node, limits)
            if problem is not None:
                return path, problem, False
            continue
        if depth + 1 > limits.max_depth:
            return path, f"containers are nested more than {limits.max_depth} levels deep", True
        values = node.values() if isinstance(node, dict) else node
        kinds = set(map(type, values))
        if kinds <= _PLAIN:
            continue  # e.g. a vocab's keys or a merges list: nothing to check, at C speed
        if kinds == {int} and -bound < min(values) and max(values) < bound:
            continue  # e.g. a vocab's ids
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(value, dict | list):
                stack.append((value, (*path, key), depth + 1))
            else:
                problem = _scalar_problem(value, limits)
                if problem is not None:
                    return (*path, key), problem, False
    return None


def loads_json(data: bytes | str, source: str, limits: JSONLimits = DEFAULT_LIMITS) -> Any:
    """Parse ``data`` (UTF-8 bytes or text) from ``source`` (a file name, for messages) within ``limits``."""
    if len(data) > limits.max_bytes:
        raise JSONInputError(source, f"{len(data):,} bytes is over the {limits.max_bytes:,}-byte limit for this file")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONInputError(source, f"not UTF-8 text (byte {exc.start} is {data[exc.start:exc.start + 1]!r})",
                                 fix="JSON files must be UTF-8; restore the original file") from None
    else:
        text = data
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JSONInputError(source, f"not valid JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from None
    except RecursionError:
        raise JSONInputError(source, f"containers are nested more than {limits.max_depth} levels deep",
                             **_line_col(text, _too_deep_at(text, limits.max_depth))) from None
    except ValueError as exc:  # an integer longer than the interpreter's int/str conversion limit (4300 digits)
        m = re.search(rf"\d{{{limits.max_int_digits + 1},}}", text)
        raise JSONInputError(source, f"a number is too long to read ({str(exc).split(':')[0]}); integers are "
                             f"limited to {limits.max_int_digits} digits",
                             **_line_col(text, None if m is None else m.start())) from None
    found = _find_problem(obj, limits)
    if found is not None:
        path, what, too_deep = found
        pos = _too_deep_at(text, limits.max_depth) if too_deep else None
        if pos is not None:
            raise JSONInputError(source, what, **_line_col(text, pos))
        raise JSONInputError(source, what, path=_json_path(path))
    return obj


def read_json(path: str | os.PathLike[str], limits: JSONLimits = DEFAULT_LIMITS) -> Any:
    """``loads_json`` of a regular file (a FIFO or device is refused), its size checked before it is read."""
    with open_regular(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limits.max_bytes:
            raise JSONInputError(os.fspath(path), f"{size:,} bytes is over the {limits.max_bytes:,}-byte limit for "
                                 "this file")
        data = fh.read()
    return loads_json(data, os.fspath(path), limits)

"""Records → documents: parse JSONL lines or Parquet values of one chunk, with a located problem per bad record.

Both formats produce the same :class:`ParsedLines`, so everything after parsing (encoding, EOS,
sharding, the manifest) is format-blind: a Parquet file and the same documents as JSONL give
byte-identical shards. A "line" of a Parquet file is a row (1-based in messages).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class ParsedLines:
    """Documents and problems of one chunk; line indices are 0-based within the chunk."""

    texts: list[str] = field(default_factory=list)
    doc_line: list[int] = field(default_factory=list)
    #: position just past the document's record: a byte offset of the (decompressed) JSONL stream, or row + 1
    doc_end: list[int] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    blank: list[int] = field(default_factory=list)
    n_lines: int = 0


def _type_name(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def parse_lines(data: bytes, start: int, text_field: str) -> ParsedLines:
    out = ParsedLines()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out.n_lines = len(lines)
    pos = start
    for i, raw in enumerate(lines):
        end = pos + len(raw) + 1
        line_start, pos = pos, end
        if i == 0 and line_start == 0 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 byte-order mark at the start of a file is not content
        if not raw.strip():
            out.blank.append(i)
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.errors.append((i, f"invalid UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}"))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            out.errors.append((i, f"not valid JSON: {exc.msg} at column {exc.colno}"))
            continue
        except RecursionError:
            out.errors.append((i, "not usable JSON: arrays/objects nest too deeply to parse"))
            continue
        except ValueError as exc:  # e.g. an integer literal longer than Python's 4300-digit limit
            out.errors.append((i, f"not usable JSON: {str(exc).split(';')[0]}"))
            continue
        if not isinstance(obj, dict):
            out.errors.append((i, f"line is {_type_name(obj)}, expected a JSON object with a {text_field!r} field"))
            continue
        if text_field not in obj:
            keys = ", ".join(list(obj)[:5]) or "none"
            out.errors.append((i, f"no {text_field!r} field (keys: {keys}); pick another with --text-field"))
            continue
        text = obj[text_field]
        if not isinstance(text, str):
            out.errors.append((i, f"field {text_field!r} is {_type_name(text)}, expected a string"))
            continue
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                out.errors.append(
                    (i, f"text contains a lone surrogate \\u{ord(text[exc.start]):04x} (from a JSON escape), "
                        "which is not valid Unicode")
                )
                continue
        out.texts.append(text)
        out.doc_line.append(i)
        out.doc_end.append(min(end, start + len(data)))
    return out


@dataclass(frozen=True)
class BadValue:
    """A Parquet value that could not be decoded, with the reason."""

    reason: str


def parse_rows(values: list[object], start: int, text_field: str) -> ParsedLines:
    """Values of a Parquet text column; ``start`` is the row index of ``values[0]`` in its file."""
    out = ParsedLines(n_lines=len(values))
    for i, text in enumerate(values):
        if isinstance(text, BadValue):
            out.errors.append((i, text.reason))
            continue
        if not isinstance(text, str):
            out.errors.append((i, f"field {text_field!r} is {_type_name(text)}, expected a string"))
            continue
        out.texts.append(text)
        out.doc_line.append(i)
        out.doc_end.append(start + i + 1)
    return out

"""Round-trip edits of contract YAML: change a few keys, keep every comment, key order and style.

ruamel.yaml's round-trip mode keeps comments and ordering; we also detect the file's own
indentation so an untouched line comes back byte-identical. Before anything is written, the edited
text is re-validated with pv's loader, and a no-op round trip must reproduce the original file
exactly, otherwise the edit is refused (we would rather not touch a file than reformat it).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString
from ruamel.yaml.util import load_yaml_guess_indent


class EditError(Exception):
    """The file cannot be edited safely; nothing was written."""


def _yaml_for(text: str) -> YAML:
    try:
        _, indent, block_seq_indent = load_yaml_guess_indent(text)
    except YAMLError as exc:
        raise EditError(f"cannot parse for a round-trip edit: {exc}") from None
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    indent = indent or 2
    yaml.indent(mapping=2, sequence=max(indent, (block_seq_indent or 0) + 2), offset=block_seq_indent or 0)
    return yaml


def edit_yaml_text(text: str, mutate: Callable[[CommentedMap], None]) -> str:
    """Apply ``mutate`` to the round-trip document and return the new text."""
    yaml = _yaml_for(text)
    try:
        doc = yaml.load(text)
    except YAMLError as exc:
        raise EditError(f"cannot parse for a round-trip edit: {exc}") from None
    if not isinstance(doc, CommentedMap):
        raise EditError("the top level is not a mapping")
    if _dump(yaml, yaml.load(text)) != text:
        raise EditError("a round trip would reformat this file (unusual indentation or flow style); "
                        "edit it by hand")
    mutate(doc)
    return _dump(yaml, doc)


def _dump(yaml: YAML, doc: Any) -> str:
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def promotion_mutation(status: str, version: str, date: dt.date, change: str) -> Callable[[CommentedMap], None]:
    """Set status, version and updated, and append a changelog entry shaped like the last one."""
    def mutate(doc: CommentedMap) -> None:
        meta = doc.get("metadata")
        if not isinstance(meta, CommentedMap):
            raise EditError("no `metadata:` mapping to edit")
        meta["status"] = status
        meta["version"] = version
        meta["updated"] = _fresh(date)  # distinct objects, or ruamel writes an &anchor/*alias pair
        log = meta.get("changelog")
        if not isinstance(log, list):
            raise EditError("`metadata.changelog` is not a list")
        entry = CommentedMap()
        entry["version"] = version
        entry["date"] = _fresh(date)
        entry["change"] = change
        if log and isinstance(log[-1], CommentedMap) and log[-1]:
            # A blank line or comment after the old last entry belongs after the new last entry.
            last_key = list(log[-1])[-1]
            trailing = log[-1].ca.items.pop(last_key, None)
            if trailing is not None:
                token = trailing[2]
                if token is not None and _is_block(log[-1][last_key]):
                    # A block scalar swallows its own line break; after the plain scalar we write,
                    # the blank line needs that break back or it is silently dropped.
                    token.value = "\n" + token.value
                entry.ca.items["change"] = trailing
        log.append(entry)

    return mutate


def _is_block(value: object) -> bool:
    return isinstance(value, FoldedScalarString | LiteralScalarString)


def _fresh(date: dt.date) -> dt.date:
    return dt.date(date.year, date.month, date.day)


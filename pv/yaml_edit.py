"""Round-trip edits of contract YAML: change a few keys, keep every comment, key order and style.

ruamel.yaml's round-trip mode keeps comments and ordering; we also detect the file's own
indentation so an untouched line comes back byte-identical. Before anything is written, the edited
text is re-validated with pv's loader, and a no-op round trip must reproduce the original file
exactly, otherwise the edit is refused (we would rather not touch a file than reformat it).
"""

from __future__ import annotations

import copy
import datetime as dt
import io
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
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


def edit_yaml_text(text: str, mutate: Callable[[CommentedMap], None], *, allow_reformat: bool = False) -> str:
    """Apply ``mutate`` to the round-trip document and return the new text.

    A file whose no-op round trip is not byte-identical (mixed indentation styles) is refused,
    unless ``allow_reformat``: then it comes back in one consistent indentation, comments and key
    order still kept (``reformats`` tells a caller whether that will happen).
    """
    yaml = _yaml_for(text)
    try:
        doc = yaml.load(text)
    except YAMLError as exc:
        raise EditError(f"cannot parse for a round-trip edit: {exc}") from None
    if not isinstance(doc, CommentedMap):
        raise EditError("the top level is not a mapping")
    if not allow_reformat and _dump(yaml, yaml.load(text)) != text:
        raise EditError("a round trip would reformat this file (unusual indentation or flow style); "
                        "edit it by hand")
    mutate(doc)
    return _dump(yaml, doc)


def reformats(text: str) -> bool:
    """Whether a no-op round trip of ``text`` would change it (e.g. it mixes indentation styles)."""
    yaml = _yaml_for(text)
    try:
        return _dump(yaml, yaml.load(text)) != text
    except YAMLError as exc:
        raise EditError(f"cannot parse for a round-trip edit: {exc}") from None


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
        bump_with_changelog(meta, version, date, change)

    return mutate


def bump_with_changelog(meta: CommentedMap, version: str, date: dt.date, change: str) -> None:
    """Set version and updated, and append a changelog entry shaped like the last one."""
    meta["version"] = version
    meta["updated"] = _fresh(date)  # distinct objects, or ruamel writes an &anchor/*alias pair
    log = meta.get("changelog")
    if not isinstance(log, list):
        raise EditError("`metadata.changelog` is not a list")
    # A blank line or comment after the old last entry belongs after the new last entry.
    token = take_trailing(log, len(log) - 1) if log else None
    log.append(changelog_entry(version, date, change))
    give_trailing(log, len(log) - 1, token)


def changelog_entry(version: str, date: dt.date, change: str) -> CommentedMap:
    entry = CommentedMap()
    entry["version"] = version
    entry["date"] = _fresh(date)
    entry["change"] = change
    return entry


def insert_key(mapping: CommentedMap, position: int, key: str, value: Any) -> None:
    """Insert ``key`` at ``position``; blank lines and comments that followed the key before it
    now follow the new key (or the end of its value), so the file's spacing stays in place."""
    keys = list(mapping)
    token = take_trailing(mapping, keys[position - 1]) if 0 < position <= len(keys) else None
    mapping.insert(position, key, value)
    give_trailing(mapping, key, token)


def give_trailing(container: Any, key: Any, token: Any) -> None:
    """Attach ``token`` (from ``take_trailing``) after ``container[key]``'s last line."""
    if token is None:
        return
    child = container[key]
    if isinstance(child, CommentedMap | CommentedSeq) and len(child):
        give_trailing(child, list(child)[-1] if isinstance(child, CommentedMap) else len(child) - 1, token)
    elif isinstance(container, CommentedMap):
        container.ca.items[key] = [None, None, token, None]
    else:
        container.ca.items[key] = [token, None, None, None]


def take_trailing(container: Any, key: Any) -> Any:
    """Detach the comment/blank lines that follow ``container[key]`` (however deeply nested its
    last scalar is) and return them as a token for the next line; an end-of-line comment stays."""
    child = container[key]
    if isinstance(child, CommentedMap | CommentedSeq) and len(child):
        last = list(child)[-1] if isinstance(child, CommentedMap) else len(child) - 1
        return take_trailing(child, last)
    entry = container.ca.items.get(key)
    slot = 2 if isinstance(container, CommentedMap) else 0
    token = entry[slot] if entry is not None and len(entry) > slot else None
    if token is None:
        return None
    value = token.value
    if value.startswith("#"):  # `key: value  # note` keeps its note; only what follows moves
        eol, _, rest = value.partition("\n")
        if not rest:
            return None
        moved = copy.copy(token)
        token.value, moved.value = eol + "\n", "\n" + rest
        return moved
    entry[slot] = None
    if not any(entry):
        del container.ca.items[key]
    if _is_block(child):
        # A block scalar swallows its own line break; after the plain scalar that now ends the
        # line, the blank line needs that break back or it is silently dropped.
        token.value = "\n" + value
    return token


def _is_block(value: object) -> bool:
    return isinstance(value, FoldedScalarString | LiteralScalarString)


def _fresh(date: dt.date) -> dt.date:
    return dt.date(date.year, date.month, date.day)


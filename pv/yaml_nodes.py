"""Safe YAML loading that keeps node positions, so every later error can say file:line:col.

We compose with the C parser (when built) and construct plain Python values ourselves instead of
calling ``yaml.load``: that lets us reject duplicate keys, non-string keys, custom tags, merge
keys and recursive aliases with a located message, and keep the node tree for locating schema
errors, at about the cost of ``yaml.load`` itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

MAX_DEPTH = 100
MAX_NODES = 2_000_000

_TAG = "tag:yaml.org,2002:"
_SC = SafeConstructor()
_SCALAR_BUILDERS = {
    _TAG + "str": lambda node: node.value,
    _TAG + "null": lambda node: None,
    _TAG + "bool": _SC.construct_yaml_bool,
    _TAG + "int": _SC.construct_yaml_int,
    _TAG + "float": _SC.construct_yaml_float,
    _TAG + "timestamp": _SC.construct_yaml_timestamp,
}


class YamlLoadError(Exception):
    """A problem in the YAML text itself, with a 1-based position when one is known."""

    def __init__(self, message: str, line: int | None, col: int | None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col
        self.hint = hint


def _pos(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _fail(node: Node, message: str, hint: str | None = None) -> YamlLoadError:
    line, col = _pos(node)
    return YamlLoadError(message, line, col, hint)


@dataclass
class _Builder:
    nodes: int = 0

    def build(self, node: Node, depth: int, active: set[int]) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _fail(node, f"document has more than {MAX_NODES} nodes", "split it or remove alias expansion")
        if depth > MAX_DEPTH:
            raise _fail(node, f"nesting deeper than {MAX_DEPTH} levels", "flatten the structure")
        if isinstance(node, ScalarNode):
            builder = _SCALAR_BUILDERS.get(node.tag)
            if builder is None:
                raise _fail(node, f"unsupported tag {node.tag!r}", "remove the explicit tag; plain YAML only")
            try:
                return builder(node)
            except (ConstructorError, ValueError) as exc:
                raise _fail(node, f"bad {node.tag.removeprefix(_TAG)} value {node.value!r}: {exc}") from None
        key = id(node)
        if key in active:
            raise _fail(node, "recursive alias", "an anchor may not contain an alias to itself")
        active.add(key)
        try:
            if isinstance(node, SequenceNode):
                if node.tag != _TAG + "seq":
                    raise _fail(node, f"unsupported tag {node.tag!r}", "use a plain list")
                return [self.build(item, depth + 1, active) for item in node.value]
            if isinstance(node, MappingNode):
                return self._mapping(node, depth, active)
            raise _fail(node, f"unsupported node {type(node).__name__}")  # pragma: no cover
        finally:
            active.discard(key)

    def _mapping(self, node: MappingNode, depth: int, active: set[int]) -> dict[str, Any]:
        if node.tag != _TAG + "map":
            raise _fail(node, f"unsupported tag {node.tag!r}", "use a plain mapping")
        out: dict[str, Any] = {}
        first_seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                raise _fail(key_node, "merge keys (<<) are not supported", "write the keys out")
            if not isinstance(key_node, ScalarNode) or key_node.tag != _TAG + "str":
                shown = key_node.value if isinstance(key_node, ScalarNode) else type(key_node).__name__
                raise _fail(key_node, f"mapping key {shown!r} is not a string", "quote the key")
            name = key_node.value
            if name in first_seen:
                first_line = first_seen[name].start_mark.line + 1
                raise _fail(
                    key_node,
                    f"duplicate key {name!r} (first defined on line {first_line})",
                    "remove one of the two; YAML would silently keep only the last",
                )
            first_seen[name] = key_node
            out[name] = self.build(value_node, depth + 1, active)
        return out


def compose(text: str) -> Node | None:
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.context}: {exc.problem}"
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        raise YamlLoadError(f"malformed YAML: {problem}", line, col, "check indentation and quoting") from None
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        raise YamlLoadError(f"character {exc.character!r} is not allowed in YAML", line, col,
                            "remove control characters or escape them in a quoted string") from None
    except yaml.YAMLError as exc:
        raise YamlLoadError(f"malformed YAML: {exc}", None, None) from None


def build(node: Node) -> Any:
    try:
        return _Builder().build(node, 0, set())
    except RecursionError:
        raise _fail(node, "nesting too deep", "flatten the structure") from None


class Positions:
    """Line/col lookup in one document's node tree, in time proportional to the path's depth.

    Each mapping's keys are indexed the first time a lookup passes through it, so reporting N
    errors in a mapping of N keys costs O(N), not the O(N^2) of scanning the keys per error
    (50,000 unknown keys once took over two minutes to report). Mappings no lookup reaches are
    never indexed, so a valid file pays nothing.
    """

    def __init__(self, root: Node | None) -> None:
        self.root = root
        self._keys: dict[int, dict[str, tuple[Node, Node]]] = {}  # id(mapping node) -> key -> (key, value)

    def locate(self, path: Sequence[str | int], *, at_key: bool = False) -> tuple[int, int] | None:
        """Line/col of the node at ``path``; the deepest existing ancestor when the path runs out.

        ``at_key`` points at the key itself rather than its value (for unknown-key errors).
        """
        node = self.root
        if node is None:
            return None
        for i, part in enumerate(path):
            if isinstance(node, MappingNode):
                found = self._children(node).get(str(part))
                if found is None:
                    return _pos(node)
                node = found[0] if (at_key and i == len(path) - 1) else found[1]
            elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
            else:
                return _pos(node)
        return _pos(node)

    def _children(self, node: MappingNode) -> dict[str, tuple[Node, Node]]:
        table = self._keys.get(id(node))
        if table is None:
            table = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode):
                    table.setdefault(key_node.value, (key_node, value_node))  # the first wins, as YAML readers see it
            self._keys[id(node)] = table
        return table

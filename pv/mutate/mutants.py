"""Mutants of one source file: mutmut's operators, applied one at a time, to the lines under test.

The operators are mutmut's (``mutmut.mutation.mutators.mutation_operators``), run through its
libcst visitor, which also honours its pragmas: ``# pragma: no mutate`` on a line (or ``no mutate
block`` on a statement) marks a true equivalent mutant, documented where it lives. mutmut makes
one mutant per site, the one most likely to matter (``<=`` -> ``<``, ``>`` -> ``>=``, ``+`` ->
``-``, ``and`` -> ``or``, ``not x`` -> ``x``, ``n`` -> ``n + 1``, ``True`` <-> ``False``, ``x = e`` ->
``x = None``, a call's argument dropped or set to ``None``), where cosmic-ray makes every
permutation; that keeps a falsifier's mutants few enough to run each against its test.

Two operator families are left out: string-literal rewrites (``"a"`` -> ``"XXaXX"``) and string
method swaps. Error messages and labels are most of a module's strings, so they would bury the
survivors that matter under ones nobody should kill.

Only the mutant's text is made here; nothing is written anywhere (``overlay.py`` serves it).
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider, WhitespaceInclusivePositionProvider
from mutmut.mutation.file_mutation import MutationVisitor
from mutmut.mutation.mutators import (
    mutation_operators,
    operator_string,
    operator_symmetric_string_methods_swap,
    operator_unsymmetrical_string_methods_swap,
)
from mutmut.mutation.pragma_handling import IgnoredCode, PragmaVisitor

_LEFT_OUT = (operator_string, operator_symmetric_string_methods_swap, operator_unsymmetrical_string_methods_swap)
OPERATORS = [(kind, op) for kind, op in mutation_operators if op not in _LEFT_OUT]


@dataclass(frozen=True)
class Mutant:
    file: str  # repo-relative
    line: int
    operator: str  # the libcst node kind mutated, e.g. ComparisonTarget
    diff: str  # one line: original -> mutant
    source: str  # the whole mutated file

    @property
    def key(self) -> str:
        """Stable id of this mutant: file, line and a digest of the mutated text."""
        return f"{self.file}:{self.line}:{hashlib.sha256(self.source.encode()).hexdigest()[:10]}"


class SourceError(Exception):
    """A subject file that libcst cannot parse."""


def mutants_of(rel: str, source: str, lines: set[int] | None = None) -> list[Mutant]:
    """Every mutant of ``source`` whose mutated node starts on one of ``lines`` (None: any line)."""
    try:
        wrapper = MetadataWrapper(cst.parse_module(source))
    except cst.ParserSyntaxError as exc:
        raise SourceError(f"{rel}: libcst cannot parse it: {exc}") from None
    pragmas = PragmaVisitor(rel)
    wrapper.visit(pragmas)
    visitor = MutationVisitor(OPERATORS, IgnoredCode(pragmas.no_mutate_lines, pragmas.ignore_node_lines, set()),
                              lines)
    module = wrapper.visit(visitor)
    positions = wrapper.resolve(PositionProvider)
    spans = wrapper.resolve(WhitespaceInclusivePositionProvider)  # exactly the text code_for_node gives
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    seen: set[str] = set()
    out = []
    original = source.splitlines()
    for mutation in visitor.mutations:
        where, span = positions[mutation.original_node], spans[mutation.original_node]
        begin = starts[span.start.line - 1] + span.start.column
        end = starts[span.end.line - 1] + span.end.column
        spliced = _splice(source[begin:end], module.code_for_node(mutation.original_node),
                          module.code_for_node(mutation.mutated_node))
        if spliced is not None:  # the same text as rebuilding the whole tree, at a fraction of the cost
            text = source[:begin] + spliced + source[end:]
        else:
            mutated = module.deep_replace(mutation.original_node, mutation.mutated_node)
            assert isinstance(mutated, cst.Module)
            text = mutated.code
        if text == source or text in seen:
            continue
        seen.add(text)
        out.append(Mutant(rel, where.start.line, type(mutation.original_node).__name__,
                          one_line_diff(original, text.splitlines()), text))
    return sorted(out, key=lambda m: (m.line, m.key))


def _splice(in_source: str, original: str, mutated: str) -> str | None:
    """``mutated`` as it reads at the original node's place, or None when that cannot be told.

    libcst prints a lone node without the indentation of the block it sits in; a node over several
    lines is found in the source with that indentation added to each further line.
    """
    if in_source == original:
        return mutated
    rest = original.partition("\n")[2]
    src_lines = in_source.split("\n")
    if not rest or len(src_lines) < 2 or not src_lines[1].endswith(rest.split("\n")[0]):
        return None
    prefix = src_lines[1][: len(src_lines[1]) - len(rest.split("\n")[0])]
    if prefix.strip() or original.replace("\n", "\n" + prefix) != in_source:
        return None
    return mutated.replace("\n", "\n" + prefix)


def one_line_diff(before: list[str], after: list[str], limit: int = 160) -> str:
    """``original -> mutant`` for the first changed lines, whitespace squeezed, cut to ``limit``."""
    old: list[str] = []
    new: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes():
        if tag != "equal":
            old, new = before[i1:i2], after[j1:j2]
            break
    squeeze = lambda lines: " ".join(" ".join(x.split()) for x in lines) or "(removed)"  # noqa: E731
    text = f"{squeeze(old)} -> {squeeze(new)}"
    return text if len(text) <= limit else text[: limit - 1] + "…"

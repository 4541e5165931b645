"""Semantic-version ordering, enough for changelogs (pre-releases sort before their release)."""

from __future__ import annotations

import re

MAX_DIGITS = 18  # per number: a version is a label, and a 5000-digit one is not worth a traceback
_NUMBER = rf"(0|[1-9][0-9]{{0,{MAX_DIGITS - 1}}})"
SEMVER_PATTERN = rf"^{_NUMBER}\.{_NUMBER}\.{_NUMBER}(?:-([0-9A-Za-z.-]+))?$"
_SEMVER = re.compile(SEMVER_PATTERN)


PreKey = tuple[int, tuple[tuple[int, int, str], ...]]


def parse_semver(text: str) -> tuple[int, int, int, PreKey]:
    match = _SEMVER.match(text)
    if match is None:
        raise ValueError(f"not a semantic version: {text!r}")
    major, minor, patch, pre = match.groups()
    if pre is None:
        pre_key: PreKey = (1, ())
    else:
        # Numeric identifiers compare as numbers: by length, then digits (no int() of an unbounded string).
        pre_key = (0, tuple((0, len(p.lstrip("0")), p.lstrip("0")) if p.isdigit() else (1, 0, p)
                            for p in pre.split(".")))
    return int(major), int(minor), int(patch), pre_key


def bump_minor(text: str) -> str:
    major, minor, _, _ = parse_semver(text)
    return f"{major}.{minor + 1}.0"

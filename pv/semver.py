"""Semantic-version ordering, enough for changelogs (pre-releases sort before their release)."""

from __future__ import annotations

import re

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$")


def parse_semver(text: str) -> tuple[int, int, int, tuple[int, tuple[tuple[int, int | str], ...]]]:
    match = _SEMVER.match(text)
    if match is None:
        raise ValueError(f"not a semantic version: {text!r}")
    major, minor, patch, pre = match.groups()
    if pre is None:
        pre_key: tuple[int, tuple[tuple[int, int | str], ...]] = (1, ())
    else:
        pre_key = (0, tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")))
    return int(major), int(minor), int(patch), pre_key


def bump_minor(text: str) -> str:
    major, minor, _, _ = parse_semver(text)
    return f"{major}.{minor + 1}.0"

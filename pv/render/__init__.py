"""Render diagnostics for people (rich text) and machines (json, sarif, github annotations)."""

from __future__ import annotations

FORMATS = ("text", "json", "sarif", "github")

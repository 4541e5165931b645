"""Gate changelog: the changelog matches metadata.version, with increasing versions and ordered dates."""

from __future__ import annotations

from tests.pv.conftest import Repo
from tests.pv.gates.conftest import gate, good


def test_prerelease_sorts_before_release(repo: Repo) -> None:
    data = good(repo)
    data["metadata"]["changelog"].insert(1, {"version": "1.1.0-rc.1", "date": "2026-01-15", "change": "rc"})
    repo.contract(data)
    assert gate(repo, "changelog").passed


def test_version_mismatch(repo: Repo) -> None:
    good(repo, version="1.2.0")
    result = gate(repo, "changelog")
    assert not result.passed
    assert "metadata.version 1.2.0 != newest changelog entry 1.1.0" in result.diagnostics[0].message


def test_versions_must_increase_and_dates_not_go_backwards(repo: Repo) -> None:
    data = good(repo)
    log = data["metadata"]["changelog"]
    log[1]["date"] = "2025-12-01"
    log.append({"version": "1.1.0", "date": "2026-03-01", "change": "again"})
    data["metadata"]["updated"] = "2026-03-01"
    repo.contract(data)
    messages = [d.message for d in gate(repo, "changelog").diagnostics]
    assert any("does not increase over 1.1.0" in m for m in messages)
    assert any("is before the previous entry's" in m for m in messages)

"""The HTML report in a real browser: headless Chromium loads it from file:// and we query the DOM.

Checks what a reader relies on: every falsifier id is on the page, failing ones are marked (and
coloured), the stale one says so, the loss and throughput plots load as images with a real size,
the dependency graph is drawn, no markup from a contract runs, and nothing is fetched from the
network. Screenshots are saved under the test's tmp dir for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pv.cli import main
from pv.workspace import Workspace
from tests.pv.browser import Browser, find_chromium
from tests.pv.conftest import Repo
from tests.pv.site_fixture import FIXTURE_IDS, build_fixture

REPO = Path(__file__).resolve().parents[2]

if find_chromium() is None and not os.environ.get("CI"):
    pytest.skip("chromium is not installed (apt-get install chromium); CI installs it and runs this test",
                allow_module_level=True)

DOM = """(() => {
  const rect = e => { const r = e.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; };
  const pill = document.querySelector('tr.falsifier[data-state="fail"] .verdict');
  return {
    title: document.title,
    banner: (document.querySelector('#verdict h1') || {}).textContent || null,
    ids: [...new Set([...document.querySelectorAll('[data-falsifier]')].map(e => e.dataset.falsifier))],
    states: Object.fromEntries([...document.querySelectorAll('tr.falsifier[data-falsifier]')]
                                 .map(e => [e.dataset.falsifier, e.dataset.state])),
    blocking: [...document.querySelectorAll('tr.blocking-failure')].map(e => e.dataset.falsifier),
    failPill: pill ? [pill.textContent, getComputedStyle(pill).backgroundColor] : null,
    plots: [...document.querySelectorAll('figure.plot img')].map(i => ({
      src: i.getAttribute('src'), natural: [i.naturalWidth, i.naturalHeight], shown: rect(i)})),
    graphs: [...document.querySelectorAll('svg.depgraph')].map(s => ({
      shown: rect(s), nodes: s.querySelectorAll('g.gnode').length})),
    tables: document.querySelectorAll('table').length,
    liveRuns: [...document.querySelectorAll('table.live-runs > tbody > tr')].map(
      tr => [...tr.children].slice(0, 3).map(td => td.textContent.trim())),
    pwned: window.__pwned || 0,
    scripts: document.querySelectorAll('script').length,
  };
})()"""


def _render(root: Path, out: Path, *extra: str) -> Path:
    assert main(["report", "--root", str(root), "--output", str(out), *extra]) == 0
    return out


def _load(browser: Browser, page: Path, shot: Path) -> dict:
    browser.open(page.as_uri())
    facts = browser.evaluate(DOM)
    browser.screenshot(shot)
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return facts


def _plots_ok(facts: dict) -> None:
    assert facts["plots"], "no plot on the page"
    for plot in facts["plots"]:
        assert plot["natural"][0] > 100 and plot["natural"][1] > 100, plot  # the SVG decoded
        assert plot["shown"][0] > 100 and plot["shown"][1] > 50, plot  # and is laid out at a readable size


def test_fixture_report_in_chromium(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    root = build_fixture(Repo(tmp_path / "repo"))
    site = _render(root, tmp_path / "site")
    with Browser() as browser:
        index = _load(browser, site / "index.html", tmp_path / "fixture-index.png")
        page = _load(browser, site / "contracts" / "site-demo-v1.html", tmp_path / "fixture-contract.png")
        evidence = _load(browser, site / "evidence.html", tmp_path / "fixture-evidence.png")
        assert not browser.failed_requests, browser.failed_requests
    print(f"screenshots: {tmp_path}/fixture-*.png")

    assert set(index["ids"]) == set(FIXTURE_IDS)
    assert {k: v for k, v in index["states"].items()} == FIXTURE_IDS
    assert index["banner"] == "1 ship-blocking falsifier failing"
    assert set(index["blocking"]) == {"FALSIFY-SITE-002"}  # in "Needs attention" and in "All falsifiers"
    assert index["failPill"] == ["FAIL", "rgb(198, 40, 40)"]  # marked in red, not only in text
    assert index["graphs"] and index["graphs"][0]["nodes"] == 2 and index["graphs"][0]["shown"][0] > 200
    _plots_ok(index)
    assert page["states"]["FALSIFY-SITE-003"] == "stale"
    assert {i for i in page["ids"] if i.startswith("FALSIFY-SITE")} == {i for i in FIXTURE_IDS if "SITE" in i}
    _plots_ok(page)
    _plots_ok(evidence)
    assert sorted(p["src"].rsplit("-", 1)[-1] for p in page["plots"]) == ["loss.svg", "loss.svg", "throughput.svg",
                                                                          "throughput.svg"]
    assert evidence["liveRuns"] == [["FALSIFY-SITE-006", "PASS", "0"]]  # pv verify --live's record, shown
    for facts in (index, page, evidence):
        assert facts["pwned"] == 0 and facts["scripts"] == 0  # the hostile description stayed text


def test_shipped_contracts_report_in_chromium(tmp_path: Path) -> None:
    site = _render(REPO, tmp_path / "site", "--ledger", str(tmp_path / "no-ledger.json"))
    declared = {ft.id: lc.contract.metadata.id for lc in Workspace(REPO).contracts
                if lc.contract is not None for ft in lc.contract.falsification_tests}
    with Browser() as browser:
        index = _load(browser, site / "index.html", tmp_path / "shipped-index.png")
        pages = {cid: _load(browser, site / "contracts" / f"{cid}.html", tmp_path / f"shipped-{cid}.png")
                 for cid in sorted(set(declared.values()))}
        assert not browser.failed_requests, browser.failed_requests
    print(f"screenshots: {tmp_path}/shipped-*.png")

    assert set(index["ids"]) == set(declared)
    assert index["banner"] == "No verdicts recorded yet"
    _plots_ok(index)  # the overview shows the committed CPU fine-tune's loss curves
    assert [p["src"] for p in index["plots"]] == [
        "plots/apr-pretrain-init-finetune-v1-20261125T010859Z-loss.svg"]
    assert index["tables"] >= 2 and index["graphs"][0]["nodes"] == len(pages)
    for cid, facts in pages.items():
        assert {fid for fid in facts["ids"]} == {fid for fid, c in declared.items() if c == cid}
    _plots_ok(pages["apr-pretrain-init-finetune-v1"])  # the committed CPU fine-tune evidence, plotted
    assert any(p["src"].endswith("-loss.svg") for p in pages["apr-pretrain-init-finetune-v1"]["plots"])

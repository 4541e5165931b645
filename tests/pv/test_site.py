"""`pv report` without a browser: the model's judgements, the written files, escaping, the output folder."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pv.cli import main
from pv.graph import build_graph
from pv.site import OutputError, build_project, write_site
from pv.site import columns as columns_module
from pv.site.columns import Cell, Column
from pv.site.model import group_needs
from pv.site.plots import plots_for
from pv.site.runs import find_runs
from pv.workspace import Workspace
from tests.pv.conftest import Repo
from tests.pv.site_fixture import FIXTURE_IDS, build_fixture


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture(Repo(tmp_path_factory.mktemp("site")))


def _project(root: Path):
    ws = Workspace(root)
    return build_project(ws, ws.contracts), build_graph(ws.contracts)


def test_model_judges_each_falsifier_like_pv_status(fixture_root: Path) -> None:
    project, _ = _project(fixture_root)
    states = {f.id: f.state.value for f in project.falsifiers}
    assert states == FIXTURE_IDS
    stale = next(f for f in project.falsifiers if f.id == "FALSIFY-SITE-003")
    assert "test_drift.py changed" in (stale.support.stale or "")
    # ship-blocking failures lead everything a reader is shown first
    assert [f.id for f in project.blocking_failures] == ["FALSIFY-SITE-002"]
    assert project.attention[0].id == "FALSIFY-SITE-002"
    assert project.contracts[0].id == "site-demo-v1"  # the contract with the failure sorts first
    demo = project.contract("site-demo-v1")
    assert demo is not None and demo.claim_supported  # DRAFT claims nothing beyond the schema
    # obligations -> falsifiers follow applies_to; the unlinked obligation and falsifiers are kept, not dropped
    linked = {o.obligation.property: [f.id for f in o.falsifiers] for o in demo.obligations}
    assert linked == {"Addition works.": ["FALSIFY-SITE-001", "FALSIFY-SITE-002", "FALSIFY-SITE-006"],
                      "Verdicts describe the code.": ["FALSIFY-SITE-003"], "Nothing tests this yet.": []}
    assert [f.id for f in demo.unlinked] == ["FALSIFY-SITE-004", "FALSIFY-SITE-005"]
    source = next(f for f in demo.falsifiers if f.id == "FALSIFY-SITE-002").source
    assert source is not None and source.location == "falsifiers/test_bad.py:5"
    assert source.code.startswith("@pytest.mark.falsifies('FALSIFY-SITE-002')")  # decorator included
    assert source.code.rstrip().endswith("'arithmetic broke'")


def test_html_site_has_every_page_falsifier_and_plot(fixture_root: Path, tmp_path: Path) -> None:
    project, graph = _project(fixture_root)
    site = write_site(project, graph, tmp_path / "out")
    out = site.folder
    assert site.pages[0] == "index.html"
    assert {"contracts/site-demo-v1.html", "contracts/site-base-v1.html", "matrix.html", "evidence.html"} <= set(
        site.pages)
    index = (out / "index.html").read_text()
    page = (out / "contracts" / "site-demo-v1.html").read_text()
    for fid in FIXTURE_IDS:
        assert f'data-falsifier="{fid}"' in index
    for fid in (f for f in FIXTURE_IDS if f.startswith("FALSIFY-SITE")):
        assert f'id="{fid}"' in page
    assert "1 ship-blocking falsifier failing" in index
    assert "arithmetic broke" in page  # the failure reason and the test source are on the page
    # two plots (loss, throughput) per run (the hand-recorded one and the LIVE one), valid standalone SVG
    svgs = sorted((out / "plots").glob("*.svg"))
    assert sorted(p.name.rsplit("-", 1)[-1] for p in svgs) == ["loss.svg", "loss.svg", "throughput.svg",
                                                               "throughput.svg"]
    for svg in svgs:
        assert ET.parse(svg).getroot().tag.endswith("svg")
        assert f'src="../plots/{svg.name}"' in page
    evidence = (out / "evidence.html").read_text()
    assert "1 unreadable line(s) skipped" in evidence
    # the LIVE run as pv verify --live recorded it: command, exit code, the check and the values it read
    check = "steps_completed == 20 and final_val_loss &lt; 5"
    assert "scripts/train_stub.py" in evidence and f"<code>{check}</code>" in evidence
    assert f"check held: {check} with final_val_loss=4.2, steps_completed=20" in evidence
    # self-contained: nothing refers to the network
    for html in out.rglob("*.html"):
        text = html.read_text()
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text, html


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_contract_text_is_escaped_never_markup(fixture_root: Path, tmp_path: Path) -> None:
    """Contract YAML and evidence READMEs are untrusted: their markup must reach the page as text."""
    project, graph = _project(fixture_root)
    out = write_site(project, graph, tmp_path / "out").folder
    for html in out.rglob("*.html"):
        parser = _Elements()
        parser.feed(html.read_text())
        assert not [t for t, _ in parser.tags if t == "script"], html
        assert not [a for _, a in parser.tags if any(k.startswith("on") for k in a)], html
    assert "&lt;script&gt;window.__pwned" in (out / "contracts" / "site-demo-v1.html").read_text()
    assert "&lt;script&gt;window.__pwned" in (out / "evidence.html").read_text()


def test_markdown_site(fixture_root: Path, tmp_path: Path) -> None:
    project, graph = _project(fixture_root)
    site = write_site(project, graph, tmp_path / "md", "md")
    assert site.pages[0] == "index.md"
    index = (site.folder / "index.md").read_text()
    assert "**1 ship-blocking falsifier(s) failing:** [FALSIFY-SITE-002](contracts/site-demo-v1.md)" in index
    page = (site.folder / "contracts" / "site-demo-v1.md").read_text()
    assert "![Loss against step" in page and "(../plots/site-demo-v1-20260101T000000Z-loss.svg)" in page
    for fid in FIXTURE_IDS:
        assert fid in index
    assert "<script" not in page and "&lt;script&gt;window.__pwned" in page


def test_a_new_column_is_one_registry_entry(fixture_root: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """How freshness, mutation or CMD verdicts get shown: append a Column; every table picks it up."""
    extra = Column("mutation", "mutation score", lambda f: Cell(f"score-of-{f.id}"))
    monkeypatch.setattr(columns_module, "FALSIFIER_COLUMNS", [*columns_module.FALSIFIER_COLUMNS, extra])
    import pv.site.render as render

    monkeypatch.setattr(render, "FALSIFIER_COLUMNS", columns_module.FALSIFIER_COLUMNS)
    project, graph = _project(fixture_root)
    html = write_site(project, graph, tmp_path / "h").folder
    md = write_site(project, graph, tmp_path / "m", "md").folder
    assert '<th data-col="mutation">mutation score</th>' in (html / "index.html").read_text()
    assert "score-of-FALSIFY-SITE-002" in (html / "contracts" / "site-demo-v1.html").read_text()
    assert "mutation score" in (md / "contracts" / "site-demo-v1.md").read_text()


def test_output_folder_is_never_someone_elses(fixture_root: Path, tmp_path: Path) -> None:
    project, graph = _project(fixture_root)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not written by pv report"):
        write_site(project, graph, foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    with pytest.raises(OutputError, match="contains the repository"):
        write_site(project, graph, fixture_root)
    own = tmp_path / "report"
    write_site(project, graph, own)
    (own / "stray.html").write_text("old")
    write_site(project, graph, own)  # a folder pv report wrote is replaced whole
    assert not (own / "stray.html").exists() and (own / "index.html").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folders left


def test_series_reader_counts_what_it_cannot_plot(tmp_path: Path) -> None:
    run = tmp_path / "evidence" / "c-v1" / "20260101T000000Z"
    run.mkdir(parents=True)
    (run / "ft.metrics.jsonl").write_text('{"step": 0, "loss": 5.0}\n[1, 2]\n{"step": 1, "loss": NaN}\n'
                                          '{"step": 2, "loss": 4.0, "lr": true}\nnot json\n\n')
    (series,) = find_runs(tmp_path, tmp_path / "evidence")["c-v1"][0].series
    assert series.name == "ft"
    assert series.points == {"loss": [(0.0, 5.0), (2.0, 4.0)]}
    assert (series.bad_lines, series.non_finite) == (2, 1)


def test_plots_are_byte_stable(fixture_root: Path) -> None:
    run = next(r for r in find_runs(fixture_root, fixture_root / "evidence")["site-demo-v1"]
               if r.stamp == "20260101T000000Z")
    first, second = plots_for(run), plots_for(run)
    assert [p.svg for p in first] == [p.svg for p in second]
    assert all(b"<svg" in p.svg and len(p.svg) > 5000 for p in first)
    assert "val_loss" in first[0].description and "last 3.2" in first[0].description


def test_group_needs_says_each_reason_once() -> None:
    needs = [f"FALSIFY-X-00{i}: ledger verdict is stale" for i in range(1, 6)] + ["no evidence", "FALSIFY-X-009: fail"]
    assert group_needs(needs) == ["5 falsifiers (FALSIFY-X-001 … FALSIFY-X-005): ledger verdict is stale",
                                  "no evidence", "FALSIFY-X-009: fail"]


def test_cli_report_writes_and_says_where(fixture_root: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    assert main(["report", "--root", str(fixture_root), "--output", str(out)]) == 0
    said = capsys.readouterr().out
    assert "1 ship-blocking failure(s)" in said and (out / "index.html").as_uri() in said.replace("\n", "")
    assert main(["report", "--root", str(fixture_root), "--output", str(fixture_root / "falsifiers")]) == 2
    assert "not written by pv report" in capsys.readouterr().err
    assert main(["report", "--root", str(fixture_root), "--output", str(tmp_path / "m"), "--format", "md"]) == 0
    assert (tmp_path / "m" / "index.md").is_file()
    assert json.loads((fixture_root / ".pv" / "ledger.json").read_text())["entries"]  # report only read it

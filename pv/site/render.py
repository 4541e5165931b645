"""Write the report model as a static site (HTML or Markdown) with jinja2 templates.

The output folder is self-contained: one stylesheet, inline SVG graphs, SVG plot files, no
scripts and no network fetches, so it works from ``file://``, as a CI artifact, or on a static
host. It is built in a temporary sibling folder and swapped in at the end, so a crash never
leaves half a report; an existing folder is replaced only when an earlier ``pv report`` wrote
it (a marker file says so), never a folder of the user's.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import Markup

from pv.graph import Graph
from pv.site.columns import FALSIFIER_COLUMNS
from pv.site.graph_layout import layout
from pv.site.model import STATE_HELP, STATUS_RULES, ContractView, Project, State
from pv.site.plots import Plot, plots_for

FORMATS = ("html", "md")
MARKER = ".pv-report"


class OutputError(Exception):
    """The output folder cannot be used (it holds someone else's files, or contains the repo)."""


@dataclass(frozen=True)
class Site:
    folder: Path
    pages: list[str]  # relative paths, index first
    plots: int


def _env(fmt: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pv.site", "templates"),
        autoescape=lambda name: (name or "").endswith((".html.j2", ".svg.j2")),  # contract text is untrusted
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters["inline"] = _inline_markdown if fmt == "html" else _md_cell
    env.filters["markdown"] = _markdown
    env.filters["python"] = _highlight
    env.filters["size"] = _size
    env.filters["mdcell"] = _md_cell
    env.filters["mdcode"] = _md_code
    env.filters["fence"] = _fence
    env.globals.update(columns=FALSIFIER_COLUMNS, states=list(State), State=State, state_help=STATE_HELP,
                       rules=STATUS_RULES)
    return env


def write_site(project: Project, graph: Graph, out: Path, fmt: str = "html") -> Site:
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}")
    _check_output(out, project.root)
    env = _env(fmt)
    ext = "html" if fmt == "html" else "md"
    plots = {run.anchor: plots_for(run) for run in project.runs}
    graphs = {c.id: _graph_svg(env, graph.around(c.id), project, current=c.id) for c in project.contracts}
    common = {"project": project, "plots": plots, "ext": ext}

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        pages: list[str] = []

        def page(rel: str, template: str, **context: object) -> None:
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            base = "../" * rel.count("/")
            target.write_text(env.get_template(template).render(**common, base=base, **context), encoding="utf-8")
            pages.append(rel)

        page(f"index.{ext}", f"index.{ext}.j2", graph_svg=_graph_svg(env, graph, project))
        for c in project.contracts:
            page(f"contracts/{c.id}.{ext}", f"contract.{ext}.j2", c=c, graph_svg=graphs[c.id])
        page(f"matrix.{ext}", f"matrix.{ext}.j2")
        page(f"evidence.{ext}", f"evidence.{ext}.j2")
        (tmp / "plots").mkdir()
        for plot in (p for group in plots.values() for p in group):
            (tmp / "plots" / plot.filename).write_bytes(plot.svg)
        if fmt == "html":
            (tmp / "assets").mkdir()
            (tmp / "assets" / "style.css").write_text(_stylesheet(), encoding="utf-8")
        (tmp / MARKER).write_text("written by pv report; the whole folder is replaced on the next run\n",
                                  encoding="utf-8")
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Site(out, pages, sum(len(g) for g in plots.values()))


def _check_output(out: Path, root: Path) -> None:
    resolved, repo = out.resolve(), root.resolve()
    if resolved == repo or resolved in repo.parents:
        raise OutputError(f"--output {out} contains the repository; choose a folder of its own")
    if out.exists() and not out.is_dir():
        raise OutputError(f"--output {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise OutputError(f"--output {out} is not empty and was not written by pv report; "
                          "choose another folder or empty it")


def _swap(tmp: Path, out: Path) -> None:
    os.chmod(tmp, 0o755)  # mkdtemp makes it 0700; a report folder is for reading
    if not out.exists():
        tmp.rename(out)
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    out.rename(trash / out.name)
    tmp.rename(out)
    shutil.rmtree(trash, ignore_errors=True)


def _graph_svg(env: jinja2.Environment, graph: Graph, project: Project, current: str | None = None) -> Markup:
    css, href = {}, {}
    for c in project.contracts:
        css[c.id] = _contract_css(c)
        href[c.id] = f"{c.id}.html" if current else f"contracts/{c.id}.html"
    if not graph.nodes:
        return Markup("")
    drawn = layout(graph, css=css, href=href, current=current)
    label = f"dependencies of {current or 'all contracts'}"
    return Markup(env.get_template("graph.svg.j2").render(g=drawn, label=label))


def _contract_css(c: ContractView) -> str:
    if c.blocking_failures:
        return "node-fail"
    if not c.claim_supported or any(f.state.failing or f.state is State.STALE for f in c.falsifiers):
        return "node-warn"
    return "node-ok"


def _stylesheet() -> str:
    from pygments.formatters import HtmlFormatter

    base = (resources.files("pv.site") / "templates" / "style.css").read_text(encoding="utf-8")
    return base + "\n/* syntax highlighting (pygments) */\n" + HtmlFormatter(style="friendly").get_style_defs(".src")


def _highlight(code: str, first_line: int = 1) -> Markup:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    formatter = HtmlFormatter(cssclass="src", linenos="inline", linenostart=first_line, wrapcode=True)
    return Markup(highlight(code, PythonLexer(), formatter))


def _inline_markdown(text: str | None) -> Markup:
    """`code` spans and nothing else; everything else is escaped (contract text is untrusted)."""
    from markdown_it import MarkdownIt

    if not text:
        return Markup("")
    return Markup(MarkdownIt("zero").enable("backticks").renderInline(text))


def _markdown(text: str | None) -> Markup:
    """A hand-written evidence README: CommonMark plus tables, raw HTML escaped, unsafe links dropped."""
    from markdown_it import MarkdownIt

    if not text:
        return Markup("")
    return Markup(MarkdownIt("commonmark", {"html": False}).enable("table").render(text))


def _md_cell(text: object) -> str:
    """Untrusted text as one line of Markdown (a table cell): pipes escaped, HTML shown as text."""
    flat = " ".join(str(text or "").split())
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _md_code(text: object) -> str:
    """Untrusted text as one inline code span, whatever backticks it holds."""
    flat = " ".join(str(text or "").split()).replace("|", "\\|")
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"


def _fence(code: str, lang: str = "") -> str:
    """A fenced code block longer than any backtick run inside it, so the code cannot close it."""
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", code)), default=0) + 1)
    return f"{fence}{lang}\n{code}\n{fence}"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


__all__ = ["FORMATS", "OutputError", "Plot", "Site", "write_site"]

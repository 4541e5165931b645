"""Plots of an evidence run's metric series, drawn with matplotlib into standalone SVG files.

The Agg canvas is attached explicitly and pyplot is never imported, so no GUI backend or global
figure state is touched (safe in CI and in threads). Text is stored as paths, so the SVG needs
no font on the reader's machine, and the output is byte-stable for the same data (fixed hash
salt, no date metadata), which keeps committed reports diffable.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from pv.site.runs import EvidenceRun, Series

MAX_POINTS = 4000  # per line; longer series are thinned evenly (the last point always kept)


@dataclass(frozen=True)
class PlotSpec:
    """One figure: which metrics to draw from every series of a run, and how to label it."""

    key: str
    title: str
    ylabel: str
    metrics: tuple[tuple[str, str], ...]  # (metric name, legend suffix)


PLOTS = (
    PlotSpec("loss", "Loss against step", "loss (nats)", (("loss", "train loss"), ("val_loss", "val_loss"))),
    PlotSpec("throughput", "Throughput against step", "tokens / s", (("tokens_per_s", "tokens/s"),)),
)


@dataclass(frozen=True)
class Plot:
    key: str
    title: str
    filename: str
    svg: bytes
    width_px: int
    height_px: int
    description: str  # alt text: what is drawn, in words


def plots_for(run: EvidenceRun) -> list[Plot]:
    """Every figure of ``PLOTS`` that the run has data for (none when it has no series)."""
    out = []
    for spec in PLOTS:
        lines = [(s, metric, label) for s in run.series for metric, label in spec.metrics if s.has(metric)]
        if lines:
            out.append(_draw(run, spec, lines))
    return out


def _draw(run: EvidenceRun, spec: PlotSpec, lines: list[tuple[Series, str, str]]) -> Plot:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height, dpi = 7.2, 3.6, 100
    with matplotlib.rc_context({"svg.hashsalt": "pv-report", "svg.fonttype": "path", "font.size": 9}):
        fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        colors = matplotlib.color_sequences["tab10"]
        names = sorted({s.name for s, _, _ in lines}, key=[s.name for s, _, _ in lines].index)
        described = []
        for series, metric, label in lines:
            xs, ys = _thin(series.points[metric])
            color = colors[names.index(series.name) % len(colors)]
            is_eval = metric.startswith("val")
            ax.plot(xs, ys, color=color, linewidth=1.0 if not is_eval else 1.4,
                    linestyle="--" if is_eval else "-", marker="o" if is_eval else None, markersize=3.5,
                    alpha=0.85 if not is_eval else 1.0, label=f"{series.name}: {label}")
            described.append(f"{series.name} {label}: {len(series.points[metric])} points, "
                             f"step {xs[0]:g} to {xs[-1]:g}, last {ys[-1]:.4g}")
        ax.set_title(f"{spec.title} ({run.contract_id}, {run.stamp})", fontsize=9, loc="left")
        ax.set_xlabel("step")
        ax.set_ylabel(spec.ylabel)
        ax.grid(True, linewidth=0.4, alpha=0.5)
        ax.legend(fontsize=8, frameon=False, ncols=2 if len(lines) > 3 else 1)
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "pv report"})
    filename = f"{run.contract_id}-{run.stamp}-{spec.key}.svg"
    return Plot(spec.key, spec.title, filename, buf.getvalue(), int(width * dpi), int(height * dpi),
                f"{spec.title} for {run.folder}: " + "; ".join(described))


def _thin(points: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    if len(points) > MAX_POINTS:
        stride = -(-len(points) // MAX_POINTS)
        points = [*points[::stride], *([points[-1]] if (len(points) - 1) % stride else [])]
    return [p[0] for p in points], [p[1] for p in points]

"""Place the contract graph's nodes on a grid so a template can draw it as inline SVG.

Columns are dependency depth (contracts that depend on nothing on the left), rows are the
order within a column. This is all the layout a graph of tens of contracts needs, and it keeps
the report free of JavaScript graph libraries and of network fetches.
"""

from __future__ import annotations

from dataclasses import dataclass

from pv.graph import Graph, layers

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 250, 44, 70, 18, 10
CHAR_W = 6.6  # average glyph width of the 11px sans-serif label, for shortening long ids


@dataclass(frozen=True)
class Box:
    id: str
    label: str
    sub: str
    x: int
    y: int
    css: str
    href: str | None
    current: bool


@dataclass(frozen=True)
class Arrow:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Layout:
    boxes: list[Box]
    arrows: list[Arrow]
    width: int
    height: int
    box_w: int = BOX_W
    box_h: int = BOX_H


def layout(g: Graph, *, css: dict[str, str], href: dict[str, str], current: str | None = None) -> Layout:
    cols = layers(g)
    pos: dict[str, tuple[int, int]] = {}
    boxes = []
    for ci, col in enumerate(cols):
        for ri, node_id in enumerate(col):
            x, y = PAD + ci * (BOX_W + GAP_X), PAD + ri * (BOX_H + GAP_Y)
            pos[node_id] = (x, y)
            node = g.nodes[node_id]
            boxes.append(Box(node_id, _fit(node.label, BOX_W - 16), node.status or "", x, y,
                             css.get(node_id, "node-" + node.kind), href.get(node_id), node_id == current))
    arrows = []
    for e in g.edges:
        if e.kind != "depends_on" or e.source not in pos or e.target not in pos:
            continue
        (sx, sy), (tx, ty) = pos[e.source], pos[e.target]
        if sx > tx:  # dependent to the right: leave from its left edge, arrive at the target's right edge
            arrows.append(Arrow(sx, sy + BOX_H / 2, tx + BOX_W, ty + BOX_H / 2))
        else:  # same column (a cycle): short hook on the right
            arrows.append(Arrow(sx + BOX_W, sy + BOX_H / 2, tx + BOX_W, ty + BOX_H / 2))
    width = PAD * 2 + max(len(cols), 1) * BOX_W + max(len(cols) - 1, 0) * GAP_X
    height = PAD * 2 + max((len(c) for c in cols), default=1) * (BOX_H + GAP_Y) - GAP_Y
    return Layout(boxes, arrows, width, height)


def _fit(text: str, width_px: int) -> str:
    limit = int(width_px / CHAR_W)
    return text if len(text) <= limit else text[: limit - 1] + "…"

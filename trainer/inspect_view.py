"""``apr inspect``'s human-readable view: rich tables that never truncate an identifier.

Rich fits a table to the terminal (80 columns when output is piped) by wrapping cells and then
cutting them with an ellipsis; a cut tensor name (``model.layers.0.self_attn.q_p…``) is useless and
misleading. Here identifier columns (metadata keys, tensor names, dtypes, shapes, numbers) never
wrap, the console is made at least as wide as they need, and the plain lines are soft-wrapped: on a
narrow terminal long lines wrap, names stay whole. Only free-text metadata values may wrap.
"""

from __future__ import annotations

import json
from typing import IO, Any

from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text


def _needed_width(table: Table) -> int:
    """The narrowest width at which no ``no_wrap`` cell of ``table`` is cut."""
    for column in table.columns:  # rich measures a cell by its longest word; pin no_wrap columns to whole cells
        if column.no_wrap:
            column.min_width = max(cell_len(str(c)) for c in [column.header, *column.cells])
    probe = Console(width=1 << 16)
    return Measurement.get(probe, probe.options, table).minimum


def checkpoint_tables(info: dict[str, Any]) -> list[Table]:
    meta = Table(title="metadata")
    meta.add_column("key", no_wrap=True)
    meta.add_column("value", overflow="fold")
    for k, v in info["metadata"].items():
        meta.add_row(Text(k), Text(json.dumps(v) if isinstance(v, dict | list) else str(v)))  # Text: no markup
    tensors = Table(title="tensors")
    for name in ("name", "dtype", "shape", "offset", "bytes"):
        tensors.add_column(name, no_wrap=True, justify="right" if name in ("offset", "bytes") else "left")
    for t in info["tensors"]:
        tensors.add_row(Text(t["name"]), Text(t["dtype"]), str(tuple(t["shape"])), str(t["offset"]), f"{t['size']:,}")
    return [meta, tensors]


def print_checkpoint(info: dict[str, Any], file: IO[str] | None = None, width: int | None = None) -> None:
    """Print ``trainer.apr_format.describe``'s result: two header lines, the metadata and tensor tables.

    ``width``: the terminal's (default: detected; 80 when not a terminal); widened as the tables need.
    """
    tables = checkpoint_tables(info)
    terminal = Console(file=file, width=width)
    con = Console(file=file, width=max([terminal.width, *(_needed_width(t) for t in tables)]))
    h = info["header"]
    lines = [
        f"{info['path']}  {info['file_size']:,} bytes  CRCs {info['crc']}",
        f"magic {h['magic']}  version {h['version']}  flags {h['flags']} (tied={h['tied_embeddings']})  "
        f"tensors {h['n_tensors']}  metadata@{h['metadata_offset']}+{h['metadata_size']}  "
        f"index@{h['tensor_index_offset']}+{h['tensor_index_size']}  data@{h['data_offset']}",
    ]
    for line in lines:
        con.print(line, markup=False, highlight=False, soft_wrap=True)
    for table in tables:
        con.print(table)

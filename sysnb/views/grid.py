"""The rows on screen: one page of a lens or of the event list, as text, in a chosen order.

Sorting is a whole-column ``sort_indices`` cached per view state; only the page (a few hundred rows) is
formatted, with the same code as ``-p`` output, so a cell shows exactly what ``sysnb -p`` would print.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.format.output import Formatter, parse_format

DEFAULT_COLUMNS = ("evt.num", "evt.time", "evt.cpu", "proc.name", "thread.tid", "evt.dir", "evt.type", "evt.info")
#: fields shown as text whose order is another column's
SORT_ALIAS = {"evt.time": "evt.rawtime", "evt.outputtime": "evt.rawtime", "evt.datetime": "evt.rawtime",
              "evt.reltime": "evt.rawtime", "evt.time.s": "evt.rawtime"}
PAGE = 200
#: the time column's modes: its header (evt.time as sysdig prints it, or seconds since the capture's first
#: event, or since the row above)
TIME_LABELS = {"absolute": "evt.time", "relative": "time +s", "delta": "Δ time s"}


def columns_of(fmt: str | Sequence[str]) -> list[str]:
    """The fields of a ``-p`` format (``"%evt.num %proc.name"``) or a list of field names, checked."""
    if isinstance(fmt, str):
        _, segments = parse_format(fmt)
        return [s.field for s in segments if s.field]
    for name in fmt:
        parse_format(f"%{name}")
    return list(fmt)


def sort_key(table: pa.Table, column: str) -> str | None:
    """The table column that orders ``column`` (None: not sortable, e.g. evt.info)."""
    key = SORT_ALIAS.get(column, column)
    return key if key in table.column_names and not pa.types.is_binary(table.schema.field(key).type) else None


def order(table: pa.Table, sort: str) -> pa.Array | None:
    """Row order for ``sort`` ("col" ascending, "-col" descending; "" keeps capture order)."""
    if not sort:
        return None
    column = sort_key(table, sort.lstrip("-"))
    if column is None:
        return None
    col = table[column]
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    direction = "descending" if sort.startswith("-") else "ascending"
    return pc.sort_indices(pa.table({"k": col}), sort_keys=[("k", direction)])


def page_rows(table: pa.Table, indices: pa.Array | None, start: int, count: int = PAGE) -> pa.Table:
    start = max(0, min(start, table.num_rows if indices is None else len(indices)))
    if indices is None:
        return table.slice(start, count)
    # one-row slices are views: Table.take on a table of many chunks concatenated every column of the whole
    # capture first (0.15 s for a page of big50)
    rows = [table.slice(int(i), 1) for i in indices.slice(start, count).to_pylist()]
    return pa.concat_tables(rows).combine_chunks() if rows else table.slice(0, 0)


def event_page(rows: pa.Table, columns: Sequence[str]) -> pa.Table:
    """The page's events as text columns named by field (missing values as ``<NA>``), plus ``evt.num``."""
    out = {name: pa.array(list(Formatter(f"*%{name}").lines(rows)), pa.string()) for name in columns}
    out["_evt.num"] = rows["evt.num"].combine_chunks()
    return pa.table(out)


def lens_page(rows: pa.Table) -> pa.Table:
    """A page of a lens table as text: byte columns in human units, counts with thousands separators."""
    out = {}
    for name in rows.column_names:
        values = rows[name].to_pylist()
        if name.startswith("bytes"):
            out[name] = pa.array([human_bytes(v or 0) for v in values], pa.string())
        elif name in ("events", "errors"):
            out[name] = pa.array([f"{v:,}" for v in values], pa.string())
        else:
            out[name] = pa.array(["<NA>" if v is None else str(v) for v in values], pa.string())
    return pa.table(out)


def human_bytes(v: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if v >= scale:
            return f"{v / scale:.1f} {unit}"
    return f"{v} B"


def time_texts(ts: pa.ChunkedArray | pa.Array, mode: str, start_ns: int,
               before: pa.ChunkedArray | pa.Array | None) -> pa.Array:
    """A page's times as seconds since ``start_ns`` (``relative``) or since the row above (``delta``; the row
    above the page is ``before``), to the nanosecond."""
    ns = np.asarray(ts.to_numpy(), dtype=np.int64)
    if mode == "delta":
        prev = np.asarray(before.to_numpy(), dtype=np.int64) if before is not None and len(before) else ns[:1]
        diff = np.diff(ns, prepend=prev[:1])
        return pa.array([f"+{d / 1e9:.9f}" if d >= 0 else f"{d / 1e9:.9f}" for d in diff.tolist()], pa.string())
    return pa.array([f"{(t - start_ns) / 1e9:.9f}" for t in ns.tolist()], pa.string())

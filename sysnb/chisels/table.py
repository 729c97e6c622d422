"""sysdig's ``table_generator`` chisel as one group-by: sum a value per key over the events that pass a
mask, keep the top N, and print it the way ``common.lua``'s ``print_sorted_table`` does."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.chisels.registry import ChiselResult
from sysnb.scap.events import ids_with_flag

IO_TYPES = pa.array(ids_with_flag("READS_FROM_FD", "WRITES_TO_FD"), pa.uint16())
WIDTH = 20
RULE = "-" * 80


def is_io(t: pa.Table) -> pa.ChunkedArray:
    """evt.is_io: the event reads from or writes to an fd (read, write, send*, recv*, ...)."""
    return pc.is_in(t["sysnb.type_id"], value_set=IO_TYPES)


def fd_type_in(t: pa.Table, *types: str) -> pa.ChunkedArray:
    return pc.fill_null(pc.is_in(t["fd.type"].cast(pa.string()), value_set=pa.array(types)), False)


def values(t: pa.Table, value: str) -> pa.ChunkedArray:
    """The per-event value: ``bytes`` (evt.rawarg.res), ``time`` (evt.latency) or ``count`` (evt.count)."""
    if value == "count":
        return pa.chunked_array([pa.array(np.ones(t.num_rows, np.int64))])
    col = t["evt.rawres"] if value == "bytes" else t["evt.latency"]
    return pc.cast(col, pa.int64())


def top_table(t: pa.Table, keys: Sequence[str], value: str, mask: pa.ChunkedArray | None, top: int) -> pa.Table:
    """Sum of positive values per key (events with any key missing are skipped), largest first."""
    rows = t.filter(mask) if mask is not None else t
    v = values(rows, value)
    keep = pc.greater(pc.fill_null(v, 0), 0)
    keyed = {k: _key(rows, k) for k in keys}
    for k in keys:
        keep = pc.and_(keep, pc.is_valid(keyed[k]))
    sel = pa.table({**keyed, "value": v}).filter(keep)
    grouped = sel.group_by(list(keys)).aggregate([("value", "sum")]).rename_columns([*keys, "value"])
    grouped = grouped.sort_by([("value", "descending"), *[(k, "ascending") for k in keys]])
    return grouped.slice(0, top) if top else grouped


def _key(rows: pa.Table, name: str) -> pa.ChunkedArray:
    col = rows[name]
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if name in NA_WHEN_THREAD_KNOWN:  # libsinsp names a thread it never saw created "<NA>"
        col = pc.if_else(pc.and_(pc.is_null(col), pc.is_valid(rows["thread.tid"])), "<NA>", col)
    return col


NA_WHEN_THREAD_KNOWN = frozenset({"proc.name", "proc.exe", "proc.pname"})


def render(table: pa.Table, keys: Sequence[str], key_descs: Sequence[str], value_desc: str,
           units: str, span: int = 0) -> Iterable[str]:
    """common.lua print_sorted_table; ``span`` (ns) is the divisor of the "timepct" units."""
    yield _extend(value_desc) + "".join(_extend(d) for d in key_descs)
    yield RULE
    cols = [table[k].to_pylist() for k in keys]
    for i, v in enumerate(table["value"].to_pylist()):
        parts = [_lua_str(c[i]) for c in cols]
        keystr = "".join(_extend(p[:WIDTH]) for p in parts[:-1]) + parts[-1]
        yield _extend(format_value(v, units, span)) + keystr


def format_value(v: float, units: str, span: int = 0) -> str:
    if units == "timepct":  # the share of the capture's span, LuaJIT's half-up %.2f
        return f"{lua_2f(v / span * 100)}%" if span > 0 else "0.00%"
    if units == "bytes":
        return format_bytes(v)
    if units == "time":
        return format_time(v)
    return str(v)


@dataclass(frozen=True)
class TableSpec:
    """How a table chisel's sums are cut and printed (what merging partial sums needs)."""

    keys: tuple[str, ...]
    key_descs: tuple[str, ...]
    value_desc: str
    top: int
    units: str

    def result(self, sums: pa.Table) -> ChiselResult:
        """The chisel's result from sums per key (not yet sorted or cut)."""
        keys = list(self.keys)
        ranked = sums.sort_by([("value", "descending"), *[(k, "ascending") for k in keys]])
        ranked = ranked.slice(0, self.top) if self.top else ranked
        return ChiselResult(ranked, lambda: render(ranked, keys, self.key_descs, self.value_desc, self.units))


#: set while sysnb.chisels.stream runs a chisel over one batch: table_chisel returns every sum, uncut
PARTIAL: ContextVar[list[tuple[TableSpec, pa.Table]] | None] = ContextVar("PARTIAL", default=None)


def table_chisel(t: pa.Table, keys: Sequence[str], key_descs: Sequence[str], value: str, value_desc: str,
                 mask: pa.ChunkedArray | None, top: int, units: str) -> ChiselResult:
    spec = TableSpec(tuple(keys), tuple(key_descs), value_desc, top, units)
    partial = PARTIAL.get()
    if partial is not None:
        sums = top_table(t, keys, value, mask, 0)
        partial.append((spec, sums))
        return ChiselResult(sums, lambda: iter(()))
    return spec.result(top_table(t, keys, value, mask, 0))


def _lua_str(v: object) -> str:
    return "" if v is None else str(v)


def _extend(s: str, n: int = WIDTH) -> str:
    """common.lua extend_string: pad to n, or cut to n-1 and add a space."""
    return s + " " * (n - len(s)) if len(s) < n else s[:n - 1] + " "


def lua_2f(v: float) -> str:
    """LuaJIT's string.format("%.2f", v): exact halves of the binary value round up (0.125 -> 0.13)."""
    return str(Decimal(v).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def format_bytes(v: float) -> str:
    """common.lua format_bytes; LuaJIT's %.2f rounds exact halves up (1664 B -> 1.63KB, not C's 1.62)."""
    for unit, scale in (("P", 1024 ** 5), ("T", 1024 ** 4), ("G", 1024 ** 3), ("M", 1024 ** 2), ("KB", 1024)):
        if v > scale:
            q = (Decimal(v) / Decimal(scale)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            return f"{q}{unit}"
    return f"{int(v)}B"


def _lua_mod(a: float, b: int) -> float:
    """Lua's a % b: a - floor(a / b) * b (not C's fmod: it differs in the last bits for fractions)."""
    return a - math.floor(a / b) * b if isinstance(a, float) else a % b


def format_time(v: float) -> str:
    """common.lua format_time_interval (%u truncates, so fractional averages print like integers)."""
    s = 1_000_000_000
    if v >= s:
        return f"{int(v // s)}.{int(_lua_mod(v, s) / 10_000_000):02d}s"
    if v >= s // 100:
        return f"{int(v // 1_000_000)}ms"
    if v >= s // 1000:
        return f"{int(v // 1_000_000)}.{int(_lua_mod(v, 1_000_000) / 10_000):02d}ms"
    if v >= s // 100_000:
        return f"{int(v // 1000)}us"
    if v >= s // 1_000_000:
        return f"{int(v // 1000)}.{int(_lua_mod(v, 1000) / 10):02d}us"
    return f"{int(v)}ns"

"""The aggregating chisels as data: keys, a per-event value, a mask (a filter) and the top N.

The in-memory chisels (:mod:`sysnb.chisels.top`) compute these with one Arrow group-by over the table; a
dataset computes the same sums in DuckDB SQL (out of core) or as partial sums per batch (Ray, or a filter
only Arrow can evaluate), merged and cut to the top N the same way. The tests hold each spec equal to its
chisel on real captures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa

from sysnb.chisels import ChiselResult
from sysnb.chisels.table import NA_WHEN_THREAD_KNOWN, render, top_table
from sysnb.errors import UsageError

_FILE_IO = "fd.type=file and evt.is_io=true"
_NET_IO = "fd.type in (ipv4, ipv6) and evt.is_io=true"


@dataclass(frozen=True)
class TopSpec:
    """sysdig's table_generator: sum ``value`` (bytes, time, count) per ``keys`` over rows passing ``mask``."""

    keys: tuple[str, ...]
    descs: tuple[str, ...]
    value: str
    value_desc: str
    mask: str | None
    top: int
    units: str

    def columns(self) -> set[str]:
        """The table columns the aggregate reads."""
        from sysnb.filter import compile_filter

        value = {"bytes": {"evt.rawres"}, "time": {"evt.latency"}, "count": set()}[self.value]
        mask = compile_filter(self.mask).columns() if self.mask else set()
        return set(self.keys) | value | mask | {"thread.tid", "sysnb.type_id"}


TOP = {
    "topfiles_bytes": TopSpec(("fd.name",), ("Filename",), "bytes", "Bytes", _FILE_IO, 10, "bytes"),
    "topfiles_time": TopSpec(("fd.name",), ("Filename",), "time", "Time", _FILE_IO, 10, "time"),
    "topprocs_net": TopSpec(("proc.name", "proc.pid"), ("Process", "PID"), "bytes", "Bytes", _NET_IO, 100, "bytes"),
    "topprocs_file": TopSpec(("proc.name", "proc.pid"), ("Process", "PID"), "bytes", "Bytes", _FILE_IO, 10,
                             "bytes"),
    "topconns": TopSpec(("fd.l4proto", "fd.name"), ("Proto", "Conn"), "bytes", "Bytes", _NET_IO, 30, "bytes"),
    "topports_server": TopSpec(("fd.sport",), ("Srv Port",), "bytes", "Bytes", _NET_IO, 100, "bytes"),
    "topscalls_time": TopSpec(("evt.type",), ("Syscall",), "time", "Time", None, 30, "time"),
}


def spec(name: str) -> TopSpec:
    if name not in TOP:
        raise UsageError(f"chisel {name!r} has no dataset form; datasets run {', '.join(sorted(TOP))} and "
                         "spy_users (a merged view, sysnb.open_captures, runs every chisel)")
    return TOP[name]


def partial(batch: pa.Table, s: TopSpec) -> pa.Table:
    """The sums of one batch (every key, not cut to the top N): columns ``keys`` and ``value``."""
    from sysnb.filter import compile_filter

    mask = compile_filter(s.mask).mask(batch) if s.mask else None
    return top_table(batch, s.keys, s.value, mask, 0)


def combine(partials: Iterable[pa.Table], s: TopSpec) -> pa.Table:
    """Partial sums merged into the chisel's table: summed per key, largest first, keys ascending, top N."""
    parts = [p for p in partials if p.num_rows]
    if not parts:
        return empty(s)
    t = pa.concat_tables(parts).group_by(list(s.keys)).aggregate([("value", "sum")])
    t = t.rename_columns([*s.keys, "value"]).sort_by([("value", "descending"), *[(k, "ascending") for k in s.keys]])
    return t.slice(0, s.top)


def empty(s: TopSpec) -> pa.Table:
    from sysnb.state.columns import SCHEMA

    def typ(k: str) -> pa.DataType:
        t = SCHEMA.field(k).type
        return t.value_type if pa.types.is_dictionary(t) else t
    return pa.table({**{k: pa.array([], typ(k)) for k in s.keys}, "value": pa.array([], pa.int64())})


def result(table: pa.Table, s: TopSpec) -> ChiselResult:
    """The table as the chisel's result (text as ``sysdig -c`` prints it)."""
    return ChiselResult(table, lambda: render(table, s.keys, s.descs, s.value_desc, s.units))


def key_sql(name: str) -> str:
    """A key column in SQL, named "<NA>" where libsinsp names a thread it never saw created."""
    col = '"' + name.replace('"', '""') + '"'
    if name in NA_WHEN_THREAD_KNOWN:
        return f"""(CASE WHEN {col} IS NULL AND "thread.tid" IS NOT NULL THEN '<NA>' ELSE {col} END)"""
    return col


def value_sql(s: TopSpec) -> str:
    return {"bytes": 'CAST("evt.rawres" AS BIGINT)', "time": 'CAST("evt.latency" AS BIGINT)', "count": "1"}[s.value]


def cast_like(table: pa.Table, s: TopSpec) -> pa.Table:
    """A SQL result with the column types of the in-memory chisel's."""
    return table.cast(empty(s).schema)


__all__ = ["TOP", "TopSpec", "combine", "partial", "result", "spec"]

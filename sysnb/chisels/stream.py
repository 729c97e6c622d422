"""Table chisels batch by batch (#16): memory stays flat whatever the capture's size.

A chisel registered with ``streams=True`` is a sum of per-event values per key over the events a per-event
mask keeps (``table_chisel``). Run over each batch of a streamed scan it yields partial sums; sums add up
exactly (integers), so merging the partials and then sorting and cutting at the top N gives the result the
chisel gives over the whole table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from sysnb.chisels.registry import Chisel, ChiselResult
from sysnb.chisels.table import PARTIAL, TableSpec

ProgressFn = Callable[[int, int, int], None]


class Streamed:
    """The merged result of a streamed chisel, and what the scan learnt (damage)."""

    def __init__(self, result: ChiselResult, damage: Any) -> None:
        self.result = result
        self.damage = damage


def run_streamed(path: str, c: Chisel, kwargs: dict[str, Any], flt: str | None, columns: list[str],
                 progress: ProgressFn | None = None, batch_size: int | None = None) -> Streamed:
    """Run ``c`` over the capture at ``path`` batch by batch (only ``columns`` read), after ``flt``."""
    from sysnb.capture import returned_rows
    from sysnb.filter import compile_filter
    from sysnb.scan import Scan
    from sysnb.state.containers import with_container_fields

    compiled = compile_filter(flt) if flt else None
    scan = Scan(path, columns=columns, progress=progress) if batch_size is None else \
        Scan(path, columns=columns, progress=progress, batch_size=batch_size)
    spec: TableSpec | None = None
    partials: list[pa.Table] = []
    for batch in scan:
        table = pa.Table.from_batches([batch])
        if "container.id" in table.column_names:
            table = with_container_fields(table, scan.info.containers)
        table = returned_rows(table)
        if compiled is not None:
            table = compiled.apply(table)
        got: list[tuple[TableSpec, pa.Table]] = []
        token = PARTIAL.set(got)
        try:
            c.fn(table, **kwargs)
        finally:
            PARTIAL.reset(token)
        for s, sums in got:
            spec = s
            partials.append(sums)
        partials = [_merge(partials, spec)] if spec is not None and len(partials) > 8 else partials
    if spec is None:  # no batch (an empty capture): the chisel over an empty table
        return Streamed(c.fn(_empty(columns), **kwargs), scan.info.damage)
    return Streamed(spec.result(_merge(partials, spec)), scan.info.damage)


def _merge(partials: list[pa.Table], spec: TableSpec | None) -> pa.Table:
    """The sums of partial sums per key."""
    assert spec is not None
    keys = list(spec.keys)
    table = pa.concat_tables(partials, promote_options="permissive")
    return table.group_by(keys, use_threads=False).aggregate([("value", "sum")]).rename_columns([*keys, "value"])


def _empty(columns: list[str]) -> pa.Table:
    from sysnb.capture import returned_rows
    from sysnb.state.columns import SCHEMA

    schema = pa.schema([SCHEMA.field(c) for c in columns])
    return returned_rows(schema.empty_table())

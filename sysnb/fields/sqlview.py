"""The event table as DuckDB sees it in ``Capture.sql``: the stored columns plus every registry field that has a
SQL rendering, as a view named ``evt`` (``SELECT "proc.exeline", "evt.latency.human" FROM evt`` works like
any stored column)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from sysnb.fields.context import FieldContext
from sysnb.fields.model import FieldRef
from sysnb.fields.registry import FIELDS, sql


def computed_columns(table: pa.Table, ctx: FieldContext) -> dict[str, str]:
    """Field name -> SQL expression, for the fields computed from columns ``table`` has."""
    present = set(table.column_names)
    out = {}
    for name, f in FIELDS.items():
        if name in present or f.arg or f.filter_only or not set(f.columns) <= present:
            continue
        text = sql(FieldRef(f, name), ctx)
        if text is not None and text != "NULL":
            out[name] = text
    return out


def register(con: Any, table: pa.Table, ctx: FieldContext) -> None:
    """``evt`` in ``con``: ``table`` and its computed fields."""
    con.register("evt_stored", table)
    extra = "".join(f', {expr} AS "{name}"' for name, expr in computed_columns(table, ctx).items())
    con.execute(f"CREATE OR REPLACE TEMP VIEW evt AS SELECT *{extra} FROM evt_stored")

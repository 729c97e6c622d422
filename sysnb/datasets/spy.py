"""spy_users over a dataset: run per capture (a shell tree belongs to one host's process table), reading only
the columns the chisel uses and the raw parameters of the rows it prints (execve, chdir)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from sysnb.chisels import ChiselResult, run
from sysnb.datasets.merged import per_capture_result

if TYPE_CHECKING:
    from sysnb.datasets.query import Dataset

_COLUMNS = ("evt.num", "evt.rawtime", "evt.type", "evt.dir", "evt.failed", "thread.tid", "proc.pid", "proc.ppid",
            "proc.name", "proc.exe", "proc.args", "user.name")


def spy_users_of(ds: Dataset, filter: str | None) -> ChiselResult:
    from sysnb.datasets.query import _returned, quote

    plan = ds.plan(filter)
    results = []
    for entry in sorted(ds.manifest["captures"], key=lambda e: ds._capture_order().index(e["capture"])):
        name = entry["capture"]
        if plan.keep.captures is not None and name not in plan.keep.captures:
            continue
        where = f"""{_returned()} AND "capture" = '{name.replace("'", "''")}'"""
        where += f" AND {plan.where}" if plan.arrow is None else ""
        cols = ", ".join(quote(c) for c in _COLUMNS)
        params = """CASE WHEN "evt.type" IN ('execve', 'chdir') THEN "sysnb.params" END AS "sysnb.params" """
        if plan.arrow is not None:  # the filter may read any column: read them all, keep the chisel's
            cols, params = "*", '"sysnb.params" AS "__params"'
        table = ds._typed(ds.sql(f'SELECT {cols}, {params} FROM evt WHERE {where} ORDER BY "sysnb.seq"', plan.keep))
        if plan.arrow is not None:
            compiled, ctx = plan.arrow[name]
            table = compiled.apply(table.drop_columns(["__params"]), ctx)
        results.append((name, run_spy(table, entry)))
    return per_capture_result(results) if results else ChiselResult(pa.table({"command": pa.array([], pa.string())}),
                                                                     lambda: iter(()))


def run_spy(table: pa.Table, entry: dict[str, Any]) -> ChiselResult:
    """spy_users on one capture's returned rows, with the start state of its file when that is still there."""
    source = entry["provenance"]["source"]
    present = os.path.isfile(source) and os.path.getsize(source) == entry["provenance"]["size"]
    return _spy(table, source if present else None)


def _spy(table: pa.Table, source: str | None) -> ChiselResult:
    from sysnb.chisels.security import spy_users

    if source is None:  # the capture file is gone: no start state (processes that made no syscall are unknown)
        return run(table, "spy_users")
    return spy_users(table, source=source)

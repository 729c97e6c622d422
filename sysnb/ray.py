"""sysnb datasets on Ray Data: the same filter language and aggregating chisels, distributed.

A dataset written by ``sysnb export ... --parquet DIR`` is read with ``ray.data.read_parquet`` (only the
partitions and captures the filter can match, see :mod:`sysnb.datasets.prune`); each block is filtered with
Arrow in the field context of its capture, exactly as :meth:`sysnb.datasets.Dataset.filter` and the merged
in-memory view do, so the three paths return the same rows::

    import ray, sysnb.ray
    ray.init()                                             # or ray.init(address="ray://head:10001")
    sysnb.ray.count("/cases/IR-14/ds", "evt.type=connect and fd.sport=4444")
    sysnb.ray.filter("/cases/IR-14/ds", "proc.name=nc", columns=["evt.time", "host", "fd.name"])  # a Ray Dataset
    sysnb.ray.topfiles_bytes("/cases/IR-14/ds")            # a ChiselResult, as cap.chisel("topfiles_bytes")
    sysnb.ray.export(["/evidence/*.scap.gz"], "/cases/IR-14/ds")  # one Ray task per capture

Ray is an optional dependency: ``pip install 'sysnb[ray]'``.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from sysnb.chisels import ChiselResult
from sysnb.errors import UsageError

#: which rows a read keeps before the filter: those sysdig prints, or those its inspector hands to chisels
ROWS = ("shown", "returned", "all")


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise UsageError(f"sysnb.ray needs Ray Data ({e.name} is missing): pip install 'sysnb[ray]'") from None
    return ray


def init(address: str | None = None, **options: Any) -> None:
    """Connect to Ray (a local cluster when ``address`` is None and none is running), quietly."""
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, **options)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False


@functools.lru_cache(maxsize=16)
def _plan(path: str, expr: str | None, own_context: bool) -> Any:
    """A worker's plan of ``expr`` over the dataset (the manifest and contexts read once per process)."""
    from sysnb.datasets import open_dataset

    return open_dataset(path).plan(expr, own_context=own_context)


def _select(batch: pa.Table, path: str, expr: str | None, rows: str, columns: list[str] | None,
            own_context: bool) -> pa.Table:
    from sysnb.capture import returned_rows, visible_rows

    if rows == "shown":
        batch = visible_rows(batch)
    elif rows == "returned":
        batch = returned_rows(batch)
    kept = _plan(path, expr, own_context).apply(batch)
    return kept.select(columns) if columns is not None else kept


def read(dataset_dir: str | os.PathLike[str], expr: str | None = None, *, columns: Sequence[str] | None = None,
         rows: str = "shown", own_context: bool = True) -> Any:
    """The events of the dataset matching ``expr`` as a Ray Dataset (lazy: nothing runs until consumed)."""
    from sysnb.datasets import open_dataset

    if rows not in ROWS:
        raise UsageError(f"rows must be one of {', '.join(ROWS)}, not {rows!r}")
    ray = _ray()
    init()
    path = os.path.abspath(os.fspath(dataset_dir))
    ds = open_dataset(path)
    plan = ds.plan(expr, own_context=own_context)
    cols = ds._columns(columns) if columns is not None else None
    if not ds._files(plan.keep):
        return ray.data.from_arrow(ds.schema.empty_table().select(cols) if cols else ds.schema.empty_table())
    partitioning = ray.data.datasource.Partitioning("hive", base_dir=path, field_types={"hour": int})
    keep = ray.data.datasource.PathPartitionFilter.of(functools.partial(_keeps, plan.keep), style="hive",
                                                      base_dir=path)
    stored = [c for c in plan.reads(cols if cols is not None else ds.schema.names, ds.schema)
              if c not in ("host", "date", "hour")]  # those come from the directories
    data = ray.data.read_parquet(path, partitioning=partitioning, partition_filter=keep, file_extensions=["parquet"],
                                 columns=stored)
    return data.map_batches(_select, batch_format="pyarrow", batch_size=None,
                            fn_kwargs={"path": path, "expr": expr, "rows": rows, "columns": cols,
                                       "own_context": own_context})


def to_table(data: Any) -> pa.Table:
    """A (small) Ray Dataset collected into one Arrow table in the driver."""
    batches = [b if isinstance(b, pa.Table) else pa.Table.from_batches([b])
               for b in data.iter_batches(batch_format="pyarrow", batch_size=None)]
    return pa.concat_tables(batches) if batches else data.schema().base_schema.empty_table()


def _keeps(bounds: Any, partition: dict[str, str]) -> bool:
    """Ray's partition filter: the directories (host, date, hour) the filter's bounds keep."""
    try:
        hour = int(partition.get("hour", "0"))
    except ValueError:
        hour = 0
    return bool(bounds.keeps(partition.get("host", ""), partition.get("date", ""), hour))


def filter(dataset_dir: str | os.PathLike[str], expr: str | None = None, *,
           columns: Sequence[str] | None = None) -> Any:
    """The events sysdig would print for ``expr``, as a Ray Dataset of ``columns`` (default: all)."""
    return read(dataset_dir, expr, columns=columns)


def count(dataset_dir: str | os.PathLike[str], expr: str | None = None) -> int:
    """How many events sysdig would print for ``expr`` over the whole dataset."""
    return int(read(dataset_dir, expr, columns=["evt.num"]).count())


def _partial(batch: pa.Table, name: str) -> pa.Table:
    from sysnb.datasets import aggregates as A

    return A.partial(batch, A.spec(name))


def chisel(dataset_dir: str | os.PathLike[str], name: str, expr: str | None = None) -> ChiselResult:
    """An aggregating chisel (topfiles_bytes, topprocs_net, topconns, ...; spy_users) on Ray: partial sums
    per block, a Ray group-by over the keys, the top N in the driver."""
    from sysnb.datasets import aggregates as A

    if name == "spy_users":
        return spy_users(dataset_dir, expr)
    s = A.spec(name)
    cols = sorted(s.columns() | {"evt.num"})
    partials = read(dataset_dir, expr, columns=cols, rows="returned", own_context=False).map_batches(
        _partial, batch_format="pyarrow", batch_size=None, fn_kwargs={"name": name})
    grouped = partials.groupby(list(s.keys), num_partitions=2).sum("value")
    tables = [pa.Table.from_batches([b]) if isinstance(b, pa.RecordBatch) else b
              for b in grouped.iter_batches(batch_format="pyarrow", batch_size=None)]
    tables = [t.rename_columns([*s.keys, "value"]).cast(A.empty(s).schema) for t in tables if t.num_rows]
    return A.result(A.combine(tables, s), s)


def topfiles_bytes(dataset_dir: str | os.PathLike[str], expr: str | None = None) -> ChiselResult:
    return chisel(dataset_dir, "topfiles_bytes", expr)


def topprocs_net(dataset_dir: str | os.PathLike[str], expr: str | None = None) -> ChiselResult:
    return chisel(dataset_dir, "topprocs_net", expr)


def topconns(dataset_dir: str | os.PathLike[str], expr: str | None = None) -> ChiselResult:
    return chisel(dataset_dir, "topconns", expr)


_SPY_COLUMNS = ["capture", "sysnb.seq", "evt.num", "evt.rawtime", "evt.type", "evt.dir", "evt.failed", "thread.tid",
                "proc.pid", "proc.ppid", "proc.name", "proc.exe", "proc.args", "user.name", "sysnb.params"]


def _plain_capture(batch: pa.Table) -> pa.Table:
    """``capture`` as plain strings: Ray's group-by sorts its keys, which Arrow cannot do on dictionaries."""
    i = batch.schema.get_field_index("capture")
    return batch.set_column(i, "capture", batch["capture"].cast(pa.string()))


def _spy_group(group: pa.Table, path: str) -> pa.Table:
    """spy_users on one capture's rows (a Ray group): its result table and text, serialised in one row."""
    from sysnb.datasets import open_dataset
    from sysnb.datasets.spy import run_spy

    name = group["capture"].cast(pa.string())[0].as_py()
    entry = next(e for e in open_dataset(path).manifest["captures"] if e["capture"] == name)
    result = run_spy(group.sort_by("sysnb.seq").drop_columns(["capture", "sysnb.seq"]), entry)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, result.table.schema) as w:
        w.write_table(result.table)
    return pa.table({"capture": [name], "table": [sink.getvalue()], "text": ["\n".join(result.text())]})


def spy_users(dataset_dir: str | os.PathLike[str], expr: str | None = None) -> ChiselResult:
    """spy_users per capture (a Ray group per capture), rows tagged ``capture``, as the merged view's."""
    from sysnb.datasets import open_dataset
    from sysnb.datasets.merged import per_capture_result

    path = os.path.abspath(os.fspath(dataset_dir))
    data = read(path, expr, columns=_SPY_COLUMNS, rows="returned").map_batches(
        _plain_capture, batch_format="pyarrow", batch_size=None)
    groups = data.groupby("capture", num_partitions=2).map_groups(_spy_group, batch_format="pyarrow",
                                                                  fn_kwargs={"path": path})
    found = {}
    for b in groups.iter_batches(batch_format="pyarrow", batch_size=None):
        for row in (b if isinstance(b, pa.Table) else pa.Table.from_batches([b])).to_pylist():
            table = pa.ipc.open_stream(row["table"]).read_all()
            found[row["capture"]] = _Shipped(table, row["text"])
    order = open_dataset(path)._capture_order()
    results = [(name, found[name].result()) for name in order if name in found]
    if not results:
        return ChiselResult(pa.table({"command": pa.array([], pa.string())}), lambda: iter(()))
    return per_capture_result(results)  # type: ignore[no-any-return]


class _Shipped:
    """A chisel result that travelled from a Ray worker: its table and its text."""

    def __init__(self, table: pa.Table, text: str) -> None:
        self.table, self._text = table, text

    def result(self) -> ChiselResult:
        lines = self._text.split("\n") if self._text else []
        return ChiselResult(self.table, lambda: iter(lines))


def _export_one(path: str, out: str, engine: str) -> dict[str, Any]:
    from sysnb.datasets.parquet import export_capture

    return export_capture(path, out, engine=engine)


def export(spec: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], *,
           address: str | None = None, engine: str = "native") -> dict[str, Any]:
    """``sysnb export --ray``: each capture converted by its own Ray task (``out`` must be a directory every
    worker can write, e.g. a shared mount); the manifest written by the driver. Returns the manifest."""
    from sysnb.datasets.parquet import unique_names, write_manifest
    from sysnb.datasets.sources import resolve

    ray = _ray()
    init(address)
    dest = os.path.abspath(os.fspath(out))
    os.makedirs(dest, exist_ok=True)
    task = ray.remote(_export_one)
    entries = ray.get([task.remote(p, dest, engine) for p in unique_names(resolve(spec))])
    return write_manifest(dest, entries)

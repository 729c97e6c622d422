"""``open_dataset(DIR)``: a Parquet dataset written by ``sysnb export`` queried out of core with DuckDB.

The filter language is compiled to SQL (:mod:`sysnb.filter.sql`); only the columns a query names are read
and the partitions its ``evt.rawtime`` bounds and ``host`` values exclude are skipped. Filters on fields that
only Arrow computes (``evt.arg.*``, ``fd.net``, ...) are evaluated batch by batch with Arrow instead, still
without loading the dataset.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.capture import Provenance
from sysnb.chisels import ChiselResult
from sysnb.datasets import aggregates as A
from sysnb.datasets.contexts import FALSE, fold_hostname, metadata_from
from sysnb.datasets.parquet import ADDED, PARTITIONS, provenance_of, read_manifest
from sysnb.datasets.prune import Bounds, bounds
from sysnb.datasets.sources import natural_key
from sysnb.errors import UsageError
from sysnb.fields import EMPTY, FieldContext
from sysnb.filter import CompiledFilter, compile_filter
from sysnb.filter.compile import compile_node

#: what selecting rows reads besides a filter's columns: the origin, returned_rows and visible_rows
_ROW_COLUMNS = frozenset({"capture", "evt.num", "sysnb.visible", "sysnb.type_id"})
#: the rows sysdig prints / the rows its inspector hands to chisels (see sysnb.capture.returned_rows)
SHOWN = '("evt.num" IS NOT NULL AND "sysnb.visible")'
_BATCH = 65536


def _returned() -> str:
    from sysnb.scap.events import CONTAINER_IDS

    ids = ", ".join(str(i) for i in sorted(CONTAINER_IDS))
    return f'("evt.num" IS NOT NULL AND NOT ("sysnb.type_id" IN ({ids}) AND NOT "sysnb.visible"))'


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Dataset:
    """A sysnb Parquet dataset; see the module docstring. ``threads`` and ``memory_limit`` bound DuckDB."""

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None,
                 memory_limit: str = "512MB") -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.manifest = read_manifest(self.path)
        self.threads, self.memory_limit = threads, memory_limit
        self.schema = self._schema()
        self._contexts: dict[str, dict[str, FieldContext]] = {}

    def __repr__(self) -> str:
        hosts = sorted({e["host"] for e in self.manifest["captures"]})
        return (f"<Dataset {self.path}: {len(self.manifest['captures'])} captures, {self.events:,} events, "
                f"hosts {', '.join(hosts)}>")

    @property
    def events(self) -> int:
        return sum(int(e["provenance"]["events"]) for e in self.manifest["captures"])

    @property
    def provenance(self) -> list[Provenance]:
        """Each capture's provenance, as it was when the capture was exported."""
        return [provenance_of(e) for e in self.manifest["captures"]]

    def _schema(self) -> pa.Schema:
        import pyarrow.parquet as pq

        files = self._files()
        base = pq.read_schema(files[0]) if files else pa.schema([])
        return pa.schema(list(base) + list(PARTITIONS))

    def _files(self, keep: Bounds | None = None) -> list[str]:
        """The dataset's Parquet files, only those of the partitions ``keep`` keeps."""
        import glob

        files = sorted(glob.glob(os.path.join(glob.escape(self.path), "host=*", "date=*", "hour=*", "*.parquet")))
        return [f for f in files if keep is None or keep.keeps(*_partition(f))]

    # -- SQL --------------------------------------------------------------------------------------------------

    def connect(self, keep: Bounds | None = None) -> Any:
        """A DuckDB connection where the view ``evt`` is the dataset (columns named by sysdig fields), only the
        partitions ``keep`` keeps (:mod:`sysnb.datasets.prune`)."""
        import duckdb

        con = duckdb.connect(config={"memory_limit": self.memory_limit, "preserve_insertion_order": "false",
                                     **({"threads": str(self.threads)} if self.threads else {})})
        files = self._files(keep)
        if files:
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            types = ", ".join(f"'{f.name}': {_SQL_TYPES[f.name]}" for f in PARTITIONS)
            con.execute(f"CREATE VIEW evt AS SELECT * FROM read_parquet([{listed}], hive_partitioning = true, "
                        f"hive_types = {{{types}}})")
        else:  # no partition can match (or a dataset of empty captures): the columns, no rows
            con.register("evt", self.schema.empty_table())
        return con

    def sql(self, query: str, keep: Bounds | None = None) -> pa.Table:
        """DuckDB SQL over the view ``evt``: ``ds.sql('SELECT host, count(*) FROM evt GROUP BY 1')``."""
        con = self.connect(keep)
        try:
            return con.sql(query).to_arrow_table()
        finally:
            con.close()

    # -- planning ---------------------------------------------------------------------------------------------

    def contexts(self, containers: bool = False) -> dict[str, FieldContext]:
        """Each capture's field context (first event time, first-section metadata; with ``containers``
        its containers too, read from its container events in the dataset)."""
        key = "with" if containers else "without"
        if key not in self._contexts:
            found = self._containers() if containers else {}
            self._contexts[key] = {
                e["capture"]: FieldContext(first_ts=int(e.get("context", {}).get("first_ts", 0)),
                                           meta=metadata_from(e.get("context", {}).get("meta", {})),
                                           containers=found.get(e["capture"], {}))
                for e in self.manifest["captures"]}
        return self._contexts[key]

    def _containers(self) -> dict[str, Any]:
        from sysnb.fields.context import containers_of
        from sysnb.scap.events import CONTAINER_IDS

        ids = ", ".join(str(i) for i in sorted(CONTAINER_IDS))
        rows = self._typed(self.sql('SELECT "capture", "sysnb.type_id", "sysnb.params" FROM evt '
                                    f'WHERE "sysnb.type_id" IN ({ids}) ORDER BY "capture", "sysnb.seq"'))
        names = rows["capture"].cast(pa.string())
        return {name: containers_of(rows.filter(pc.equal(names, name))) for name in set(names.to_pylist())}

    def plan(self, expr: str | None, *, own_context: bool = True) -> Plan:
        """How to evaluate ``expr``: a SQL condition (per capture where contexts differ), or Arrow per capture;
        and the partitions and captures to read. ``own_context=False``: every capture in the empty context
        (what chisels' filters use on one capture)."""
        compiled = _compile(expr)
        keep = bounds(compiled.node if compiled is not None else None)
        names = [e["capture"] for e in self.manifest["captures"]]
        if compiled is None:
            return Plan("TRUE", None, keep, dict.fromkeys(names))
        ctxs = self.contexts() if own_context else dict.fromkeys(names, EMPTY)
        per = {}
        for name, ctx in ctxs.items():
            folded = fold_hostname(compiled.node, ctx, compiled.text)
            if folded != FALSE:
                per[name] = compile_node(folded, compiled.text)
        keep.captures = set(per)
        if any(cf.dynamic for cf in per.values()):
            full = self.contexts(containers=True) if own_context else ctxs
            arrow = {n: (cf, full[n]) for n, cf in per.items()}
            every: dict[str, tuple[CompiledFilter, FieldContext] | None] = dict(arrow)
            return Plan("", arrow, keep, every)
        groups: dict[str, list[str]] = {}
        for name, cf in per.items():
            groups.setdefault(cf.sql_for(ctxs[name]), []).append(name)
        each: dict[str, tuple[CompiledFilter, FieldContext] | None] = {n: (cf, ctxs[n]) for n, cf in per.items()}
        if len(groups) == 1 and len(per) == len(names):
            return Plan(next(iter(groups)), None, keep, each)
        ors = [f'("capture" IN ({", ".join(_lit(n) for n in group)}) AND {sql})' for sql, group in groups.items()]
        return Plan("(" + " OR ".join(ors) + ")" if ors else "FALSE", None, keep, each)

    # -- queries ----------------------------------------------------------------------------------------------

    def count(self, expr: str | None = None) -> int:
        """How many events sysdig would print for the filter ``expr`` (every shown event without one)."""
        plan = self.plan(expr)
        if plan.arrow is not None:
            return sum(b.num_rows for b in self._arrow_batches(plan, ["evt.num"], SHOWN))
        return int(self.sql(f"SELECT count(*) AS n FROM evt WHERE {SHOWN} AND {plan.where}", plan.keep)["n"][0]
                   .as_py())

    def filter(self, expr: str | None = None, columns: Sequence[str] | None = None, *,
               all_rows: bool = False) -> pa.Table:
        """The events matching ``expr`` in timeline order (that of :func:`sysnb.open_captures`), only
        ``columns`` (default: all). Sysdig's shown events, or every row (state-only too) with ``all_rows``."""
        rows = "TRUE" if all_rows else SHOWN
        cols = self._columns(columns)
        plan = self.plan(expr)
        if plan.arrow is not None:
            return self._arrow_filter(plan, cols, rows)
        select = ", ".join(quote(c) for c in cols)
        query = (f"SELECT {select} FROM evt WHERE {rows} AND {plan.where} "
                 f'ORDER BY "sysnb.merge_ts", {self._rank_sql()}, "sysnb.seq"')
        return self._typed(self.sql(query, plan.keep))

    def batches(self, expr: str | None = None, columns: Sequence[str] | None = None, *,
                all_rows: bool = False) -> Iterator[pa.RecordBatch]:
        """The matching events batch by batch (in no particular order): for results larger than memory."""
        rows = "TRUE" if all_rows else SHOWN
        cols = self._columns(columns)
        plan = self.plan(expr)
        if plan.arrow is not None:
            yield from self._arrow_batches(plan, cols, rows)
            return
        con = self.connect(plan.keep)
        try:
            reader = con.sql(f"SELECT {', '.join(quote(c) for c in cols)} FROM evt WHERE {rows} AND {plan.where}")
            for b in reader.to_arrow_reader(_BATCH):
                yield from self._typed(pa.Table.from_batches([b])).to_batches()
        finally:
            con.close()

    def chisel(self, name: str, filter: str | None = None) -> ChiselResult:
        """An aggregating chisel over the whole dataset (as ``sysnb -c NAME`` on the merged captures)."""
        if name == "spy_users":
            return self.spy_users(filter)
        s = A.spec(name)
        plan = self.plan(filter)
        if plan.arrow is not None:
            cols = sorted(s.columns() | {"evt.num"})
            parts = (A.partial(pa.Table.from_batches([b]), s) for b in self._arrow_batches(plan, cols, _returned()))
            return A.result(A.combine(parts, s), s)
        where = f"{_returned()} AND {plan.where}"
        if s.mask:
            where += f" AND {compile_filter(s.mask).sql}"
        keys = [A.key_sql(k) for k in s.keys]
        named = ", ".join(f"{k} AS {quote(n)}" for k, n in zip(keys, s.keys, strict=True))
        inner = f"SELECT {named}, {A.value_sql(s)} AS value FROM evt WHERE {where}"
        valid = " AND ".join(f"{quote(k)} IS NOT NULL" for k in s.keys)
        group = ", ".join(quote(k) for k in s.keys)
        query = (f"SELECT {group}, CAST(sum(value) AS BIGINT) AS value FROM ({inner}) WHERE value > 0 AND {valid} "
                 f"GROUP BY {group} ORDER BY value DESC, {group} LIMIT {s.top}")
        return A.result(A.cast_like(self.sql(query, plan.keep), s), s)

    def topfiles_bytes(self, filter: str | None = None) -> ChiselResult:
        return self.chisel("topfiles_bytes", filter)

    def topprocs_net(self, filter: str | None = None) -> ChiselResult:
        return self.chisel("topprocs_net", filter)

    def topconns(self, filter: str | None = None) -> ChiselResult:
        return self.chisel("topconns", filter)

    def spy_users(self, filter: str | None = None) -> ChiselResult:
        """spy_users per capture (its shell tree is per host and process table), rows tagged ``capture``."""
        from sysnb.datasets.spy import spy_users_of

        return spy_users_of(self, filter)

    # -- helpers ----------------------------------------------------------------------------------------------

    def _columns(self, columns: Sequence[str] | None) -> list[str]:
        if columns is None:
            return [n for n in self.schema.names if n not in ADDED[1:] and n not in ("date", "hour")]
        unknown = [c for c in columns if c not in self.schema.names]
        if unknown:
            raise UsageError(f"no such dataset column: {', '.join(unknown)} (the columns are the capture table's "
                             "plus host, capture, date, hour)")
        return list(columns)

    def _capture_order(self) -> list[str]:
        entries = sorted(self.manifest["captures"],
                         key=lambda e: (e["provenance"]["start_ns"] or 0, natural_key(e["provenance"]["source"])))
        return [e["capture"] for e in entries]

    def _rank_sql(self) -> str:
        whens = " ".join(f"WHEN '{c.replace(chr(39), chr(39) * 2)}' THEN {i}"
                         for i, c in enumerate(self._capture_order()))
        return f'(CASE "capture" {whens} END)' if whens else "0"

    def _rank_array(self, capture: pa.ChunkedArray) -> pa.Array:
        import pyarrow.compute as pc

        names = capture.cast(pa.string()) if pa.types.is_dictionary(capture.type) else capture
        return pc.index_in(names, value_set=pa.array(self._capture_order(), pa.string()))

    def _typed(self, table: pa.Table) -> pa.Table:
        """A DuckDB result with the column types of the capture table (dictionaries, unsigned, binary)."""
        fields = [self.schema.field(n) if n in self.schema.names else table.schema.field(n)
                  for n in table.column_names]
        return table.cast(pa.schema(fields)) if table.schema != pa.schema(fields) else table

    def _arrow_filter(self, plan: Plan, cols: list[str], rows: str) -> pa.Table:
        """``filter`` where Arrow evaluates the filter: the matching rows sorted into timeline order."""
        wanted = list(dict.fromkeys([*cols, "sysnb.merge_ts", "capture", "sysnb.seq"]))
        got = pa.Table.from_batches(list(self._arrow_batches(plan, wanted, rows)),
                                    schema=pa.schema([self.schema.field(c) for c in wanted]))
        ranked = got.append_column("__rank", self._rank_array(got["capture"]))
        ranked = ranked.sort_by([("sysnb.merge_ts", "ascending"), ("__rank", "ascending"),
                                 ("sysnb.seq", "ascending")])
        return ranked.select(cols)

    def _arrow_batches(self, plan: Plan, columns: Sequence[str], rows: str) -> Iterator[pa.RecordBatch]:
        """Rows passing ``rows`` (SQL) in the kept partitions, read with the columns the filters use, filtered
        with Arrow batch by batch, each capture's rows in its own context, then projected."""
        assert plan.arrow is not None
        con = self.connect(plan.keep)
        try:
            select = ", ".join(quote(c) for c in plan.reads(columns, self.schema))
            reader = con.sql(f"SELECT {select} FROM evt WHERE {rows}").to_arrow_reader(_BATCH)
            for b in reader:
                yield from plan.apply(self._typed(pa.Table.from_batches([b]))).select(list(columns)).to_batches()
        finally:
            con.close()


@dataclass
class Plan:
    """A filter over a dataset: ``where`` (SQL), or ``arrow`` (per capture: the filter and its context) when a
    field only Arrow computes is used; ``keep``: the partitions and captures that can match; ``each``: every
    capture that can match, with its filter and context for Arrow (None: no filter)."""

    where: str
    arrow: dict[str, tuple[CompiledFilter, FieldContext]] | None
    keep: Bounds
    each: dict[str, tuple[CompiledFilter, FieldContext] | None]

    def reads(self, columns: Sequence[str], schema: pa.Schema) -> list[str]:
        """The stored columns to read for ``columns`` and the filters (and what row selection uses)."""
        needed = set(columns) | _ROW_COLUMNS
        for check in self.each.values():
            needed |= check[0].columns() if check is not None else set()
        return [n for n in schema.names if n in needed]

    def apply(self, batch: pa.Table) -> pa.Table:
        """The rows of ``batch`` that pass, evaluated with Arrow, each capture's rows in its own context."""
        names = batch["capture"].cast(pa.string())
        parts = []
        for name in pc.unique(names).to_pylist():
            if name not in self.each:
                continue
            part = batch.filter(pc.equal(names, name))
            check = self.each[name]
            parts.append(part if check is None else check[0].apply(part, check[1]))
        return pa.concat_tables(parts) if parts else batch.slice(0, 0)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_SQL_TYPES = {"host": "VARCHAR", "date": "VARCHAR", "hour": "INTEGER"}


def _partition(path: str) -> tuple[str, str, int, str]:
    """(host, date, hour, capture) of a file: host=H/date=D/hour=N/CAPTURE-SHA16-I.parquet."""
    hour_dir = os.path.dirname(path)
    date_dir = os.path.dirname(hour_dir)
    host_dir = os.path.dirname(date_dir)
    try:
        hour = int(os.path.basename(hour_dir).split("=", 1)[1])
    except (IndexError, ValueError):
        hour = 0
    capture = os.path.basename(path).rsplit("-", 2)[0]
    return (os.path.basename(host_dir).split("=", 1)[-1], os.path.basename(date_dir).split("=", 1)[-1], hour,
            capture)


def _compile(expr: str | None) -> CompiledFilter | None:
    return compile_filter(expr) if expr and expr.strip() else None


def open_dataset(path: str | os.PathLike[str], **options: Any) -> Dataset:
    """Open a dataset written by ``sysnb export ... --parquet DIR`` (or ``Capture.to_parquet``)."""
    return Dataset(path, **options)

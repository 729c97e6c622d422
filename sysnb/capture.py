"""Capture: the Arrow table of a capture (one row per event, columns named by sysdig fields) plus provenance."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sysnb import __version__
from sysnb.case.hooks import evidence_opened, evidence_written, method_used, view_filtered
from sysnb.errors import CaptureFormatError, SysnbError, UsageError
from sysnb.scan import ProgressFn, Scan, ScanInfo, check_capture_path


@dataclass
class Provenance:
    source: str
    sha256: str
    size: int
    hostname: str = ""
    kernel: str | None = None
    num_cpus: int = 0
    start_ns: int | None = None
    end_ns: int | None = None
    events: int = 0
    sections: int = 0
    error: str | None = None
    error_offset: int | None = None
    sysnb_version: str = __version__
    extra: dict[str, Any] = field(default_factory=dict)


class Capture:
    """A capture as one Arrow table. ``table`` holds every event; ``events`` the ones sysdig displays."""

    def __init__(self, table: pa.Table, provenance: Provenance) -> None:
        self.table = table
        self.provenance = provenance
        self.rule_alerts: Any = None  # the last cap.alerts(...) result (overview tile, explorer lens)
        self._context: Any = None

    def field_context(self) -> Any:
        """The capture's FieldContext (first event time, metadata, containers), computed once: the table does
        not change, and computing it was a third of an in-memory filter's time on big50."""
        if self._context is None:
            from sysnb.fields import context_for

            self._context = context_for(self)
        return self._context

    def __len__(self) -> int:
        return int(self.table.num_rows)

    def __repr__(self) -> str:
        p = self.provenance
        span = ""
        if p.start_ns is not None and p.end_ns is not None:
            span = f", {(p.end_ns - p.start_ns) / 1e9:.3f} s"
        err = f", DAMAGED at byte {p.error_offset}" if p.error else ""
        shown = int(pc.sum(self.table["sysnb.visible"]).as_py() or 0)
        of = "" if self.table.num_rows == p.events else f" (a view: {self.table.num_rows} of {p.events} rows)"
        from sysnb.format.escape import label

        host = label(p.hostname) if p.hostname else "?"  # the recorded host chose its name: no raw controls
        return (f"<Capture {os.path.basename(p.source)}: {shown} events{of} from {host}{span}{err}>")

    def _repr_html_(self) -> str:
        """The overview (Sysdig Inspect's first page): provenance and drill-down tiles."""
        from sysnb.views.overview import overview_html

        return overview_html(self)

    def overview(self) -> str:
        """The overview tiles as text: totals and the filter behind each."""
        from sysnb.views.overview import overview_text

        return overview_text(self)

    @property
    def returned(self) -> pa.Table:
        """The events sysdig's inspector hands to filters and chisels (numbered; -S counts these)."""
        return returned_rows(self.table)

    @property
    def events(self) -> pa.Table:
        """The rows sysdig prints (no internal or state-only events)."""
        return self.table.filter(self.table["sysnb.visible"])

    def filter(self, expr: str) -> Capture:
        """The events matching a sysdig filter, e.g. ``cap.filter("proc.name=cat and evt.type=read")``."""
        from sysnb.filter import compile_filter

        view = Capture(compile_filter(expr).apply(self.table, self.field_context()), self.provenance)
        view_filtered(self, view, expr)
        return view

    def sql(self, query: str) -> pa.Table:
        """Run DuckDB SQL over the events, available as the table ``evt`` (columns are sysdig field names,
        quoted: ``SELECT "proc.name", count(*) FROM evt GROUP BY 1``). A query that does not start with
        SELECT/WITH is taken as a sysdig filter and rendered to SQL. Fields computed from columns (sysnb -l)
        are columns of ``evt`` too, e.g. ``SELECT "proc.exeline", "evt.io_dir" FROM evt``."""
        import duckdb

        method_used("sql", query)
        from sysnb.fields.sqlview import register

        table = self.table
        ctx = self.field_context()
        if not query.lstrip().lower().startswith(("select", "with")):
            from sysnb.filter import compile_filter

            compiled = compile_filter(query)
            if compiled.dynamic:  # fields computed from the table (evt.arg.*, proc.aname...): filter with Arrow
                table, query = compiled.apply(table, ctx), "SELECT * FROM evt_stored"
            else:
                query = f"SELECT * FROM evt_stored WHERE {compiled.sql_for(ctx)}"
        evt = table.drop_columns(["sysnb.params", "sysnb.apid", "sysnb.aname"])
        con = duckdb.connect()
        register(con, evt, ctx)  # evt: the stored columns and the registry's fields that have SQL
        result: pa.Table = con.sql(query).to_arrow_table()
        con.close()
        return result

    def save(self, path: str | os.PathLike[str], *, compress: bool | None = None, state: bool = True) -> int:
        """Write these events as a .scap file that sysdig reads (gzip when the name ends in .gz, or
        ``compress=True``), with the process/fd/user state of the source capture. Returns the number of
        events written. ``cap.filter("proc.name=nmap").save("nmap.scap")`` keeps a subset as evidence;
        with ``state=True`` the subset also carries the source's state-changing events (clone, execve,
        open, connect, close, ...) flagged state-only, so sysdig still names processes and fds but
        shows only the chosen events."""
        from sysnb.scap.writer import save_events, with_state_events

        out = os.fspath(path)
        src = self.provenance.source
        if os.path.exists(out) and os.path.samefile(out, src):
            raise SysnbError(f"{out}: refusing to overwrite the source capture (evidence is never modified)")
        rows = self.table
        if state:
            full = open_capture(src).table
            if full.num_rows != rows.num_rows:
                rows = with_state_events(full, rows)
        written = save_events(src, rows, out, compress)
        evidence_written(self, out, written)
        return written

    def to_parquet(self, out: str | os.PathLike[str], *, engine: str = "native") -> dict[str, Any]:
        """Add this capture to the Parquet dataset at ``out`` (``sysnb.open_dataset(out)`` queries it), read
        again from its file batch by batch; returns the dataset's manifest. See :mod:`sysnb.datasets`."""
        from sysnb.datasets.parquet import export_view

        return export_view(self, out, engine=engine)

    def fields(self, *names: str, limit: int | None = None) -> Any:
        """The events as a pandas DataFrame of sysdig field values rendered as ``-p`` prints them (any field
        ``sysnb -l`` lists, e.g. ``evt.time``, ``evt.args``, ``fd.name``, ``evt.arg.fd``)."""
        from sysnb.format.output import Formatter

        rows = returned_rows(self.table)
        rows = rows.filter(rows["sysnb.visible"])
        if limit is not None:
            rows = rows.slice(0, limit)
        cols = {n: list(Formatter(f"*%{n}").lines(rows)) for n in names}
        import pandas as pd

        return pd.DataFrame(cols)

    def chisel(self, name: str, *args: str, filter: str | None = None, **kwargs: Any) -> Any:
        """Run a chisel (``sysnb -cl`` lists them): ``cap.chisel("topfiles_bytes")``,
        ``cap.chisel("fdbytes_by", "proc.name")``. Returns a ChiselResult (``.table``, ``.text()``)."""
        from sysnb.chisels import run

        method_used("chisel", " ".join([name, *map(str, args)]) + (f" -- {filter}" if filter else ""))
        return run(self, name, kwargs or list(args), filter)

    def alerts(self, rules: Any, **options: Any) -> Any:
        """Falco rules on this capture: ``cap.alerts(rules="falco_rules.yaml", min_priority="warning")``.
        ``rules`` is a file, a directory, a list of them or a loaded ``sysnb.rules.RuleSet``; the options are
        Falco's (min_priority, disable_rules, disable_tags, enable_tags, all_events, rule_matching). Returns
        ``sysnb.rules.Alerts`` (``.table`` one row per alert, ``.summary()``, ``.events(rule)``, ``.text()``)."""
        from sysnb.rules import find_alerts
        from sysnb.rules.engine import options_from

        return find_alerts(self, rules, options_from(**options))

    def explore(self, *, panes: list[str] | None = None, columns: str | list[str] | None = None,
                view: Any = None) -> Any:
        """Sysdig Inspect in a cell: overview tiles (click to drill down), breadcrumbs, a timeline with one
        lane per process (brush a window, zoom to it), the events or a lens (processes, files, directories,
        connections, I/O streams) with virtual scrolling, sorting and a filter box, and the selected event's
        fields and bytes (dotted ASCII, -A, -X) with "follow fd". ``panes`` picks a subset of
        ``tiles crumbs timeline table detail``; widgets made with the same ``view=`` follow one another."""
        try:
            from sysnb.views.widget import Explorer
        except ImportError as e:
            raise UsageError(f"the explorer needs the notebook extras ({e.name} is missing): "
                             "pip install 'sysnb[notebook]'") from None
        return Explorer(self, view=view, panes=panes, columns=columns)

    def to_pandas(self) -> Any:
        return self.table.drop_columns(["sysnb.params"]).to_pandas()


def returned_rows(t: pa.Table, columns: list[str] | None = None) -> pa.Table:
    """The events sysdig's inspector returns (numbered ones, minus container state consumed at open),
    restricted to ``columns`` before filtering so unneeded columns are never copied."""
    return (t.select(columns) if columns is not None else t).filter(returned_mask(t))


def returned_mask(t: pa.Table) -> pa.ChunkedArray:
    """Which rows :func:`returned_rows` keeps."""
    numbered = pc.is_valid(t["evt.num"])
    container = pc.is_in(t["sysnb.type_id"], value_set=_container_ids())
    consumed = pc.and_(container, pc.invert(t["sysnb.visible"]))
    return pc.and_(numbered, pc.invert(consumed))


def visible_rows(t: pa.Table) -> pa.Table:
    """The rows sysdig prints (numbered and visible), filtered in one pass."""
    return t.filter(pc.and_(pc.is_valid(t["evt.num"]), t["sysnb.visible"]))


def _container_ids() -> pa.Array:
    from sysnb.scap.events import CONTAINER_IDS

    return pa.array(sorted(CONTAINER_IDS), pa.uint16())


# -- opening ----------------------------------------------------------------------------------------------------


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def open_capture(path: str | os.PathLike[str], *, cache: bool | None = None,
                 progress: ProgressFn | None = None, strict: bool = False, engine: str = "native",
                 columns: Sequence[str] | None = None) -> Capture:
    """Read a .scap/.scap.gz file into a :class:`Capture` (the whole table in memory).

    The native core replays the capture (``engine="reference"``: the Python reference engine, slower, for
    tests). Tables are not cached: the native core rebuilds one as fast as a compressed cache reads back
    (``cache`` is accepted and ignored). A damaged file yields every event before the damage;
    ``capture.provenance.error`` says where. With ``strict=True`` the damage raises
    :class:`CaptureFormatError` instead. ``columns`` limits the table to these columns (what a chisel reads:
    sysnb.chisels.columns); every column by default.
    """
    spath = os.fspath(path)
    check_capture_path(spath)
    scan = Scan(spath, engine=engine, progress=progress,
                columns=list(columns) if columns is not None else None)
    sha = sha256_file(spath)
    table = pa.Table.from_batches(list(scan), schema=scan.schema)
    cap = Capture(table, _provenance(spath, sha, scan.info))
    fill_span(table, cap.provenance)
    if cap.provenance.error and strict:
        raise CaptureFormatError(cap.provenance.error, path=spath, offset=cap.provenance.error_offset)
    cap = _with_recorder_note(_with_containers(cap), spath)
    evidence_opened(cap)
    return cap


def _with_recorder_note(cap: Capture, path: str) -> Capture:
    """``provenance.extra["recorder"]``: what sysnb's recorder noted in the file (engine, drops), if it did."""
    from sysnb.record.note import read_note

    if (note := read_note(path)) is not None:
        cap.provenance.extra.setdefault("recorder", note)
    return cap


def _with_containers(cap: Capture) -> Capture:
    from sysnb.state.containers import with_container_fields

    cap.table = with_container_fields(cap.table, cap.provenance.extra.get("containers", {}))
    return cap


def build_capture(path: str, sha: str, progress: ProgressFn | None = None, engine: str = "native") -> Capture:
    """Build the table in memory."""
    scan = Scan(path, engine=engine, progress=progress)
    table = pa.Table.from_batches(list(scan), schema=scan.schema)
    cap = Capture(table, _provenance(path, sha, scan.info))
    fill_span(table, cap.provenance)
    return cap


def _provenance(path: str, sha: str, info: ScanInfo) -> Provenance:
    prov = Provenance(source=os.path.abspath(path), sha256=sha, size=os.path.getsize(path),
                      hostname=info.hostname, num_cpus=info.num_cpus, events=info.events, sections=info.sections)
    if info.damage is not None:
        prov.error = str(info.damage)
        prov.error_offset = info.damage.offset
    prov.extra["containers"] = info.containers
    return prov


def fill_span(table: pa.Table, prov: Provenance) -> None:
    """The capture's time span: the first and last timestamps of shown events (procinfo timestamps are
    synthetic and container meta-events may carry 0)."""
    if table.num_rows == 0:
        return
    ts = table["evt.rawtime"]
    zero = pa.scalar(0, ts.type)  # a damaged timestamp may exceed int64: compare as the column's uint64
    mask = pc.and_(table["sysnb.visible"], pc.greater(ts, zero))
    real = ts.filter(mask)
    if len(real) == 0:
        real = ts.filter(pc.greater(ts, zero))
    if len(real):
        mm = pc.min_max(real)
        prov.start_ns, prov.end_ns = mm["min"].as_py(), mm["max"].as_py()

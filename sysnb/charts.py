"""Altair charts of a capture: pure functions ``Capture -> alt.Chart``.

Every chart aggregates with pyarrow first and hands Altair a few hundred rows at most, so it works on
captures of millions of events (no MaxRowsError) and embeds small. ``to_svg(chart)`` renders a chart
with vl-convert for reports that must open without network access; ``use_static_rendering()`` makes
notebooks show every chart as inline SVG.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.format.escape import visible_table

if TYPE_CHECKING:
    import altair as alt

    from sysnb.capture import Capture

_IO_READ = ("read", "pread", "readv", "preadv", "recvfrom", "recvmsg")
_IO_WRITE = ("write", "pwrite", "writev", "pwritev", "sendto", "sendmsg")


def _alt() -> Any:
    try:
        import altair
    except ImportError:
        from sysnb.errors import UsageError

        raise UsageError("charts need altair: pip install 'sysnb[notebook]'") from None
    _make_html_renderers_safe(altair)
    return altair


class ScriptSafeJSON(json.JSONEncoder):
    """JSON that can sit inside an HTML ``<script>``: every ``<`` (only ever inside a string) is written
    ``\\u003c``, so a capture string holding ``</script>`` or ``<!--`` cannot end or bend the script.
    The value parses back unchanged."""

    def encode(self, o: Any) -> str:
        return super().encode(o).replace("<", "\\u003c")


class _SafeHTMLRenderer:
    """Altair's HTML renderer (the ``default`` one outside JupyterLab's mimetype) writes the chart's spec,
    data included, verbatim into a ``<script>``: a file named ``x</script><img src=x onerror=...>`` became a
    live element in every exported notebook. The same renderer, with the spec written as ScriptSafeJSON."""

    def __init__(self, inner: Callable[..., dict[str, Any]]) -> None:
        self.inner = inner

    def __call__(self, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
        metadata["json_kwds"] = {**metadata.get("json_kwds", {}), "cls": ScriptSafeJSON}
        return self.inner(spec, **metadata)


def _make_html_renderers_safe(alt: Any) -> None:
    registry = alt.renderers
    if getattr(registry, "_sysnb_safe", False):
        return
    for name in ("default", "html", "colab", "kaggle", "zeppelin"):
        inner = getattr(registry, "_plugins", {}).get(name)
        if inner is not None and not isinstance(inner, _SafeHTMLRenderer):
            registry.register(name, _SafeHTMLRenderer(inner))
    if registry.active in ("default", "html", "colab", "kaggle", "zeppelin"):
        registry.enable(registry.active, **registry.options)  # pick up the wrapped function
    registry._sysnb_safe = True


def _frame(t: pa.Table) -> Any:
    """A chart's data as pandas, every string (process names, file names...) made a safe one-line label:
    control characters as visible escapes (vl-convert panics on ESC; sysnb.format.escape)."""
    return visible_table(t).to_pandas()


def _s(col: pa.ChunkedArray) -> pa.ChunkedArray:
    return col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col


#: the columns the charts read: only these are copied out of the (possibly huge) capture table
_COLUMNS = ("evt.dir", "evt.rawtime", "evt.type", "evt.category", "evt.rawres", "evt.latency", "evt.failed",
            "evt.res", "proc.name", "proc.pid", "fd.type", "fd.name", "fd.sip", "fd.sport")


def _exits(cap: Capture, *extra: str) -> pa.Table:
    """Exit events, narrow: the chart columns plus ``extra`` (e.g. the field a chart colours by)."""
    from sysnb.capture import returned_rows

    names = [c for c in dict.fromkeys((*_COLUMNS, *extra)) if c in cap.table.column_names]
    t = returned_rows(cap.table, names)
    return t.filter(pc.equal(_s(t["evt.dir"]), "<"))


def _palette() -> Any:
    """20 distinct colours (sysdig has 13 event categories; a 10-colour scheme repeated them)."""
    return _alt().Scale(scheme="tableau20")


def _legend() -> Any:
    """Legend titles and labels are field names and capture strings: never cut to "evt.categor"."""
    return _alt().Legend(titleLimit=400, labelLimit=320)


def syscalls_over_time(cap: Capture, by: str = "evt.category", bins: int = 120) -> alt.Chart:
    """Stacked counts of system calls (exit events) per time bin, coloured by ``by``."""
    return _over_time(_exits(cap, by), by, bins, f"System calls over time by {by}")


def _over_time(t: pa.Table, by: str, bins: int, title: str) -> alt.Chart:
    alt = _alt()
    ts = np.asarray(t["evt.rawtime"].to_numpy(), dtype=np.uint64)  # a damaged timestamp may pass 2**63
    lo, hi = (int(ts.min()), int(ts.max())) if len(ts) else (0, 0)
    width = max((hi - lo) // bins + 1, 1)
    bin_of = (ts - np.uint64(lo)) // np.uint64(width)  # exact: ts >= lo
    binned = pa.table({"bin": pa.array(bin_of.astype(np.int64)), "key": t[by]})  # grouped on dictionary codes
    g = binned.group_by(["bin", "key"]).aggregate([("bin", "count")]).rename_columns(["bin", "key", "events"])
    g = g.set_column(1, "key", pc.fill_null(_s(g["key"]).cast(pa.string()), "<NA>"))
    g = g.sort_by([("bin", "ascending"), ("key", "ascending")])  # stable output, whatever the grouping order
    df = _frame(g)
    df["seconds"] = df["bin"] * width / 1e9
    end = bins * width / 1e9  # the axis is the capture's span: from 0, never padded to a "nice" -0.5 s
    return alt.Chart(df, title=title).mark_bar(width=3).encode(
        x=alt.X("seconds:Q", title="seconds from start", scale=alt.Scale(domain=[0, end], nice=False, zero=True)),
        y=alt.Y("events:Q", stack=True, title="events"),
        color=alt.Color("key:N", title=by, scale=_palette(), legend=_legend()),
        tooltip=[alt.Tooltip("key:N", title=by), "events", "seconds"]).properties(width=640, height=220)


def top_processes(cap: Capture, measure: str = "syscalls", n: int = 15) -> alt.Chart:
    """Top processes by ``syscalls`` (exit events), ``bytes`` (I/O) or ``time`` (sum of latency)."""
    alt = _alt()
    t = _exits(cap)
    key = pa.table({"process": pc.binary_join_element_wise(
        pc.fill_null(_s(t["proc.name"]), "<NA>"), pc.cast(t["proc.pid"], pa.string()), " ")})
    if measure == "bytes":
        io = pc.is_in(_s(t["evt.type"]), value_set=pa.array(_IO_READ + _IO_WRITE))
        value = pc.if_else(io, pc.max_element_wise(pc.fill_null(t["evt.rawres"], 0), 0), 0)
    elif measure == "time":
        value = pc.fill_null(t["evt.latency"], 0)
    else:
        value = pa.chunked_array([pa.array(np.ones(t.num_rows, np.int64))])
    g = key.append_column("value", value).group_by("process").aggregate([("value", "sum")])
    g = g.rename_columns(["process", measure]).sort_by([(measure, "descending"), ("process", "ascending")]).slice(0, n)
    return alt.Chart(_frame(g), title=f"Top processes by {measure}").mark_bar().encode(
        x=alt.X(f"{measure}:Q"), y=alt.Y("process:N", sort="-x"), tooltip=["process", measure]
    ).properties(width=480, height=max(120, 18 * g.num_rows))


def io_by(cap: Capture, key: str = "fd.name", fd_types: tuple[str, ...] = ("file",), n: int = 15) -> alt.Chart:
    """Bytes read and written per ``key`` (fd.name, fd.directory, proc.name, ...) over fds of ``fd_types``."""
    from sysnb.derived import DERIVED

    alt = _alt()
    t = _exits(cap, key, *(DERIVED[key][1] if key in DERIVED else ()))
    t = t.filter(pc.fill_null(pc.is_in(_s(t["fd.type"]), value_set=pa.array(fd_types)), False))
    etype = _s(t["evt.type"])
    direction = pc.if_else(pc.is_in(etype, value_set=pa.array(_IO_READ)), "in",
                           pc.if_else(pc.is_in(etype, value_set=pa.array(_IO_WRITE)), "out", None))
    col = derived_column(t, key) if key in ("fd.directory", "fd.filename", "proc.cmdline") else _s(t[key])
    g = pa.table({"key": col, "direction": direction,
                  "bytes": pc.max_element_wise(pc.fill_null(t["evt.rawres"], 0), 0)})
    g = g.filter(pc.is_valid(g["direction"])).group_by(["key", "direction"]).aggregate([("bytes", "sum")])
    g = g.rename_columns(["key", "direction", "bytes"])
    top = g.group_by("key").aggregate([("bytes", "sum")]).sort_by([("bytes_sum", "descending")]).slice(0, n)["key"]
    g = g.filter(pc.is_in(g["key"], value_set=top))
    return alt.Chart(_frame(g), title=f"I/O bytes by {key}").mark_bar().encode(
        x=alt.X("bytes:Q", stack=True), y=alt.Y("key:N", sort="-x", title=key), color="direction:N",
        tooltip=[alt.Tooltip("key:N", title=key), "direction", "bytes"]).properties(
            width=480, height=max(120, 18 * len(top)))


def derived_column(t: pa.Table, name: str) -> pa.ChunkedArray:
    """A derived field (fd.directory, fd.filename, proc.cmdline) computed over a table."""
    import pyarrow.dataset as ds

    from sysnb.derived import DERIVED

    return ds.dataset(t).to_table(columns={name: DERIVED[name][0]()})[name]


def connections(cap: Capture, n: int = 30) -> alt.Chart:
    """The connection graph as a matrix: process (rows) x remote endpoint (columns), coloured by bytes."""
    alt = _alt()
    t = _exits(cap)
    t = t.filter(pc.fill_null(pc.is_in(_s(t["fd.type"]), value_set=pa.array(["ipv4", "ipv6"])), False))
    remote = pc.binary_join_element_wise(pc.fill_null(_s(t["fd.sip"]), "?"),
                                         pc.cast(pc.fill_null(t["fd.sport"], 0), pa.string()), ":")
    proc = pc.binary_join_element_wise(pc.fill_null(_s(t["proc.name"]), "<NA>"), pc.cast(t["proc.pid"], pa.string()),
                                       " ")
    g = pa.table({"process": proc, "server": remote, "bytes": pc.max_element_wise(pc.fill_null(
        pc.if_else(pc.is_in(_s(t["evt.type"]), value_set=pa.array(_IO_READ + _IO_WRITE)), t["evt.rawres"], 0), 0), 0),
        "events": pa.chunked_array([pa.array(np.ones(t.num_rows, np.int64))])})
    g = g.group_by(["process", "server"]).aggregate([("bytes", "sum"), ("events", "sum")])
    g = g.rename_columns(["process", "server", "bytes", "events"]).sort_by([("events", "descending")]).slice(0, n)
    return alt.Chart(_frame(g), title="Connections: process x server endpoint").mark_rect().encode(
        x=alt.X("server:N", title="server ip:port"), y=alt.Y("process:N"), color=alt.Color("events:Q"),
        tooltip=["process", "server", "events", "bytes"]).properties(width=360, height=max(120, 18 * g.num_rows))


def latency_histogram(cap: Capture, types: tuple[str, ...] | None = None, n_types: int = 8) -> alt.Chart:
    """Distribution of syscall latency (log2 buckets) for the busiest syscall types (or ``types``)."""
    alt = _alt()
    t = _exits(cap)
    t = t.filter(pc.greater(pc.fill_null(t["evt.latency"], 0), 0))
    etype = _s(t["evt.type"])
    if types is None:
        counts = pa.table({"t": etype}).group_by("t").aggregate([("t", "count")]).sort_by([("t_count", "descending")])
        types = tuple(counts["t"].slice(0, n_types).to_pylist())
    t = t.filter(pc.is_in(_s(t["evt.type"]), value_set=pa.array(types, pa.string())))
    bucket = np.floor(np.log2(t["evt.latency"].to_numpy().astype(np.float64))).astype(np.int64)
    g = pa.table({"syscall": _s(t["evt.type"]), "bucket": bucket}).group_by(["syscall", "bucket"]).aggregate(
        [("bucket", "count")]).rename_columns(["syscall", "bucket", "events"])
    df = _frame(g)
    df["latency_us"] = (2.0 ** df["bucket"]) / 1000
    return alt.Chart(df, title="Syscall latency").mark_bar().encode(
        x=alt.X("latency_us:O", title="latency >= (us)", sort="ascending",
                axis=alt.Axis(format=".3~g")), y="events:Q",
        color=alt.Color("syscall:N", scale=_palette(), legend=_legend()),
        tooltip=["syscall", "latency_us", "events"]).properties(width=560, height=220)


def errors_over_time(cap: Capture, bins: int = 60) -> alt.Chart:
    """Failed system calls per time bin, by error."""
    t = _exits(cap)
    return _over_time(t.filter(pc.fill_null(t["evt.failed"], False)), "evt.res", bins, "Failed system calls by error")


def to_svg(chart: alt.Chart) -> str:
    """The chart as standalone SVG (vl-convert; no browser, no network)."""
    import vl_convert

    return str(vl_convert.vegalite_to_svg(chart.to_dict()))


def use_static_rendering() -> None:
    """Render Altair charts as inline SVG in notebooks (stable across runs, readable without JavaScript)."""
    _alt().renderers.enable("svg")

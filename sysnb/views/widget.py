"""The explorer widget (anywidget): overview tiles, breadcrumbs, timeline, lens/event table, detail and hex.

Python owns the data and does every aggregation; the browser gets Arrow IPC (timeline cells, one page of
rows, a followed stream) and small JSON metadata (tile totals, lane labels, column names). The browser asks
for things with messages (``{"kind": "page", "start": 400}``) and Python answers by updating traits, so a
capture of a million events costs the browser a few hundred rows.

Several widgets made on the same :class:`~sysnb.views.explore.View` are linked: ``cap.explore()`` shows all
panes; ``cap.explore(panes=["timeline"])`` and ``cap.explore(panes=["table", "detail"], view=w.view)`` split
them over cells and still follow one another.
"""

from __future__ import annotations

import pathlib
import time
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import pyarrow as pa
import traitlets as t

from sysnb.errors import SysnbError, UsageError
from sysnb.format.escape import html_text, label, visible_table
from sysnb.views.actions import FILTER_ALIAS, combine, next_mark, position_of, value_filter
from sysnb.views.detail import event_detail, follow_fd
from sysnb.views.explore import LENS_COLUMNS, LENSES, View, lens_table
from sysnb.views.grid import (
    DEFAULT_COLUMNS,
    PAGE,
    TIME_LABELS,
    columns_of,
    event_page,
    lens_page,
    order,
    page_rows,
    sort_key,
    time_texts,
)
from sysnb.views.timeline import TIMELINE_COLUMNS, density

if TYPE_CHECKING:
    from sysnb.capture import Capture

STATIC = pathlib.Path(__file__).parent / "static"
PANES = ("tiles", "crumbs", "timeline", "table", "detail")
BINS = 400
#: where a click on a tile of each overview group leads
TILE_LENS = {"Files": "files", "Network": "connections", "Falco rules": "alerts"}


def to_ipc(table: pa.Table) -> bytes:
    """An Arrow IPC stream (what the browser decodes with apache-arrow's tableFromIPC)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


class Explorer(anywidget.AnyWidget):
    """Sysdig Inspect in a cell. ``cap.explore()``; then click tiles, brush the timeline, double-click rows."""

    _esm = STATIC / "explorer.js"
    _css = STATIC / "explorer.css"

    panes = t.List(t.Unicode(), default_value=list(PANES)).tag(sync=True)
    source = t.Unicode("").tag(sync=True)
    tiles = t.List(t.Dict()).tag(sync=True)
    crumbs = t.List(t.Dict()).tag(sync=True)
    lens = t.Unicode("syscalls").tag(sync=True)
    lenses = t.List(t.Unicode(), default_value=list(LENSES)).tag(sync=True)
    filter_text = t.Unicode("").tag(sync=True)
    combined_filter = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    base_ns = t.Unicode("0").tag(sync=True)
    span = t.List(t.Float()).tag(sync=True)
    time_range = t.List(t.Float()).tag(sync=True)
    window = t.List(t.Float()).tag(sync=True)
    timeline = t.Bytes(b"").tag(sync=True)
    timeline_meta = t.Dict().tag(sync=True)
    grid = t.Bytes(b"").tag(sync=True)
    grid_meta = t.Dict().tag(sync=True)
    detail = t.Dict().tag(sync=True)
    stream = t.Bytes(b"").tag(sync=True)
    stream_meta = t.Dict().tag(sync=True)
    marked = t.List(t.Int()).tag(sync=True)     # case marks on this capture's events (sysnb.case.explorer)
    mark_times = t.List(t.List(t.Float())).tag(sync=True)  # [evt.num, ns since start] of each mark (timeline)
    time_mode = t.Unicode("absolute").tag(sync=True)  # the time column: absolute, relative or delta
    case_status = t.Unicode("").tag(sync=True)

    def __init__(self, cap: Capture, *, view: View | None = None, panes: list[str] | None = None,
                 columns: str | list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        unknown = set(panes or ()) - set(PANES)
        if unknown:
            raise SysnbError(f"unknown pane(s) {', '.join(sorted(unknown))}; choose from {', '.join(PANES)}")
        self.view = view or View(cap)
        self.columns = columns_of(columns) if columns else list(DEFAULT_COLUMNS)
        self.panes = list(panes or PANES)
        self._range = (self.view.start_ns, self.view.end_ns)
        self._expanded: set[int] = set()
        self._fd: dict[str, Any] | None = None  # the selected event's fd, for "follow fd"
        self._sort = ""
        self._order: tuple[Any, pa.Array | None] | None = None
        self._lens_rows: tuple[Any, pa.Table, list[str], list[str]] | None = None
        self._seq = 0  # one number per view state: the browser scrolls back to the top when it changes
        self.source = label(cap.provenance.source)
        self.base_ns = str(self.view.start_ns)
        self.span = [0.0, float(self.view.end_ns - self.view.start_ns)]
        self.tiles = _tiles(cap) if "tiles" in self.panes else []
        self.view.on_change(self._on_view)
        self.on_msg(self._on_msg)
        from sysnb.case.explorer import marked_events

        self.marked = marked_events(self)
        self._on_view("init")

    # -- Python -> browser -----------------------------------------------------------------------------
    def _on_view(self, what: str) -> None:
        started = time.perf_counter()
        v = self.view
        self.crumbs = [{"label": label(c.label), "filter": c.filter} for c in v.crumbs]
        self.lens, self.filter_text, self.combined_filter = v.lens, v.filter_text, v.filter_with_window
        self._seq += 1
        base = float(v.start_ns)
        self.window = [] if v.window is None else [v.window[0] - base, v.window[1] - base]
        if what != "window" and "timeline" in self.panes:
            self._send_timeline()
        if "table" in self.panes:
            self._send_page(0)
        self.status = f"{len(v.indices()):,} events · {(time.perf_counter() - started) * 1e3:.0f} ms"

    def _send_timeline(self) -> None:
        host = ["host"] if "host" in self.view.base.column_names else []  # a merged view: lanes per host
        rows = self.view.rows(TIMELINE_COLUMNS + host, window=False)
        cells, legend = density(rows, self._range[0], self._range[1], BINS, self._expanded)
        base = self.view.start_ns
        self.time_range = [float(self._range[0] - base), float(self._range[1] - base)]
        self.timeline_meta = legend
        self.timeline = to_ipc(cells)

    def _lens(self) -> tuple[pa.Table, list[str], list[str]]:
        v = self.view
        key = (tuple(v.crumbs), v.filter_text, v.window, v.lens)
        if self._lens_rows is None or self._lens_rows[0] != key:
            self._lens_rows = (key, *lens_table(v.rows(LENS_COLUMNS), v.lens, v.cap))
        return self._lens_rows[1], self._lens_rows[2], self._lens_rows[3]

    def _current(self) -> tuple[pa.Table, pa.Array | None]:
        """What the grid shows, in display order: (base table, its row numbers) for events, (lens table,
        its order or None) for a lens. Events are never copied: the page takes its rows from ``base``."""
        v = self.view
        key = (tuple(v.crumbs), v.filter_text, v.window, v.lens, self._sort)
        if v.lens != "syscalls":
            table = self._lens()[0]
            if self._order is None or self._order[0] != key:
                self._order = (key, order(table, self._sort))
            return table, self._order[1]
        if self._order is None or self._order[0] != key:
            found = v.indices()
            column = sort_key(v.base, self._sort.lstrip("-")) if self._sort else None
            if column is not None:
                direction = "-" if self._sort.startswith("-") else ""
                sorted_rows = order(pa.table({column: v.base[column].take(found)}), direction + column)
                found = found.take(sorted_rows) if sorted_rows is not None else found
            self._order = (key, found)
        return v.base, self._order[1]

    def _send_page(self, start: int, focus: int | None = None) -> None:
        table, positions = self._current()
        total = table.num_rows if positions is None else len(positions)
        start = max(0, min(start, total))
        rows = page_rows(table, positions, start, PAGE)
        events = self.view.lens == "syscalls"
        page = visible_table(event_page(rows, self.columns) if events else lens_page(rows))
        columns = self.columns if events else table.column_names
        labels = list(columns)
        if events and self.time_mode != "absolute" and "evt.time" in columns:
            before = page_rows(table, positions, start - 1, 1)["evt.rawtime"] if start > 0 else None
            shown = time_texts(rows["evt.rawtime"], self.time_mode, self.view.start_ns, before)
            page = page.set_column(page.column_names.index("evt.time"), "evt.time", shown)
            labels[columns.index("evt.time")] = TIME_LABELS[self.time_mode]
        with self.hold_sync():  # one message: the browser draws a page with its own metadata
            self._set_page(page, {"columns": columns, "labels": labels, "total": total, "start": start,
                                  "sort": self._sort, "lens": self.view.lens, "events": events, "view": self._seq,
                                  "focus": focus, "sortable": [sort_key(table, c) is not None for c in columns]})

    def _set_page(self, page: pa.Table, meta: dict[str, Any]) -> None:
        self.grid_meta = meta
        self.grid = to_ipc(page)

    # -- browser -> Python -----------------------------------------------------------------------------
    def _on_msg(self, _widget: Any, msg: dict[str, Any], _buffers: Any) -> None:
        handler = getattr(self, f"_do_{msg.get('kind', '')}", None)
        if handler is None:
            return
        try:
            self.error = ""
            handler(msg)
        except SysnbError as e:  # user mistakes are shown in the widget, never as a traceback
            self.error = str(e)

    def _do_page(self, msg: dict[str, Any]) -> None:
        self._send_page(int(msg.get("start", 0)))

    def _do_sort(self, msg: dict[str, Any]) -> None:
        column = str(msg.get("column", ""))
        self._sort = "" if self._sort == "-" + column else ("-" + column if self._sort == column else column)
        self._seq += 1
        self._send_page(0)

    def _do_timecol(self, msg: dict[str, Any]) -> None:
        mode = str(msg.get("mode", "absolute"))
        self.time_mode = mode if mode in TIME_LABELS else "absolute"
        self._send_page(int(msg.get("start", 0)))

    def _do_ctx(self, msg: dict[str, Any]) -> None:
        """A context-menu filter action: a cell's or detail field's value, or a lens row's filter."""
        if "row" in msg:
            _, indices = self._current()
            row = int(msg["row"])
            expr = self._lens()[1][row if indices is None else int(indices[row].as_py())]
        else:
            field = str(msg.get("field", ""))
            raw = None
            if field in FILTER_ALIAS:
                raw = self.view.find(int(msg["evt_num"]))["evt.rawtime"][0].as_py()
            expr = value_filter(field, str(msg.get("value", "")), raw)
        self.view.set_filter(combine(self.view.filter_text, expr, str(msg.get("op", "apply"))))

    def _do_exclude(self, msg: dict[str, Any]) -> None:
        """Hide the process of an event: ``and not proc.pid=PID``."""
        row = self.view.find(int(msg["evt_num"]))
        pid = row["proc.pid"][0].as_py() if row.num_rows else None
        if pid is None:
            raise UsageError(f"event {int(msg['evt_num'])} has no process to exclude")
        self.view.set_filter(combine(self.view.filter_text, f"proc.pid={pid}", "not"))

    def _do_goto(self, msg: dict[str, Any]) -> None:
        """Scroll the table to event ``evt_num`` of the view and select it; with ``at`` (the box's text: an
        offset, a time of day or an ISO time, sysnb.views.goto), to the view's first event at or after it."""
        if "at" in msg:
            msg = {"evt_num": self._first_at(str(msg["at"]))}
        num = int(msg["evt_num"])
        if self.view.find(num).num_rows == 0:
            raise UsageError(f"there is no event {num} in this capture (or it is one sysdig does not print)")
        if self.view.lens != "syscalls":
            self._sort = ""
            self.view.set_lens("syscalls")
        table, positions = self._current()
        nums = table["evt.num"] if positions is None else table["evt.num"].take(positions)
        pos = position_of(nums.combine_chunks() if isinstance(nums, pa.ChunkedArray) else nums, num)
        if pos is None:
            raise UsageError(f"event {num} is not in this view: clear the filter box, go back to All events or "
                             "clear the time selection")
        self._do_select({"evt_num": num})
        self._send_page(pos - PAGE // 4, focus=pos)

    def _first_at(self, text: str) -> int:
        """The evt.num of the current view's first event at or after the time ``text`` names."""
        from sysnb.views.goto import parse_time

        found = self.view.indices()
        ts = self.view.base["evt.rawtime"].take(found).to_numpy()
        nums = self.view.base["evt.num"].take(found).to_numpy()
        at = parse_time(text, self.view.start_ns)
        later = np.flatnonzero(ts >= at)
        if not len(later):
            end = (int(ts.max()) - self.view.start_ns) / 1e9 if len(ts) else 0.0
            raise UsageError(f"no event of this view at or after {text.strip()!r} (its last event is at "
                             f"+{end:.6f} s)")
        return int(nums[later[np.argmin(ts[later])]])

    def _do_markjump(self, msg: dict[str, Any]) -> None:
        current = msg.get("from")
        target = next_mark(list(self.marked), None if current is None else int(current), int(msg.get("step", 1)))
        if target is None:
            raise UsageError("no marked events yet: right-click a row and choose mark, or %mark EVT_NUM")
        self._do_goto({"evt_num": target})

    @t.observe("marked")
    def _marks_moved(self, _change: Any) -> None:
        base = self.view.start_ns
        times = []
        for num in self.marked:
            row = self.view.find(num)
            if row.num_rows:
                times.append([float(num), float(row["evt.rawtime"][0].as_py() - base)])
        self.mark_times = times

    def _do_filter(self, msg: dict[str, Any]) -> None:
        text = str(msg.get("text", ""))
        _check_event_types(text)
        self.view.set_filter(text)

    def _do_check(self, msg: dict[str, Any]) -> None:
        """Live validation while typing: the filter's mistake (with its caret) in ``error``, nothing applied."""
        text = str(msg.get("text", ""))
        if text.strip():
            from sysnb.filter import compile_filter

            compile_filter(text)
            _check_event_types(text)

    def _do_lens(self, msg: dict[str, Any]) -> None:
        self._sort = ""
        self.view.set_lens(str(msg.get("name", "syscalls")))

    def _do_crumb(self, msg: dict[str, Any]) -> None:
        self._sort = ""
        self.view.pop_to(int(msg.get("depth", 0)))

    def _do_tile(self, msg: dict[str, Any]) -> None:
        tile = self.tiles[int(msg["index"])]
        self._sort = ""
        lens = "processes" if tile["title"] == "Processes" else TILE_LENS.get(tile["group"], "syscalls")
        self.view.push(tile["title"], tile["filter"], lens)

    def _do_drill(self, msg: dict[str, Any]) -> None:
        """Double click on a lens row: add its filter as a crumb and go one step down."""
        _, indices = self._current()
        if self.view.lens == "syscalls":
            return
        _, filters, labels = self._lens()
        row = int(msg["row"])
        i = row if indices is None else int(indices[row].as_py())
        self._sort = ""
        self.view.push(labels[i], filters[i])

    def _do_select(self, msg: dict[str, Any]) -> None:
        row = self.view.find(int(msg["evt_num"]))
        detail = event_detail(row)
        self._fd = detail.pop("fd", None)  # kept here: the browser only needs to know there is one to follow
        self.detail = {**detail, "fd": self._fd is not None}
        self.stream, self.stream_meta = b"", {}

    def _do_follow(self, _msg: dict[str, Any]) -> None:
        fd = self._fd
        if not fd:
            return
        chunks = follow_fd(self.view.base, fd["pid"], fd["fd"], fd["name"], shown=self.view.shown)
        self.stream_meta = {"title": label(f"{fd['name'] or ''} (pid {fd['pid']}, fd {fd['fd']})"),
                            "chunks": chunks.num_rows}
        self.stream = to_ipc(chunks)

    def _do_mark(self, msg: dict[str, Any]) -> None:
        from sysnb.case.explorer import do_mark

        do_mark(self, msg)

    def _do_unmark(self, msg: dict[str, Any]) -> None:
        from sysnb.case.explorer import do_unmark

        do_unmark(self, msg)

    def _do_finding(self, msg: dict[str, Any]) -> None:
        from sysnb.case.explorer import do_finding

        do_finding(self, msg)

    def _do_window(self, msg: dict[str, Any]) -> None:
        base = self.view.start_ns
        t0, t1 = msg.get("t0"), msg.get("t1")
        if t0 is None or t1 is None:
            self.view.set_window(None)
        else:
            self.view.set_window(base + int(t0), base + int(t1))

    def _do_zoom(self, msg: dict[str, Any]) -> None:
        """Show [t0, t1) across the timeline's width (``reset``: the whole capture)."""
        base = self.view.start_ns
        if msg.get("reset") or msg.get("t0") is None:
            self._range = (self.view.start_ns, self.view.end_ns)
        else:
            t0, t1 = base + int(msg["t0"]), base + int(msg["t1"])
            self._range = (min(t0, t1), max(t0, t1, min(t0, t1) + BINS))  # at least 1 ns per bin
        self._send_timeline()

    def _do_expand(self, msg: dict[str, Any]) -> None:
        pid = int(msg["pid"])
        self._expanded ^= {pid}
        self._send_timeline()

    # -- without a live kernel (exports, nbval) --------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        data = super()._repr_mimebundle_(**kwargs)
        bundle = data[0] if isinstance(data, tuple) else data
        if isinstance(bundle, dict):
            bundle["text/html"] = self.static_html()
        return data

    def static_html(self) -> str:
        """What the explorer showed, as plain HTML (for exported notebooks and reports)."""
        crumbs = " › ".join(["All events"] + [html_text(c["label"]) for c in self.crumbs])
        table, positions = self._current()
        total = table.num_rows if positions is None else len(positions)
        page = page_rows(table, positions, 0, 20)
        events = self.view.lens == "syscalls"
        text = event_page(page, self.columns) if events else lens_page(page)
        cols = [c for c in text.column_names if not c.startswith("_")]
        head = "".join(f"<th>{html_text(c)}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{html_text(r[c])}</td>" for c in cols) + "</tr>"
                       for r in text.to_pylist())
        return (f"<div><b>sysnb explorer</b> — {crumbs} — {html_text(self.view.lens)}: "
                f"{total:,} rows (first {page.num_rows} shown; live widgets need a running kernel)"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _check_event_types(text: str) -> None:
    from sysnb.completer import check_event_types

    if (typo := check_event_types(text)) is not None:
        raise UsageError(typo)


def _tiles(cap: Capture) -> list[dict[str, Any]]:
    from sysnb.views.overview import human_value, tile_values

    return [{"title": tile.title, "group": tile.group, "filter": tile.filter, "value": human_value(total, tile.measure),
             "spark": [int(x) for x in spark]} for tile, total, spark in tile_values(cap)]

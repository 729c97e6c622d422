"""The data behind the explorer widget: one linked view over a capture and its server-side aggregations.

Sysdig Inspect's model: a stack of drill-down steps (breadcrumbs), each a sysdig filter; a *lens* that shows
the selected events as processes, files, directories, connections, I/O streams or the syscalls themselves;
and a time window brushed on the timeline. Every widget attached to a :class:`View` follows it, so brushing
the timeline narrows the table and a click on a tile narrows the timeline.

All of it is whole-column pyarrow/numpy work (filters compile to pyarrow expressions, group-bys are
pyarrow's), so a million events answer in milliseconds; only the rows on screen are formatted as text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.chisels.io import READ_TYPES
from sysnb.chisels.table import fd_type_in, is_io
from sysnb.derived import DERIVED
from sysnb.errors import UsageError
from sysnb.exprs import project
from sysnb.filter import compile_filter

if TYPE_CHECKING:
    from sysnb.capture import Capture

LENSES = ("processes", "files", "directories", "connections", "streams", "syscalls", "alerts")
#: where a double click on a row of a lens leads (Sysdig Inspect's drill-down chain)
NEXT_LENS = {"processes": "files", "files": "streams", "directories": "files", "connections": "streams",
             "streams": "syscalls", "syscalls": "syscalls", "alerts": "syscalls"}


@dataclass(frozen=True)
class Crumb:
    label: str
    filter: str


def quote(value: object) -> str:
    """A value as a filter literal: bare when it is a plain word, else double-quoted with escapes."""
    text = str(value)
    if text and all(c.isalnum() or c in "._-/:" for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class View:
    """What a user is looking at: crumbs (drill-down filters) + the filter box + a time window + a lens."""

    def __init__(self, cap: Capture) -> None:
        self.cap = cap
        # the capture's table itself, never copied (a filtered copy of big50 cost 2.5-3 s, mostly page faults
        # on a gigabyte of new memory); the rows sysdig prints are `shown`, and every row number handed out
        # (filtered_indices, indices) is one of them
        self.base = cap.table
        self.shown = pc.and_(pc.is_valid(self.base["evt.num"]), pc.fill_null(self.base["sysnb.visible"], False))
        self.shown_rows = pc.indices_nonzero(self.shown)
        self._nums = np.asarray(self.base["evt.num"].filter(self.shown).to_numpy(), dtype=np.int64)
        self._ascending = bool(np.all(np.diff(self._nums) > 0))
        ts = self.base["evt.rawtime"].filter(self.shown).to_numpy()
        self.start_ns, self.end_ns = (int(ts.min()), int(ts.max()) + 1) if len(ts) else (0, 1)
        self.crumbs: list[Crumb] = []
        self.filter_text = ""
        self.window: tuple[int, int] | None = None
        self.lens = "syscalls"
        self._listeners: list[Callable[[str], None]] = []
        self._filtered: tuple[tuple[Any, ...], pa.Array] | None = None

    # -- changes ---------------------------------------------------------------------------------------
    def on_change(self, fn: Callable[[str], None]) -> None:
        """Call ``fn(what)`` after every change (what: crumbs, filter, window, lens)."""
        self._listeners.append(fn)

    def _changed(self, what: str) -> None:
        for fn in list(self._listeners):
            fn(what)

    def push(self, label: str, filter_text: str, lens: str | None = None) -> None:
        """Drill down: add a crumb (checked first, so a bad filter changes nothing) and switch lens."""
        compile_filter(filter_text)
        self.crumbs.append(Crumb(label, filter_text))
        self.lens = lens or NEXT_LENS[self.lens]
        self._changed("crumbs")

    def pop_to(self, depth: int) -> None:
        """Go back up to the first ``depth`` crumbs (0: the whole capture)."""
        self.crumbs = self.crumbs[:max(depth, 0)]
        self._changed("crumbs")

    def set_filter(self, text: str) -> None:
        """The filter box; raises UsageError (with the column) and keeps the old filter on a mistake."""
        if text.strip():
            compile_filter(text)
        self.filter_text = text.strip()
        self._changed("filter")

    def set_window(self, t0: int | None, t1: int | None = None) -> None:
        """Restrict to ``t0 <= evt.rawtime < t1`` (absolute ns); ``None`` clears the window."""
        self.window = None if t0 is None or t1 is None else (min(t0, t1), max(t0, t1))
        self._changed("window")

    def set_lens(self, lens: str) -> None:
        if lens not in LENSES:
            raise UsageError(f"unknown view {lens!r}; choose one of {', '.join(LENSES)}")
        self.lens = lens
        self._changed("lens")

    # -- queries ---------------------------------------------------------------------------------------
    @property
    def filter(self) -> str:
        """The crumbs and the filter box as one sysdig filter (paste it into ``%sysfilter``)."""
        parts = [c.filter for c in self.crumbs] + ([self.filter_text] if self.filter_text else [])
        if len(parts) == 1:
            return parts[0]
        return " and ".join(f"({p})" for p in parts)

    @property
    def filter_with_window(self) -> str:
        """:attr:`filter` and the brushed time window, as one filter (what ``%sysfilter`` needs to show the
        same events)."""
        if self.window is None:
            return self.filter
        window = f"evt.rawtime>={self.window[0]} and evt.rawtime<{self.window[1]}"
        return f"({self.filter}) and {window}" if self.filter else window

    def filtered_indices(self) -> pa.Array:
        """Row numbers (into ``base``, shown rows only) matching crumbs and filter box, over the whole time
        span. The filter reads only the columns it names, so nothing is copied but one boolean column."""
        key = (tuple(self.crumbs), self.filter_text)
        if self._filtered is None or self._filtered[0] != key:
            text = self.filter
            found = pc.indices_nonzero(pc.and_(self._mask(text), self.shown)) if text else self.shown_rows
            self._filtered = (key, found)
        return self._filtered[1]

    def _mask(self, text: str) -> Any:
        """The filter over ``base`` in the capture's field context (its hostname, first event time, ...); a
        merged view evaluates each capture's rows in that capture's own context."""
        compiled = compile_filter(text)
        per_capture = getattr(self.cap, "contexts", None)
        if per_capture is None:
            return compiled.mask(self.base, self.cap.field_context())
        return pa.array(self.cap.mask(compiled))  # type: ignore[attr-defined]  # MergedCapture: one per row

    def find(self, evt_num: int) -> pa.Table:
        """The shown row with this evt.num (empty when there is none). Numbers ascend in a capture's order
        (a binary search); a merged view of several captures repeats them, and the first in time is taken."""
        if self._ascending:
            i = int(np.searchsorted(self._nums, evt_num))
            found = i < len(self._nums) and self._nums[i] == evt_num
        else:
            hits = np.flatnonzero(self._nums == evt_num)
            found, i = len(hits) > 0, int(hits[0]) if len(hits) else 0
        if not found:
            return self.base.slice(0, 0)
        return self.base.slice(int(self.shown_rows[i].as_py()), 1)

    def indices(self) -> pa.Array:
        """Row numbers of the current view: filtered, then cut to the time window."""
        found = self.filtered_indices()
        if self.window is None:
            return found
        ts = self.base["evt.rawtime"].take(found)
        inside = pc.and_(pc.greater_equal(ts, self.window[0]), pc.less(ts, self.window[1]))
        return pc.filter(found, inside)

    def rows(self, columns: list[str] | None = None, *, window: bool = True) -> pa.Table:
        """The rows of the current view (only ``columns`` when given: the cheap way for aggregations)."""
        table = self.base if columns is None else self.base.select(columns)
        return table.take(self.indices() if window else self.filtered_indices())


# -- lenses: Sysdig Inspect's views as group-bys ---------------------------------------------------------
def _bytes(rows: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Bytes read and written by each row (0 for non-I/O and failed calls)."""
    res = pc.max_element_wise(pc.fill_null(rows["evt.rawres"], 0), 0)
    io = pc.fill_null(is_io(rows), False)
    reads = pc.is_in(rows["sysnb.type_id"], value_set=READ_TYPES)
    zero = pa.scalar(0, pa.int64())
    return (pc.if_else(pc.and_(io, reads), res, zero).combine_chunks(),
            pc.if_else(pc.and_(io, pc.invert(reads)), res, zero).combine_chunks())


def _with_metrics(rows: pa.Table, keys: dict[str, pa.Array | pa.ChunkedArray]) -> pa.Table:
    bytes_in, bytes_out = _bytes(rows)
    cols = {k: (v.cast(v.type.value_type) if pa.types.is_dictionary(v.type) else v) for k, v in keys.items()}
    cols.update({"events": pa.array(np.ones(rows.num_rows, np.int64)),
                 "errors": pc.cast(pc.fill_null(rows["evt.failed"], False), pa.int64()),
                 "bytes in": bytes_in, "bytes out": bytes_out})
    return pa.table(cols)


def _group(rows: pa.Table, keys: dict[str, Any], sort: str = "events") -> pa.Table:
    table = _with_metrics(rows, keys)
    names = list(keys)
    out = table.group_by(names).aggregate([(m, "sum") for m in ("events", "errors", "bytes in", "bytes out")])
    out = out.rename_columns([c.removesuffix("_sum") for c in out.column_names])
    valid = pc.is_valid(out[names[0]])
    return out.filter(valid).sort_by([(sort, "descending")] + [(n, "ascending") for n in names])


def _processes(rows: pa.Table) -> tuple[pa.Table, list[str], list[str]]:
    """One row per process (pid), named by the name it ended with (after its last execve)."""
    table = _with_metrics(rows, {"proc.pid": rows["proc.pid"]}).append_column(
        "proc.name", rows["proc.name"].cast(pa.string()))
    metrics = [(m, "sum") for m in ("events", "errors", "bytes in", "bytes out")]
    out = table.group_by("proc.pid", use_threads=False).aggregate([*metrics, ("proc.name", "last")])
    out = out.rename_columns([c.removesuffix("_sum").removesuffix("_last") for c in out.column_names])
    out = out.filter(pc.is_valid(out["proc.pid"])).select(["proc.pid", "proc.name", "events", "errors", "bytes in",
                                                           "bytes out"])
    out = out.sort_by([("events", "descending"), ("proc.pid", "ascending")])
    pids, names = out["proc.pid"].to_pylist(), out["proc.name"].to_pylist()
    return out, [f"proc.pid={p}" for p in pids], [f"{n} ({p})" for p, n in zip(pids, names, strict=True)]


def _derived(rows: pa.Table, name: str) -> pa.ChunkedArray:
    return project(rows, {name: DERIVED[name][0]()})[name]


#: the columns the lenses read (a lens is computed on a narrow copy of the view)
LENS_COLUMNS = sorted({"proc.pid", "proc.name", "fd.name", "fd.type", "fd.num", "fd.l4proto", "evt.rawres",
                       "evt.failed", "sysnb.type_id", "evt.num", *DERIVED["fd.directory"][1]})


def lens_table(rows: pa.Table, lens: str, cap: Capture | None = None) -> tuple[pa.Table, list[str], list[str]]:
    """(aggregate table, the drill-down filter of each row, a label for each row) for a lens; ``alerts`` (the
    Falco alerts computed on ``cap``, see sysnb.rules.views) is empty without them."""
    if lens == "alerts":
        from sysnb.rules.views import lens as alerts_lens

        return alerts_lens(rows, cap)
    if lens == "processes":
        return _processes(rows)
    if lens in ("files", "directories"):
        sel = rows.filter(fd_type_in(rows, "file", "directory"))
        field = "fd.name" if lens == "files" else "fd.directory"
        key = sel[field] if lens == "files" else _derived(sel, field)
        out = _group(sel, {field: key})
        names = out[field].to_pylist()
        return out, [f"{field}={quote(n)} and fd.type in (file, directory)" for n in names], names
    if lens == "connections":
        sel = rows.filter(pc.and_(fd_type_in(rows, "ipv4", "ipv6"), pc.fill_null(pc.not_equal(
            rows["fd.name"].cast(pa.string()), ""), False)))
        out = _group(sel, {"fd.name": sel["fd.name"], "fd.l4proto": sel["fd.l4proto"], "proc.name": sel["proc.name"]})
        names, procs = out["fd.name"].to_pylist(), out["proc.name"].to_pylist()
        pairs = zip(names, procs, strict=True)
        return out, [f"fd.name={quote(n)} and proc.name={quote(p)}" for n, p in pairs], names
    if lens == "streams":
        sel = rows.filter(pc.fill_null(is_io(rows), False))
        out = _group(sel, {"proc.pid": sel["proc.pid"], "proc.name": sel["proc.name"], "fd.num": sel["fd.num"],
                           "fd.type": sel["fd.type"], "fd.name": sel["fd.name"]}, "bytes in")
        keys = zip(out["proc.pid"].to_pylist(), out["fd.num"].to_pylist(), out["fd.name"].to_pylist(), strict=True)
        filters, labels = [], []
        for pid, fd, name in keys:
            named = "" if name is None else f" and fd.name={quote(name)}"
            filters.append(f"proc.pid={pid} and fd.num={fd}{named}")
            labels.append(f"{pid}:{fd} {name or ''}".strip())
        return out, filters, labels
    raise UsageError(f"unknown view {lens!r}; choose one of {', '.join(LENSES)}")

"""From a capture's table to the case's references: which events a filter selects, and one event in full."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.case.model import MAX_MARK_BUFFER, MAX_REFS, EventRef
from sysnb.errors import UsageError

if TYPE_CHECKING:
    from sysnb.capture import Capture

#: the fields a mark copies from its event (the report's appendix prints them)
MARK_FIELDS = ("evt.type", "evt.dir", "evt.res", "proc.name", "proc.pid", "thread.tid", "proc.cmdline",
               "user.name", "fd.num", "fd.name", "evt.args")


def shown_events(cap: Capture, window: tuple[int, int] | None = None) -> pa.Table:
    """The events sysdig prints (numbered, visible), optionally within [start_ns, end_ns)."""
    from sysnb.capture import visible_rows

    rows = visible_rows(cap.table)
    if window is not None:
        ts = rows["evt.rawtime"]
        inside = pc.and_(pc.greater_equal(ts, pa.scalar(window[0], ts.type)),
                         pc.less(ts, pa.scalar(window[1], ts.type)))
        rows = rows.filter(inside)
    return rows


def refs_of(rows: pa.Table, sha256: str, limit: int = MAX_REFS) -> list[EventRef]:
    """References to the first ``limit`` rows: evidence sha256, evt.num, time, byte offset."""
    head = rows.select(["evt.num", "evt.rawtime", "sysnb.offset"]).slice(0, limit).to_pylist()
    return [EventRef(sha256, int(r["evt.num"]), int(r["evt.rawtime"]), int(r["sysnb.offset"] or 0)) for r in head]


def span_of(rows: pa.Table) -> tuple[int | None, int | None]:
    if rows.num_rows == 0:
        return None, None
    mm = pc.min_max(rows["evt.rawtime"])
    return int(mm["min"].as_py()), int(mm["max"].as_py())


def one_event(cap: Capture, evt_num: int) -> pa.Table:
    """The row sysdig prints as event ``evt_num``; a UsageError naming the capture's range otherwise."""
    rows = shown_events(cap)
    found = rows.filter(pc.equal(rows["evt.num"], pa.scalar(int(evt_num), rows["evt.num"].type)))
    if found.num_rows != 1:
        nums = rows["evt.num"]
        lo, hi = (pc.min(nums).as_py(), pc.max(nums).as_py()) if rows.num_rows else (None, None)
        raise UsageError(f"no event {evt_num} among the events sysdig shows in {cap.provenance.source} "
                         f"(evt.num {lo}..{hi}; state-only events cannot be marked)")
    return found


def event_copy(row: pa.Table) -> tuple[str, dict[str, str], bytes]:
    """One event as sysdig's default line, a few fields as ``-p`` prints them, and its data buffer
    (at most MAX_MARK_BUFFER bytes)."""
    from sysnb.format.output import DEFAULT_FORMAT, NA, Formatter

    line = next(iter(Formatter(DEFAULT_FORMAT).lines(row)), "")
    fields = {}
    for name in MARK_FIELDS:
        value = next(iter(Formatter(f"*%{name}").lines(row)), NA)
        if value not in (NA, ""):
            fields[name] = value
    data = row["evt.buffer"][0].as_py() or b""
    return line, fields, bytes(data[:MAX_MARK_BUFFER])

"""Log chisels and event export: spy_logs, spy_syslog, around.

``around`` (and spy_logs/spy_syslog with a dump file) writes the events of the same thread within
``dump_range_ms`` of each match to a new .scap, with the capture's state events flagged state-only (sysdig's
``-F`` "fatfile" mode), so the excerpt still names its processes and files. The windows are found with one
``searchsorted`` per thread. sysdig 0.29.3 itself writes a file it cannot read back here ("corrupted
interface list"); ours opens in sysdig and sysnb.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.chisels.io import READ_TYPES
from sysnb.chisels.registry import Arg, ChiselResult, chisel
from sysnb.chisels.table import _key, is_io
from sysnb.format.output import clock_time
from sysnb.state.syslog import SEVERITIES, decode, facility_name

_DUMP_FILE = Arg("dump_file_name", "The name of the file where the chisel will write the events related to each "
                 "syslog entry.", "string", True)
_DUMP_RANGE = Arg("dump_range_ms", "The time interval to capture *before* and *after* each event, in "
                  "milliseconds. For example, 500 means that 1 second around each displayed event (.5s before and "
                  ".5s after) will be saved to <dump_file_name>. The default value for dump_range_ms is 1000.",
                  "int", True)
_COLOR = Arg("disable_color", "Set to 'disable_colors' if you want to disable color output", "string", True)
LOG_FILES = ("(fd.name contains .log or fd.name contains _log or fd.name contains /var/log) and not "
             "(fd.name contains .gz or fd.name contains .tgz)")


def around_mask(full: pa.Table, ts: np.ndarray, tids: np.ndarray, range_ms: int) -> pa.Array:
    """Rows of ``full`` on one of ``tids`` within range_ms of that thread's matching timestamps
    (evt.around[T]=D and thread.tid=TID, ORed over the matches)."""
    span = range_ms * 1_000_000
    all_ts = np.asarray(full["evt.rawtime"].to_numpy(), np.int64)
    all_tid = np.asarray(pc.fill_null(full["thread.tid"], -1).to_numpy(), np.int64)
    keep = np.zeros(len(all_ts), bool)
    for tid in np.unique(tids):
        marks = np.sort(ts[tids == tid])
        rows = np.flatnonzero(all_tid == tid)
        nearest = np.clip(np.searchsorted(marks, all_ts[rows]), 1, len(marks)) - 1
        near = np.minimum(np.abs(all_ts[rows] - marks[nearest]),
                          np.abs(all_ts[rows] - marks[np.minimum(nearest + 1, len(marks) - 1)]))
        keep[rows[near <= span]] = True
    return pa.array(keep)


def dump_around(source: str, events: pa.Table, range_ms: int, path: str) -> int:
    """Write the events around each row of ``events`` to ``path``; returns how many were written."""
    from sysnb.capture import open_capture
    from sysnb.scap.writer import save_events, with_state_events

    full = open_capture(source).table
    ts = np.asarray(events["evt.rawtime"].to_numpy(), np.int64)
    tids = np.asarray(pc.fill_null(events["thread.tid"], -1).to_numpy(), np.int64)
    chosen = full.filter(around_mask(full, ts, tids, range_ms)) if len(ts) else full.slice(0, 0)
    return save_events(source, with_state_events(full, chosen), path)


@chisel("around", category="Misc", raw=True,
        short="Export to file the events around the time range where the given filter matches.",
        args=[Arg("dump_file_name", "The name of the file where the chisel will write the events related to each "
                  "syslog entry.", "string"), _DUMP_RANGE],
        description="Given a filter on the command line, this chisel saves the events that are in a time range "
                    "around filter matches, and that are on the SAME process/thread. The time range can be "
                    "adjusted with the dump_range_ms argument. For example, 'sysdig -c around evt.type=open and "
                    "evt.failed=true' will save two seconds of activity around every failed open.")
def around(events: pa.Table, dump_file_name: str, dump_range_ms: int | None = None, source: str = "",
           filtered: bool = False) -> ChiselResult:
    """Print ``TIME NAME(TID)`` for each match, then write the events around them to ``dump_file_name``."""
    rows = events.select(["evt.rawtime", "thread.tid"]).append_column("proc.name", _key(events, "proc.name"))

    def text() -> Iterable[str]:
        if not filtered:
            yield "no filter specified"
            return
        for r in rows.to_pylist():
            yield f"{clock_time(r['evt.rawtime'])} {r['proc.name'] or '<NA>'}({r['thread.tid']})"
        yield ""
        yield f"Saving events around {rows.num_rows} syslog entries to {dump_file_name}"
        dump_around(source, events, dump_range_ms or 1000, dump_file_name)
    return ChiselResult(rows, text)


def _writes(events: pa.Table, name_filter: str) -> pa.Table:
    from sysnb.filter import compile_filter

    ok = pc.and_(pc.equal(events["evt.dir"].cast(pa.string()), "<"), pc.invert(pc.fill_null(events["evt.failed"],
                                                                                             True)))
    writes = pc.and_(is_io(events), pc.invert(pc.is_in(events["sysnb.type_id"], value_set=READ_TYPES)))
    return events.filter(pc.and_(pc.and_(ok, writes), compile_filter(name_filter).mask(events)))


@chisel("spy_logs", category="Logs", raw=True, args=[_DUMP_FILE, _DUMP_RANGE, _COLOR],
        short="Echo any write made by any process to a log file. Optionally, export the events around each log "
              "message to file.",
        description="This chisel intercepts all the writes to files containing '.log' or '_log' in their name, "
                    "and pretty prints them. You can combine this chisel with filters like 'proc.name=foo' (to "
                    "restrict the output to a specific process), or 'evt.buffer contains foo' (to show only "
                    "messages including a specific string). You can also write the events generated around each "
                    "log entry to file by using the dump_file_name and dump_range_ms arguments. If running from a "
                    "terminal the line will be colored Green = OK; Yellow = Warn; and Red = Error. This chisel is "
                    "compatible with containers using the sysdig -pc or -pcontainer argument, otherwise no "
                    "container information will be shown. ( A Blue colored container.name represents a process "
                    "running within a container)")
def spy_logs(events: pa.Table, dump_file_name: str | None = None, dump_range_ms: int | None = None,
             disable_color: str | None = None, source: str = "") -> ChiselResult:
    """``NAME FILE LINE`` for each line written to a log file (data as printable ASCII, as sysdig -A)."""
    from sysnb.format.args import BUF_ASCII
    from sysnb.format.output import Formatter

    rows = _writes(events, LOG_FILES)
    data = list(Formatter("*%evt.buffer", bufmode=BUF_ASCII).lines(rows))
    names, files = _key(rows, "proc.name").to_pylist(), rows["fd.name"].cast(pa.string()).to_pylist()

    def text() -> Iterable[str]:
        for name, file, buf in zip(names, files, data, strict=True):
            for msg in buf.split("\n"):
                if msg:
                    yield f"{name} {file} {msg}"
        if dump_file_name:
            yield f"Writing events for {rows.num_rows} log entries"
            dump_around(source, rows, dump_range_ms or 1000, dump_file_name)
    return ChiselResult(rows.select(["evt.num", "proc.name", "fd.name", "evt.buffer"]), text)


@chisel("spy_syslog", category="Logs", raw=True, args=[_DUMP_FILE, _DUMP_RANGE],
        short="Print every message written to syslog. Optionally, export the events around each syslog message "
              "to file.",
        description="Print every message written to syslog by any process. You can combine this chisel with "
                    "filters like 'proc.name=foo' (to restrict the output to a specific process), or "
                    "'syslog.message contains foo' (to show only messages including a specific string). You can "
                    "also write the events generated around each syslog entry to file by using the dump_file_name "
                    "and dump_range_ms arguments. This chisel is compatible with containers using the sysdig -pc "
                    "or -pcontainer argument, otherwise no container information will be shown.")
def spy_syslog(events: pa.Table, dump_file_name: str | None = None, dump_range_ms: int | None = None,
               source: str = "") -> ChiselResult:
    """``FACILITY.SEVERITY NAME[TID] MESSAGE`` for every datagram written to /dev/log."""
    rows = _writes(events, "fd.name contains /dev/log")
    parsed = [decode(b) if b is not None else None for b in rows["evt.buffer"].to_pylist()]
    rows = rows.filter(pa.array([p is not None for p in parsed], pa.bool_()))
    msgs = [p for p in parsed if p is not None]
    table = pa.table({"evt.num": rows["evt.num"], "thread.tid": rows["thread.tid"],
                      "proc.name": _key(rows, "proc.name"),
                      "syslog.facility": [facility_name(m[0]) for m in msgs],
                      "syslog.severity": [SEVERITIES[m[1]] for m in msgs], "syslog.message": [m[2] for m in msgs]})

    def text() -> Iterable[str]:
        for r in table.to_pylist():
            yield (f"{r['syslog.facility']}.{r['syslog.severity']} {r['proc.name']}[{r['thread.tid']}] "
                   f"{r['syslog.message']}")
        if dump_file_name:
            dump_around(source, rows, dump_range_ms or 1000, dump_file_name)
    return ChiselResult(table, text)

"""Performance chisels: scallslower, fileslower, netlower (system calls / file / network I/O slower than a
threshold)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.chisels.registry import Arg, ChiselResult, chisel
from sysnb.chisels.table import is_io
from sysnb.format.output import date_time

_MIN_MS = Arg("min_ms", "Minimum milliseconds before which a syscall should complete", "int")
_COLOR = Arg("disable_color", "Set to 'disable_colors' if you want to disable color output", "string", True)


def _datetime(ns: int) -> str:
    """evt.datetime cut to 23 characters, as the chisels' %-23.23s prints it."""
    return date_time(ns)[:23]


def _lua_number(v: float) -> str:
    """LuaJIT's tostring of a number (%.14g)."""
    return f"{v:.14g}"


def _slow(events: pa.Table, min_ms: int, extra: pa.ChunkedArray | None) -> pa.Table:
    lat = pc.fill_null(events["evt.latency"], 0)
    keep = pc.greater(pc.divide(pc.cast(lat, pa.float64()), 1e6), float(min_ms))
    if extra is not None:
        keep = pc.and_(keep, extra)
    return events.filter(keep)


def _color(row: dict[str, object], on: bool) -> str:
    if not on:
        return ""
    return "\x1b[32m" if row["container.id"] in (None, "host") else "\x1b[34m"


@chisel("scallslower", category="Performance", short="Trace slow syscalls", args=[_MIN_MS, _COLOR],
        description="Trace syscalls slower than a threshold milliseconds. This chisel is compatible with containers "
                    "using the sysdig -pc or -pcontainer argument, otherwise no container information will be shown.")
def scallslower(events: pa.Table, min_ms: int, disable_color: str | None = None) -> ChiselResult:
    rows = _slow(events, min_ms, None).select(["evt.rawtime", "proc.name", "evt.latency", "evt.type", "container.id"])
    color = disable_color != "disable_color"

    def text() -> Iterable[str]:
        yield f"{'evt.datetime':<23.23} {'proc.name':<23.23} {'LATENCY(ms)':<20} evt.type"
        yield f"{'-' * 23} {'-' * 23} {'-' * 20} {'-' * 20}"
        for r in rows.to_pylist():
            lat = _lua_number(r["evt.latency"] / 1e6)
            yield (f"{_color(r, color)}{_datetime(r['evt.rawtime']):<23.23} {r['proc.name'] or '<NA>':<23.23} "
                   f"{lat:<20} {r['evt.type']}")
    return ChiselResult(rows, text)


def _slow_io(events: pa.Table, min_ms: int, fd_types: tuple[str, ...], skip_dev: bool) -> pa.Table:
    """I/O exits on fds of these types slower than min_ms (fileslower and netlower share the loop)."""
    kind = pc.fill_null(pc.is_in(events["fd.type"].cast(pa.string()), value_set=pa.array(fd_types)), False)
    keep = pc.and_(pc.and_(is_io(events), kind), pc.equal(events["evt.dir"].cast(pa.string()), "<"))
    if skip_dev:
        keep = pc.and_(keep, pc.invert(pc.starts_with(pc.fill_null(events["fd.name"].cast(pa.string()), ""), "/dev/")))
    return _slow(events, min_ms, keep).select(["evt.rawtime", "proc.name", "evt.type", "evt.latency", "fd.name",
                                                "container.id"])


def _slow_io_text(rows: pa.Table, disable_color: str | None) -> Callable[[], Iterable[str]]:
    color = disable_color != "disable_color"

    def text() -> Iterable[str]:
        yield f"{'evt.datetime':<23.23} {'proc.name':<12.12} {'evt.type':<8} {'LATENCY(ms)':<12} fd.name"
        yield f"{'-' * 23} {'-' * 12} {'-' * 8} {'-' * 12} {'-' * 41}"
        for r in rows.to_pylist():
            yield (f"{_color(r, color)}{_datetime(r['evt.rawtime']):<23.23} {r['proc.name'] or '<NA>':<12.12} "
                   f"{r['evt.type']:<8} {int(r['evt.latency'] / 1e6):>12d} {r['fd.name']}")
    return text


@chisel("fileslower", category="Performance", short="Trace slow file I/O", args=[
        Arg("min_ms", "Minimum millisecond threshold for showing file I/O", "int"), _COLOR],
        description="Trace file I/O slower than a threshold, or all file I/O. This chisel is compatible with "
                    "containers using the sysdig -pc or -pcontainer argument, otherwise no container information "
                    "will be shown.")
def fileslower(events: pa.Table, min_ms: int, disable_color: str | None = None) -> ChiselResult:
    rows = _slow_io(events, min_ms, ("file",), skip_dev=True)
    return ChiselResult(rows, _slow_io_text(rows, disable_color))


@chisel("netlower", category="Performance", short="Trace slow network I/0", args=[
        Arg("min_ms", "Minimum millisecond threshold for showing network I/O", "int"), _COLOR],
        description="Trace network I/O slower than a threshold, or all network I/O. This chisel is compatible with "
                    "containers using the sysdig -pc or -pcontainer argument, otherwise no container information "
                    "will be shown. (Blue represents a process running within a container, and Green represents a "
                    "host process)")
def netlower(events: pa.Table, min_ms: int, disable_color: str | None = None) -> ChiselResult:
    rows = _slow_io(events, min_ms, ("ipv4", "ipv6"), skip_dev=False)
    return ChiselResult(rows, _slow_io_text(rows, disable_color))


HOW_MANY = 10


@chisel("bottlenecks", category="Performance", short="Slowest system calls", raw=True,
        description=f"Lists the {HOW_MANY} system calls that took the longest to return during the capture "
                    "interval.")
def bottlenecks(events: pa.Table) -> ChiselResult:
    """The 10 slowest returns (ties: earliest first, as the Lua insertion keeps them), each after the last
    zero-latency event of its thread before it (the call's enter event)."""
    import numpy as np

    rows = events.filter(pc.fill_null(pc.not_equal(events["evt.type"].cast(pa.string()), "switch"), True))
    lat = rows["evt.latency"]
    slow = np.flatnonzero(pc.fill_null(pc.greater(lat, 0), False).to_numpy(zero_copy_only=False))
    lat_np = np.asarray(pc.fill_null(lat, 0).to_numpy(), np.int64)
    top = slow[np.argsort(-lat_np[slow], kind="stable")[:HOW_MANY]]
    tid = np.asarray(pc.fill_null(rows["thread.tid"], -1).to_numpy(), np.int64)
    zero = np.flatnonzero(pc.fill_null(pc.equal(lat, 0), False).to_numpy(zero_copy_only=False))
    before = []
    for i in top.tolist():  # ten lookups: the thread's last zero-latency event before the slow one
        cands = zero[(tid[zero] == tid[i]) & (zero < i)]
        before.append(int(cands[-1]) if len(cands) else -1)
    picked = [j for j in before if j >= 0]
    lines = dict(zip(picked, _lines(rows.take(pa.array(picked, pa.int64())), ">"), strict=True))
    slow_lines = list(_lines(rows.take(pa.array(top, pa.int64())), "<"))

    def text() -> Iterable[str]:
        for j, line in zip(before, slow_lines, strict=True):
            yield lines.get(j, "nil")
            yield line
    return ChiselResult(rows.take(pa.array(top, pa.int64())).select(["evt.num", "proc.name", "thread.tid",
                                                                      "evt.type", "evt.latency"]), text)


def _lines(rows: pa.Table, arrow: str) -> Iterable[str]:
    """``NUM) S.NNNNNNNNN NAME (TID) DIR TYPE ARGS`` with the latency (0 for the enter side)."""
    from sysnb.chisels.table import _key
    from sysnb.format.args import BUF_JSON
    from sysnb.format.output import Formatter

    args = Formatter("*%evt.args", bufmode=BUF_JSON).lines(rows)  # chisels read buffers uncut
    names = rows.select(["evt.num", "evt.latency", "thread.tid", "evt.type"]).append_column(
        "proc.name", _key(rows, "proc.name"))  # "<NA>" for a known thread without a name, as libsinsp
    for r, a in zip(names.to_pylist(), args, strict=True):
        lat = r["evt.latency"] if arrow == "<" else 0
        yield (f"{r['evt.num']}) {lat // 1_000_000_000}.{lat % 1_000_000_000:09d} {r['proc.name'] or ''} "
               f"({r['thread.tid']}) {arrow} {r['evt.type']} {'' if a == '<NA>' else a}")


@chisel("proc_exec_time", category="Performance", short="Show process execution time", args=[_COLOR],
        description="List the processes that have finished running, along with their execution time, and color "
                    "every line based on the total process run time (Green|Blue below thresholds, Yellow at 3 sec, "
                    "and Red at 10 sec). This chisel is compatible with containers using the sysdig -pc or "
                    "-pcontainer argument, otherwise no container information will be shown. (Blue represents a "
                    "process running within a container, and Green represents a host process)")
def proc_exec_time(events: pa.Table, disable_color: str | None = None) -> ChiselResult:
    """procexit events of threads created in the capture: proc.duration, name and arguments."""
    import pyarrow.dataset as ds

    from sysnb.chisels.table import format_time
    from sysnb.derived import DERIVED

    exits = events.filter(pc.equal(events["evt.type"].cast(pa.string()), "procexit"))
    duration = ds.dataset(exits.select(list(DERIVED["proc.duration"][1]))).to_table(
        columns={"d": DERIVED["proc.duration"][0]()})["d"]
    rows = exits.select(["evt.num", "proc.name", "proc.args", "container.name"]).append_column(
        "proc.duration", duration).filter(pc.is_valid(duration))
    color = disable_color != "disable_colors"

    def text() -> Iterable[str]:
        yield f"{'proc.duration':<13.13} {'proc.name':<12.12} proc.args"
        yield f"{'-' * 13} {'-' * 12} {'-' * 20}"
        for r in rows.to_pylist():
            d = r["proc.duration"]
            code = "31" if d > 10_000_000_000 else "33" if d > 3_000_000_000 else \
                "34" if r["container.name"] != "host" else "32"
            yield (f"{chr(27) + '[' + code + 'm' if color else ''}{format_time(d):<13.13} "
                   f"{r['proc.name'] or '<NA>':<12.12} {r['proc.args'] or ''}")
        yield "\x1b[0m" if color else ""  # on_capture_end prints terminal.reset
    return ChiselResult(rows, text)

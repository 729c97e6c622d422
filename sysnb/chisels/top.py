"""The "top" chisels: sysdig's table_generator invocations (keys, value, filter, top N, units) as group-bys."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.chisels.registry import Arg, ChiselResult, chisel
from sysnb.chisels.table import fd_type_in, is_io, table_chisel


def _net(t: pa.Table) -> pa.ChunkedArray:
    return pc.and_(fd_type_in(t, "ipv4", "ipv6"), is_io(t))


def _file_io(t: pa.Table) -> pa.ChunkedArray:
    return pc.and_(fd_type_in(t, "file"), is_io(t))


def _failed(t: pa.Table) -> pa.ChunkedArray:
    return pc.fill_null(t["evt.failed"], False)


@chisel("topfiles_bytes", streams=True, category="I/O", short="Top files by R+W bytes",
        description="Shows the top files in terms of disk usage.")
def topfiles_bytes(t: pa.Table) -> ChiselResult:
    return table_chisel(t, ["fd.name"], ["Filename"], "bytes", "Bytes", _file_io(t), 10, "bytes")


@chisel("topfiles_time", streams=True, category="I/O", short="Top files by time",
        description="Shows the top files in terms of time spent reading and writing them.")
def topfiles_time(t: pa.Table) -> ChiselResult:
    return table_chisel(t, ["fd.name"], ["Filename"], "time", "Time", _file_io(t), 10, "time")


@chisel("topfiles_errors", streams=True, category="Errors", short="Top files by number of errors",
        description="Shows the top files in terms of I/O errors.")
def topfiles_errors(t: pa.Table) -> ChiselResult:
    mask = pc.and_(fd_type_in(t, "file"), _failed(t))
    return table_chisel(t, ["fd.name"], ["Filename"], "count", "#Errors", mask, 100, "none")


@chisel("topprocs_net", streams=True, category="Net", short="Top processes by network I/O",
        description="Shows the top processes in terms of network bandwidth usage.")
def topprocs_net(t: pa.Table) -> ChiselResult:
    return table_chisel(t, ["proc.name", "proc.pid"], ["Process", "PID"], "bytes", "Bytes", _net(t), 100, "bytes")


@chisel("topprocs_file", streams=True, category="I/O", short="Top processes by R+W disk bytes",
        description="Shows the top processes in terms of total (in+out) bytes to disk.")
def topprocs_file(t: pa.Table) -> ChiselResult:
    return table_chisel(t, ["proc.name", "proc.pid"], ["Process", "PID"], "bytes", "Bytes", _file_io(t), 10,
                        "bytes")


@chisel("topprocs_errors", streams=True, category="Errors", short="top processes by number of errors",
        description="Shows the top processes in terms of system call errors.")
def topprocs_errors(t: pa.Table) -> ChiselResult:
    return table_chisel(t, ["proc.name", "proc.pid"], ["Process", "PID"], "count", "#Errors", _failed(t), 100,
                        "none")


@chisel("topconns", streams=True, category="Net", short="Top network connections by total bytes",
        description="Shows the top network connections in terms of total (in+out) bandwidth.")
def topconns(t: pa.Table) -> ChiselResult:
    return table_chisel(t, ["fd.l4proto", "fd.name"], ["Proto", "Conn"], "bytes", "Bytes", _net(t), 30, "bytes")


@chisel("topports_server", streams=True, category="Net", short="Top TCP/UDP server ports by R+W bytes",
        description="Shows the top TCP/UDP server ports in terms of total (in+out) bandwidth.")
def topports_server(t: pa.Table) -> ChiselResult:
    return table_chisel(t, ["fd.sport"], ["Srv Port"], "bytes", "Bytes", _net(t), 100, "bytes")


@chisel("topscalls", streams=True, category="Performance", short="Top system calls by number of calls",
        description="Shows the top system calls in terms of number of calls.")
def topscalls(t: pa.Table) -> ChiselResult:
    mask = pc.fill_null(pc.not_equal(t["evt.type"].cast(pa.string()), "switch"), False)
    return table_chisel(t, ["evt.type"], ["Syscall"], "count", "# Calls", mask, 30, "none")


@chisel("topscalls_time", streams=True, category="Performance", short="Top system calls by time",
        description="Shows the top system calls in terms of time spent in them.")
def topscalls_time(t: pa.Table) -> ChiselResult:
    return table_chisel(t, ["evt.type"], ["Syscall"], "time", "Time", None, 30, "time")


_KEY = Arg("key", "The filter field used for grouping", "filter field")


@chisel("fdbytes_by", streams=True, category="I/O", short="I/O bytes, aggregated by an arbitrary filter field",
        args=[_KEY],
        description="Groups FD activity based on the given filter field, and returns the key that generated "
                    "the most input+output bytes. For example, this script can be used to list the processes or "
                    "TCP ports that generated most traffic.")
def fdbytes_by(t: pa.Table, key: str) -> ChiselResult:
    _need(t, key)
    mask = pc.and_(is_io(t), pc.invert(_failed(t)))
    return table_chisel(t, [key], [key], "bytes", "Bytes", mask, 30, "bytes")


@chisel("fdtime_by", streams=True, category="I/O", short="FD time group by", args=[_KEY],
        description="Groups FD activity based on the given filter field, and returns the keys where most time "
                    "was spent. For example, this script can be used to list the processes or TCP ports that "
                    "spent more time in I/O.")
def fdtime_by(t: pa.Table, key: str) -> ChiselResult:
    _need(t, key)
    return table_chisel(t, [key], [key], "time", "Time", is_io(t), 10, "time")


def _need(t: pa.Table, key: str) -> None:
    if key not in t.column_names:
        from sysnb.errors import UsageError

        raise UsageError(f"chisel key '{key}' is not a field sysnb can group by yet; try one of proc.name, "
                         "proc.pid, fd.name, fd.type, fd.sport, fd.cip, fd.sip, evt.type, user.name, container.id")


@chisel("fdcount_by", category="I/O", short="FD count, aggregated by an arbitrary filter field", args=[_KEY],
        description="Groups all the active FDs based on the given filter field, and returns the fd count for "
                    "each key. For example, it can be used to list the number of connections per process or per "
                    "IP endpoint.")
def fdcount_by(t: pa.Table, key: str) -> ChiselResult:
    _need(t, key)
    from sysnb.chisels.table import _key

    name = pc.fill_null(t["fd.name"].cast(pa.string()), "")
    keep = pc.and_(pc.and_(pc.is_valid(_key(t, key)), pc.greater(pc.fill_null(t["fd.num"], 0), 0)),
                   pc.not_equal(name, ""))
    rows = pa.table({"key": _key(t, key), "fd": t["fd.num"], "name": name}).filter(keep)
    distinct = rows.group_by(["key", "fd", "name"]).aggregate([])
    counts = distinct.group_by("key").aggregate([("fd", "count")]).rename_columns([key, "fds"])
    counts = counts.sort_by([("fds", "descending"), (key, "ascending")])
    return ChiselResult(counts, lambda: (f"{k}\t{c}" for k, c in zip(counts[key].to_pylist(),
                                                                       counts["fds"].to_pylist(), strict=True)))


def _in_container(t: pa.Table) -> pa.ChunkedArray:
    """container.name!=host (a missing name does not match, as in sysdig's filters)."""
    return pc.fill_null(pc.not_equal(t["container.name"].cast(pa.string()), "host"), False)


@chisel("topcontainers_file", category="I/O", short="Top containers by R+W disk bytes",
        description="Shows the top containers in terms of total (in+out) bytes to disk.")
def topcontainers_file(t: pa.Table) -> ChiselResult:
    return table_chisel(t, ["container.name"], ["container.name"], "bytes", "Bytes",
                        pc.and_(_file_io(t), _in_container(t)), 10, "bytes")


@chisel("topcontainers_net", category="Net", short="Top containers by network I/O",
        description="Sorted list of containers that use the most network bandwidth.")
def topcontainers_net(t: pa.Table) -> ChiselResult:
    return table_chisel(t, ["container.name"], ["container.name"], "bytes", "Bytes",
                        pc.and_(_net(t), _in_container(t)), 100, "bytes")


@chisel("topcontainers_error", category="Errors", short="Top containers by number of errors",
        description="Shows the top container in terms of system call errors.")
def topcontainers_error(t: pa.Table) -> ChiselResult:
    return table_chisel(t, ["container.name"], ["container.name"], "count", "#Errors",
                        pc.and_(_failed(t), _in_container(t)), 100, "none")

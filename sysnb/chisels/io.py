"""I/O chisels that echo data: echo_fds, stdin, stdout, stderr."""

from __future__ import annotations

import time
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.chisels.registry import Arg, ChiselResult, chisel
from sysnb.chisels.table import format_bytes, is_io
from sysnb.scap.events import ids_with_flag

READ_TYPES = pa.array(ids_with_flag("READS_FROM_FD"), pa.uint16())
_COLOR = Arg("disable_color", "Set to 'disable_colors' if you want to disable color output", "string", True)


def _esc(code: int, on: bool) -> str:
    return f"\x1b[{code}m" if on else ""


@chisel("echo_fds", raw=True,
        category="I/O", short="Print the data read and written by processes.", args=[_COLOR],
        description="Print the data read and written for any FD. Combine this script with a filter to restrict "
                    "what it shows.")
def echo_fds(events: pa.Table, disable_color: str | None = None) -> ChiselResult:
    from sysnb.format.output import Formatter

    color = disable_color != "disable_color"
    exit_ = pc.equal(events["evt.dir"].cast(pa.string()), "<")
    mask = pc.and_(pc.and_(is_io(events), exit_), pc.greater(pc.fill_null(events["evt.rawres"], 0), 0))
    rows = events.filter(pc.fill_null(mask, False))
    reads = pc.is_in(rows["sysnb.type_id"], value_set=READ_TYPES).to_pylist()
    data_lines = list(Formatter("%evt.arg.data").lines(rows))
    meta = rows.select(["evt.num", "evt.rawres", "fd.name", "proc.name"]).to_pylist()
    table = rows.select(["evt.num", "proc.name", "fd.name", "evt.rawres", "evt.buffer"]).append_column(
        "direction", pa.array(["read" if r else "write" for r in reads]))

    def text() -> Iterable[str]:
        for m, is_read, data in zip(meta, reads, data_lines, strict=True):
            c = _esc(31 if is_read else 34, color)
            verb, prep = ("Read", "from") if is_read else ("Write", "to")
            name = m["fd.name"] if m["fd.name"] is not None else "<NA>"
            pname = m["proc.name"] if m["proc.name"] is not None else "<NA>"  # libsinsp's unseen thread
            yield f"{c}------ {verb} {format_bytes(m['evt.rawres'])} {prep}  {c} {name} ({pname})"
            yield data
        yield _esc(0, color)
    return ChiselResult(table, text)


def _std(events: pa.Table, fd: int) -> ChiselResult:
    mask = pc.and_(pc.equal(pc.fill_null(events["fd.num"], -1), fd), is_io(events))
    rows = events.filter(mask).select(["evt.num", "proc.name", "evt.buffer"])
    rows = rows.filter(pc.is_valid(rows["evt.buffer"]))

    def text() -> Iterable[str]:
        for b in rows["evt.buffer"].to_pylist():
            yield b.decode("utf-8", "surrogateescape")
    return ChiselResult(rows, text)


@chisel("stdout", category="I/O", short="Print stdout of processes",
        description="Print the standard output of any process on screen. Combine this script with a filter "
                    "to limit the output to a specific process or pid.")
def stdout(events: pa.Table) -> ChiselResult:
    return _std(events, 1)


@chisel("stdin", category="I/O", short="Print stdin of processes",
        description="Print the standard input of any process on screen. Combine this script with a filter to "
                    "limit the output to a specific process or pid.")
def stdin(events: pa.Table) -> ChiselResult:
    return _std(events, 0)


@chisel("stderr", category="I/O", short="Print stderr of processes",
        description="Print the standard error of any process on screen. Combine this script with a filter to "
                    "limit the output to a specific process or pid.")
def stderr(events: pa.Table) -> ChiselResult:
    return _std(events, 2)


def _spy(events: pa.Table, mask: pa.ChunkedArray, write_word: str) -> ChiselResult:
    """spy_ip/spy_port: the data of socket I/O, with a header line on every event (the Lua chisel's
    header only changes when the direction changes, and says "Read" for writes too — reproduced)."""
    from sysnb.format.output import Formatter

    sock = pc.fill_null(pc.is_in(events["fd.type"].cast(pa.string()), value_set=pa.array(["ipv4", "ipv6"])), False)
    rows = events.filter(pc.and_(pc.and_(is_io(events), sock), mask))
    rows = rows.filter(pc.and_(pc.greater(pc.fill_null(rows["evt.rawres"], 0), 0), pc.is_valid(rows["evt.buffer"])))
    reads = pc.is_in(rows["sysnb.type_id"], value_set=READ_TYPES).to_pylist()
    data = list(Formatter("%evt.arg.data").lines(rows))
    res = rows["evt.rawres"].to_pylist()

    def text() -> Iterable[str]:
        direction, info = None, ""
        for is_read, r, d in zip(reads, res, data, strict=True):
            if is_read and direction != "r":
                info, direction = f"\x1b[31m------ Read {format_bytes(r)}", "r"
            elif not is_read and direction != "w":
                info, direction = f"\x1b[34m------ {write_word} {format_bytes(r)}", "w"
            yield info
            yield d
        yield "\x1b[0m"
    return ChiselResult(rows.select(["evt.num", "proc.name", "fd.name", "evt.rawres", "evt.buffer"]), text)


def _either(events: pa.Table, a: str, b: str, value: object) -> pa.ChunkedArray:
    def eq(col: str) -> pa.ChunkedArray:
        c = events[col]
        c = c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c
        return pc.fill_null(pc.equal(c, pa.scalar(value, c.type)), False)
    return pc.or_(eq(a), eq(b))


@chisel("spy_ip", raw=True,
        category="Net", short="Show the data exchanged with the given IP address",
        args=[Arg("host_ip", "the remote host IP address", "ip")],
        description="shows the network payloads exchanged with an IP endpoint. You can combine this chisel with "
                    "the -x, -X or -A sysdig command line switches to customize the screen output")
def spy_ip(events: pa.Table, host_ip: str) -> ChiselResult:
    return _spy(events, _either(events, "fd.sip", "fd.cip", host_ip), "Read")  # sic: the Lua chisel says Read


@chisel("spy_port", raw=True,
        category="Net", short="Show the data exchanged using the given IP port number",
        args=[Arg("host_port", "the remote host IP port number", "int")],
        description="shows the network payloads exchanged using a given IP port number. You can combine this "
                    "chisel with the -x, -X or -A sysdig command line switches to customize the screen output")
def spy_port(events: pa.Table, host_port: int) -> ChiselResult:
    return _spy(events, _either(events, "fd.sport", "fd.cport", host_port), "Write")


def _io_intervals(events: pa.Table, fd_types: tuple[str, ...] | None) -> ChiselResult:
    """iobytes*: like sysdig's 1 s chisel intervals: every event whose second differs from the previous event's
    prints the bytes read/written by the I/O events before it (since the previous print), stamped with its own
    time; the seconds after the last such event are never printed."""
    import numpy as np

    ts = events["evt.rawtime"].to_numpy().astype(np.int64)
    mask = is_io(events)
    if fd_types is not None:
        mask = pc.and_(mask, pc.fill_null(pc.is_in(events["fd.type"].cast(pa.string()),
                                                   value_set=pa.array(fd_types)), False))
    res = pc.fill_null(events["evt.rawres"], 0).to_numpy(zero_copy_only=False)
    counted = mask.to_numpy(zero_copy_only=False) & (res > 0)
    reads = pc.is_in(events["sysnb.type_id"], value_set=READ_TYPES).to_numpy(zero_copy_only=False)
    bytes_in = np.where(counted & reads, res, 0)
    bytes_out = np.where(counted & ~reads, res, 0)
    sec = ts // 1_000_000_000
    fire = np.flatnonzero(sec[1:] != sec[:-1]) + 1 if len(sec) > 1 else np.zeros(0, np.int64)
    cin = np.concatenate(([0], np.cumsum(bytes_in)))
    cout = np.concatenate(([0], np.cumsum(bytes_out)))
    starts = np.concatenate(([0], fire[:-1])) if len(fire) else fire
    din, dout = cin[fire] - cin[starts], cout[fire] - cout[starts]
    stamps = [time.strftime("%H:%M:%S", time.localtime(int(s))) for s in sec[fire]]
    table = pa.table({"time": stamps, "in": din, "out": dout, "tot": din + dout})

    def text() -> Iterable[str]:
        for t, i, o in zip(stamps, din.tolist(), dout.tolist(), strict=True):
            yield f"{t} in:{i} out:{o} tot:{i + o}"
    return ChiselResult(table, text)


@chisel("iobytes", category="I/O", short="Sum of I/O bytes on any type of FD",
        description="Counts the total bytes read from and written to any type of FD (disk, socket, pipe...) and "
                    "prints the result every second.")
def iobytes(events: pa.Table) -> ChiselResult:
    return _io_intervals(events, None)


@chisel("iobytes_file", category="I/O", short="Sum of file I/O bytes",
        description="Counts the total bytes read from and written to files, and prints the result every second.")
def iobytes_file(events: pa.Table) -> ChiselResult:
    return _io_intervals(events, ("file",))


@chisel("iobytes_net", category="Net", short="Show total network I/O bytes",
        description="Counts the total bytes read from and written to the network, and prints the result every "
                    "second")
def iobytes_net(events: pa.Table) -> ChiselResult:
    return _io_intervals(events, ("ipv4", "ipv6"))


@chisel("spy_file", category="I/O", raw=True,
        short="Echo any read/write made by any process to all files. Optionally, you can provide the name of one "
              "file to only intercept reads/writes to that file.",
        args=[Arg("read_or_write", "Specify 'R' to capture only read events; 'W' to capture only write events; 'RW' "
                  "to capture read and write events. By default both read and write events are captured.", "string",
                  True),
              Arg("spy_on_file_name", "The name of the file which the chisel should spy on for all read and write "
                  "activity.", "string", True)],
        description="This chisel intercepts all reads and writes to all files. Instead of all files, you can limit "
                    "interception to one file.")
def spy_file(events: pa.Table, read_or_write: str | None = None, spy_on_file_name: str | None = None) -> ChiselResult:
    """``TIME NAME(PID) R|W BYTES FILE DATA`` for each successful file read/write (data as printable ASCII)."""
    from sysnb.format.args import BUF_ASCII
    from sysnb.format.output import Formatter

    name = pc.fill_null(events["fd.name"].cast(pa.string()), "")
    if spy_on_file_name:
        where = pc.equal(name, spy_on_file_name)
    else:  # not fd.name contains /dev/pt and not fd.name contains /dev/tty (a missing name passes)
        where = pc.invert(pc.or_(pc.match_substring(name, "/dev/pt"), pc.match_substring(name, "/dev/tty")))
    reads = pc.is_in(events["sysnb.type_id"], value_set=READ_TYPES)
    kind = {"r": pc.and_(is_io(events), reads), "w": pc.and_(is_io(events), pc.invert(reads))}.get(
        (read_or_write or "").lower(), is_io(events))
    exits = pc.equal(events["evt.dir"].cast(pa.string()), "<")
    ok = pc.and_(exits, pc.invert(pc.fill_null(events["evt.failed"], True)))
    file = pc.fill_null(pc.equal(events["fd.type"].cast(pa.string()), "file"), False)
    rows = events.filter(pc.and_(pc.and_(pc.fill_null(where, True), kind), pc.and_(ok, file)))
    lines = list(Formatter("*%evt.time %proc.name(%proc.pid)", first_ts=0).lines(rows))
    data = list(Formatter("*%evt.arg.data", bufmode=BUF_ASCII).lines(rows))
    is_read = pc.is_in(rows["sysnb.type_id"], value_set=READ_TYPES).to_pylist()
    res, names = rows["evt.rawres"].to_pylist(), rows["fd.name"].cast(pa.string()).to_pylist()

    def text() -> Iterable[str]:
        for head, r, n, rd, d in zip(lines, res, names, is_read, data, strict=True):
            yield f"{head} {'R' if rd else 'W'} {format_bytes(r)} {n} {d}"
    return ChiselResult(rows.select(["evt.num", "proc.name", "proc.pid", "fd.name", "evt.rawres", "evt.buffer"]), text)


UDP_DUMP_DIR = "udp_dump_files"


@chisel("udp_extract", category="I/O", short="extract data from UDP streams to files.", raw=True,
        description="This chisel parses a trace file, identifies file descriptors carrying UDP network traffic "
                    "(DNS excluded) and dumps the content of each FD into a different file in the "
                    "./udp_dump_files directory. Files are named after the UDP tuple they contain.")
def udp_extract(events: pa.Table) -> ChiselResult:
    """Successful UDP reads/writes, concatenated per fd.name into ./udp_dump_files/<tuple with : -> _ and
    > -> ->. (The Lua chisel's "DNS excluded" is only in its description: it dumps DNS too, and so do we.)"""
    import os

    udp = pc.fill_null(pc.equal(events["fd.l4proto"].cast(pa.string()), "udp"), False)
    ok = pc.and_(pc.equal(events["evt.dir"].cast(pa.string()), "<"),
                 pc.fill_null(pc.greater_equal(events["evt.rawres"], 0), False))
    rows = events.filter(pc.and_(pc.and_(udp, ok), is_io(events)))
    rows = rows.filter(pc.is_valid(rows["evt.buffer"]))
    names = rows["fd.name"].cast(pa.string()).to_pylist()
    out: dict[str, list[bytes]] = {}
    for name, data in zip(names, rows["evt.buffer"].to_pylist(), strict=True):
        out.setdefault(name or "", []).append(data)
    os.makedirs(UDP_DUMP_DIR, exist_ok=True)
    files = []
    for name, chunks in out.items():
        path = os.path.join(UDP_DUMP_DIR, name.replace(":", "_").replace(">", "-"))
        with open(path, "wb") as f:
            f.write(b"".join(chunks))
        files.append((name, path, sum(len(c) for c in chunks)))
    table = pa.table({"fd.name": [f[0] for f in files], "file": [f[1] for f in files],
                      "bytes": pa.array([f[2] for f in files], pa.int64())})
    return ChiselResult(table, lambda: iter(()))

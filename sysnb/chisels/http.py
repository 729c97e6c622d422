"""HTTP chisels: httplog, httptop (sysdig's http.lua request/response pairing per (pid, fd)).

The Lua patterns run on evt.buffer as sysdig renders it (non-printable bytes as dots): a request is
``^(%u+) (%g+)`` (+ ``Host: (%g+)%.%.``), a response ``HTTP/[%g]+ (%d+)`` (+ ``Content%-Length: (%d+)%.%.``).
Which buffers can match at all is decided on the whole column; the pairing state machine then walks those
rows only (an event that matches neither pattern cannot change the state).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.chisels.io import READ_TYPES
from sysnb.chisels.registry import Arg, ChiselResult, chisel
from sysnb.chisels.table import fd_type_in, is_io, render
from sysnb.errors import UsageError
from sysnb.format.output import date_time
from sysnb.format.values import buffer_dots

_GRAPH = r"[\x21-\x7e]"
REQUEST = re.compile(rf"^([A-Z]+) ({_GRAPH}+)")
HOST = re.compile(rf"Host: ({_GRAPH}+)\.\.")
RESPONSE = re.compile(rf"HTTP/{_GRAPH}+ ([0-9]+)")
LENGTH = re.compile(r"Content-Length: ([0-9]+)\.\.")


@dataclass
class Transaction:
    method: str
    url: str
    direction: str
    request_ts: int
    code: int = 0
    length: int = 0
    response_ts: int = 0
    response_num: int = 0


def transactions(events: pa.Table) -> list[Transaction]:
    """Completed request/response pairs in the order their responses were seen."""
    socket = fd_type_in(events, "ipv4", "ipv6", "unix")
    io = pc.and_(pc.and_(is_io(events), socket), pc.fill_null(pc.greater(events["evt.buflen"], 0), False))
    rows = events.filter(pc.and_(io, pc.is_valid(events["evt.buffer"])))
    maybe = pc.match_substring_regex(rows["evt.buffer"], r"^[A-Z]+ |HTTP/")
    rows = rows.filter(pc.fill_null(maybe, False))
    reads = pc.is_in(rows["sysnb.type_id"], value_set=READ_TYPES).to_pylist()
    cols = rows.select(["evt.num", "evt.rawtime", "proc.pid", "fd.num", "evt.buffer"]).to_pydict()
    open_: dict[tuple[int, int], Transaction] = {}
    done: list[Transaction] = []
    for i, data in enumerate(cols["evt.buffer"]):
        key = (cols["proc.pid"][i], cols["fd.num"][i])
        buf = buffer_dots(data)
        ts = cols["evt.rawtime"][i]
        tr = open_.get(key)
        if tr is None:
            req = REQUEST.match(buf)
            if req:
                host = HOST.search(buf)
                url = (host.group(1) if host else "") + req.group(2)
                open_[key] = Transaction(req.group(1), url, "<" if reads[i] else ">", ts)
        elif resp := RESPONSE.search(buf):
            length = LENGTH.search(buf)
            tr.code, tr.length = int(resp.group(1)), int(length.group(1)) if length else 0
            tr.response_ts, tr.response_num = ts, cols["evt.num"][i]
            done.append(tr)
            del open_[key]
    return done


def _table(done: list[Transaction]) -> pa.Table:
    return pa.table({"evt.num": [t.response_num for t in done], "evt.rawtime": [t.response_ts for t in done],
                     "direction": [t.direction for t in done], "method": [t.method for t in done],
                     "url": [t.url for t in done], "response_code": [t.code for t in done],
                     # Lua subtracts the timestamps as doubles (256 ns steps at today's epoch): so do we
                     "latency_ns": [float(t.response_ts) - float(t.request_ts) for t in done],
                     "size": [t.length for t in done]})


@chisel("httplog", category="Application", short="HTTP requests log", raw=True,
        description="Show a log of all HTTP requests")
def httplog(events: pa.Table) -> ChiselResult:
    table = _table(transactions(events))

    def text() -> Iterable[str]:
        for r in table.to_pylist():
            yield (f"{date_time(r['evt.rawtime'])} {r['direction']} method={r['method']} url={r['url']} "
                   f"response_code={r['response_code']} "
                   f"latency={int(r['latency_ns'] / 1_000_000)}ms size={r['size']}B")
    return ChiselResult(table, text)


@chisel("httptop", category="Application", short="Top HTTP requests", raw=True,
        args=[Arg("by", "Show top HTTP transactions by: ncalls, time or bytes, default is ncalls", "string", True)],
        description="Show top HTTP requests by: ncalls, time or bytes")
def httptop(events: pa.Table, by: str | None = None) -> ChiselResult:
    by = by or "ncalls"
    if by not in ("ncalls", "time", "bytes"):
        raise UsageError("Invalid argument! Valid options: ncalls, bytes, time")
    log = _table(transactions(events))
    grouped = log.group_by(["method", "url"]).aggregate([("evt.num", "count"), ("size", "sum"), ("latency_ns", "sum")])
    grouped = grouped.rename_columns(["method", "url", "ncalls", "bytes", "time"])
    if by == "time":  # the mean as Lua computes it: the exact integer total / the number of calls
        grouped = grouped.set_column(4, "time", pc.divide(pc.cast(grouped["time"], pa.float64()),
                                                          pc.cast(grouped["ncalls"], pa.float64())))
    grouped = grouped.select(["method", "url", by]).rename_columns(["method", "url", "value"])
    grouped = grouped.sort_by([("value", "descending"), ("method", "ascending"), ("url", "ascending")]).slice(0, 30)
    units = {"ncalls": "none", "bytes": "bytes", "time": "time"}[by]
    return ChiselResult(grouped, lambda: render(grouped, ["method", "url"], ["method", "url"], by, units))

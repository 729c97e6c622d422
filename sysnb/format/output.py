"""Text output of events exactly as sysdig prints it: the default line, ``-p`` formats, buffers, JSON.

Columns are pulled from the Arrow table once per batch; per-row work is string
assembly only (the output itself is per line).
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.derived import DERIVED
from sysnb.errors import UsageError
from sysnb.exprs import project
from sysnb.fields import FIELDS
from sysnb.format.args import BUF_ASCII, BUF_HEXASCII, BUF_JSON, BUF_NORMAL
from sysnb.format.values import buffer_ascii, buffer_dots, buffer_hex, buffer_normal
from sysnb.scap.events import GENERIC_E, GENERIC_X, event_info, syscall_name

DEFAULT_FORMAT = "*%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info"
_TOKEN = re.compile(r"%(\*?)([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)*(?:\[[^\]]*\])?)")
NA = "<NA>"


@dataclass(frozen=True)
class Segment:
    literal: str
    field: str | None


def parse_format(fmt: str) -> tuple[bool, list[Segment]]:
    """Split a sysdig format string into literals and fields; a leading ``*`` prints rows with missing fields."""
    print_all = fmt.startswith("*")
    if print_all:
        fmt = fmt[1:]
    fmt = fmt.replace("\\n", "\n").replace("\\t", "\t")
    segs: list[Segment] = []
    pos = 0
    for m in _TOKEN.finditer(fmt):
        if m.start() > pos:
            segs.append(Segment(fmt[pos:m.start()], None))
        name = m.group(2)
        _check_field(name, fmt, m.start())
        segs.append(Segment("", name))
        pos = m.end()
    if pos < len(fmt):
        segs.append(Segment(fmt[pos:], None))
    return print_all, segs


def _check_field(name: str, fmt: str, col: int) -> None:
    base = name.split("[", 1)[0]
    if base in FIELDS:
        return
    for prefix in ("evt.arg.", "evt.rawarg."):
        if base.startswith(prefix) and len(base) > len(prefix):
            return
    import difflib

    close = difflib.get_close_matches(base, list(FIELDS), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `sysnb -l` lists the fields"
    raise UsageError(f"invalid formatting token %{name} at column {col + 1} of '{fmt}'{hint}")


class Formatter:
    """Formats rows of a capture table as text lines."""

    def __init__(self, fmt: str = DEFAULT_FORMAT, bufmode: str = BUF_NORMAL, first_ts: int = 0) -> None:
        self.print_all, self.segments = parse_format(fmt)
        self.bufmode = bufmode
        self.first_ts = first_ts
        names = {s.field for s in self.segments if s.field}
        need = {"evt.args", "sysnb.type_id", "sysnb.info"} | {n for n in names if n not in DERIVED} | _DERIVED_NEEDS
        need |= {c for n in names if n in DERIVED for c in DERIVED[n][1]}  # what computed fields read
        need |= {"sysnb." + n.split(".")[1].split("[")[0] for n in names if n.startswith(_ANCESTOR)}
        raw_args = any(n.startswith(("evt.arg", "evt.rawarg")) for n in names)
        if bufmode != BUF_NORMAL or raw_args or "evt.buffer" in names:
            need |= {"evt.buffer", "sysnb.params"}  # re-rendering buffers / generic arguments needs raw values
        self.columns = frozenset(need)
        self.vectorised = fmt == DEFAULT_FORMAT and bufmode == BUF_NORMAL

    def lines(self, table: pa.Table) -> Iterator[str]:
        if self.vectorised:
            yield from default_lines(table)
            return
        need = self.columns
        derived = {n: DERIVED[n][0]() for s in self.segments if (n := s.field or "") in DERIVED}
        for batch in table.to_batches(max_chunksize=65536):
            cols = {c: batch.column(c).to_pylist() for c in need if c in batch.schema.names}
            if derived:  # computed column-wise with the same expressions filters use
                projected = project(pa.Table.from_batches([batch]), derived)
                cols.update({n: projected.column(n).to_pylist() for n in derived})
            for i in range(batch.num_rows):
                line = self._line(cols, i)
                if line is not None:
                    yield line

    def _line(self, cols: dict[str, list[Any]], i: int) -> str | None:
        out = []
        for s in self.segments:
            if s.field is None:
                out.append(s.literal)
                continue
            v = self.value(s.field, cols, i)
            if v is None:
                if not self.print_all:
                    return None
                v = NA
            out.append(v)
        return "".join(out)

    def value(self, name: str, cols: dict[str, list[Any]], i: int) -> str | None:
        fn = _DERIVED.get(name)
        if fn is not None:
            derived: str | None = fn(self, cols, i)
            return derived
        if name.startswith("evt.arg.") or name.startswith("evt.arg["):
            return _arg_value(cols, i, name, self)
        if name.startswith("evt.rawarg."):
            return _rawarg_value(cols, i, name[len("evt.rawarg."):])
        if name.startswith(_ANCESTOR):
            return _ancestor(cols, i, name)
        v = _col(cols, name, i)
        if v is None:
            return placeholder(name, cols, i)
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    def args(self, cols: dict[str, list[Any]], i: int) -> str:
        """evt.args; with -A/-X/-x every byte-buffer argument is re-rendered in that mode, uncut, as sysdig does."""
        s: str = cols["evt.args"][i] or ""
        if self.bufmode == BUF_NORMAL or not s:
            return s
        type_id = cols["sysnb.type_id"][i]
        bufs = _bytebuf_params(type_id)
        if not bufs:
            return s
        raw = cols["sysnb.params"][i] or []
        parts = _split_args(s, type_id)
        out = []
        for name, value in parts.items():
            k = bufs.get(name)
            if k is not None and k < len(raw) and raw[k]:
                value = self._buffer(raw[k])
            out.append(f"{name}={value} ")
        return "".join(out)

    def render_buffer(self, data: bytes) -> str:
        """A byte buffer as the data argument shows it (dots, cut at 80 characters in normal output)."""
        return buffer_normal(data) if self.bufmode == BUF_NORMAL else self._buffer(data)

    def _buffer(self, data: bytes) -> str:
        if self.bufmode == BUF_JSON:
            return buffer_dots(data)
        if self.bufmode == BUF_ASCII:
            return buffer_ascii(data)
        return buffer_hex(data, self.bufmode == BUF_HEXASCII)


@functools.cache
def _bytebuf_params(type_id: int) -> dict[str, int]:
    """Names and positions of the byte-buffer parameters of an event type (2022 table)."""
    info = event_info(type_id)
    if info is None:
        return {}
    return {p[0]: k for k, p in enumerate(info.params_2022) if p[1] == "BYTEBUF"}


#: text fields that libsinsp sets to "<NA>" on the placeholder threads it invents for unknown tids
_PLACEHOLDER_FIELDS = frozenset({"proc.name", "proc.exe", "proc.args"})


def placeholder(name: str, cols: dict[str, list[Any]], i: int) -> str | None:
    """The table keeps unknown values null; sysdig prints "<NA>" as the *value* for placeholder threads
    (they have a pid), and treats the field as missing only when there is no thread at all."""
    if name in _PLACEHOLDER_FIELDS and _col(cols, "proc.pid", i) is not None:
        return NA
    if name == "fd.l4proto" and _col(cols, "fd.type", i) is not None:
        return NA  # libsinsp's value for a known fd without a protocol
    return None


def _col(cols: dict[str, list[Any]], name: str, i: int) -> Any:
    """Row ``i`` of a column, None when the column was not loaded."""
    c = cols.get(name)
    return None if c is None else c[i]


def clock_time(ts: int) -> str:
    """Local time of day with nanoseconds, as sysdig prints it (set TZ=UTC for UTC)."""
    return time.strftime("%H:%M:%S", time.localtime(ts // 1_000_000_000)) + f".{ts % 1_000_000_000:09d}"


def date_time(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts // 1_000_000_000)) + f".{ts % 1_000_000_000:09d}"


def default_lines(table: pa.Table) -> Iterator[str]:
    """sysdig's default line for every row, built column-wise:
    ``%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info``."""
    for batch in table.to_batches(max_chunksize=65536):
        if batch.num_rows == 0:
            continue
        ts = batch.column("evt.rawtime").to_numpy(zero_copy_only=False).astype(np.int64)
        secs = ts // 1_000_000_000
        offset = time.localtime(int(secs[0])).tm_gmtoff  # the capture's span rarely crosses a DST change
        sod = (secs + offset) % 86400
        clock = [f"{h:02d}:{m:02d}:{s:02d}.{n:09d}" for h, m, s, n in
                 zip((sod // 3600).tolist(), (sod // 60 % 60).tolist(), (sod % 60).tolist(),
                     (ts % 1_000_000_000).tolist(), strict=True)]
        name = pc.fill_null(batch.column("proc.name").cast(pa.string()), NA)
        info = pc.coalesce(batch.column("sysnb.info"), batch.column("evt.args"), pa.scalar("", pa.string()))
        parts = [batch.column("evt.num").cast(pa.string()), pa.array(clock, pa.string()),
                 batch.column("evt.cpu").cast(pa.string()), name,
                 pc.binary_join_element_wise("(", batch.column("thread.tid").cast(pa.string()), ")", ""),
                 batch.column("evt.dir").cast(pa.string()), batch.column("evt.type").cast(pa.string()), info]
        yield from pc.binary_join_element_wise(*parts, " ").to_pylist()


def _ts(cols: dict[str, list[Any]], i: int) -> int:
    return int(cols["evt.rawtime"][i])


def _latency_part(div: bool) -> Any:
    def fn(f: Formatter, cols: dict[str, list[Any]], i: int) -> str | None:
        v: int | None = cols["evt.latency"][i]
        if v is None:
            return None
        return str(v // 1_000_000_000) if div else f"{v % 1_000_000_000:09d}"
    return fn


_DERIVED: dict[str, Any] = {
    "evt.time": lambda f, c, i: clock_time(_ts(c, i)),
    "evt.outputtime": lambda f, c, i: clock_time(_ts(c, i)),
    "evt.time.s": lambda f, c, i: clock_time(_ts(c, i))[:8],
    "evt.datetime": lambda f, c, i: date_time(_ts(c, i)),
    "evt.rawtime.s": lambda f, c, i: str(_ts(c, i) // 1_000_000_000),
    "evt.rawtime.ns": lambda f, c, i: f"{_ts(c, i) % 1_000_000_000:09d}",  # sysdig pads these to 9 digits
    "evt.reltime": lambda f, c, i: f"{_ts(c, i) - f.first_ts:09d}",
    "evt.info": lambda f, c, i: c["sysnb.info"][i] or f.args(c, i),
    "evt.buffer": lambda f, c, i: None if c["evt.buffer"][i] is None else f.render_buffer(c["evt.buffer"][i]),
    "evt.args": lambda f, c, i: f.args(c, i),
    "evt.latency.s": _latency_part(True),
    "evt.latency.ns": _latency_part(False),
}
_DERIVED_NEEDS = {"evt.rawtime", "proc.name", "proc.args", "proc.pid", "fd.name", "fd.type", "evt.latency",
                  "evt.num", "evt.cpu", "thread.tid", "evt.dir", "evt.type"}


_ANCESTOR = ("proc.aname[", "proc.apid[")


def _ancestor(cols: dict[str, list[Any]], i: int, name: str) -> str | None:
    """proc.aname[N] / proc.apid[N]: the Nth ancestor's name or pid, as the state engine recorded it."""
    field, _, index = name.partition("[")
    try:
        n = int(index.rstrip("]"))
    except ValueError:
        return None
    chain = cols["sysnb." + field.split(".")[1]][i]
    return None if chain is None or n < 0 or n >= len(chain) else str(chain[n])


def _split_args(args: str, type_id: int) -> dict[str, str]:
    """Split a rendered evt.args string back into name -> value, using the event's parameter names."""
    info = event_info(type_id)
    if info is None or not args:
        return {}
    names = [p[0] for p in info.params_2022]
    out: dict[str, str] = {}
    pos = 0
    for k, n in enumerate(names):
        key = n + "="
        if not args.startswith(key, pos):
            break
        start = pos + len(key)
        end = len(args) - 1
        if k + 1 < len(names):
            nxt = args.find(" " + names[k + 1] + "=", start)
            end = nxt if nxt >= 0 else end
        out[n] = args[start:end]
        pos = end + 1
    return out


#: parameter types whose rendering may carry a "(resolved)" part
RESOLVABLE = frozenset({"FD", "PID", "ERRNO", "FSPATH", "FSRELPATH", "FLAGS8", "FLAGS16", "FLAGS32", "MODE",
                         "UID", "GID", "SYSCALLID", "SIGTYPE", "RELTIME"})


def _arg_value(cols: dict[str, list[Any]], i: int, name: str, f: Formatter) -> str | None:
    """evt.arg.NAME / evt.arg[N]: the resolved value when the argument has one, else its value (libsinsp)."""
    type_id = cols["sysnb.type_id"][i]
    if type_id in (GENERIC_E, GENERIC_X):
        return _generic_arg(cols, i, name)
    parsed = _split_args(f.args(cols, i), type_id)
    info = event_info(type_id)
    types = {p[0]: p[1] for p in info.params_2022} if info is not None else {}
    if name.startswith("evt.arg["):
        try:
            k = int(name[len("evt.arg["):-1])
        except ValueError:
            return None
        keys = list(parsed)
        if k >= len(keys):
            return None
        arg = keys[k]
    else:
        arg = name[len("evt.arg."):]
    v = parsed.get(arg)
    if v is None or types.get(arg) not in RESOLVABLE or not v.endswith(")"):
        return v
    open_at = v.find("(")
    return v[open_at + 1:-1] if open_at > 0 and v[open_at + 1:-1] else v


def _generic_arg(cols: dict[str, list[Any]], i: int, name: str) -> str | None:
    """Generic syscall events print no arguments, but evt.arg.ID is the syscall's name, nativeID its number."""
    raw = cols["sysnb.params"][i] or []
    arg = {"evt.arg[0]": "ID", "evt.arg[1]": "nativeID"}.get(name, name[len("evt.arg."):])
    if arg == "ID" and raw and len(raw[0]) == 2:
        return syscall_name(int.from_bytes(raw[0], "little"))
    if arg == "nativeID" and len(raw) > 1 and len(raw[1]) == 2:
        return str(int.from_bytes(raw[1], "little"))
    return None


def _rawarg_value(cols: dict[str, list[Any]], i: int, arg: str) -> str | None:
    parsed = _split_args(cols["evt.args"][i] or "", cols["sysnb.type_id"][i])
    v = parsed.get(arg)
    if v is None:
        return None
    return v.split("(", 1)[0] if v.endswith(")") else v


def json_line(cols: dict[str, list[Any]], i: int, f: Formatter) -> str:
    """sysdig -j: one JSON object per event, keys sorted as sysdig's JSON writer does."""
    obj = {
        "evt.cpu": cols["evt.cpu"][i],
        "evt.dir": cols["evt.dir"][i],
        "evt.info": cols["sysnb.info"][i] or f.args(cols, i),
        "evt.num": cols["evt.num"][i],
        "evt.outputtime": cols["evt.rawtime"][i],
        "evt.type": cols["evt.type"][i],
        "proc.name": cols["proc.name"][i] or placeholder("proc.name", cols, i),
        "thread.tid": cols["thread.tid"][i],
    }
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


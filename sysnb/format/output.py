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

import pyarrow as pa

from sysnb.errors import UsageError
from sysnb.fields import FIELDS
from sysnb.format.args import BUF_ASCII, BUF_HEX, BUF_HEXASCII, BUF_JSON, BUF_NORMAL
from sysnb.format.values import buffer_ascii, buffer_dots, buffer_hex
from sysnb.scap.events import event_info

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

    def __init__(self, fmt: str = DEFAULT_FORMAT, bufmode: str = BUF_NORMAL, max_buf: int = 80,
                 first_ts: int = 0) -> None:
        self.print_all, self.segments = parse_format(fmt)
        self.bufmode = bufmode
        self.max_buf = max_buf
        self.first_ts = first_ts
        names = {s.field for s in self.segments if s.field}
        need = {"evt.args", "evt.buffer", "sysnb.type_id", "sysnb.params", "sysnb.info"}
        need |= {_column_of(n) for n in names} | _DERIVED_NEEDS
        self.columns = frozenset(need)

    def lines(self, table: pa.Table) -> Iterator[str]:
        need = self.columns
        for batch in table.to_batches(max_chunksize=65536):
            cols = {c: batch.column(c).to_pylist() for c in need if c in batch.schema.names}
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
        v = cols.get(name, [None] * (i + 1))[i]
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
    if name in _PLACEHOLDER_FIELDS and cols.get("proc.pid", [None] * (i + 1))[i] is not None:
        return NA
    if name == "fd.l4proto" and cols.get("fd.type", [None] * (i + 1))[i] is not None:
        return NA  # libsinsp's value for a known fd without a protocol
    return None


def _column_of(name: str) -> str:
    return {"proc.cmdline": "proc.name", "fd.directory": "fd.name", "fd.filename": "fd.name"}.get(name, name)


def _clock(ts: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts // 1_000_000_000)) + f".{ts % 1_000_000_000:09d}"


def _date(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts // 1_000_000_000)) + f".{ts % 1_000_000_000:09d}"


def _ts(cols: dict[str, list[Any]], i: int) -> int:
    return int(cols["evt.rawtime"][i])


def _cmdline(f: Formatter, cols: dict[str, list[Any]], i: int) -> str | None:
    name, args = cols["proc.name"][i], cols.get("proc.args", [None] * (i + 1))[i]
    if name is None:
        return None
    return f"{name} {args}" if args else name


def _fd_dir(f: Formatter, cols: dict[str, list[Any]], i: int) -> str | None:
    n, t = cols["fd.name"][i], cols.get("fd.type", [None] * (i + 1))[i]
    if n is None or t not in ("file", "directory"):
        return None
    return str(n) if t == "directory" else (str(n).rsplit("/", 1)[0] or "/")


def _fd_file(f: Formatter, cols: dict[str, list[Any]], i: int) -> str | None:
    n, t = cols["fd.name"][i], cols.get("fd.type", [None] * (i + 1))[i]
    if n is None or t != "file":
        return None
    return str(n).rsplit("/", 1)[-1]


def _latency_part(div: bool) -> Any:
    def fn(f: Formatter, cols: dict[str, list[Any]], i: int) -> str | None:
        v: int | None = cols["evt.latency"][i]
        if v is None:
            return None
        return str(v // 1_000_000_000 if div else v % 1_000_000_000)
    return fn


_DERIVED: dict[str, Any] = {
    "evt.time": lambda f, c, i: _clock(_ts(c, i)),
    "evt.outputtime": lambda f, c, i: _clock(_ts(c, i)),
    "evt.time.s": lambda f, c, i: _clock(_ts(c, i))[:8],
    "evt.datetime": lambda f, c, i: _date(_ts(c, i)),
    "evt.rawtime.s": lambda f, c, i: str(_ts(c, i) // 1_000_000_000),
    "evt.rawtime.ns": lambda f, c, i: str(_ts(c, i) % 1_000_000_000),
    "evt.reltime": lambda f, c, i: str(_ts(c, i) - f.first_ts),
    "evt.info": lambda f, c, i: c["sysnb.info"][i] or f.args(c, i),
    "evt.args": lambda f, c, i: f.args(c, i),
    "evt.latency.s": _latency_part(True),
    "evt.latency.ns": _latency_part(False),
    "proc.cmdline": _cmdline,
    "fd.directory": _fd_dir,
    "fd.filename": _fd_file,
}
_DERIVED_NEEDS = {"evt.rawtime", "proc.name", "proc.args", "proc.pid", "fd.name", "fd.type", "evt.latency"}


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


def _arg_value(cols: dict[str, list[Any]], i: int, name: str, f: Formatter) -> str | None:
    parsed = _split_args(f.args(cols, i), cols["sysnb.type_id"][i])
    if name.startswith("evt.arg["):
        try:
            k = int(name[len("evt.arg["):-1])
        except ValueError:
            return None
        vals = list(parsed.values())
        return vals[k] if k < len(vals) else None
    return parsed.get(name[len("evt.arg."):])


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


BUFMODES = (BUF_NORMAL, BUF_ASCII, BUF_HEX, BUF_HEXASCII)

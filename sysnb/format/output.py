"""Text output of events exactly as sysdig prints it: the default line, ``-p`` formats and ``-j`` JSON.

Every field of a format is rendered for all rows at once by the field registry (sysnb.fields), then the
line is assembled column-wise; Python touches each line only to hand it to the writer. Fields whose value
depends on the events printed before (``evt.deltatime``, ``thread.exectime``...) are computed over the whole
table so that batches do not reset them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.errors import UsageError
from sysnb.fields import EMPTY, FieldContext, FieldRef, json_values, match, text
from sysnb.fields import render as T
from sysnb.fields.evtargs import RESOLVABLE, render_buffer
from sysnb.fields.registry import texts
from sysnb.format.args import BUF_JSON, BUF_NORMAL

DEFAULT_FORMAT = "*%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info"
#: sysdig's -pc / -pk / -pm presets
PRESETS = {
    "c": "*%evt.num %evt.outputtime %evt.cpu %container.name (%container.id) %proc.name (%thread.tid:%thread.vtid) "
         "%evt.dir %evt.type %evt.info",
    "k": "*%evt.num %evt.outputtime %evt.cpu %k8s.pod.name (%container.id) %proc.name (%thread.tid:%thread.vtid) "
         "%evt.dir %evt.type %evt.info",
    "m": "*%evt.num %evt.outputtime %evt.cpu %mesos.task.name (%container.id) %proc.name (%thread.tid:%thread.vtid) "
         "%evt.dir %evt.type %evt.info",
}
PRESETS.update({"container": PRESETS["c"], "kubernetes": PRESETS["k"], "mesos": PRESETS["m"]})
NA = "<NA>"
_BATCH = 65536
__all__ = ["DEFAULT_FORMAT", "NA", "PRESETS", "RESOLVABLE", "Formatter", "Segment", "default_lines",
           "parse_format", "render_buffer"]


@dataclass(frozen=True)
class Segment:
    literal: str
    field: str | None
    ref: FieldRef | None = None
    width: int = 0  # %20proc.name: padded or cut to 20 characters


def unescape(fmt: str) -> str:
    """sysdig's escape_output_format: ``\\n``, ``\\t``, ``\\e`` and ``\\\\``."""
    return re.sub(r"\\([nte\\])", lambda m: {"n": "\n", "t": "\t", "e": "\x1b", "\\": "\\"}[m.group(1)], fmt)


def parse_format(fmt: str) -> tuple[bool, list[Segment]]:
    """Split a sysdig format into literals and fields; a leading ``*`` prints rows with missing fields."""
    print_all = fmt.startswith("*")
    body = unescape(fmt[1:] if print_all else fmt)
    if not body:
        raise UsageError("empty output format")
    segs: list[Segment] = []
    pos = literal_start = 0
    while pos < len(body):
        if body[pos] != "%":
            pos += 1
            continue
        if pos > literal_start:
            segs.append(Segment(body[literal_start:pos], None))
        if pos == len(body) - 1:
            raise UsageError(f"invalid format '{fmt}': a format cannot end with a %")
        digits = re.match(r"\d*", body[pos + 1:])
        width = int(digits.group(0)) if digits and digits.group(0) else 0
        start = pos + 1 + (len(digits.group(0)) if digits else 0)
        found = match(body[start:])
        if found is None:
            token = re.match(r"\S*", body[start:])
            raise UsageError(f"invalid formatting token %{token.group(0) if token else ''} at column {start} of "
                             f"'{fmt}'{_hint(body[start:])}")
        ref, used = found
        if ref.field.filter_only:
            raise UsageError(f"{ref.name} is filter only and cannot be used as a display field")
        segs.append(Segment("", ref.name, ref, width))
        pos = literal_start = start + used
    if literal_start < len(body):
        segs.append(Segment(body[literal_start:], None))
    return print_all, segs


def _hint(rest: str) -> str:
    from sysnb.fields import hint

    token = re.match(r"[A-Za-z0-9_.\[\]]+", rest)
    return hint(token.group(0)) if token else ""


class Formatter:
    """Formats rows of a capture table as ``-p`` text lines (or, with ``json``, as ``-j`` objects)."""

    def __init__(self, fmt: str = DEFAULT_FORMAT, bufmode: str = BUF_NORMAL, first_ts: int = 0,
                 context: FieldContext | None = None, json: bool = False) -> None:
        self.fmt = fmt
        self.print_all, self.segments = parse_format(fmt)
        self.json = json
        ctx = context or EMPTY
        self.context = replace(ctx, bufmode=bufmode, first_ts=first_ts or ctx.first_ts)
        refs = [s.ref for s in self.segments if s.ref is not None]
        need = {"evt.num", "proc.pid"} | {c for r in refs for c in r.field.columns}
        if ctx.resolve_ports:
            need |= {"fd.type", "fd.l4proto", "sysnb.type_id"}
        self.columns = frozenset(need)
        self.vectorised = fmt == DEFAULT_FORMAT and bufmode == BUF_NORMAL and not json

    @property
    def bufmode(self) -> str:
        return self.context.bufmode

    @property
    def first_ts(self) -> int:
        return self.context.first_ts

    @first_ts.setter
    def first_ts(self, value: int) -> None:
        self.context = replace(self.context, first_ts=value)

    def render_buffer(self, data: bytes) -> str:
        """A byte buffer as the data argument shows it in this formatter's buffer format."""
        return render_buffer(data, self.context)

    def lines(self, table: pa.Table, keep: pa.Array | pa.ChunkedArray | None = None) -> Iterator[str]:
        """The lines of ``table``'s rows; ``keep`` (a display filter) drops lines after they were formatted,
        as sysdig's -d: fields with state across events still see every row."""
        if self.vectorised and keep is None and _plain_default(self.context):
            yield from default_lines(table)
            return
        texts_before, json_before = self._ordered(table)
        mask = None if keep is None else np.asarray(pc.fill_null(keep, False).to_numpy(zero_copy_only=False), bool)
        for start in range(0, table.num_rows, _BATCH):
            batch = table.slice(start, _BATCH)
            kept = None if mask is None else mask[start:start + _BATCH]
            if self.json:
                yield from self._json_batch(batch, {k: v[start:start + _BATCH] for k, v in json_before.items()}, kept)
            else:
                yield from self._text_batch(batch, {k: v.slice(start, _BATCH) for k, v in texts_before.items()}, kept)

    def _ordered(self, table: pa.Table) -> tuple[dict[str, pa.Array], dict[str, list[Any]]]:
        """Fields whose values depend on earlier rows, computed over the whole table (text, JSON)."""
        texts_before: dict[str, pa.Array] = {}
        json_before: dict[str, list[Any]] = {}
        for s in self.segments:
            if s.ref is not None and s.ref.field.ordered:
                if self.json:
                    json_before[s.ref.name] = json_values(s.ref, table, self.context)
                else:
                    texts_before[s.ref.name] = text(s.ref, table, self.context)
        return texts_before, json_before

    def _text_batch(self, batch: pa.Table, ordered: dict[str, pa.Array], kept: np.ndarray | None) -> Iterator[str]:
        parts: list[pa.Array | str] = []
        missing = np.zeros(batch.num_rows, bool) if kept is None else ~kept
        computed = texts([s.ref for s in self.segments if s.ref is not None and s.ref.name not in ordered],
                         batch, self.context)
        for s in self.segments:
            if s.ref is None:
                parts.append(s.literal)
                continue
            col = ordered[s.ref.name] if s.ref.name in ordered else computed[s.ref.name]
            if self.context.resolve_ports and s.ref.name in _RESOLVED:
                from sysnb.fields.ports import resolve_ports

                col = resolve_ports(col, batch, s.ref.name)
            if not self.print_all:
                missing |= np.asarray(pc.is_null(col).to_numpy(zero_copy_only=False), bool)
            col = pc.fill_null(col, NA)
            if s.width:  # %12proc.name: cut or padded to 12 characters, <NA> included
                col = pc.utf8_rpad(pc.utf8_slice_codeunits(col, 0, s.width), width=s.width, padding=" ")
            parts.append(col)
        if not parts:
            return
        line = T.join(*parts) if any(isinstance(p, (pa.Array, pa.ChunkedArray)) for p in parts) else \
            pa.array(["".join(str(p) for p in parts)] * batch.num_rows, pa.string())
        if missing.any():
            line = line.filter(pa.array(~missing))
        yield from line.to_pylist()

    def _json_batch(self, batch: pa.Table, ordered: dict[str, list[Any]], kept: np.ndarray | None) -> Iterator[str]:
        cols: dict[str, list[Any]] = {}
        for s in self.segments:
            if s.ref is not None and s.ref.name not in cols:
                pre = ordered.get(s.ref.name)
                cols[s.ref.name] = pre if pre is not None else json_values(s.ref, batch, self.context)
        keys = sorted(cols)
        for i in range(batch.num_rows):
            if kept is not None and not kept[i]:
                continue
            obj = {k: cols[k][i] for k in keys}
            if not self.print_all and any(v is None for v in obj.values()):
                continue
            yield json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


_RESOLVED = frozenset({"fd.name", "evt.info", "evt.args"})


def _plain_default(ctx: FieldContext) -> bool:
    return (ctx.time_type == "h" and not ctx.full_buffers and ctx.snaplen is None and not ctx.base64
            and not ctx.resolve_ports and ctx.bufmode == BUF_NORMAL)


def default_lines(table: pa.Table) -> Iterator[str]:
    """sysdig's default line for every row, built column-wise:
    ``%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info``."""
    for batch in table.to_batches(max_chunksize=_BATCH):
        if batch.num_rows == 0:
            continue
        clock = T.clock(batch.column("evt.rawtime"))
        name = batch.column("proc.name").cast(pa.string())
        name = pc.if_else(pc.is_valid(batch.column("proc.pid")), pc.fill_null(name, NA), pc.fill_null(name, NA))
        info = pc.coalesce(batch.column("sysnb.info"), batch.column("evt.args"), pa.scalar("", pa.string()))
        parts = [batch.column("evt.num").cast(pa.string()), clock,
                 batch.column("evt.cpu").cast(pa.string()), name,
                 pc.binary_join_element_wise("(", batch.column("thread.tid").cast(pa.string()), ")", ""),
                 batch.column("evt.dir").cast(pa.string()), batch.column("evt.type").cast(pa.string()), info]
        yield from pc.binary_join_element_wise(*parts, " ").to_pylist()


def clock_time(ts: int) -> str:
    """Local time of day with nanoseconds, as sysdig prints it (set TZ=UTC for UTC)."""
    return str(T.clock(pa.array([ts], pa.uint64()))[0].as_py())


def date_time(ts: int) -> str:
    return str(T.datetime(pa.array([ts], pa.uint64()))[0].as_py())


__all__ += ["BUF_JSON", "clock_time", "date_time"]

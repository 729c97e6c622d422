"""Alerts as an Arrow table, and as Falco prints them (text lines and JSON objects).

Falco's text line is ``<time>: <Priority> <rule output>`` with ``%evt.time`` (local time of day, ns) or, with
``time_format_iso_8601``, ``%evt.time.iso8601`` (UTC, ``+0000``); every field of the output is substituted,
``<NA>`` where the event has no value. Its JSON object (falco_formats::format_event, Falco 0.32-0.36) has the
keys hostname, output, priority, rule, source, tags, time in that (sorted) order, then ``output_fields``:
every field of the full format (time included) with typed values, null where missing.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.fields import FIELDS
from sysnb.format.output import NA, Formatter, clock_time
from sysnb.rules.compiler import CompiledRule, output_fields
from sysnb.rules.engine import Matches
from sysnb.rules.loader import RuleSet
from sysnb.rules.model import PRIORITIES, SYSCALL_SOURCE

_STR_LIST = pa.list_(pa.string())
ALERT_SCHEMA = pa.schema([
    ("time", pa.timestamp("ns", tz="UTC")), ("evt.num", pa.int64()), ("rule", pa.string()),
    ("priority", pa.string()), ("priority_num", pa.int8()), ("source", pa.string()), ("tags", _STR_LIST),
    ("mitre", _STR_LIST), ("output", pa.string()), ("output_fields", pa.string()), ("evt.type", pa.string()),
    ("proc.name", pa.string()), ("proc.pid", pa.int64()), ("thread.tid", pa.int64()), ("container.id", pa.string()),
    ("container.name", pa.string()), ("sysnb.offset", pa.uint64()), ("row", pa.int64()),
])
_EVENT_COLUMNS = ("evt.num", "evt.type", "proc.name", "proc.pid", "thread.tid", "container.id", "container.name",
                  "sysnb.offset")
_NUMERIC_TYPES = frozenset({"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "RELTIME",
                            "ABSTIME", "PORT", "PID", "FD", "ERRNO"})
_MITRE = re.compile(r"^(mitre_|T\d{4})")
_TOKEN = re.compile(r"%([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)*(?:\[[^\]]*\])?)")


def mitre_tags(tags: set[str]) -> list[str]:
    """The MITRE ATT&CK tactics (mitre_*) and techniques (T1234, T1234.001) among a rule's tags."""
    return sorted(t for t in tags if _MITRE.match(t))


def rule_format(rule: CompiledRule) -> str:
    """The rule's output as a sysnb format: fields sysnb cannot print yet become a literal <NA>."""
    missing = set(rule.output_missing)
    return _TOKEN.sub(lambda m: NA if m[1] in missing else m[0], rule.output)


def _field_values(name: str, sub: pa.Table) -> list[str | None]:
    """A field's value per row as ``-p`` prints it (None where the event has none)."""
    return [None if v == NA else v for v in Formatter(f"*%{name}").lines(sub)]


def _typed(name: str, value: str | None) -> Any:
    """A field value as libsinsp's JSON formatter writes it: numbers for numeric fields, else strings."""
    if value is None:
        return None
    base = name.split("[", 1)[0]
    info = FIELDS.get(base)
    kind = getattr(info, "type", "")
    if kind == "BOOL":
        return value == "true"
    if kind in _NUMERIC_TYPES or base in ("proc.apid", "evt.rawarg") or base.startswith("evt.rawarg."):
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _format_rule(rule: CompiledRule, sub: pa.Table) -> tuple[list[str], list[str]]:
    """Output lines and output_fields JSON of one rule over its matching rows (the rows are few: one pass of
    the formatter per field)."""
    fmt = rule_format(rule)
    f = Formatter("*" + fmt)
    outputs = list(f.lines(sub))
    names = list(dict.fromkeys(s.field for s in f.segments if s.field))
    values = {n: _field_values(n, sub) for n in names}
    missing = list(dict.fromkeys(n for n in output_fields(rule.output) if n in set(rule.output_missing)))
    fields = []
    for i in range(sub.num_rows):
        typed = {n: _typed(n, values[n][i]) for n in names} | dict.fromkeys(missing)
        fields.append(json.dumps(dict(sorted(typed.items())), separators=(",", ":"), ensure_ascii=False))
    return outputs, fields


def output_columns(rs: RuleSet) -> set[str]:
    """The table columns the alerts of ``rs`` read: their output formats and the event references."""
    cols = {*_EVENT_COLUMNS, "evt.rawtime"}
    for rule in rs.compiled:
        cols |= Formatter("*" + rule_format(rule)).columns
    return cols


def build_alerts(table: pa.Table, rs: RuleSet, m: Matches, first_row: int = 0) -> pa.Table:
    """The alerts table of ``m`` (rows of ``table`` matched by rules of ``rs``), in event order; ``first_row``
    is the position of ``table``'s first row in the whole capture (a batch of a streamed read)."""
    n = len(m.rows)
    if n == 0:
        return ALERT_SCHEMA.empty_table()
    outputs: list[str | None] = [None] * n
    fields: list[str | None] = [None] * n
    for ri in np.unique(m.rules).tolist():
        rule = rs.rules[ri]
        where = np.flatnonzero(m.rules == ri)
        needed = sorted(Formatter("*" + rule_format(rule)).columns & set(table.column_names))
        o, fl = _format_rule(rule, table.select(needed).take(pa.array(m.rows[where])))
        for k, pos in enumerate(where.tolist()):
            outputs[pos], fields[pos] = o[k], fl[k]
    ev = table.select([c for c in (*_EVENT_COLUMNS, "evt.rawtime") if c in table.column_names]).take(pa.array(m.rows))
    infos = [rs.rules[i].info for i in m.rules.tolist()]
    cols: dict[str, Any] = {
        "time": pc.cast(pc.cast(ev["evt.rawtime"], pa.int64()), pa.timestamp("ns", tz="UTC")),
        "rule": pa.array([i.name for i in infos], pa.string()),
        "priority": pa.array([PRIORITIES[i.priority] for i in infos], pa.string()),
        "priority_num": pa.array([i.priority for i in infos], pa.int8()),
        "source": pa.array([SYSCALL_SOURCE] * n, pa.string()),
        "tags": pa.array([sorted(i.tags) for i in infos], _STR_LIST),
        "mitre": pa.array([mitre_tags(i.tags) for i in infos], _STR_LIST),
        "output": pa.array(outputs, pa.string()),
        "output_fields": pa.array(fields, pa.string()),
        "row": pa.array(m.rows + first_row, pa.int64()),
    }
    for c in _EVENT_COLUMNS:
        col = ev[c] if c in ev.column_names else pa.nulls(n)
        cols[c] = col.cast(ALERT_SCHEMA.field(c).type)
    return pa.table({f.name: cols[f.name] for f in ALERT_SCHEMA}, schema=ALERT_SCHEMA)


# -- Falco's text and JSON ---------------------------------------------------------------------------------------

def iso_time(ts: int) -> str:
    """%evt.time.iso8601: UTC with nanoseconds and +0000 (libsinsp ts_to_iso_8601)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts // 1_000_000_000)) + f".{ts % 1_000_000_000:09d}+0000"


def text_lines(alerts: pa.Table, iso: bool = False) -> Iterator[str]:
    """``<time>: <Priority> <output>`` per alert, as Falco prints to stdout."""
    times = pc.cast(alerts["time"], pa.int64()).to_pylist()
    for ts, pri, out in zip(times, alerts["priority"].to_pylist(), alerts["output"].to_pylist(), strict=True):
        stamp = iso_time(ts) if iso else clock_time(ts)
        yield f"{stamp}: {pri} {out}"


def json_lines(alerts: pa.Table, hostname: str, iso: bool = False) -> Iterator[str]:
    """One Falco JSON object per alert (``-o json_output=true``)."""
    times = pc.cast(alerts["time"], pa.int64()).to_pylist()
    key = "evt.time.iso8601" if iso else "evt.time"
    cols = [alerts[c].to_pylist() for c in ("rule", "priority", "tags", "output_fields")]
    for ts, line, (rule, pri, tags, fields) in zip(times, text_lines(alerts, iso), zip(*cols, strict=True),
                                                   strict=True):
        head = {"hostname": hostname, "output": line, "priority": pri, "rule": rule, "source": SYSCALL_SOURCE,
                "tags": tags, "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts // 1_000_000_000))
                + f".{ts % 1_000_000_000:09d}Z"}
        values = {key: ts, **json.loads(fields or "{}")}
        body = json.dumps(dict(sorted(values.items())), separators=(",", ":"), ensure_ascii=False)
        yield json.dumps(head, separators=(",", ":"), ensure_ascii=False)[:-1] + ', "output_fields": ' + body + "}"


def summary(alerts: pa.Table, rs: RuleSet) -> list[tuple[str, str, int]]:
    """(rule, priority, alerts) for every rule that fired, in load order."""
    if alerts.num_rows == 0:
        return []
    grouped = alerts.group_by("rule").aggregate([("rule", "count")])
    counts = dict(zip(grouped["rule"].to_pylist(), grouped["rule_count"].to_pylist(), strict=True))
    return [(r.name, PRIORITIES[r.info.priority], counts[r.name]) for r in rs.rules if r.name in counts]

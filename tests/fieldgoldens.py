"""Helpers to compare sysnb's field values with the sysdig 0.29.3 field goldens (tools/make_field_goldens.py)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from goldens import GOLDEN, run_cli

FIELD_GOLDEN = GOLDEN / "fields"
SEP, END = "\x1f", "\x1e"  # ASCII unit and record separators: values may hold newlines (container JSON)
#: fields whose argument runs to the end of a sysdig format, or that change the event for later fields
OWN_RUN = ("evt.type.is.open", "evt.type.is.read", "evt.type.is.3", "evt.abspath", "evt.abspath.src",
           "evt.abspath.dst")


def field_names() -> list[str]:
    return [n for n in (FIELD_GOLDEN / "FIELDS").read_text().split("\n") if n]


def golden_columns(name: str, kind: str) -> dict[str, list[str]] | None:
    """The recorded columns of a capture (``kind`` "txt" or "json"); None when there is no golden."""
    path = FIELD_GOLDEN / f"{name}.{kind}.gz"
    if not path.exists():
        return None
    with gzip.open(path, "rt", encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().split("\n")[:-1]
    columns = decode(lines, golden_columns(name, "txt") if kind == "json" else None)
    if "group.gid" in columns:  # sysdig 0.29.3 extracts the 32-bit gid as 64 bits: keep the gid's own bits
        columns["group.gid"] = [str(int(v) & 0xFFFFFFFF) if v.isdigit() else v for v in columns["group.gid"]]
    return columns


#: -j is compared on the first events only: its values come from the same computation as the text ones
JSON_EVENTS = 3000


def sysnb_columns(capture: Path, fields: list[str], kind: str) -> dict[str, list[str]]:
    """What sysnb prints for these fields, column by column (the same runs as the golden's; -j on the first
    JSON_EVENTS events)."""
    columns: dict[str, list[str]] = {}
    runs = [[f for f in fields if f not in OWN_RUN]] + [[f] for f in OWN_RUN if f in fields]
    for run in runs:
        fmt = "*%evt.num" + "".join(SEP + "%" + f for f in run) + ("" if kind == "json" else END)
        argv = ["-r", str(capture), "-p", fmt] + (["-j", "-n", str(JSON_EVENTS)] if kind == "json" else [])
        _, out = run_cli(argv)
        lines = (out.split("\n") if kind == "json" else out.split(END + "\n"))[:-1]
        rows = [_split(line, run, kind) for line in lines]
        width = len(run) + 1
        rows = [r if len(r) == width else (r + [""] * width)[:width] for r in rows]
        transposed = list(zip(*rows, strict=True)) if rows else [()] * width
        columns.setdefault("evt.num", list(transposed[0]))
        for k, f in enumerate(run, 1):
            columns[f] = list(transposed[k])
    return columns


def _split(line: str, fields: list[str], kind: str) -> list[str]:
    if kind == "txt":
        return line.split(SEP)
    obj = json.loads(line)
    return [json.dumps(obj.get(k), ensure_ascii=False) for k in ("evt.num", *fields)]


def differing(want: list[str], got: list[str], prefix: bool = False) -> int:
    """Values that differ, position by position (a missing or extra row counts as one); with ``prefix``, only
    the golden's first len(got) values count (-j compares the first events)."""
    if prefix:
        want = want[:len(got)]
    if want == got:
        return 0
    return sum(1 for a, b in zip(want, got, strict=False) if a != b) + abs(len(want) - len(got))


# -- compact storage ---------------------------------------------------------------------------------------
#
# One line per column: "## FIELD" then its values joined by the unit separator (values never contain it: they
# were printed separated by it), with "\\" and newlines escaped. A column whose values a rule mostly predicts
# from other columns ("#= FIELD": evt.time from evt.rawtime, a JSON number from its text...) stores an empty
# value where the rule holds and "|" + the value elsewhere, so gzip gets long runs of nothing.


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n") if ("\\" in v or "\n" in v) else v


def _unescape(v: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), v) if "\\" in v else v


def _clock(ts: int, ns: bool = True, date: bool = False, iso: bool = False) -> str:
    import time

    sec, nsec = divmod(ts, 1_000_000_000)
    t = time.gmtime(sec)
    text = time.strftime("%Y-%m-%dT%H:%M:%S" if iso else "%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S", t)
    return text + (f".{nsec:09d}" if ns else "") + ("+0000" if iso else "")


def _ints(values: list[str]) -> list[int | None]:
    return [int(v) if v.lstrip("-").isdigit() else None for v in values]


def _time_rule(name: str, ts: list[int | None]) -> list[str | None] | None:
    """Predictions from evt.rawtime for the time-formatting fields."""
    deltas = [None if a is None or b is None else a - b for a, b in zip(ts, [ts[0], *ts[:-1]], strict=True)] \
        if ts else []
    one = {
        "evt.time": lambda t: _clock(t), "evt.time.s": lambda t: _clock(t, ns=False),
        "evt.datetime": lambda t: _clock(t, date=True), "evt.datetime.s": lambda t: _clock(t, False, True),
        "evt.time.iso8601": lambda t: _clock(t, iso=True), "evt.rawtime.s": lambda t: str(t // 10**9),
        "evt.rawtime.ns": lambda t: f"{t % 10**9:09d}",
    }.get(name)
    if one is not None:
        return [None if t is None else one(t) for t in ts]
    part = {"evt.deltatime": lambda d: str(d), "evt.deltatime.s": lambda d: str(d // 10**9),
            "evt.deltatime.ns": lambda d: f"{d % 10**9:09d}"}.get(name)
    return [None if d is None else part(d) for d in deltas] if part is not None else None


def _predict(name: str, cols: dict[str, list[str]], n: int, text: dict[str, list[str]] | None) -> \
        list[str | None] | None:
    """The values a rule predicts for column ``name`` (None: no rule); JSON columns from their text column."""
    if text is not None:
        return _json_predict(name, text, n)
    if name == "evt.info" and "evt.args" in cols:
        return list(cols["evt.args"])
    if name in ("evt.reltime.s", "evt.reltime.ns") and "evt.reltime" in cols:
        rel = _ints(cols["evt.reltime"])
        return [None if r is None else str(r // 10**9) if name.endswith(".s") else f"{r % 10**9:09d}" for r in rel]
    if "evt.rawtime" in cols:
        return _time_rule(name, _ints(cols["evt.rawtime"]))
    return None


_TIME_STRINGS = ("evt.time", "evt.time.s", "evt.time.iso8601", "evt.datetime", "evt.datetime.s")


def _json_predict(name: str, text: dict[str, list[str]], n: int) -> list[str | None]:
    """A JSON value from the same field's text value: numbers and booleans bare, strings quoted, <NA> null."""
    if name in _TIME_STRINGS and "evt.rawtime" in text:
        return list(text["evt.rawtime"][:n])
    if name.startswith("evt.deltatime") or name == "thread.exectime":
        return ["0"] * n
    return [_json_of(v) for v in text.get(name, [])[:n]] + [None] * max(0, n - len(text.get(name, [])))


def _json_of(v: str) -> str:
    if v == "<NA>":
        return "null"
    bare = v.lstrip("-")
    if v in ("true", "false") or (bare.isdigit() and (bare == "0" or not bare.startswith("0"))):
        return v
    return json.dumps(v, ensure_ascii=False)


_SEQUENTIAL = ("evt.num", "evt.reltime")  # predicted from the previous decoded value (+1, + the time delta)


def _sequential(name: str, values: list[str], cols: dict[str, list[str]], i: int) -> str | None:
    try:
        prev = int(values[i - 1])
        if name == "evt.num":
            return str(prev + 1)
        ts = cols["evt.rawtime"]
        return f"{prev + int(ts[i]) - int(ts[i - 1]):09d}"
    except (IndexError, KeyError, ValueError):
        return None


def encode(columns: dict[str, list[str]], text: dict[str, list[str]] | None = None) -> list[str]:
    """Columns as stored lines (see above); ``text`` (for JSON columns) is the text golden the rules read."""
    lines: list[str] = []
    for name, values in columns.items():
        n = len(values)
        if text is None and name in _SEQUENTIAL:
            guesses: list[str | None] = [None] + [_sequential(name, values, columns, i) for i in range(1, n)]
        else:
            guesses = (_predict(name, columns, n, text) or [])[:n]
        hits = sum(1 for g, v in zip(guesses, values, strict=False) if g == v)
        if n == 0:  # a capture without events: the field, and no value (an empty line is one empty value)
            lines += [f"#0 {name}", ""]
            continue
        if hits * 2 < n or not guesses:
            lines += [f"## {name}", SEP.join(_escape(v) for v in values)]
            continue
        lines += [f"#= {name}", SEP.join("" if g == v else "|" + _escape(v)
                                          for g, v in zip(guesses + [None] * (n - len(guesses)), values,
                                                          strict=True))]
    return lines


def decode(lines: list[str], text: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    raw = {lines[k][3:]: (lines[k].startswith("#="), lines[k + 1]) for k in range(0, len(lines) - 1, 2)
           if not lines[k].startswith("#0")}
    columns: dict[str, list[str]] = {lines[k][3:]: [] for k in range(0, len(lines) - 1, 2)
                                     if lines[k].startswith("#0")}  # fields of a capture without events
    first = [n for n in _DEPENDENCIES if n in raw]  # the columns rules read are decoded before the others
    for name in first + [n for n in raw if n not in first]:
        predicted, line = raw[name]
        values = line.split(SEP) if line or not predicted else [""]
        if not predicted:
            columns[name] = [_unescape(v) for v in values]
            continue
        if text is None and name in _SEQUENTIAL:
            out: list[str] = []
            for i, v in enumerate(values):
                out.append(_unescape(v[1:]) if v else (_sequential(name, out, columns, i) or ""))
            columns[name] = out
            continue
        guesses = (_predict(name, columns, len(values), text) or [])[:len(values)]
        guesses += [None] * (len(values) - len(guesses))
        columns[name] = [_unescape(v[1:]) if v else (g or "") for v, g in zip(values, guesses, strict=True)]
    return {n: columns[n] for n in raw}


#: columns other columns' rules read
_DEPENDENCIES = ("evt.rawtime", "evt.args", "evt.reltime")

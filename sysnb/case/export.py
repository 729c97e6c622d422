"""Findings and bookmarked events for other tools: Timesketch JSONL and CSV.

One row per finding (at its first matching event) and one per mark (at its event). Timesketch needs
``message``, ``datetime`` (ISO 8601 with a time zone) and ``timestamp_desc`` on every line; ``timestamp``
(microseconds since the epoch), ``tag`` (a list) and the sysnb fields (case, evidence sha256, evt.num, byte
offset, filter, severity) ride along as attributes. The CSV has the same columns, tags joined by ``;``.

    sysnb report NB.ipynb -o report.html --timesketch case.jsonl --csv case.csv
    from sysnb.case.export import write_timesketch
    write_timesketch(sysnb.case().doc, "case.jsonl")      # the case of a running kernel
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
from pathlib import Path
from typing import Any

from sysnb.case.escape import visible
from sysnb.case.model import CaseDoc

REQUIRED = ("message", "datetime", "timestamp_desc")
COLUMNS = (*REQUIRED, "timestamp", "data_type", "case_id", "kind", "id", "severity", "title", "tag", "note",
           "evidence", "evidence_sha256", "evt_num", "byte_offset", "filter", "count")


def iso(ns: int) -> str:
    """ns since the epoch -> ``2026-11-27T09:17:14.285580+00:00`` (Timesketch keeps microseconds)."""
    return _dt.datetime.fromtimestamp(ns // 1000 / 1e6, _dt.UTC).isoformat(timespec="microseconds")


def rows(doc: CaseDoc) -> list[dict[str, Any]]:
    out = []
    case_id = doc.info.id
    for f in doc.findings:
        if f.first_ns is None:
            continue
        ref = f.refs[0] if f.refs else None
        out.append({"message": visible(f"[{f.severity}] {f.title} ({f.count} events)"), "datetime": iso(f.first_ns),
                    "timestamp_desc": "First event of a finding", "timestamp": f.first_ns // 1000,
                    "data_type": f"sysnb:{f.kind}", "case_id": case_id, "kind": f.kind, "id": f.id,
                    "severity": f.severity, "title": visible(f.title), "tag": [f.kind, f.severity],
                    "note": visible(f.note), "evidence": f.capture, "evidence_sha256": f.sha256,
                    "evt_num": ref.evt_num if ref else None, "byte_offset": ref.offset if ref else None,
                    "filter": f.filter, "count": f.count})
    for m in doc.live_marks():
        out.append({"message": visible(m.note or m.line), "datetime": iso(m.ref.ts_ns),
                    "timestamp_desc": "Bookmarked event", "timestamp": m.ref.ts_ns // 1000, "data_type": "sysnb:mark",
                    "case_id": case_id, "kind": "mark", "id": m.key, "severity": "", "title": visible(m.line),
                    "tag": list(m.tags), "note": visible(m.note), "evidence": m.capture,
                    "evidence_sha256": m.ref.sha256, "evt_num": m.ref.evt_num, "byte_offset": m.ref.offset,
                    "filter": f"evt.num={m.ref.evt_num}", "count": 1})
    return sorted(out, key=lambda r: (r["timestamp"], r["id"]))


def write_timesketch(doc: CaseDoc, path: str | Path) -> int:
    """One JSON object per line; returns the number of lines."""
    lines = rows(doc)
    with open(path, "w", encoding="utf-8") as f:
        for row in lines:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(lines)


def write_csv(doc: CaseDoc, path: str | Path) -> int:
    lines = rows(doc)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for row in lines:
            writer.writerow({**row, "tag": ";".join(row["tag"])})
    return len(lines)


def check_timesketch_line(line: str) -> dict[str, Any]:
    """Parse one JSONL line and check what Timesketch requires; ValueError says what is wrong."""
    row = json.loads(line)
    if not isinstance(row, dict):
        raise ValueError("a Timesketch line is a JSON object")
    for key in REQUIRED:
        if not isinstance(row.get(key), str) or not row[key]:
            raise ValueError(f"missing or empty {key!r}")
    when = _dt.datetime.fromisoformat(row["datetime"])
    if when.tzinfo is None:
        raise ValueError(f"datetime {row['datetime']!r} has no time zone")
    if "timestamp" in row and int(row["timestamp"]) != int(when.timestamp() * 1_000_000):
        raise ValueError(f"timestamp {row['timestamp']} does not match datetime {row['datetime']}")
    return row

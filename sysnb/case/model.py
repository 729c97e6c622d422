"""The case document: what an investigation keeps besides the notebook's cells, as plain JSON.

One document per notebook, stored in the notebook's metadata under ``metadata["sysnb"]["case"]`` (see
:mod:`sysnb.case.notebook` for how it gets there from a running kernel). Its parts:

``info``       the case itself: id, title, examiner, organisation, requester, when it was opened.
``evidence``   the evidence register, one entry per file by sha256: every capture opened or recorded and
               every subset written (path, size, span in UTC, events, drops, snaplen, tool, who and when).
``custody``    the chain of custody: each access to an evidence file (open, record, write, verify, export)
               with its UTC time and who did it. Append-only.
``findings``   conclusions, each with the exact sysdig filter (and time window) it stands for, how many
               events match, and references to the evidence (sha256 + evt.num + UTC time + byte offset).
               ``kind`` is "finding" or "alert" (alerts come from rules; the report lists them apart).
``marks``      bookmarks on single events: one concept, a *mark*, keyed by ``"<sha256>:<evt.num>"``, with
               tags and a note, a copy of the event's line and of its data buffer (the report's appendix
               prints it in hex even when the capture is not at hand). A mark with ``deleted`` set is gone.
``methods``    every filter, chisel and SQL query used (each once, with when it was first used).

Every part is a list of dataclasses here and a list of JSON objects in the notebook; unknown keys are kept
out on read (a newer sysnb's extra fields do not break an older reader). Times are integers (ns since the
epoch, UTC) next to their ISO 8601 rendering with nanoseconds and a ``Z``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import getpass
import os
import socket
from dataclasses import dataclass, field
from typing import Any, TypeVar

SCHEMA = "sysnb.case/1"
SEVERITIES = ("info", "low", "medium", "high", "critical")
KINDS = ("finding", "alert")
CUSTODY_ACTIONS = ("open", "record", "write", "verify", "export")
#: a finding keeps references to at most this many of its events (its count is exact)
MAX_REFS = 25
#: a mark keeps at most this many bytes of the event's data buffer
MAX_MARK_BUFFER = 4096


def utc(ns: int | None) -> str:
    """``1700000000123456789`` -> ``2023-11-14T22:13:20.123456789Z`` (empty for None)."""
    if ns is None:
        return ""
    seconds, frac = divmod(int(ns), 1_000_000_000)
    stamp = _dt.datetime.fromtimestamp(seconds, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"


def now_ns() -> int:
    return int(_dt.datetime.now(_dt.UTC).timestamp() * 1e9)


def who() -> str:
    """The examiner's account on the machine running sysnb, ``user@host``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


@dataclass
class CaseInfo:
    id: str = ""
    title: str = ""
    examiner: str = ""
    org: str = ""
    requester: str = ""
    description: str = ""
    classification: str = ""
    opened_ns: int = field(default_factory=now_ns)


@dataclass
class Evidence:
    """One evidence file. ``role``: opened (read as found), recorded (by this sysnb), written (a subset)."""

    sha256: str
    path: str
    name: str
    size: int
    role: str = "opened"
    host: str = ""              # the recorded machine, from the capture's machine-info block
    kernel: str = ""            # only when recorded here (the capture format does not carry it)
    start_ns: int | None = None
    end_ns: int | None = None
    events: int = 0
    drops: int | None = None    # known for recordings made by sysnb
    snaplen: int | None = None
    recording_filter: str = ""  # what narrowed the recording (engine options) or the subset's filter
    source_sha256: str = ""     # a subset: the capture it was cut from
    tool: str = "sysnb"
    tool_version: str = ""
    acquired_by: str = ""
    acquired_ns: int | None = None
    error: str = ""             # a damaged file: what and where
    error_offset: int | None = None


@dataclass
class Custody:
    at_ns: int
    action: str
    sha256: str
    path: str
    by: str
    detail: str = ""


@dataclass
class EventRef:
    """One event of one evidence file: enough to find it again with sysdig or a hex editor."""

    sha256: str
    evt_num: int
    ts_ns: int
    offset: int  # byte offset of the event block in the (uncompressed) .scap stream

    @property
    def utc(self) -> str:
        return utc(self.ts_ns)


@dataclass
class Finding:
    id: str
    title: str
    filter: str
    sha256: str
    capture: str  # the evidence file's name
    count: int
    severity: str = "medium"
    kind: str = "finding"
    note: str = ""
    window: list[int] | None = None  # [start_ns, end_ns) when the finding is limited to a time window
    first_ns: int | None = None
    last_ns: int | None = None
    refs: list[EventRef] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)  # what produced it (e.g. a rule for an alert)
    created_by: str = ""
    created_ns: int = field(default_factory=now_ns)

    def _repr_html_(self) -> str:
        from sysnb.case.display import finding_html

        return finding_html(self)

    def __repr__(self) -> str:
        from sysnb.case.display import finding_text

        return finding_text(self)


@dataclass
class Mark:
    """A bookmark on one event. ``line`` is the event as sysdig prints it; ``buffer_hex`` its data."""

    ref: EventRef
    capture: str
    tags: list[str] = field(default_factory=list)
    note: str = ""
    line: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    buffer_hex: str = ""
    buffer_len: int = 0
    created_by: str = ""
    created_ns: int = field(default_factory=now_ns)
    updated_ns: int = field(default_factory=now_ns)
    deleted: bool = False

    @property
    def key(self) -> str:
        return mark_key(self.ref.sha256, self.ref.evt_num)

    def _repr_html_(self) -> str:
        from sysnb.case.display import mark_html

        return mark_html(self)

    def __repr__(self) -> str:
        from sysnb.case.display import mark_text

        return mark_text(self)


def mark_key(sha256: str, evt_num: int) -> str:
    return f"{sha256}:{evt_num}"


@dataclass
class Method:
    kind: str  # filter | chisel | sql | finding | subset
    text: str
    first_ns: int = field(default_factory=now_ns)


@dataclass
class CaseDoc:
    info: CaseInfo = field(default_factory=CaseInfo)
    evidence: list[Evidence] = field(default_factory=list)
    custody: list[Custody] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    methods: list[Method] = field(default_factory=list)
    schema: str = SCHEMA
    session: str = ""
    revision: int = 0
    saved_ns: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseDoc:
        schema = data.get("schema") if isinstance(data, dict) else None
        if schema != SCHEMA:
            raise ValueError(f"not a sysnb case document (schema {schema!r}, expected {SCHEMA!r})")
        doc = _build(cls, data)
        doc.info = _build(CaseInfo, data.get("info") or {})
        doc.evidence = [_build(Evidence, e) for e in data.get("evidence") or []]
        doc.custody = [_build(Custody, c) for c in data.get("custody") or []]
        doc.findings = [_finding(f) for f in data.get("findings") or []]
        doc.marks = [_mark(m) for m in data.get("marks") or []]
        doc.methods = [_build(Method, m) for m in data.get("methods") or []]
        return doc

    def live_marks(self) -> list[Mark]:
        return [m for m in self.marks if not m.deleted]

    def evidence_by_sha(self, sha256: str) -> Evidence | None:
        return next((e for e in self.evidence if e.sha256 == sha256), None)


T = TypeVar("T")


def _build(cls: type[T], data: dict[str, Any]) -> T:
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def _finding(data: dict[str, Any]) -> Finding:
    f = _build(Finding, data)
    f.refs = [_build(EventRef, r) for r in data.get("refs") or []]
    return f


def _mark(data: dict[str, Any]) -> Mark:
    m = _build(Mark, data)
    m.ref = _build(EventRef, data.get("ref") or {})
    return m

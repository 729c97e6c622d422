"""The case of this Python process: one :class:`Case` that every capture opened, recorded or written here is
registered in, and that findings and marks are added to.

The case is always there (the evidence register and the custody log fill themselves from the first capture
opened), but a notebook shows and stores it only once it is *started* with ``%syscase`` or
``sysnb.case(...)``. :func:`active` returns it.
"""

from __future__ import annotations

import os
import uuid
import weakref
from typing import TYPE_CHECKING, Any

from sysnb import __version__
from sysnb.case.model import (
    CUSTODY_ACTIONS,
    KINDS,
    SEVERITIES,
    CaseDoc,
    CaseInfo,
    Custody,
    Evidence,
    Finding,
    Mark,
    Method,
    mark_key,
    now_ns,
    who,
)
from sysnb.errors import UsageError

if TYPE_CHECKING:
    from sysnb.capture import Capture


class Case:
    """The investigation's case document (:class:`~sysnb.case.model.CaseDoc`) and the operations on it."""

    def __init__(self, doc: CaseDoc | None = None) -> None:
        self.doc = doc or CaseDoc()
        self.doc.session = self.doc.session or uuid.uuid4().hex
        self.started = False
        self.changes: list[str] = []   # what changed since the notebook last stored the case
        self.dirty = False
        self._view_filters: weakref.WeakKeyDictionary[Capture, str] = weakref.WeakKeyDictionary()
        self._current: Capture | None = None

    def _repr_html_(self) -> str:
        from sysnb.case.display import case_html

        return case_html(self)

    def __repr__(self) -> str:
        from sysnb.case.display import case_text

        return f"<{case_text(self)}>"

    # -- case metadata ---------------------------------------------------------------------------------
    def set_info(self, **fields: str) -> CaseInfo:
        known = set(CaseInfo.__dataclass_fields__) - {"opened_ns"}
        unknown = set(fields) - known
        if unknown:
            raise UsageError(f"unknown case field(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(known))}")
        for name, value in fields.items():
            if value is not None:
                setattr(self.doc.info, name, str(value))
        self.started = True
        self._changed(f"case {self.doc.info.id or '(no id)'}")
        return self.doc.info

    # -- evidence register and custody -----------------------------------------------------------------
    def register(self, item: Evidence, action: str, detail: str = "") -> Evidence:
        """Add an evidence file (or complete the entry of the same sha256) and log the access."""
        old = self.doc.evidence_by_sha(item.sha256)
        if old is None:
            item.tool_version = item.tool_version or __version__
            self.doc.evidence.append(item)
            self._changed(f"evidence E{len(self.doc.evidence)} {item.name} (sha256 {item.sha256[:16]}…)")
            old = item
        else:
            _complete(old, item)
            self.dirty = True
        self.log(action, old.sha256, item.path, detail)
        return old

    def log(self, action: str, sha256: str, path: str, detail: str = "") -> Custody:
        if action not in CUSTODY_ACTIONS:
            raise ValueError(f"custody action {action!r} is not one of {CUSTODY_ACTIONS}")
        entry = Custody(now_ns(), action, sha256, path, who(), detail)
        self.doc.custody.append(entry)
        self.dirty = True
        return entry

    def evidence_label(self, sha256: str) -> str:
        """``E2`` for the second evidence file registered."""
        for i, e in enumerate(self.doc.evidence, 1):
            if e.sha256 == sha256:
                return f"E{i}"
        return "E?"

    # -- the captures and views of this session --------------------------------------------------------
    def set_current(self, cap: Capture) -> None:
        self._current = cap  # kept: its table is memory-mapped from the cache, holding it costs little

    def current(self) -> Capture | None:
        """The capture opened last in this process (what findings and marks refer to by default)."""
        return self._current

    def remember_view(self, parent: Capture, view: Capture, expr: str) -> None:
        """``view = parent.filter(expr)``: keep the view's whole filter (its parent's and ``expr``)."""
        before = self._view_filters.get(parent)
        self._view_filters[view] = f"({before}) and ({expr})" if before else expr
        self.note_method("filter", expr)

    def view_filter(self, cap: Capture) -> str:
        """The sysdig filter that made ``cap`` from its capture ("" for a whole capture)."""
        return self._view_filters.get(cap, "")

    def note_method(self, kind: str, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if any(m.kind == kind and m.text == text for m in self.doc.methods):
            return
        self.doc.methods.append(Method(kind, text))
        self.dirty = True

    # -- findings ---------------------------------------------------------------------------------------
    def add_finding(self, finding: Finding) -> Finding:
        """Add ``finding``; one with the same title is replaced (a re-run cell updates its finding) and keeps
        its id."""
        if finding.severity not in SEVERITIES:
            raise UsageError(f"severity {finding.severity!r}: use one of {', '.join(SEVERITIES)}")
        if finding.kind not in KINDS:
            raise UsageError(f"kind {finding.kind!r}: use one of {', '.join(KINDS)}")
        for i, old in enumerate(self.doc.findings):
            if old.title == finding.title:
                finding.id = old.id
                self.doc.findings[i] = finding
                break
        else:
            prefix = "A" if finding.kind == "alert" else "F"
            finding.id = f"{prefix}{sum(f.kind == finding.kind for f in self.doc.findings) + 1}"
            self.doc.findings.append(finding)
        self.note_method("finding", finding.filter)
        self._changed(f"{finding.kind} {finding.id} {finding.title!r}: {finding.count} events")
        return finding

    def remove_finding(self, id_or_title: str) -> None:
        before = len(self.doc.findings)
        self.doc.findings = [f for f in self.doc.findings if id_or_title not in (f.id, f.title)]
        if len(self.doc.findings) == before:
            raise UsageError(f"no finding {id_or_title!r} (findings: {', '.join(f.id for f in self.doc.findings)})")
        self._changed(f"finding {id_or_title} removed")

    # -- marks ------------------------------------------------------------------------------------------
    def put_mark(self, mark: Mark) -> Mark:
        """Add a mark, or merge into the event's existing one (tags added, a new note replaces the old)."""
        old = self.find_mark(mark.ref.sha256, mark.ref.evt_num)
        if old is not None:
            old.tags = list(dict.fromkeys(old.tags + mark.tags))
            old.note = mark.note or old.note
            old.deleted, old.updated_ns = False, now_ns()
            mark = old
        else:
            self.doc.marks.append(mark)
        tags = f" [{', '.join(mark.tags)}]" if mark.tags else ""
        self._changed(f"mark on event {mark.ref.evt_num} of {mark.capture}{tags}")
        return mark

    def find_mark(self, sha256: str, evt_num: int) -> Mark | None:
        key = mark_key(sha256, evt_num)
        return next((m for m in self.doc.marks if m.key == key), None)

    def drop_mark(self, sha256: str, evt_num: int) -> Mark:
        mark = self.find_mark(sha256, evt_num)
        if mark is None or mark.deleted:
            raise UsageError(f"event {evt_num} is not marked")
        mark.deleted, mark.updated_ns = True, now_ns()
        self._changed(f"mark on event {evt_num} removed")
        return mark

    # -- storing -----------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The case document as JSON, with a new revision number and time."""
        self.doc.revision += 1
        self.doc.saved_ns = now_ns()
        self.dirty = False
        return self.doc.to_json()

    def _changed(self, what: str) -> None:
        self.changes.append(what)
        self.dirty = True


def _complete(old: Evidence, new: Evidence) -> None:
    """Fill what ``old`` does not know yet from ``new`` (a recording opened later gains its span, ...)."""
    for name, value in vars(new).items():
        if value not in (None, "", 0) and getattr(old, name) in (None, "", 0):
            setattr(old, name, value)
    if new.role == "recorded":
        old.role = "recorded"


_ACTIVE: list[Case] = []


def active() -> Case:
    """The case of this process (created on first use)."""
    if not _ACTIVE:
        _ACTIVE.append(Case())
    return _ACTIVE[0]


def reset(doc: CaseDoc | None = None) -> Case:
    """Start over with an empty case (or with ``doc``, e.g. a case read back from a notebook)."""
    _ACTIVE[:] = [Case(doc)]
    return _ACTIVE[0]


def evidence_name(path: str) -> str:
    return os.path.basename(path)

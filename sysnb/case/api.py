"""The case API: ``sysnb.case(...)``, ``sysnb.finding(...)``, ``sysnb.mark(...)``.

    import sysnb
    sysnb.case(id="IR-2026-014", examiner="J. Doe", org="ACME CSIRT", requester="Legal")
    cap = sysnb.open_capture("incident.scap.gz")           # registered as evidence E1, custody: open
    sysnb.finding("Port scan from 10.66.0.3", "proc.name=nmap and evt.type=connect", severity="high",
                  note="connect scan then SYN scan")      # filter + count + references to the events
    sysnb.mark(4711, tags=["c2", "exfil"], note="POST with the forged Host header")
    cap.filter("proc.name=nmap").save("nmap.scap")         # registered as a subset, custody: write

A finding's second argument is a sysdig filter (on the current capture, or ``capture=``), a filtered
Capture (``cap.filter(...)``: its filter is known) or an explorer (``w`` or ``w.view``: its crumbs, filter
box and brushed time window). ``window=(start_ns, end_ns)`` limits it to a time window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sysnb.case.events import event_copy, one_event, refs_of, shown_events, span_of
from sysnb.case.model import CaseInfo, Finding, Mark, now_ns, who
from sysnb.case.session import Case, active, evidence_name
from sysnb.errors import SysnbError, UsageError

if TYPE_CHECKING:
    from sysnb.capture import Capture


def case(id: str | None = None, *, title: str | None = None, examiner: str | None = None,
         org: str | None = None, requester: str | None = None, description: str | None = None,
         classification: str | None = None) -> Case:
    """Start (or amend) the case of this notebook and return it. The case is shown at the top of the
    notebook and of its report; from now on every cell that changes it stores it in the notebook.

    ``sysnb.case("IR-2026-014", examiner="J. Doe", org="ACME CSIRT", requester="Legal")``"""
    c = active()
    c.set_info(**{k: v for k, v in dict(id=id, title=title, examiner=examiner, org=org, requester=requester,
                                        description=description, classification=classification).items()
                  if v is not None})
    from sysnb.case.notebook import watch_cells

    watch_cells()
    return c


def finding(title: str, what: Any = None, *, note: str = "", severity: str = "medium",
            window: tuple[int, int] | None = None, capture: Capture | None = None, kind: str = "finding",
            source: dict[str, Any] | None = None) -> Finding:
    """Record a finding: ``title``, the events it stands for (``what``: a filter, a filtered Capture or
    an explorer; None: the whole current capture) and how bad it is (info, low, medium, high, critical).
    Keeps the exact filter and window, the number of matching events, and references to the first of
    them (evidence sha256 + evt.num + UTC time + byte offset). The same title again replaces the finding.

    ``kind="alert"`` (with ``source={"rule": ..., "priority": ...}``) is for findings produced by rules;
    the report lists them in their own section."""
    if not title or not str(title).strip():
        raise UsageError("a finding needs a title, e.g. sysnb.finding('Port scan', 'proc.name=nmap')")
    base, flt, applied, win = _target(what, capture)
    if window is not None:
        win = (int(window[0]), int(window[1]))
    rows = shown_events(base.filter(applied) if applied else base, win)
    first, last = span_of(rows)
    sha = base.provenance.sha256
    f = Finding(id="", title=str(title).strip(), filter=flt, sha256=sha, capture=evidence_name(base.provenance.source),
                count=rows.num_rows, severity=severity, kind=kind, note=note,
                window=None if win is None else [win[0], win[1]], first_ns=first, last_ns=last,
                refs=refs_of(rows, sha), source=dict(source or {}), created_by=who())
    return active().add_finding(f)


def mark(event: Any, *, tags: list[str] | str | None = None, note: str = "",
         capture: Capture | None = None) -> Mark:
    """Bookmark one event (its ``evt.num``, or a one-event Capture) with tags and a note. Marking a marked
    event again adds the tags and replaces the note. ``sysnb.mark(4711, tags=["c2"], note="forged Host")``"""
    cap, num = _event(event, capture)
    row = one_event(cap, num)
    line, fields, data = event_copy(row)
    ref = refs_of(row, cap.provenance.sha256, 1)[0]
    m = Mark(ref=ref, capture=evidence_name(cap.provenance.source), tags=_tags(tags), note=note, line=line,
             fields=fields, buffer_hex=data.hex(), buffer_len=len(row["evt.buffer"][0].as_py() or b""),
             created_by=who(), created_ns=now_ns())
    return active().put_mark(m)


def unmark(event: Any, *, capture: Capture | None = None) -> Mark:
    """Remove the mark on an event (kept as deleted, so a stored notebook forgets it too)."""
    cap, num = _event(event, capture)
    return active().drop_mark(cap.provenance.sha256, num)


def marks() -> list[Mark]:
    """The marks of the case (deleted ones left out)."""
    return active().doc.live_marks()


def findings() -> list[Finding]:
    return list(active().doc.findings)


def info() -> CaseInfo:
    return active().doc.info


def _current(capture: Capture | None) -> Capture:
    if capture is not None:
        return capture
    cap = active().current()
    if cap is None:
        raise UsageError("no capture is open: open one first (sysnb.open_capture(PATH) or %sysopen PATH), "
                         "or pass capture=")
    return cap


def _target(what: Any, capture: Capture | None) -> tuple[Capture, str, str, tuple[int, int] | None]:
    """What a finding stands for: (a capture, the whole sysdig filter from the evidence file to the events,
    the part of it still to apply to that capture, the time window)."""
    from sysnb.capture import Capture

    view = getattr(what, "view", what)  # an Explorer widget has .view
    if what is None or isinstance(what, str):
        cap = _current(capture)
        own = active().view_filter(cap)
        text = (what or "").strip()
        if text:
            _check(text)
        return cap, _both(own, text), text, None
    if isinstance(what, Capture):  # a filtered view: its rows are the finding
        return what, active().view_filter(what) or _listed(what), "", None
    if hasattr(view, "crumbs") and hasattr(view, "cap"):
        own = active().view_filter(view.cap)
        return view.cap, _both(own, view.filter), view.filter, view.window
    raise UsageError(f"a finding stands for a sysdig filter, a filtered Capture or an explorer, not "
                     f"{type(what).__name__}")


MAX_LISTED = 200


def _listed(view: Capture) -> str:
    """A view whose filter is not known (made from a table, not with Capture.filter): its events by number,
    so the finding stays reproducible; a whole capture needs no filter."""
    rows = shown_events(view)
    if len(view) == view.provenance.events:
        return ""
    if rows.num_rows > MAX_LISTED:
        raise UsageError(f"this view's filter is not known and it has {rows.num_rows} events (more than "
                         f"{MAX_LISTED} to list by evt.num): make it with cap.filter(...) or pass the filter text")
    return "evt.num in (" + ", ".join(str(n) for n in rows["evt.num"].to_pylist()) + ")"


def _both(first: str, second: str) -> str:
    parts = [p for p in (first, second) if p]
    return " and ".join(f"({p})" for p in parts) if len(parts) > 1 else "".join(parts)


def _check(text: str) -> None:
    from sysnb.filter import compile_filter

    try:
        compile_filter(text)
    except SysnbError as e:
        raise UsageError(str(e)) from None


def _event(event: Any, capture: Capture | None) -> tuple[Capture, int]:
    from sysnb.capture import Capture

    if isinstance(event, Capture):
        rows = shown_events(event)
        if rows.num_rows != 1:
            raise UsageError(f"a mark is on one event; this view has {rows.num_rows} (pass its evt.num)")
        return event, int(rows["evt.num"][0].as_py())
    if isinstance(event, bool) or not isinstance(event, int | str) or not str(event).isdigit():
        raise UsageError(f"mark an event by its evt.num (an integer), not {event!r}")
    return _current(capture), int(event)


def _tags(tags: list[str] | str | None) -> list[str]:
    if tags is None:
        return []
    items = tags.split(",") if isinstance(tags, str) else list(tags)
    return [t.strip() for t in items if str(t).strip()]

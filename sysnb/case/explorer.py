"""The explorer's case actions: mark the selected event, add a finding for what the explorer shows.

The bookmark model is one concept, a *mark* (:class:`sysnb.case.model.Mark`): one per event, keyed by the
evidence file's sha256 and the event's ``evt.num``, with tags and a note; it is stored with the case in the
notebook's metadata. Whatever front end sets marks (code, ``%mark``, the explorer's detail pane, a future
context menu) goes through :func:`sysnb.mark` / :func:`sysnb.unmark` and so through the same store.

Browser -> Python messages handled by the explorer widget (``sysnb.views.widget.Explorer``):

``{"kind": "mark", "evt_num": 4711, "tags": "c2, exfil", "note": "..."}``   mark (or add tags/note to) an event
``{"kind": "unmark", "evt_num": 4711}``                                     remove the mark
``{"kind": "finding", "title": "...", "severity": "high", "note": "..."}``  a finding for the explorer's view:
                                                                             crumbs + filter box + brushed window

Python -> browser: the synced list ``marked`` (evt.num of the marked events of this capture, so rows can
show it) and ``case_status`` (what the last action did, or why it could not).
"""

from __future__ import annotations

from typing import Any

from sysnb.case.api import finding, mark, unmark
from sysnb.case.session import active


def marked_events(widget: Any) -> list[int]:
    sha = widget.view.cap.provenance.sha256
    return sorted(m.ref.evt_num for m in active().doc.live_marks() if m.ref.sha256 == sha)


def do_mark(widget: Any, msg: dict[str, Any]) -> None:
    m = mark(int(msg["evt_num"]), tags=str(msg.get("tags", "")), note=str(msg.get("note", "")),
             capture=widget.view.cap)
    widget.marked = marked_events(widget)
    tags = f" [{', '.join(m.tags)}]" if m.tags else ""
    widget.case_status = f"marked event {m.ref.evt_num}{tags}{_stored()}"


def do_unmark(widget: Any, msg: dict[str, Any]) -> None:
    unmark(int(msg["evt_num"]), capture=widget.view.cap)
    widget.marked = marked_events(widget)
    widget.case_status = f"mark on event {int(msg['evt_num'])} removed{_stored()}"


def do_finding(widget: Any, msg: dict[str, Any]) -> None:
    f = finding(str(msg.get("title", "")), widget.view, severity=str(msg.get("severity") or "medium"),
                note=str(msg.get("note", "")), source={"via": "explorer"})
    widget.case_status = f"finding {f.id}: {f.count:,} events, filter {f.filter or '(all events)'}{_stored()}"


def _stored() -> str:
    if active().started:
        return " (kept in the case; stored in the notebook when the next cell runs)"
    return " (start the case with %syscase to keep it in the notebook)"

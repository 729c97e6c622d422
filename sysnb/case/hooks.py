"""The calls the rest of sysnb makes into the case (evidence register, custody log, methods).

Each is one line at its call site and never raises: a problem in the register must not stop evidence from
being read. Call sites (keep this list current):

* ``sysnb.capture.open_capture``     -> :func:`evidence_opened` (both return paths: cached and built)
* ``sysnb.capture.Capture.filter``   -> :func:`view_filtered`
* ``sysnb.capture.Capture.sql``      -> :func:`method_used` ("sql")
* ``sysnb.capture.Capture.chisel``   -> :func:`method_used` ("chisel")
* ``sysnb.capture.Capture.save``     -> :func:`evidence_written`
* ``sysnb.record.recorder.Recording.stop`` -> :func:`evidence_recorded`
* ``sysnb.cli.write_file`` (``-w`` with a filter) -> :func:`subset_filter`
"""

from __future__ import annotations

import os
import platform
import sys
from typing import TYPE_CHECKING, Any

from sysnb.case.model import Evidence, now_ns, who
from sysnb.case.session import active, evidence_name

if TYPE_CHECKING:
    from sysnb.capture import Capture

_warned: set[str] = set()


def _guard(name: str, fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception as e:  # the register is a record of the work, never a reason for it to fail
        if name not in _warned:
            _warned.add(name)
            print(f"sysnb: the case register could not record this ({name}: {e}); carrying on", file=sys.stderr)


def evidence_opened(cap: Capture) -> None:
    """A capture was opened: register the file, log the access, make it the case's current capture."""
    _guard("open", _opened, cap)


def _opened(cap: Capture) -> None:
    p = cap.provenance
    case = active()
    item = Evidence(sha256=p.sha256, path=p.source, name=evidence_name(p.source), size=p.size, host=p.hostname,
                    start_ns=p.start_ns, end_ns=p.end_ns, events=p.events, error=p.error or "",
                    error_offset=p.error_offset)
    case.register(item, "open")
    case.set_current(cap)


def view_filtered(parent: Capture, view: Capture, expr: str) -> None:
    _guard("filter", active().remember_view, parent, view, expr)


def subset_filter(view: Capture, expr: str) -> None:
    """A view made without Capture.filter (the CLI's -w): remember its filter all the same."""
    _guard("filter", active().remember_view, view, view, expr)


def method_used(kind: str, text: str) -> None:
    _guard(kind, active().note_method, kind, text)


def evidence_written(view: Capture, path: str, events: int) -> None:
    """``view.save(path)`` wrote ``events`` events: register the new file as a subset of its source."""
    _guard("save", _written, view, path, events)


def _written(view: Capture, path: str, events: int) -> None:
    from sysnb.capture import sha256_file

    case = active()
    flt = case.view_filter(view)
    src = view.provenance
    item = Evidence(sha256=sha256_file(path), path=os.path.abspath(path), name=evidence_name(path),
                    size=os.path.getsize(path), role="written", host=src.hostname, events=events,
                    recording_filter=flt, source_sha256=src.sha256, acquired_by=who(), acquired_ns=now_ns())
    if flt:
        case.note_method("subset", flt)
    source = f"{case.evidence_label(src.sha256)} {evidence_name(src.source)}"
    chosen = f" matching {flt}" if flt else ""
    case.register(item, "write", f"{events} events written from {source}{chosen} (with the state events that "
                  "name their processes and fds)")


def evidence_recorded(stats: Any) -> None:
    """A recording was written (``RecordStats``): register it with what only the recorder knows."""
    _guard("record", _recorded, stats)


def _recorded(stats: Any) -> None:
    from sysnb.capture import sha256_file

    path = os.path.abspath(stats.path)
    options = [f"engine={stats.engine}", f"snaplen={stats.snaplen}"] + ([] if stats.latency else ["no-latency"])
    item = Evidence(sha256=sha256_file(path), path=path, name=evidence_name(path), size=os.path.getsize(path),
                    role="recorded", host=platform.node(), kernel=platform.release(), events=stats.events,
                    drops=stats.drops, snaplen=stats.snaplen, recording_filter=" ".join(options),
                    acquired_by=who(), acquired_ns=now_ns())
    detail = f"{stats.records} syscalls in {stats.seconds:.2f} s, {stats.drops} dropped"
    active().register(item, "record", detail)

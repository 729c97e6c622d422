"""The thread and fd tables of a capture's start state (its metadata blocks), as rows with the same
field columns as the event table, so filters apply to them unchanged (sysdig's ``get_thread_table``)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from sysnb.scap.blocks import ThreadEntry
from sysnb.scap.events import CONTAINER_IDS
from sysnb.scap.reader import RawEvent, Section, read_scap
from sysnb.state.columns import FD_FIELDS, THREAD_FIELDS, BatchRecorder, _take
from sysnb.state.engine import Engine
from sysnb.state.model import Fd, Thread


@dataclass
class StateRow:
    thread: Thread
    entry: ThreadEntry
    fdnum: int | None
    fd: Fd | None


def first_section(path: str) -> tuple[Section, list[RawEvent]]:
    """The first section's metadata and the events up to the first one sysdig numbers (the state chisels
    read the thread table once that event was parsed)."""
    section = Section(0, (1, 2))
    seen: list[RawEvent] = []
    eng = Engine()
    for item in read_scap(path, batch_size=1):
        if isinstance(item, Section):
            section = item
            eng.load_section(section)
            continue
        seen.append(item[0])
        row = eng.process(item)
        container_state = item[0][5] in CONTAINER_IDS and not row["sysnb.visible"][0].as_py()
        if row["evt.num"][0].is_valid and not container_state:
            break
    return section, seen


def state_table(section: Section, first: list[RawEvent] | None = None) -> tuple[pa.Table, list[StateRow], Engine]:
    """One row per (thread, fd) — and one with null fd fields per thread — in table order, for the state
    after ``first`` (sysdig's state chisels read the thread table once the first event was parsed)."""
    eng = Engine()
    eng.load_section(section)
    for ev in first or []:
        eng.process([ev])
    entries = {e.tid: e for e in section.threads}
    rec = BatchRecorder(eng.users, eng.groups, eng.threads)
    rows: list[StateRow] = []
    tsnap: list[int] = []
    fsnap: list[int] = []
    for tid, t in eng.threads.items():
        ts = rec.thread_snap(t)
        for num, fd in [(None, None), *sorted(t.proc.fds.items())]:
            rows.append(StateRow(t, entries.get(tid) or _entry_of(t), num, fd))
            tsnap.append(ts)
            fsnap.append(rec.fd_snap(fd) if fd is not None else -1)
    cols: dict[str, pa.Array] = {
        "thread.tid": pa.array([r.thread.tid for r in rows], pa.int64()),
        "fd.num": pa.array([r.fdnum for r in rows], pa.int64()),
    }
    cols.update(_take(rec.tsnaps, THREAD_FIELDS, tsnap))
    cols.update(_take(rec.fsnaps, FD_FIELDS, fsnap))
    return pa.table(cols), rows, eng


def _entry_of(t: Thread) -> ThreadEntry:
    """A thread created by the first event has no process-list entry: unknown limits and sizes."""
    return ThreadEntry(t.tid, t.pid, t.ptid, fdlimit=-1)

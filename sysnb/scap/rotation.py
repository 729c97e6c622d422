"""``-w`` with sysdig's rotation options: ``-C MB`` (file size), ``-G SECONDS`` (time slices), ``-e N``
(events per file) and ``-W N`` (how many files).

The events to write are cut into pieces in event order:

* ``-G S``: a new file every S seconds of event time, counted from the first event;
* ``-C MB`` / ``-e N``: within a time slice, a new file once the events written reach MB x 10^6 bytes
  (the events' block sizes in the source capture) or N events;
* ``-W N`` with ``-C``/``-e``: a ring of N files (names ``FILE0``..``FILE{N-1}``): the last N pieces are
  kept, as sysdig's overwriting leaves them; ``-W N`` with ``-G`` only: the first N slices, then stop.

Names are sysdig's: ``FILE`` + a counter (``trace.scap0``, ``trace.scap1``...); with ``-G`` and a strftime
pattern in ``FILE`` (``trace-%H%M%S.scap``) the pattern, formatted with the slice's start in UTC, plus the
counter when ``-C``/``-e`` also cut the slice. Unlike sysdig's files, each file starts with the capture's
process, fd and user tables and the process events of the files before it (flagged state-only, counted
against ``-C``), so each reads back with its processes named; fds opened in an earlier file stay unnamed, as
in sysdig's.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.scap.writer import STATE_ONLY, state_type_ids

#: fd events are not carried into later files: every open and close of the files before would grow each
#: file without bound (big50 -C 1 doubled the files' sizes by the eighth); fds opened in an earlier file
#: keep no name, as in sysdig's own rotated files
_FD_STATE = frozenset({"connect", "bind", "sendto", "recvfrom", "sendmsg", "recvmsg", "getsockopt", "shutdown",
                       "fcntl"})


def process_state_ids() -> list[int]:
    """The state events a rotated file carries from the files before: processes, their identity and cwd."""
    from sysnb.scap.events import EVENTS

    fd_changing = {e.id for e in EVENTS
                   if (e.flags_2022 if e.known_2022 else e.flags) & {"CREATES_FD", "DESTROYS_FD"}
                   or (e.name_2022 if e.known_2022 else e.name) in _FD_STATE}
    return [i for i in state_type_ids() if i not in fd_changing]


@dataclass(frozen=True)
class Rotation:
    file_size: int | None = None  # -C, in MB (10^6 bytes)
    seconds: int | None = None  # -G
    limit: int | None = None  # -W
    events: int | None = None  # -e

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.file_size, self.seconds, self.limit, self.events))

    def check(self) -> None:
        """Values sysdig accepts: positive; ``-W`` only with something that cuts files."""
        from sysnb.errors import UsageError

        for flag, value in (("-C", self.file_size), ("-G", self.seconds), ("-W", self.limit), ("-e", self.events)):
            if value is not None and value <= 0:
                raise UsageError(f"{flag} needs a positive number, not {value}")
        if self.limit is not None and self.file_size is None and self.seconds is None and self.events is None:
            raise UsageError("-W limits the files that -C, -G or -e cut; give one of them too, e.g. -C 100 -W 5")


@dataclass(frozen=True)
class Piece:
    path: str
    rows: np.ndarray  # positions into the events table


def pieces(events: pa.Table, sizes: np.ndarray, path: str, rot: Rotation, header_bytes: int = 0,
           state: np.ndarray | None = None) -> list[Piece]:
    """The files to write and the rows of each (see the module docstring); ``header_bytes`` (the section's
    tables) and the ``state`` rows before a file (written first in it) count against ``-C``."""
    n = events.num_rows
    if n == 0:
        return [Piece(_name(path, rot, 0, 0, None), np.zeros(0, np.int64))]
    first_ns = int(_times(events)[0])
    slices = _time_slices(events, rot.seconds)
    cuts = _cuts_within(slices, sizes, rot, header_bytes, state)
    key = slices.astype(np.int64) * (int(cuts.max()) + 1) + cuts
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    bounds = np.r_[starts, n]
    out = []
    for k in range(len(starts)):
        rows = np.arange(bounds[k], bounds[k + 1])
        start_ns = None if rot.seconds is None else first_ns + int(slices[bounds[k]]) * rot.seconds * 1_000_000_000
        out.append(Piece(_name(path, rot, k, int(cuts[bounds[k]]), start_ns), rows))
    return _limited(out, rot)


def _time_slices(events: pa.Table, seconds: int | None) -> np.ndarray:
    if seconds is None:
        return np.zeros(events.num_rows, np.int64)
    ts = _times(events)
    slices: np.ndarray = ((ts - ts[0]) // np.uint64(seconds * 1_000_000_000)).astype(np.int64)
    return slices


def _times(events: pa.Table) -> np.ndarray:
    """Event times, never going back (a null or an earlier stamp keeps the previous time)."""
    ts = np.asarray(pc.fill_null(events["evt.rawtime"], 0).to_numpy(zero_copy_only=False), np.uint64)
    out: np.ndarray = np.maximum.accumulate(ts)
    nonzero = np.flatnonzero(out)
    if len(nonzero):
        out[: nonzero[0]] = out[nonzero[0]]
    return out


def _cuts_within(slices: np.ndarray, sizes: np.ndarray, rot: Rotation, header_bytes: int,
                 state: np.ndarray | None = None) -> np.ndarray:
    """Each row's file number within its time slice, by -e events or -C bytes. A file's budget for events
    is -C less what precedes them: the section's tables and the state events of the files before (``state``:
    a boolean per row), and at least a quarter of -C."""
    n = len(slices)
    cut = np.zeros(n, np.int64)
    if rot.events is None and rot.file_size is None:
        return cut
    first = np.r_[0, np.flatnonzero(slices[1:] != slices[:-1]) + 1]
    bounds = np.r_[first, n]
    total = np.r_[0, np.cumsum(sizes)]  # bytes of rows [0, i)
    state_bytes = np.r_[0, np.cumsum(np.where(state, sizes, 0))] if state is not None else np.zeros(n + 1, np.int64)
    limit = (rot.file_size or 0) * 1_000_000
    for lo, hi in itertools.pairwise(bounds):
        start, k = int(lo), 0
        while start < hi:
            end = int(hi)
            if rot.events is not None:
                end = min(end, start + rot.events)
            if rot.file_size is not None:
                budget = max(limit - header_bytes - int(state_bytes[start]), limit // 4)
                fits = int(np.searchsorted(total, total[start] + budget, side="right")) - 1  # rows [start, fits)
                end = min(end, max(fits, start + 1))
            cut[start:end] = k
            start, k = end, k + 1
    return cut


def _name(path: str, rot: Rotation, k: int, cut: int, start_ns: int | None) -> str:
    if rot.seconds is not None and "%" in path and start_ns is not None:
        stamped = time.strftime(path, time.gmtime(start_ns // 1_000_000_000))
        return stamped + (str(cut) if rot.file_size is not None or rot.events is not None else "")
    ring = rot.limit is not None and (rot.file_size is not None or rot.events is not None)
    return f"{path}{k % rot.limit if ring and rot.limit else k}"


def _limited(out: list[Piece], rot: Rotation) -> list[Piece]:
    if rot.limit is None:
        return out
    if rot.file_size is not None or rot.events is not None:
        return out[-rot.limit:]  # the ring: the last N pieces survive, in their ring slots
    return out[: rot.limit]  # -G -W N: N slices, then sysdig stops


def event_sizes(full: pa.Table, events: pa.Table) -> np.ndarray:
    """Each event's block size in its source capture (from the offsets of the whole table; the last event
    of a section or file counts as the median size)."""
    offsets = np.asarray(pc.fill_null(full["sysnb.offset"], 0).to_numpy(zero_copy_only=False), np.int64)
    gaps = np.diff(offsets)
    typical = int(np.median(gaps[gaps > 0])) if (gaps > 0).any() else 64
    mine = np.asarray(pc.fill_null(events["sysnb.offset"], 0).to_numpy(zero_copy_only=False), np.int64)
    order = np.argsort(offsets, kind="stable")
    sorted_offsets = offsets[order]
    nxt = np.searchsorted(sorted_offsets, mine, side="right")
    following = np.where(nxt < len(sorted_offsets), sorted_offsets[np.minimum(nxt, len(sorted_offsets) - 1)], 0)
    sizes: np.ndarray = np.where((following > mine) & (following - mine < 1 << 24), following - mine, typical)
    return sizes


def write_rotated(source: str, events: pa.Table, full: pa.Table, path: str, compress: bool | None,
                  adjust: Any, rot: Rotation) -> list[tuple[str, int, pa.Table]]:
    """Write the pieces; returns (path, events written, its rows) for each file."""
    from sysnb.scap.writer import save_events, source_sections

    sections = source_sections(source, adjust)
    offsets = pc.fill_null(full["sysnb.offset"], 0)
    header = int(pc.min(offsets).as_py() or 0) if full.num_rows else 0  # the first section's tables
    written = []
    is_state = np.asarray(pc.is_in(events["sysnb.type_id"], value_set=pa.array(process_state_ids(), pa.uint16()))
                          .to_numpy(zero_copy_only=False), bool)
    state = np.flatnonzero(is_state)
    for piece in pieces(events, event_sizes(full, events), path, rot, header, is_state):
        rows = events.take(pa.array(piece.rows))
        before = state[state < (piece.rows[0] if len(piece.rows) else 0)]
        out = _state_first(events.take(pa.array(before)), rows)
        written.append((piece.path, save_events(source, out, piece.path, compress, sections=sections), rows))
    return written


def _state_first(state: pa.Table, rows: pa.Table) -> pa.Table:
    """The process state events of the files before (clone, execve, procexit, setuid, chdir...), flagged
    state-only, then the file's own events: each file reads back with its processes known."""
    if not state.num_rows:
        return rows
    flags = pa.array(np.full(state.num_rows, STATE_ONLY, np.uint32))
    state = state.set_column(state.schema.get_field_index("sysnb.evt_flags"), "sysnb.evt_flags", flags)
    return pa.concat_tables([state, rows.cast(state.schema)])

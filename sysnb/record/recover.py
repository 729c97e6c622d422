"""Spill -> .scap: what a recording's stop does, and ``sysnb --recover SPILL`` for the spill a killed recorder
left behind (SIGKILL, OOM killer, power loss, a full disk at stop).

The spill holds everything the .scap needs (spill.py): the start frame carries the recording's options and
the /proc snapshot as encoded metadata blocks, the record frames follow, and the end frame (absent when the
recorder was killed) the kernel's final drop counters. Without it the drops are the ones the records carry
(each record counts its CPU's losses since that CPU's previous record), a lower bound the note says is one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from sysnb.errors import SysnbError
from sysnb.record.convert import convert
from sysnb.record.note import note_block
from sysnb.record.spill import END, SPILL_MAGIC, SPILL_VERSION, START, Control, file_reader, item_at, replay
from sysnb.scap.writer import ScapWriter

SPILL_SUFFIX = ".spill"
#: gzip level of recordings: on a recording of syscall loops, level 3 compressed 2.4x faster than the
#: default 6 for 15 % more bytes (10.3x against 11.8x); a busy host's stop should not wait on compression
RECORDING_GZIP_LEVEL = 3


def spill_path(output: str) -> str:
    """Where the recording of ``output`` keeps its spill: next to it, so a kill leaves it findable."""
    return output + SPILL_SUFFIX


def default_output(spill: str) -> str:
    return spill[:-len(SPILL_SUFFIX)] if spill.endswith(SPILL_SUFFIX) else spill + ".scap"


def write_from_spill(path: str, compress: bool | None, section: bytes, note: dict[str, Any], spill: BinaryIO,
                     boot_offset: int, progress: Callable[[int], None] | None = None) -> int:
    """Write the .scap at ``path`` from the records of ``spill`` in time order, after the /proc snapshot
    (``section``: encoded metadata blocks) and the recorder's note. Returns the number of events. On any
    error the partial file is removed (the spill still holds everything) and the error raised."""
    done = events = 0
    try:
        with ScapWriter(path, compress, level=RECORDING_GZIP_LEVEL) as w:
            w.write_metadata(section)
            w.write_metadata(note_block(note))
            for small, mid, big in replay(spill, ordered=False):  # convert sorts by time
                table = convert(small, mid, big, boot_offset)
                w.write_events(table)
                events += table.num_rows
                done += len(small) + len(mid) + len(big)
                if progress is not None:
                    progress(done)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return events


@dataclass
class SpillSummary:
    start: Control | None = None
    end: Control | None = None
    records: int = 0
    lost: int = 0          # drops the records carry (a lower bound when there is no end frame)
    whole_bytes: int = 0   # where the last whole frame ends (a killed recorder may leave a partial one)
    size: int = 0


def scan(f: BinaryIO) -> SpillSummary:
    """One pass over a spill: its control frames, record count and the drops the records carry."""
    read = file_reader(f)
    out = SpillSummary(size=f.seek(0, os.SEEK_END))
    offset = 0
    while (got := item_at(read, offset, out.size)) is not None:
        item, offset = got
        if isinstance(item, Control):
            if item.kind == START and out.start is None:
                out.start = item
            elif item.kind == END:
                out.end = item
            continue
        _, small, mid, big = item
        out.records += len(small) + len(mid) + len(big)
        out.lost += int(small["lost"].sum()) + int(mid["b"]["lost"].sum()) + int(big["b"]["lost"].sum())
    out.whole_bytes = offset
    return out


@dataclass
class Recovered:
    path: str
    records: int
    events: int
    drops: int
    drops_exact: bool
    partial_bytes: int   # bytes after the last whole frame (a frame being written when the recorder died)

    def summary(self, spill: str) -> str:
        drops = f"{self.drops:,}" if self.drops_exact else f"at least {self.drops:,} (the recorder did not stop)"
        cut = f"; {self.partial_bytes:,} bytes of an unfinished last frame left out" if self.partial_bytes else ""
        return (f"recovered {self.records:,} syscalls -> {self.events:,} events from {spill} into {self.path}; "
                f"dropped {drops}{cut}")


def recover(spill: str, output: str | None = None, compress: bool | None = None,
            progress: Callable[[int], None] | None = None) -> Recovered:
    """Write the .scap of the spill a recording left behind (default: the recording's own output path) and
    delete the spill. Refuses a spill a running recording still holds, and an output that exists."""
    try:
        f = open(spill, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise SysnbError(f"cannot read the spill {spill}: {e.strerror}") from None
    with f:
        _not_in_use(f, spill)
        found = scan(f)
        start = found.start
        if start is None or start.meta.get("magic") != SPILL_MAGIC:
            raise SysnbError(f"{spill} is not a sysnb spill file (no start frame): nothing to recover")
        if start.meta.get("version") != SPILL_VERSION:
            raise SysnbError(f"{spill} is a version {start.meta.get('version')} spill; this sysnb reads version "
                             f"{SPILL_VERSION}: recover it with the sysnb that recorded it")
        out = output or default_output(spill)
        if os.path.exists(out):
            raise SysnbError(f"{out} exists (a file the interrupted recording had started?): write the recovered "
                             "capture elsewhere with -w OTHER.scap, or move that file away")
        note = _note(start, found)
        if compress is None and output is None:
            compress = bool(start.meta.get("compress"))
        events = write_from_spill(out, compress, start.data, note, f, int(start.meta.get("boot_offset", 0)),
                                  progress)
    os.unlink(spill)
    return Recovered(out, found.records, events, note["drops"], found.end is not None, found.size - found.whole_bytes)


def _not_in_use(f: BinaryIO, spill: str) -> None:
    """A running recorder holds a lock on its spill (released when it dies, however it dies)."""
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SysnbError(f"{spill} belongs to a recording that is still running: stop it (Ctrl-C or SIGTERM) "
                         "and it writes its capture itself") from None


def _note(start: Control, found: SpillSummary) -> dict[str, Any]:
    meta = start.meta
    note: dict[str, Any] = {k: meta[k] for k in ("engine", "snaplen", "latency", "recorded_at") if k in meta}
    note.update(syscalls=found.records, recovered=True, drops_exact=found.end is not None, drops=found.lost)
    if found.end is not None:
        end = found.end.meta
        note.update({k: end[k] for k in ("drops", "drops_per_cpu", "seen_per_cpu", "drops_carried", "pending_per_cpu",
                                         "seconds", "stop_reason") if k in end})
    return note

"""Events of a running recording as table batches, for live printing (``sysnb`` without -r, like sysdig).

The stream reads the recording's spill file as the spill thread writes it, releases records in time order
behind the watermark, converts them to events and runs them through the same state engine as a file (the
native core, fed the recording's start state as .scap metadata blocks and then the event batches), so a
live line is the line ``sysnb -r`` prints for the file. A printer slower than the host falls behind in the
file, never in memory: it holds at most a few read batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pyarrow as pa

from sysnb._core import LiveEngine
from sysnb.record.convert import convert
from sysnb.record.recorder import Recording
from sysnb.record.spill import WATERMARK_NS, Pending, SpillTail
from sysnb.scap.writer import section_bytes

BATCH = 65536  # events per engine batch (fewer, larger batches: the per-batch cost of filtering and printing)
POLL_S = 0.05  # how often an idle stream looks for new frames (and checks ``until``)


def stream(rec: Recording, until: Callable[[], bool] = lambda: False,
           columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Table batches (sysdig columns) of ``rec``. Once ``until()`` is true (checked at least every
    POLL_S, whether or not the host makes system calls) the recording is halted and everything it recorded
    up to then is released; the caller stops ``rec`` (writing its file). ``columns``: only these table
    columns (in table order), as a scan of a file would produce them."""
    engine = LiveEngine(section_bytes(rec.section), columns)
    tail = rec.spill_tail()
    pending = Pending()
    while True:
        if not rec.halted and until():
            rec.halt()
        read_from = tail.offset
        cut, done = _read(tail, pending, rec.halted)
        if done or cut is not None:
            ready = pending.ready(None if done else cut)  # unsorted: convert sorts by time
            if ready is not None:
                for events in convert(*ready, rec.boot_offset).to_batches(max_chunksize=BATCH):
                    yield engine.process(events)
                if not rec.halted and until():  # a printer behind a busy host still stops recording on time
                    rec.halt()
        if done:
            return
        if tail.offset == read_from:  # nothing new in the spill yet
            time.sleep(POLL_S)


def _read(tail: SpillTail, pending: Pending, halted: bool) -> tuple[int | None, bool]:
    """Move the frames written since the last call (up to a few batches) to ``pending``; return the time up
    to which records are complete on every CPU (None: none known yet) and whether the recording is over and
    fully read (then everything pending is released)."""
    last = None
    for drained_at, *batch in tail.frames(BATCH):
        pending.add(*batch)
        last = drained_at
    if halted and tail.caught_up:
        return None, True
    if last is not None:
        return last - WATERMARK_NS, False
    if tail.caught_up:  # nothing drained lately: what is pending is older than the drains that found nothing
        return time.clock_gettime_ns(time.CLOCK_BOOTTIME) - WATERMARK_NS, False
    return None, False

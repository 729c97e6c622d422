"""Events of a running recording as table batches, for live printing (``sysnb`` without -r, like sysdig).

Drained batches are released in time order behind the spill watermark, converted to events, and run
through the same state engine as a file, so a live line is the line ``sysnb -r`` prints for the file.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from sysnb.record.convert import convert
from sysnb.record.recorder import Recording
from sysnb.record.spill import WATERMARK_NS, Pending
from sysnb.state.engine import Engine


def stream(rec: Recording, until: Callable[[], bool] = lambda: False) -> Iterator[pa.RecordBatch]:
    """Table batches (sysdig columns) of ``rec``. Once ``until()`` is true (checked at least every 0.2 s,
    whether or not the host makes system calls) the recording is halted and everything it recorded up to
    then is released; the caller stops ``rec`` (writing its file)."""
    assert rec.tap is not None, "Recording(tap=True) is needed for live streaming"
    engine = Engine()
    engine.load_section(rec.section)
    pending = Pending()
    offset = 0
    while not rec.halted:
        if until():
            rec.halt()
        cut = _take(rec.tap, pending, block=not rec.halted)
        for batch in pending.release(None if rec.halted else cut, 16384):
            raw, offset = _raw_events(convert(*batch, rec.boot_offset), offset)
            yield engine.process(raw)
            if not rec.halted and until():  # a printer behind a busy host still stops recording on time
                rec.halt()


def _take(tap: queue.Queue[tuple[int, np.ndarray, np.ndarray, np.ndarray]], pending: Pending, block: bool) -> int:
    """Move drained batches from ``tap`` to ``pending`` (waiting up to 0.2 s for the first one when
    ``block``); return the watermark: records up to it are complete on every CPU."""
    drained_at = None
    try:
        item = tap.get(timeout=0.2) if block else tap.get_nowait()
        while True:
            drained_at, *batch = item
            pending.add(*batch)
            item = tap.get_nowait()
    except queue.Empty:
        pass
    now = drained_at if drained_at is not None else time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    return now - WATERMARK_NS


def _raw_events(t: pa.Table, offset: int) -> tuple[list[tuple[int, int, int, int, int, int, tuple[bytes, ...]]], int]:
    cols = [t[c].to_pylist() for c in ("evt.cpu", "sysnb.evt_flags", "evt.rawtime", "thread.tid", "sysnb.type_id",
                                       "sysnb.params")]
    out = [(offset + i, cpu, flags, ts, tid, etype, tuple(params))
           for i, (cpu, flags, ts, tid, etype, params) in enumerate(zip(*cols, strict=True))]
    return out, offset + len(out)

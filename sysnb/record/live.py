"""Events of a running recording as table batches, for live printing (``sysnb`` without -r, like sysdig).

Drained batches are released in time order behind the spill watermark, converted to events, and run
through the same state engine as a file, so a live line is the line ``sysnb -r`` prints for the file.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from sysnb.record.convert import convert
from sysnb.record.recorder import Recording
from sysnb.record.spill import WATERMARK_NS, release
from sysnb.state.engine import Engine


def stream(rec: Recording) -> Iterator[pa.RecordBatch]:
    """Table batches (sysdig columns) of ``rec`` until it stops producing; the caller stops ``rec``."""
    assert rec.tap is not None, "Recording(tap=True) is needed for live streaming"
    engine = Engine()
    engine.load_section(rec.section)
    pend_s: list[np.ndarray] = []
    pend_b: list[np.ndarray] = []
    offset = 0
    while True:
        try:
            drained_at, small, big = rec.tap.get(timeout=0.2)
            pend_s.append(small)
            pend_b.append(big)
            cut: int | None = drained_at - WATERMARK_NS
        except queue.Empty:
            cut = time.clock_gettime_ns(time.CLOCK_BOOTTIME) - WATERMARK_NS
        for s, b in release(pend_s, pend_b, cut, 16384):
            events = convert(s, b, rec.boot_offset)
            raw, offset = _raw_events(events, offset)
            yield engine.process(raw)


def _raw_events(t: pa.Table, offset: int) -> tuple[list[tuple[int, int, int, int, int, int, tuple[bytes, ...]]], int]:
    cols = [t[c].to_pylist() for c in ("evt.cpu", "sysnb.evt_flags", "evt.rawtime", "thread.tid", "sysnb.type_id",
                                       "sysnb.params")]
    out = [(offset + i, cpu, flags, ts, tid, etype, tuple(params))
           for i, (cpu, flags, ts, tid, etype, params) in enumerate(zip(*cols, strict=True))]
    return out, offset + len(out)

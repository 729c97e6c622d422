"""Raw record batches spilled to disk while recording, replayed in time order afterwards.

While the recorder runs, the only Python work is draining the rings and appending the copied records to
this file (one frame per drain: drain time, small records, mid records, big records cut to the batch's payload
width),
so conversion never competes with draining for the interpreter and memory stays bounded. ``replay``
reads the frames back and releases records in timestamp order behind a watermark: a record is released
once a later drain happened at least ``WATERMARK_NS`` after it, by which time every CPU's ring holding
an older record has been drained.
"""

from __future__ import annotations

import queue
import struct
import threading
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from sysnb.record import layout as L

_FRAME = struct.Struct("<QIIIHH")  # drain time (boot ns), small, mid and big counts, mid and big payload widths
WATERMARK_NS = 100_000_000


def write_frame(f: BinaryIO, drained_at: int, small: np.ndarray, mid: np.ndarray, big: np.ndarray) -> None:
    mid = L.cut_mid(mid)
    f.write(_FRAME.pack(drained_at, len(small), len(mid), len(big), mid.dtype["data"].shape[0],
                        big.dtype["data"].shape[0]))
    for recs in (small, mid, big):
        f.write(np.ascontiguousarray(recs).data)


class SpillWriter:
    """Frames written to the spill by a thread of their own, so a write stalled by page-cache writeback
    (tens of ms on a disk) never delays the next drain: the rings keep being emptied into memory, up to
    ``budget`` bytes queued, and only beyond that does draining wait (and the kernel count drops)."""

    def __init__(self, f: BinaryIO, budget: int = 1 << 30) -> None:
        self._f = f
        self._queue: queue.Queue[tuple[int, np.ndarray, np.ndarray, np.ndarray] | None] = queue.Queue()
        self._room = threading.Semaphore(max(budget >> 20, 1))  # one token per queued MiB
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sysnb-spill", daemon=True)
        self._thread.start()

    @staticmethod
    def _tokens(small: np.ndarray, mid: np.ndarray, big: np.ndarray) -> int:
        return max((small.nbytes + mid.nbytes + big.nbytes) >> 20, 1)

    def put(self, drained_at: int, small: np.ndarray, mid: np.ndarray, big: np.ndarray) -> None:
        for _ in range(self._tokens(small, mid, big)):
            self._room.acquire()
        self._queue.put((drained_at, small, mid, big))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                if self.error is None:
                    write_frame(self._f, *item)
            except BaseException as e:  # surfaced by close()
                self.error = e
            for _ in range(self._tokens(*item[1:])):
                self._room.release()

    def close(self) -> None:
        """Wait until every queued frame is written; raise what writing raised."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error


def merge(small: np.ndarray, mid: np.ndarray, big: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A drained (small, mid, big) batch as the (small, big) pair the converter takes."""
    return small, (L.concat_big([big, L.widen_mid(mid)]) if len(mid) else big)


def _frames(f: BinaryIO) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    while head := f.read(_FRAME.size):
        if len(head) < _FRAME.size:
            return
        drained_at, ns, nm, nb, mid_width, width = _FRAME.unpack(head)
        big_t, mid_t = L.big_dtype(width), L.mid_dtype(mid_width)
        small = np.frombuffer(f.read(ns * L.BASE.itemsize), L.BASE)
        mid = np.frombuffer(f.read(nm * mid_t.itemsize), mid_t)
        big = np.frombuffer(f.read(nb * big_t.itemsize), big_t)
        if len(small) < ns or len(mid) < nm or len(big) < nb:
            return  # a frame cut short (the recorder was killed): keep what is whole
        yield drained_at, *merge(small, mid, big)


def replay(f: BinaryIO, max_records: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(small, big) record batches in time order, each at most about ``max_records`` long."""
    pend_s: list[np.ndarray] = []
    pend_b: list[np.ndarray] = []
    released_at, pending = 0, 0
    for drained_at, small, big in _frames(f):
        pend_s.append(small)
        pend_b.append(big)
        pending += len(small) + len(big)
        # release every half watermark (or when a lot is pending): each record is re-examined about twice
        if drained_at - released_at >= WATERMARK_NS // 2 or pending >= 4 * max_records:
            yield from release(pend_s, pend_b, drained_at - WATERMARK_NS, max_records)
            released_at, pending = drained_at, sum(map(len, pend_s)) + sum(map(len, pend_b))
    yield from release(pend_s, pend_b, None, max_records)


def release(pend_s: list[np.ndarray], pend_b: list[np.ndarray], cut: int | None,
             max_records: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    small = np.concatenate(pend_s) if pend_s else np.zeros(0, L.BASE)
    big = L.concat_big(pend_b)
    s_ts, b_ts = small["ts"], big["b"]["ts"]
    ready_s = s_ts <= cut if cut is not None else np.ones(len(small), bool)
    ready_b = b_ts <= cut if cut is not None else np.ones(len(big), bool)
    pend_s[:] = [L.take_rows(small, ~ready_s)]
    pend_b[:] = [L.take_rows(big, ~ready_b)]
    small, big = L.take_rows(small, ready_s), L.take_rows(big, ready_b)
    if not len(small) and not len(big):
        return
    times = np.sort(np.concatenate([small["ts"], big["b"]["ts"]]))
    edges = [*times[max_records::max_records].tolist(), None]
    lo = 0
    for hi in edges:
        sel_s = (small["ts"] >= lo) & (small["ts"] < hi) if hi is not None else small["ts"] >= lo
        sel_b = (big["b"]["ts"] >= lo) & (big["b"]["ts"] < hi) if hi is not None else big["b"]["ts"] >= lo
        yield L.take_rows(small, sel_s), L.take_rows(big, sel_b)
        lo = hi

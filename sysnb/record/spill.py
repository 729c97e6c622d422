"""Raw record batches spilled to disk while recording, replayed in time order afterwards.

While the recorder runs, the only Python work is draining the rings (the drain thread) and appending the
copied records to this file (the spill thread): one frame per drain with the drain time and the small, mid
and big records (mid and big as the drain cut them: to the batch's longest payload). So conversion never
competes with draining and memory stays bounded. ``replay`` reads the frames back and releases records in
timestamp order behind a watermark: a record is released once a later drain happened at least
``WATERMARK_NS`` after it, by which time every CPU's ring holding an older record has been drained.

The spill is a named file next to the output (``OUTPUT.spill``), so a recorder that was killed leaves its
records behind: a *start* control frame first (the recording's options and the /proc snapshot, already
encoded as .scap metadata blocks), then the record frames, then, once the recording stopped, an *end*
control frame with the kernel's final counters. ``sysnb --recover`` turns it into the .scap (recover.py).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np

from sysnb.record import layout as L

_FRAME = struct.Struct("<QIIIHH")  # drain time (boot ns), small, mid and big counts, mid and big payload widths
WATERMARK_NS = 100_000_000
SPILL_MAGIC = "sysnb-spill"
SPILL_VERSION = 1
# a control frame has both widths at CONTROL_WIDTH (a record frame's are at most layout.SNB_DATA); its counts
# are the JSON length, the binary length and the kind
CONTROL_WIDTH = 0xFFFF
START, END = 1, 2
MAX_CONTROL_JSON = 1 << 20


def write_frame(f: BinaryIO, drained_at: int, small: np.ndarray, mid: np.ndarray, big: np.ndarray) -> None:
    f.write(_FRAME.pack(drained_at, len(small), len(mid), len(big), mid.dtype["data"].shape[0],
                        big.dtype["data"].shape[0]))
    for recs in (small, mid, big):
        f.write(np.ascontiguousarray(recs).data)


@dataclass
class Control:
    """A control frame: ``kind`` START or END, when (boot ns), its JSON ``meta`` and binary ``data``."""

    kind: int
    at: int
    meta: dict[str, Any] = field(default_factory=dict)
    data: bytes = b""

    def encode(self) -> bytes:
        text = json.dumps(self.meta, sort_keys=True).encode()
        return _FRAME.pack(self.at, len(text), len(self.data), self.kind, CONTROL_WIDTH, CONTROL_WIDTH) + text \
            + self.data


class SpillWriter:
    """Frames written to the spill by a thread of their own, so a write stalled by page-cache writeback
    (tens of ms on a disk) never delays the next drain: the rings keep being emptied into memory, up to
    ``budget`` bytes queued, and only beyond that does draining wait (and the kernel count drops).
    ``start``: the start control frame, written before anything else. A write that fails (a full disk)
    sets ``error`` and every later frame is dropped: the file keeps the whole frames written before it."""

    def __init__(self, f: BinaryIO, budget: int = 1 << 30, start: Control | None = None) -> None:
        self._f = f
        self._queue: queue.Queue[tuple[int, np.ndarray, np.ndarray, np.ndarray] | Control | None] = queue.Queue()
        self._room = threading.Semaphore(max(budget >> 20, 1))  # one token per queued MiB
        self.error: BaseException | None = None
        if start is not None:
            f.write(start.encode())
            f.flush()
        self.written = f.tell()  # bytes of whole frames written and flushed (what a SpillTail may read)
        self.outstanding = 0   # frames put and not written yet
        self._thread = threading.Thread(target=self._run, name="sysnb-spill", daemon=True)
        self._thread.start()

    @staticmethod
    def _tokens(item: tuple[int, np.ndarray, np.ndarray, np.ndarray] | Control) -> int:
        if isinstance(item, Control):
            return 1
        _, small, mid, big = item
        return max((small.nbytes + mid.nbytes + big.nbytes) >> 20, 1)

    def put(self, drained_at: int, small: np.ndarray, mid: np.ndarray, big: np.ndarray) -> None:
        self._put((drained_at, small, mid, big))

    def put_control(self, frame: Control) -> None:
        """A control frame, written after every frame put before it."""
        self._put(frame)

    def _put(self, item: tuple[int, np.ndarray, np.ndarray, np.ndarray] | Control) -> None:
        for _ in range(self._tokens(item)):
            self._room.acquire()
        self.outstanding += 1
        self._queue.put(item)

    def _run(self) -> None:
        # favoured over the workload (nice -10): the drain thread needs the GIL this thread holds between
        # writes, and a spill thread preempted by the workload while holding it stalled drains (0.2-0.5 %
        # dropped with a syscall loop on every CPU). Not SCHED_FIFO: that took so much CPU from the workload
        # that the recorded rate fell by a fifth.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -10)
        while (item := self._queue.get()) is not None:
            try:
                if self.error is None:
                    self._write(item)
            except BaseException as e:  # surfaced by close()
                self.error = e
            self.outstanding -= 1
            for _ in range(self._tokens(item)):
                self._room.release()

    def _write(self, item: tuple[int, np.ndarray, np.ndarray, np.ndarray] | Control) -> None:
        if isinstance(item, Control):
            self._f.write(item.encode())
        else:
            write_frame(self._f, *item)
        self._f.flush()
        self.written = self._f.tell()

    def close(self) -> None:
        """Wait until every queued frame is written; raise what writing raised."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error


Frame = tuple[int, np.ndarray, np.ndarray, np.ndarray]  # drain time, small, mid and big records


def item_at(read: Callable[[int, int], bytes], offset: int,
            end: int | None = None) -> tuple[Frame | Control, int] | None:
    """The frame (records or control) at ``offset`` and the offset after it, or None when it is not whole
    (before ``end``, or in what ``read(offset, size)`` returns: a frame cut short when the recorder was
    killed) or not a frame at all (sizes beyond ``end`` or a control frame of unknown kind)."""
    if end is not None and offset + _FRAME.size > end:
        return None
    head = read(offset, _FRAME.size)
    if len(head) < _FRAME.size:
        return None
    drained_at, *counts, mid_width, width = _FRAME.unpack(head)
    if mid_width == width == CONTROL_WIDTH:
        return _control_at(read, offset, end, drained_at, counts)
    if mid_width > L.SNB_DATA or width > L.SNB_DATA:
        return None
    dtypes = (L.BASE, L.mid_dtype(mid_width), L.big_dtype(width))
    size = sum(n * t.itemsize for n, t in zip(counts, dtypes, strict=True))
    body = read(offset + _FRAME.size, size) if end is None or offset + _FRAME.size + size <= end else b""
    if len(body) < size:
        return None
    arrays, at = [], 0
    for n, t in zip(counts, dtypes, strict=True):
        arrays.append(np.frombuffer(body, t, count=n, offset=at))
        at += n * t.itemsize
    return (drained_at, *arrays), offset + _FRAME.size + size


def _control_at(read: Callable[[int, int], bytes], offset: int, end: int | None, at: int,
                counts: list[int]) -> tuple[Control, int] | None:
    text_len, data_len, kind = counts
    size = text_len + data_len
    if kind not in (START, END) or text_len > MAX_CONTROL_JSON:
        return None
    if end is not None and offset + _FRAME.size + size > end:
        return None
    body = read(offset + _FRAME.size, size)
    if len(body) < size:
        return None
    try:
        meta = json.loads(body[:text_len])
    except ValueError:
        return None
    if not isinstance(meta, dict):
        return None
    return Control(kind, at, meta, bytes(body[text_len:])), offset + _FRAME.size + size


def frame_at(read: Callable[[int, int], bytes], offset: int, end: int | None = None) -> tuple[Frame, int] | None:
    """The next record frame from ``offset`` (control frames are stepped over) and the offset after it, or
    None (see ``item_at``)."""
    while (got := item_at(read, offset, end)) is not None:
        item, offset = got
        if not isinstance(item, Control):
            return item, offset
    return None


def file_reader(f: BinaryIO) -> Callable[[int, int], bytes]:
    def read(offset: int, size: int) -> bytes:
        f.seek(offset)
        return f.read(size)
    return read


def _frames(f: BinaryIO) -> Iterator[Frame]:
    read, end = file_reader(f), _size(f)
    offset = 0
    while (got := frame_at(read, offset, end)) is not None:
        frame, offset = got
        yield frame


def _size(f: BinaryIO) -> int:
    f.seek(0, os.SEEK_END)
    return f.tell()


class SpillTail:
    """The frames of a spill while it is being written, for live printing: only whole frames the writer has
    flushed, read with pread (the writer's position is untouched). A printer slower than the host lags
    behind in the file instead of holding the backlog in memory."""

    def __init__(self, writer: SpillWriter, read: Callable[[int, int], bytes]) -> None:
        """``read(offset, size)``: bytes of the spill file (os.pread on its descriptor)."""
        self._writer = writer
        self._read = read
        self.offset = 0

    def frames(self, max_records: int) -> Iterator[Frame]:
        """The whole record frames written since the last call, up to about ``max_records`` records."""
        records = 0
        while records < max_records and (got := item_at(self._read, self.offset, self._writer.written)):
            item, self.offset = got
            if isinstance(item, Control):
                continue
            records += sum(len(a) for a in item[1:])
            yield item

    @property
    def caught_up(self) -> bool:
        """Every frame put on the writer is written and read."""
        return self._writer.outstanding == 0 and self.offset >= self._writer.written


Batch = tuple[np.ndarray, np.ndarray, np.ndarray]  # small, mid and big records


def replay(f: BinaryIO, max_records: int = 65536, ordered: bool = True) -> Iterator[Batch]:
    """(small, mid, big) record batches in time order, each at most about ``max_records`` long. With
    ``ordered=False`` each batch holds every record released at once, in no particular order inside it (the
    batches still follow each other in time): for consumers that sort anyway, such as ``convert``."""
    pending = Pending()
    released_at = 0
    for drained_at, *batch in _frames(f):
        pending.add(*batch)
        # release every half watermark (or when a lot is pending): each record is re-examined about twice
        if drained_at - released_at >= WATERMARK_NS // 2 or pending.count >= 4 * max_records:
            yield from pending.release(drained_at - WATERMARK_NS, max_records, ordered)
            released_at = drained_at
    yield from pending.release(None, max_records, ordered)


class Pending:
    """Drained batches not released yet; ``release(cut)`` yields, in time order, the records up to ``cut``
    (all of them with None) in batches of about ``max_records``; ``ready(cut)`` returns them unsorted."""

    def __init__(self) -> None:
        self.parts: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
        self.count = 0

    def add(self, small: np.ndarray, mid: np.ndarray, big: np.ndarray) -> None:
        for parts, recs in zip(self.parts, (small, mid, big), strict=True):
            parts.append(recs)
        self.count += len(small) + len(mid) + len(big)

    def _take(self) -> Batch:
        small = L.concat_rows(self.parts[0]) if self.parts[0] else np.zeros(0, L.BASE)
        return small, L.concat_cut(self.parts[1], L.mid_dtype), L.concat_big(self.parts[2])

    def ready(self, cut: int | None) -> Batch | None:
        """Every record up to ``cut`` (all of them with None) in no particular order, or None when there is
        none; the rest stays pending."""
        if not self.count:
            return None
        batch = self._take()
        if cut is None:
            out = batch
            rest: list[np.ndarray] = [recs[:0] for recs in batch]
        else:
            ready = [_ts(recs) <= cut for recs in batch]
            out = tuple(recs if ok.all() else L.take_rows(recs, ok)  # type: ignore[assignment]
                        for recs, ok in zip(batch, ready, strict=True))
            rest = [recs[:0] if ok.all() else L.take_rows(recs, ~ok) for recs, ok in zip(batch, ready, strict=True)]
        for parts, recs in zip(self.parts, rest, strict=True):
            parts[:] = [recs] if len(recs) else []
        self.count = sum(len(recs) for recs in rest)
        return out if any(len(recs) for recs in out) else None

    def release(self, cut: int | None, max_records: int, ordered: bool = True) -> Iterator[Batch]:
        batch = self.ready(cut)
        if batch is None:
            return
        if not ordered:
            yield batch
            return
        # each kind sorted by time once; batches are then slices between the same time edges
        times = [_ts(recs) for recs in batch]
        order = [np.argsort(ts, kind="stable") for ts in times]
        kinds = [L.take_rows(recs, o) for recs, o in zip(batch, order, strict=True)]
        times = [ts[o] for ts, o in zip(times, order, strict=True)]
        merged = np.sort(np.concatenate(times))
        edges = [0, *merged[max_records::max_records].tolist(), None]
        for lo, hi in itertools.pairwise(edges):
            spans = [(np.searchsorted(t, lo), len(t) if hi is None else np.searchsorted(t, hi)) for t in times]
            yield tuple(k[a:b] for k, (a, b) in zip(kinds, spans, strict=True))  # type: ignore[misc]


def _ts(recs: np.ndarray) -> np.ndarray:
    ts: np.ndarray = recs["ts"] if "ts" in (recs.dtype.names or ()) else recs["b"]["ts"]
    return ts

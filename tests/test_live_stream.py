"""Live printing's stream (sysnb without -r) on a fake recording: no BPF needed.

Regression: on a host that made no system calls the stream never yielded, so ``sysnb -M 4`` never checked
its deadline and hung (seen in CI on a quiet VM)."""

from __future__ import annotations

import io
import time

import numpy as np

from sysnb.record import layout as L
from sysnb.record.live import stream
from sysnb.record.spill import SpillTail, SpillWriter
from sysnb.scap.reader import Section


class FakeRecording:
    """A recording whose drains are put on its spill writer by the test (a spill file in memory)."""

    def __init__(self) -> None:
        self.spill = io.BytesIO()
        self.writer = SpillWriter(self.spill)  # type: ignore[arg-type]
        self.section = Section(offset=0, version=(1, 0))
        self.boot_offset = 0
        self.halted = False
        self._t0 = time.monotonic()

    def halt(self) -> None:
        self.halted = True
        self.writer.close()

    def spill_tail(self) -> SpillTail:
        return SpillTail(self.writer, lambda offset, size: self.spill.getvalue()[offset:offset + size])

    def elapsed(self) -> float:
        return time.monotonic() - self._t0


def _getpid_record(tid: int, ts: int) -> np.ndarray:
    rec = np.zeros(1, L.BASE)
    rec["ts"] = ts
    rec["enter_ts"] = ts - 1000
    rec["ret"] = tid
    rec["tid"] = rec["pid"] = tid
    rec["nr"] = 39  # getpid
    rec["comm"] = b"fake"
    return rec


def test_idle_host_still_honours_the_deadline() -> None:
    rec = FakeRecording()
    t0 = time.monotonic()
    batches = list(stream(rec, until=lambda: rec.elapsed() >= 0.5))  # type: ignore[arg-type]
    assert rec.halted
    assert batches == []
    assert time.monotonic() - t0 < 2.0


def test_records_still_behind_the_watermark_are_released_at_the_deadline() -> None:
    rec = FakeRecording()
    now = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    rec.writer.put(now, _getpid_record(4242, now), np.zeros(0, L.MID), np.zeros(0, L.big_dtype(8)))
    batches = list(stream(rec, until=lambda: True))  # type: ignore[arg-type]
    rows = [r for b in batches for r in b.to_pylist()]
    assert {(r["evt.type"], r["thread.tid"]) for r in rows} >= {("getpid", 4242)}


def test_mid_records_survive_the_spill_cut_to_their_payload() -> None:
    """The drain cuts mid records to the batch's longest payload; the spill keeps that width."""
    import io

    from sysnb.record.spill import SpillWriter, replay

    mid = np.zeros(2, L.mid_dtype(8))
    mid["b"] = np.concatenate([_getpid_record(7, 1000), _getpid_record(8, 2000)])
    mid["b"]["nr"] = 1  # write
    mid["data_len"] = (3, 0)
    mid["data_total"] = (3, 0)
    mid["data"][0, :3] = list(b"abc")
    f = io.BytesIO()
    writer = SpillWriter(f)  # type: ignore[arg-type]
    writer.put(5000, _getpid_record(9, 1500), mid, np.zeros(0, L.big_dtype(8)))
    writer.close()
    f.seek(0)
    (small, mid_out, big), = list(replay(f))  # type: ignore[arg-type]
    assert small["tid"].tolist() == [9] and len(big) == 0
    assert mid_out.dtype == L.mid_dtype(8)  # the 120-byte payload field cut to the longest payload
    assert mid_out["b"]["tid"].tolist() == [7, 8] and mid_out["b"]["nr"].tolist() == [1, 1]
    assert mid_out["data_len"].tolist() == [3, 0] and mid_out["data_total"].tolist() == [3, 0]
    assert bytes(mid_out["data"][0, :3]) == b"abc"


def test_records_come_back_in_time_order_across_kinds_and_frames() -> None:
    from sysnb.record.spill import Pending

    pending = Pending()
    mid = np.zeros(1, L.MID)
    mid["b"] = _getpid_record(2, 30_000)
    pending.add(_getpid_record(1, 50_000), mid, np.zeros(0, L.big_dtype(8)))
    pending.add(_getpid_record(3, 10_000), np.zeros(0, L.MID), np.zeros(0, L.big_dtype(8)))
    first = list(pending.release(40_000, 10))
    assert [(b[0]["tid"].tolist(), b[1]["b"]["tid"].tolist()) for b in first] == [([3], [2])]
    assert pending.count == 1
    rest = list(pending.release(None, 10))
    assert [b[0]["tid"].tolist() for b in rest] == [[1]] and pending.count == 0


def test_syscall_set_keeps_what_state_needs_and_names_unknown_syscalls() -> None:
    import pytest

    from sysnb.errors import UsageError
    from sysnb.record.syscall_set import syscall_numbers

    nrs = syscall_numbers(["read", " write", ""])
    assert {0, 1, 257, 3, 59, 56, 42} <= nrs  # read, write + openat, close, execve, clone, connect
    assert 39 not in nrs  # getpid
    with pytest.raises(UsageError, match="did you mean read"):
        syscall_numbers(["raed"])


def test_drop_count_is_live_then_exact() -> None:
    from sysnb.record.recorder import RecordStats

    stats = RecordStats("x.scap", drops_so_far=3)  # while recording: what drained records reported
    assert stats.drops == 3
    stats.drops_per_cpu = [1, 4]  # at stop: the kernel's per-CPU counters (drops after the last record too)
    assert stats.drops == 5


def test_a_lagging_reader_takes_the_spill_a_few_frames_at_a_time() -> None:
    """Live printing slower than the host reads the spill file in bounded steps instead of queueing every
    drained batch in memory (2.6 GB after 10 s of a 2 M syscalls/s host, before)."""
    rec = FakeRecording()
    for i in range(10):
        small = np.concatenate([_getpid_record(100 + i, 10_000 + 1000 * i + j) for j in range(10)])
        rec.writer.put(5000 * i, small, np.zeros(0, L.MID), np.zeros(0, L.big_dtype(8)))
    tail = rec.spill_tail()
    rec.halt()  # every frame written
    assert [len(f[1]) for f in tail.frames(25)] == [10, 10, 10]  # stops once 25 records were read
    assert not tail.caught_up
    assert sum(len(f[1]) for f in tail.frames(1000)) == 70 and tail.caught_up
    assert list(tail.frames(1000)) == []


def test_a_frame_still_being_written_is_not_read() -> None:
    from sysnb.record.spill import frame_at, write_frame

    f = io.BytesIO()
    write_frame(f, 7, _getpid_record(1, 5000), np.zeros(0, L.MID), np.zeros(0, L.big_dtype(8)))
    whole = f.getvalue()
    def read(offset: int, size: int) -> bytes:
        return whole[offset:offset + size]
    assert frame_at(read, 0, len(whole) - 1) is None  # the writer has not flushed all of it yet
    frame, end = frame_at(read, 0, len(whole))  # type: ignore[misc]
    assert end == len(whole) and frame[0] == 7 and frame[1]["tid"].tolist() == [1]
    assert frame_at(lambda o, n: whole[o:o + n][:-1], 0) is None  # cut short (a killed recorder)

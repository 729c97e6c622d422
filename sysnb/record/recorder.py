"""A live recording into a .scap file: engine -> drain thread -> converter/writer thread -> file.

The engine starts producing before the /proc snapshot is taken, so no process can slip between the two.
A drain thread empties the rings every few milliseconds (bulk numpy copies); a writer thread releases
records older than a short watermark, in time order, converts them to events and appends them to the
file, so memory stays bounded however long the recording runs. ``stop()`` (also on SIGINT/SIGTERM in
the CLI) pauses the programs, drains what is left and closes a valid file.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sysnb.record import layout as L
from sysnb.record.convert import convert
from sysnb.record.engine import CoreEngine
from sysnb.record.snapshot import boot_offset_ns, take_snapshot
from sysnb.scap.writer import ScapWriter

DRAIN_INTERVAL_S = 0.005
WATERMARK_NS = 100_000_000  # records younger than this wait for stragglers from other CPUs


@dataclass
class RecordStats:
    path: str
    seconds: float = 0.0
    records: int = 0
    events: int = 0
    drops_per_cpu: list[int] = field(default_factory=list)
    seen_per_cpu: list[int] = field(default_factory=list)
    snaplen: int = 80

    @property
    def drops(self) -> int:
        return sum(self.drops_per_cpu)

    def summary(self) -> str:
        pct = 100.0 * self.drops / max(self.drops + self.records, 1)
        return (f"{self.records} syscalls recorded in {self.seconds:.2f} s -> {self.events} events written to "
                f"{self.path}; dropped {self.drops} ({pct:.2f} %, per CPU {self.drops_per_cpu})")


class Recording:
    def __init__(self, path: str, *, snaplen: int = 80, compress: bool | None = None,
                 exclude: list[int] | None = None, target_pid: int = 0) -> None:
        self.stats = RecordStats(path, snaplen=snaplen)
        self._engine = CoreEngine(snaplen=snaplen, exclude=[os.getpid(), *(exclude or [])], target_tgid=target_pid)
        self._t0 = time.monotonic()
        self._offset = boot_offset_ns()
        try:
            self._writer = ScapWriter(path, compress)
            self._writer.write_section(take_snapshot())
        except BaseException:
            self._engine.close()
            raise
        self._queue: queue.Queue[tuple[np.ndarray, np.ndarray] | None] = queue.Queue()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._drainer = threading.Thread(target=self._drain_loop, name="sysnb-drain", daemon=True)
        self._converter = threading.Thread(target=self._write_loop, name="sysnb-write", daemon=True)
        self._drainer.start()
        self._converter.start()

    def _drain_loop(self) -> None:
        try:
            while not self._stop.is_set():
                self._drain_once()
                time.sleep(DRAIN_INTERVAL_S)
            self._drain_once()
        except BaseException as e:  # surfaced by stop()
            self._error = e
        finally:
            self._queue.put(None)

    def _drain_once(self) -> None:
        small, big = self._engine.drain()
        if len(small) or len(big):
            self._queue.put((small, big))

    def _write_loop(self) -> None:
        pending_small: list[np.ndarray] = []
        pending_big: list[np.ndarray] = []
        done = False
        try:
            while not done:
                item = self._queue.get()
                if item is None:
                    done = True
                else:
                    pending_small.append(item[0])
                    pending_big.append(item[1])
                    if not self._queue.empty():
                        continue
                small, big = np.concatenate(pending_small or [np.zeros(0, L.BASE)]), \
                    np.concatenate(pending_big or [np.zeros(0, L.BIG)])
                cut = np.iinfo(np.uint64).max if done else time.clock_gettime_ns(time.CLOCK_BOOTTIME) - WATERMARK_NS
                ready_s, ready_b = small["ts"] <= cut, big["b"]["ts"] <= cut
                pending_small, pending_big = [small[~ready_s]], [big[~ready_b]]
                self._write(small[ready_s], big[ready_b])
        except BaseException as e:
            self._error = e

    def _write(self, small: np.ndarray, big: np.ndarray) -> None:
        if not len(small) and not len(big):
            return
        table = convert(small, big, self._offset)
        self._writer.write_events(table)
        self.stats.records += len(small) + len(big)
        self.stats.events += table.num_rows

    def stop(self) -> RecordStats:
        """Stop recording, write what is left, close the file. Safe to call twice."""
        if self._stop.is_set():
            return self.stats
        self._engine.pause()
        self._stop.set()
        self._drainer.join()
        self._converter.join()
        counters = self._engine.stats()
        self._engine.close()
        self._writer.close()
        self.stats.seconds = time.monotonic() - self._t0
        self.stats.drops_per_cpu = counters["drops"]
        self.stats.seen_per_cpu = counters["seen"]
        if self._error is not None:
            raise self._error
        return self.stats

    def elapsed(self) -> float:
        return time.monotonic() - self._t0


def record(path: str, seconds: float | None = None, *, snaplen: int = 80, compress: bool | None = None,
           exclude: list[int] | None = None, target_pid: int = 0,
           until: Callable[[], bool] | None = None, tick: Callable[[Recording], None] | None = None) -> RecordStats:
    """Record every system call on the host into ``path`` for ``seconds`` (or until ``until()`` is true, or
    KeyboardInterrupt). Whatever was recorded is always written to a valid file."""
    rec = Recording(path, snaplen=snaplen, compress=compress, exclude=exclude, target_pid=target_pid)
    try:
        while (seconds is None or rec.elapsed() < seconds) and not (until is not None and until()):
            time.sleep(0.05)
            if tick is not None:
                tick(rec)
    except KeyboardInterrupt:
        pass
    finally:
        stats = rec.stop()
    return stats

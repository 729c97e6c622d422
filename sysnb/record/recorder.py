"""A live recording into a .scap file: engine -> drain thread -> spill thread -> raw spill file -> (at
stop) .scap.

The engine starts producing before the /proc snapshot is taken, so no process can slip between the two.
A drain thread (SCHED_FIFO) empties the rings every 2 ms (bulk numpy copies) and a spill thread appends the
raw records to a spill file next to the output, so memory stays bounded, a slow disk does not delay
draining, and no conversion competes with draining while the workload runs. ``stop()`` (also on
SIGINT/SIGTERM in the CLI) pauses the programs, drains what is left,
and converts the spill in time order into the .scap (see spill.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sysnb.case.hooks import evidence_recorded
from sysnb.errors import SysnbError
from sysnb.record import space
from sysnb.record.engine import open_engine
from sysnb.record.recover import spill_path, write_from_spill
from sysnb.record.snapshot import boot_offset_ns, take_snapshot
from sysnb.record.spill import END, SPILL_MAGIC, SPILL_VERSION, START, Batch, Control, SpillTail, SpillWriter, replay
from sysnb.record.syscall_set import cgroup_id, syscall_numbers
from sysnb.scap.reader import Section
from sysnb.scap.writer import section_bytes

DRAIN_INTERVAL_S = 0.002
SPACE_CHECK_S = 0.25  # how often the drain thread looks at the free space (a statvfs: microseconds),
SPACE_CHECK_BYTES = 8 << 20  # and after every 8 MiB spilled
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _prioritise_this_thread() -> None:
    """Run the drain thread under SCHED_FIFO (lowest real-time priority) so that when every CPU is busy
    with the traced workload it still wakes every 2 ms and empties the rings before they overflow; it sleeps
    between drains, so it cannot starve the host. Falls back to nice -10, then to nothing."""
    tid = threading.get_native_id()
    try:
        os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(1))
    except (OSError, AttributeError):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, tid, -10)


def keep_freed_memory() -> None:
    """Have glibc keep freed buffers in the heap instead of returning each one to the kernel. Every drain
    allocates a few hundred KB; with glibc's defaults each was a fresh mmap (page faults) and munmap
    (TLB shootdown), and single drains stalled for up to 112 ms: the rings overflowed at ~1 M records/s
    (4 % dropped). With this, 0 drops. A no-op on a libc without mallopt."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    except (OSError, AttributeError):
        pass


@dataclass
class RecordStats:
    path: str
    seconds: float = 0.0
    records: int = 0
    events: int = 0
    drops_per_cpu: list[int] = field(default_factory=list)
    seen_per_cpu: list[int] = field(default_factory=list)
    snaplen: int = 80
    latency: bool = True
    engine: str = "core"
    drops_so_far: int = 0   # the drops the drained records carry (while recording; exact counters at stop)
    pending_per_cpu: list[int] = field(default_factory=list)  # drops after each CPU's last record (at stop)
    stop_reason: str | None = None  # why the recording stopped before it was asked to (a full disk)

    @property
    def drops(self) -> int:
        return sum(self.drops_per_cpu) if self.drops_per_cpu else self.drops_so_far

    def summary(self) -> str:
        pct = 100.0 * self.drops / max(self.drops + self.records, 1)
        early = f"; stopped early: {self.stop_reason}" if self.stop_reason else ""
        return (f"{self.records} syscalls recorded in {self.seconds:.2f} s -> {self.events} events written to "
                f"{self.path}; dropped {self.drops} ({pct:.2f} %, per CPU {self.drops_per_cpu}){early}")

    def note(self) -> dict[str, Any]:
        """What the .scap records about its recording (note.py), shown whenever it is opened."""
        return {"engine": self.engine, "seconds": round(self.seconds, 3), "syscalls": self.records,
                "drops": self.drops, "drops_per_cpu": self.drops_per_cpu, "seen_per_cpu": self.seen_per_cpu,
                "drops_carried": self.drops_so_far, "pending_per_cpu": self.pending_per_cpu,
                "snaplen": self.snaplen, "latency": self.latency, "drops_exact": True,
                **({"stop_reason": self.stop_reason} if self.stop_reason else {})}


class RecordingNotWritten(SysnbError):
    """The .scap could not be written at stop; the spill that holds the recording was kept."""


def _say(message: str) -> None:
    print(f"sysnb: {message}", file=sys.stderr, flush=True)


class Recording:
    def __init__(self, path: str, *, snaplen: int = 80, compress: bool | None = None,
                 exclude: list[int] | None = None, target_pid: int = 0, latency: bool = True,
                 syscalls: Iterable[str] | None = None, cgroup: str | None = None, engine: str = "auto",
                 announce: Callable[[Recording], None] | None = None,
                 notify: Callable[[str], None] = _say) -> None:
        """``latency=False``: no sys_enter hook (see CoreEngine).
        ``syscalls``: record only these (by name) and the ones process/fd state need (syscall_set.py).
        ``cgroup``: record only tasks in this cgroup directory or below (e.g. a container's).
        ``engine``: ``core`` (CO-RE, needs BTF), ``bcc`` (compiled at start, needs kernel headers) or ``auto``
        (core where it can run, else bcc).
        ``announce(rec)``: called as soon as the programs are attached (what happens from then on is
        recorded), before the clock of ``elapsed()`` starts and before the /proc snapshot.
        ``notify(message)``: warnings while recording (low disk space); default: stderr."""
        keep_freed_memory()
        self.stats = RecordStats(path, snaplen=snaplen, latency=latency)
        self._compress = path.endswith(".gz") if compress is None else compress
        self._notify = notify
        self._folder = os.path.dirname(os.path.abspath(path))
        if (warning := space.check_before(self._folder)) is not None:
            notify(warning)
        self.spill_path = spill_path(path)
        self._spill = _create_spill(self.spill_path, path)
        try:
            self._engine = open_engine(engine, snaplen=snaplen, exclude=[os.getpid(), *(exclude or [])],
                                       target_tgid=target_pid, enter_hook=latency,
                                       syscalls=None if syscalls is None else syscall_numbers(syscalls),
                                       target_cgroup=cgroup_id(cgroup) if cgroup else 0)
        except BaseException:
            self._discard_spill()
            raise
        self.stats.engine = self._engine.name
        try:
            self._t0 = _clock()
            if announce is not None:
                announce(self)
            self._t0 = _clock()  # the clock starts once the user knows the recording runs
            self._offset = boot_offset_ns()
            self._section = take_snapshot()
            self._section_bytes = section_bytes(self._section)
            self._spill_writer = SpillWriter(self._spill, start=Control(START, _now(), self._start_meta(),
                                                                        self._section_bytes))
        except BaseException:
            self._engine.close()
            self._discard_spill()
            raise
        self._stop = threading.Event()
        self._written = False
        self._error: BaseException | None = None
        self._drainer = threading.Thread(target=self._drain_loop, name="sysnb-drain", daemon=True)
        self._drainer.start()

    def _start_meta(self) -> dict[str, Any]:
        return {"magic": SPILL_MAGIC, "version": SPILL_VERSION, "output": os.path.abspath(self.stats.path),
                "compress": self._compress, "boot_offset": self._offset, "engine": self.stats.engine,
                "snaplen": self.stats.snaplen, "latency": self.stats.latency,
                "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pid": os.getpid()}

    def _discard_spill(self) -> None:
        self._spill.close()
        with contextlib.suppress(OSError):
            os.unlink(self.spill_path)

    def _drain_loop(self) -> None:
        _prioritise_this_thread()
        next_check, checked_at = 0.0, 0
        try:
            while not self._stop.is_set():
                self._drain_once()
                if self.stats.stop_reason is None and (
                        _clock() >= next_check or self._spill_writer.written - checked_at >= SPACE_CHECK_BYTES):
                    self._check_room()
                    next_check, checked_at = _clock() + SPACE_CHECK_S, self._spill_writer.written
                time.sleep(DRAIN_INTERVAL_S)
            self._drain_once()
        except BaseException as e:  # surfaced by stop()
            self._error = e

    def _drain_once(self) -> None:
        small, mid, big = self._engine.drain()
        if len(small) or len(mid) or len(big):
            now = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
            self._spill_writer.put(now, small, mid, big)
            self.stats.records += len(small) + len(mid) + len(big)
            # each record carries the drops of its CPU since that CPU's previous record
            self.stats.drops_so_far += int(small["lost"].sum() + mid["b"]["lost"].sum() + big["b"]["lost"].sum())

    def _check_room(self) -> None:
        """Stop producing (the rings are still drained) when the disk is about full or the spill failed."""
        if why := self._room_problem():
            self._engine.pause()
            self._stopped_early(why)

    def _room_problem(self) -> str | None:
        err = self._spill_writer.error
        if err is not None:
            return f"writing the spill {self.spill_path} failed ({getattr(err, 'strerror', None) or err})"
        return space.low_space(self._folder, self._spill_writer.written, self._compress)

    def _stopped_early(self, why: str) -> None:
        self.stats.stop_reason = f"{why}, after {self.elapsed():.1f} s"
        self._notify(f"{self.stats.stop_reason}; what was recorded is kept")

    @property
    def stopping(self) -> bool:
        """The recording stopped by itself (``stats.stop_reason`` says why): callers waiting on it stop."""
        return self.stats.stop_reason is not None

    def spill_tail(self) -> SpillTail:
        """The recorded frames as they reach the spill file, for live consumers (live.stream)."""
        fd = self._spill.fileno()
        return SpillTail(self._spill_writer, lambda offset, size: os.pread(fd, size, offset))

    def halt(self) -> None:
        """Stop producing records and drain what the rings still hold (the drain thread ends and every
        record is in the spill file, closed by an end frame with the kernel's counters). The .scap is written
        by ``stop()``. Idempotent."""
        if self._stop.is_set():
            return
        self._engine.pause()
        self._stop.set()
        self._drainer.join()
        if self._error is None:
            self._drain_once()  # what programs already running when the recording was paused wrote since
        counters = self._engine.stats()
        self._engine.close()
        self.stats.seconds = _clock() - self._t0
        self.stats.drops_per_cpu = counters["drops"]
        self.stats.seen_per_cpu = counters["seen"]
        self.stats.pending_per_cpu = counters.get("pending", [])
        self._spill_writer.put_control(Control(END, _now(), self.stats.note()))
        try:
            self._spill_writer.close()
        except OSError:
            # a full disk: the spill keeps the whole frames written before; cut what follows them
            self._spill.truncate(self._spill_writer.written)
            if self.stats.stop_reason is None:
                self._stopped_early(self._room_problem() or "the spill could not be written")

    def spilled(self) -> Iterator[Batch]:
        """The records spilled so far (after ``halt()``: every record), as (small, mid, big) batches in time
        order, before they are converted."""
        self._spill.flush()
        return replay(self._spill)

    @property
    def halted(self) -> bool:
        return self._stop.is_set()

    def stop(self, progress: Callable[[int], None] | None = None) -> RecordStats:
        """Stop recording and write the .scap (converting the spilled records in time order), then delete the
        spill. Safe to call twice; ``progress(records_done)`` is called while the file is written. When the
        .scap cannot be written (a full disk) the spill is kept and :class:`RecordingNotWritten` says how to
        recover it; there is never a partial .scap."""
        if self._written:
            return self.stats
        self.halt()
        self._written = True
        try:
            self._spill.flush()
            self.stats.events = write_from_spill(self.stats.path, self._compress, self._section_bytes,
                                                 self.stats.note(), self._spill, self._offset, progress)
        except BaseException as e:
            self._spill.close()
            kept = (f"every recorded syscall is kept in {self.spill_path}: run `sysnb --recover {self.spill_path}` "
                    f"(-w OTHER.scap to write it elsewhere)")
            if isinstance(e, OSError):
                raise RecordingNotWritten(f"could not write {self.stats.path} ({e.strerror or e}); {kept}") from None
            self._notify(f"{self.stats.path} was not written; {kept}")
            raise
        self._discard_spill()
        if self._error is not None:
            raise self._error
        evidence_recorded(self.stats)
        return self.stats

    @property
    def section(self) -> Section:
        """The /proc snapshot taken at start (the state the first events refer to)."""
        return self._section

    @property
    def boot_offset(self) -> int:
        return self._offset

    def elapsed(self) -> float:
        return _clock() - self._t0


def _now() -> int:
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def _create_spill(path: str, output: str) -> BinaryIO:
    """The spill file, created (never reused: a spill left there holds an interrupted recording) and locked
    while the recording runs, so ``sysnb --recover`` can tell a live spill from an abandoned one."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise SysnbError(f"{path} exists: a recording to {output} was interrupted (or is running). Recover it "
                         f"with `sysnb --recover {path}`, or delete it to record again") from None
    except OSError as e:
        raise SysnbError(f"cannot create the spill {path} next to {output}: {e.strerror}") from None
    fcntl.flock(fd, fcntl.LOCK_EX)
    return os.fdopen(fd, "w+b")


def record(path: str, seconds: float | None = None, *, snaplen: int = 80, compress: bool | None = None,
           exclude: list[int] | None = None, target_pid: int = 0, latency: bool = True,
           syscalls: Iterable[str] | None = None, cgroup: str | None = None, engine: str = "auto",
           until: Callable[[], bool] | None = None,
           tick: Callable[[Recording], None] | None = None,
           announce: Callable[[Recording], None] | None = None) -> RecordStats:
    """Record every system call on the host into ``path`` for ``seconds`` (or until ``until()`` is true, the
    recording stops by itself on a full disk, or KeyboardInterrupt). Whatever was recorded is always written
    to a valid file. ``announce(rec)`` is called once the programs are attached, before the clock starts."""
    rec = Recording(path, snaplen=snaplen, compress=compress, exclude=exclude, target_pid=target_pid,
                    latency=latency, syscalls=syscalls, cgroup=cgroup, engine=engine, announce=announce)
    try:
        while ((seconds is None or rec.elapsed() < seconds) and not (until is not None and until())
               and not rec.stopping):
            time.sleep(0.05)
            if tick is not None:
                tick(rec)
    except KeyboardInterrupt:
        pass
    finally:
        stats = rec.stop()
    return stats


def _clock() -> float:
    """The recording's clock (monotonic seconds)."""
    return time.monotonic()

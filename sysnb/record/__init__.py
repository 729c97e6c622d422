"""Live capture with the eBPF recorder (``bpf/``: CO-RE through libbpf, or bcc where there is no BTF):
``capture(seconds=5) -> Capture``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sysnb.capture import Capture
    from sysnb.record.recorder import Recording, RecordStats


def default_path() -> str:
    """Where recordings go when no path is given: ``$SYSNB_CACHE_DIR/captures/live-<time>.scap.gz``."""
    from sysnb.cache import cache_dir

    folder = os.path.join(cache_dir(), "captures")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, time.strftime("live-%Y%m%d-%H%M%S.scap.gz"))


def capture(seconds: float | None = 5.0, *, path: str | None = None, snaplen: int = 80,
            exclude: list[int] | None = None, target_pid: int = 0, until: Callable[[], bool] | None = None,
            tick: Callable[[Recording], None] | None = None, latency: bool = True,
            syscalls: Iterable[str] | None = None, cgroup: str | None = None, engine: str = "auto") -> Capture:
    """Record every system call on this host for ``seconds`` (or until ``until()``), write the .scap
    evidence file (``path``, gzip when it ends in .gz) and open it. Needs root and a BTF kernel; the
    calling process is excluded from the recording. ``latency=False`` skips the sys_enter hook (14-30 %
    less time for syscall-heavy workloads; evt.latency is then 0). ``syscalls=["read", "write"]``
    records only those syscalls plus the ones process and fd state need; ``cgroup="/sys/fs/cgroup/…"`` only
    the tasks in that cgroup or below it. ``engine="bcc"`` records through bcc (kernels without BTF; ``auto``
    picks it when the CO-RE engine cannot run)."""
    from sysnb.capture import open_capture
    from sysnb.record.recorder import record

    out = path or default_path()
    stats = record(out, seconds, snaplen=snaplen, exclude=exclude, target_pid=target_pid, until=until, tick=tick,
                   latency=latency, syscalls=syscalls, cgroup=cgroup, engine=engine)
    cap = open_capture(out)
    cap.provenance.extra["recorder"] = stats_dict(stats)
    return cap


def stats_dict(stats: RecordStats) -> dict[str, object]:
    """``provenance.extra["recorder"]`` of a capture just recorded: the note stored in its file, and the
    number of events written."""
    return {**stats.note(), "events": stats.events}

"""What keeps the live tests true on a busy host (CI runs at load 10; tools/ci_under_load.sh adds busy loops).

* A test's workload runs in a cgroup of its own (``Scope``) and is recorded with ``cgroup=``: the rest of the
  host stays out of the file, so the capture is small and its ground truth findable however many syscalls
  the neighbours make (recorded whole, a busy neighbour's millions of syscalls take minutes to open).
* The recorder's counters are checked as ground truth (``assert_accounted``): every record the kernel
  published was drained, and every record lost is counted once.
* Where a fact can be missing because the rings overflowed, the test accepts that only when the counters
  say records were lost, and then records once more with the reason logged (``recorded_until``): a fact
  missing without a drop is a bug, and a fact missing twice fails.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from sysnb.record.recorder import RecordStats

T = TypeVar("T")
CGROUP_ROOTS = (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))


class RecordedAgainWarning(UserWarning):
    """A live test recorded its workload a second time because the rings overflowed the first time."""


class Scope:
    """A cgroup for one test's processes (``path`` None where no cgroup can be made: the whole host)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    @property
    def cgroup(self) -> str | None:
        """The ``cgroup=`` argument of a recording limited to this scope."""
        return str(self.path) if self.path else None

    def cli(self) -> list[str]:
        """The ``--cgroup DIR`` options of ``sysnb`` for this scope."""
        return ["--cgroup", str(self.path)] if self.path else []

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the scope (a shell joins the cgroup, then execs it)."""
        if self.path is None:
            return argv
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(self.path), *argv]


def _make_cgroup() -> Path | None:
    for root in CGROUP_ROOTS:
        if (root / "cgroup.procs").exists() and os.access(root, os.W_OK):
            path = root / f"sysnb-test-{uuid.uuid4().hex[:12]}"
            try:
                path.mkdir()
                return path
            except OSError:
                continue
    return None


@contextlib.contextmanager
def task_scope() -> Iterator[Scope]:
    path = _make_cgroup()
    try:
        yield Scope(path)
    finally:
        if path is not None:
            _remove_cgroup(path)


def _remove_cgroup(path: Path) -> None:
    """rmdir once the scope's processes are gone (a child reaped a moment ago may still count)."""
    for _ in range(100):
        try:
            path.rmdir()
            return
        except OSError:
            time.sleep(0.05)
    warnings.warn(f"could not remove the test cgroup {path}", stacklevel=2)


def stats_from_note(path: str, note: dict[str, object]) -> RecordStats:
    """The recorder's counters as its note in the file (or a capture's provenance) keeps them: for tests
    that record through the CLI or the magic."""
    return RecordStats(path, records=note["syscalls"], drops_per_cpu=note["drops_per_cpu"],  # type: ignore[arg-type]
                       seen_per_cpu=note["seen_per_cpu"], drops_so_far=note["drops_carried"],  # type: ignore[arg-type]
                       pending_per_cpu=note["pending_per_cpu"])  # type: ignore[arg-type]


def assert_accounted(stats: RecordStats) -> None:
    """Ground truth of the recorder's bookkeeping, whatever the load: every record the kernel published was
    drained into the file, and the losses the records carry plus those after each CPU's last record are the
    kernel's drop count."""
    assert stats.records == sum(stats.seen_per_cpu), (stats.records, stats.seen_per_cpu)
    assert stats.drops_so_far + sum(stats.pending_per_cpu) == sum(stats.drops_per_cpu), \
        (stats.drops_so_far, stats.pending_per_cpu, stats.drops_per_cpu)


def recorded_until(attempt: Callable[[], tuple[T, RecordStats]], present: Callable[[T], str | None],
                   what: str) -> tuple[T, RecordStats]:
    """``attempt()`` records a workload; ``present(result)`` returns None when the ground truth is in it, else
    what is missing. A miss is accepted once, when the recorder counted drops: then the reason is logged
    (a RecordedAgainWarning in the test report) and the workload recorded again."""
    reason = ""
    for attempt_no in (1, 2):
        result, stats = attempt()
        assert_accounted(stats)
        missing = present(result)
        if missing is None:
            return result, stats
        assert stats.drops > 0, f"{what}: {missing}, and the recorder dropped nothing: a recorder bug"
        reason = (f"{what}: {missing}; the rings overflowed ({stats.drops} of {stats.drops + stats.records} "
                  f"records dropped, per CPU {stats.drops_per_cpu}) on attempt {attempt_no}")
        if attempt_no == 1:
            warnings.warn(f"{reason}: recording again", RecordedAgainWarning, stacklevel=2)
    raise AssertionError(f"{reason}: twice in a row; the host is too busy for this recording")

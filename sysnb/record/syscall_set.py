"""What a recording can be narrowed to in the kernel: a syscall set (``--syscalls``), always with the syscalls
the state engine needs: without opens, closes, sockets, dups, clones and execs, later events would have no fd
names and no process names (sysdig keeps these in its "simple consumer" mode for the same reason); and a
cgroup (``--cgroup``)."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable

from sysnb.errors import UsageError
from sysnb.record.syscall_table import SYSCALLS

STATE_SYSCALLS = frozenset({
    "open", "openat", "openat2", "creat", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "socket",
    "socketpair", "connect", "accept", "accept4", "bind", "listen", "pipe", "pipe2", "clone", "clone3", "fork",
    "vfork", "execve", "execveat", "chdir", "fchdir", "eventfd", "eventfd2", "signalfd", "signalfd4",
    "timerfd_create", "inotify_init", "inotify_init1", "epoll_create", "epoll_create1", "memfd_create",
    "userfaultfd", "setuid", "setgid", "setresuid", "setresgid", "prctl", "exit", "exit_group",
})
_NUMBERS = {name: nr for nr, (name, *_) in SYSCALLS.items()}


def syscall_numbers(names: Iterable[str]) -> set[int]:
    """x86-64 numbers of ``names`` plus the state syscalls; an unknown name is a UsageError with suggestions."""
    wanted = {n.strip() for n in names if n.strip()}
    unknown = sorted(n for n in wanted if n not in _NUMBERS)
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(_NUMBERS), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UsageError(f"unknown syscall {unknown[0]!r} in --syscalls{hint}; names are the x86-64 ones, "
                         "as `sysnb -L` lists their events")
    return {_NUMBERS[n] for n in wanted | STATE_SYSCALLS if n in _NUMBERS}


def cgroup_id(path: str) -> int:
    """The kernfs id the recorder compares with (the cgroup directory's inode number); a path that is not a
    cgroup directory is a UsageError."""
    if not os.path.isfile(os.path.join(path, "cgroup.procs")):
        raise UsageError(f"{path} is not a cgroup directory (no cgroup.procs in it): give one under "
                         "/sys/fs/cgroup, e.g. /sys/fs/cgroup/system.slice/docker-<id>.scope")
    return os.stat(path).st_ino

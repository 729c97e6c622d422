"""Which fd an event's ``fd.*`` fields describe, as libsinsp's fd filter checks decide it.

* Only events whose type creates, uses or destroys an fd have fd fields.
* ``fd.num`` is the thread's "last event fd" (set by the enter event, or by the
  syscall that created an fd), not necessarily a parameter of this event.
* When that fd is not in the table, ``fd.name`` comes "from the creator": the path
  or tuple parameter of open/creat/accept/connect/openat exits, an empty string for
  other exits, nothing for enters; ``fd.typechar`` is guessed from the syscall.
"""

from __future__ import annotations

import struct

from sysnb.scap import events as E

_SYM = {e.symbol: e.id for e in E.EVENTS}


def _ids(*symbols: str) -> frozenset[int]:
    return frozenset(_SYM[s] for s in symbols)


FD_FAMILY: list[bool] = [
    bool((e.flags_2022 if e.known_2022 else e.flags) & {"CREATES_FD", "USES_FD", "DESTROYS_FD"}) for e in E.EVENTS
]

#: exits whose fd name, when the fd is unknown, is parameter 1 rendered (resolved value preferred)
NAME_FROM_PARAM1 = _ids("SYSCALL_OPEN_X", "SOCKET_ACCEPT_X", "SOCKET_ACCEPT_5_X", "SOCKET_ACCEPT4_X",
                        "SOCKET_ACCEPT4_5_X", "SYSCALL_CREAT_X", "SOCKET_CONNECT_X")
OPENAT_OLD_X = _SYM["SYSCALL_OPENAT_X"]
OPENAT_NEW_X = _ids("SYSCALL_OPENAT_2_X", "SYSCALL_OPENAT2_X")
CONNECT_X = _SYM["SOCKET_CONNECT_X"]

_TYPECHARS = {
    "f": _ids("SYSCALL_OPEN_E", "SYSCALL_OPENAT_E", "SYSCALL_OPENAT_2_E", "SYSCALL_OPENAT2_E", "SYSCALL_CREAT_E"),
    "4": _ids("SOCKET_SOCKET_E", "SOCKET_ACCEPT_E", "SOCKET_ACCEPT_5_E", "SOCKET_ACCEPT4_E", "SOCKET_ACCEPT4_5_E"),
    "p": _ids("SYSCALL_PIPE_E"), "e": _ids("SYSCALL_EVENTFD_E"), "s": _ids("SYSCALL_SIGNALFD_E"),
    "t": _ids("SYSCALL_TIMERFD_CREATE_E"), "i": _ids("SYSCALL_INOTIFY_INIT_E"),
}


def null_fd_typechar(etype: int) -> str:
    """libsinsp's guess of the fd type when the fd is not in the table (by the syscall's enter id)."""
    enter = etype & ~1
    for ch, ids in _TYPECHARS.items():
        if enter in ids:
            return ch
    return "o"


def openat_dirfd_name(raw_name: bytes, raw_dirfd: bytes) -> tuple[str, int]:
    """(name, dirfd) decoded from an openat's parameters."""
    i = raw_name.find(b"\0")
    name = (raw_name if i < 0 else raw_name[:i]).decode("utf-8", "surrogateescape")
    dirfd = struct.unpack("<q", raw_dirfd)[0] if len(raw_dirfd) == 8 else -100
    return name, int(dirfd)

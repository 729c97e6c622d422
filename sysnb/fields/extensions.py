"""Fields newer than sysdig 0.29.3 that Falco's rules use (../shared/rules), marked as extensions.

evt.hostname comes from the capture's machine-info block; the others need per-event state the engine does
not track yet and evaluate to null (docs/fields-state-needed.md).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from sysnb.fields.context import FieldContext
from sysnb.fields.model import FieldRef

_EXEC = "the execve exit parameters of newer drivers (absent from 2022-format captures)"


def _hostname(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    name = ctx.meta.hostname or None
    return pa.array([name] * table.num_rows, pa.string()) if name else pa.nulls(table.num_rows, pa.string())


def _state(typ: str, desc: str, state: str, **kw: Any) -> tuple[str, str, dict[str, Any]]:
    return typ, desc, dict(state=state, **kw)


EXTENSIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "evt.hostname": ("CHARBUF", "The hostname of the machine the capture was recorded on (its machine-info block).",
                     dict(table=_hostname)),
    "proc.pexe": _state("CHARBUF", "The proc.exe (first command line argument argv[0]) of the parent process.",
                        "the parent thread's exe at the event"),
    "proc.pexepath": _state("CHARBUF", "The proc.exepath (full executable path) of the parent process.",
                            "the parent thread's exepath at the event"),
    "proc.aexe": _state("CHARBUF", "The proc.exe of a process ancestor: proc.aexe[1] the parent's, [2] the "
                        "grandparent's, [0] the process's own; without an index (filters) any ancestor.",
                        "the ancestors' exe (like the name chain sysnb.aname)", arg="optional"),
    "proc.aexepath": _state("CHARBUF", "The proc.exepath of a process ancestor: proc.aexepath[1] the parent's, "
                            "[0] the process's own; without an index (filters) any ancestor.",
                            "the ancestors' exepath (like the name chain sysnb.aname)", arg="optional"),
    "proc.is_exe_upper_layer": _state("BOOL", "'true' if this process' executable file is in the upper layer of "
                                      "an overlayfs.", _EXEC),
    "proc.is_exe_from_memfd": _state("BOOL", "'true' if the executable file of the current process is an "
                                     "anonymous file created with memfd_create() and executed through its fd.",
                                     _EXEC),
    "proc.is_vpgid_leader": _state("BOOL", "'true' if this process is the leader of its virtual process group "
                                   "(proc.vpgid == proc.vpid).", "vpgid and vpid of the thread"),
    "proc.vpgid.name": _state("CHARBUF", "The name of the current process's process group leader.",
                              "vpgid of the thread and the group leader's name"),
    "proc.vpgid.exe": _state("CHARBUF", "The argv[0] of the current process's process group leader.",
                             "vpgid of the thread and the group leader's exe"),
    "proc.ppid.duration": _state("RELTIME", "Number of nanoseconds since the parent process started.",
                                 "the parent's clone time"),
    "proc.exe_ino": _state("INT64", "The inode number of the executable file on disk.", _EXEC),
    "proc.exe_ino.ctime": _state("ABSTIME", "Last status change time of the executable file (inode ctime), in "
                                 "nanoseconds since the epoch.", _EXEC),
    "proc.exe_ino.mtime": _state("ABSTIME", "Last modification time of the executable file (inode mtime), in "
                                 "nanoseconds since the epoch.", _EXEC),
    "proc.exe_ino.ctime_duration_proc_start": _state("ABSTIME", "Nanoseconds between the executable's status change "
                                                     "and the process's start.", _EXEC),
    "thread.cap_permitted": _state("CHARBUF", "The permitted capabilities set.", "cap_permitted of execve/clone "
                                   "exits and the process list (newer drivers)"),
    "thread.cap_inheritable": _state("CHARBUF", "The inheritable capabilities set.", "cap_inheritable of "
                                     "execve/clone exits and the process list (newer drivers)"),
    "thread.cap_effective": _state("CHARBUF", "The effective capabilities set.", "cap_effective of execve/clone "
                                   "exits and the process list (newer drivers)"),
    "fd.nameraw": _state("CHARBUF", "FD full name raw: like fd.name, but the file path as the syscall passed it, "
                         "not made absolute or sanitized.", "the fd's unresolved name"),
    "fd.types": _state("CHARBUF", "The types of the fds the event uses (all fds of a poll), e.g. (ipv4,file); "
                       "fd.types[N] for one fd.", "the thread's fd table at the event", arg="optional"),
    "container.start_ts": _state("ABSTIME", "The container's start time, in nanoseconds since the epoch.",
                                 "the pid namespace init start time of the container's processes"),
    "fs.path.name": _state("CHARBUF", "For any event type that deals with a filesystem path, the path the file "
                           "syscall is operating on.", "not implemented yet (derived from each syscall's path "
                           "parameters)"),
    "fs.path.source": _state("CHARBUF", "For any event type that deals with a filesystem path and that has a "
                             "source and target, the source path.", "not implemented yet"),
    "fs.path.target": _state("CHARBUF", "For any event type that deals with a filesystem path and that has a "
                             "source and target, the target path.", "not implemented yet"),
}


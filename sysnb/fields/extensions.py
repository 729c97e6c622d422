"""Fields newer than sysdig 0.29.3 that Falco's rules use (../shared/rules), marked as extensions.

evt.hostname comes from the capture's machine-info block; proc.pexe/pexepath, the capability sets and the
executable flags from the state engine's thread columns (null where the capture does not carry them); the
others need per-event state the engine does not track yet and evaluate to null (docs/fields-state-needed.md).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.fields.common import column
from sysnb.fields.context import FieldContext
from sysnb.fields.evt import stored
from sysnb.fields.model import FieldRef, call

_EXEC = "the execve exit parameters of newer drivers (absent from 2022-format captures)"


def _hostname(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    name = ctx.meta.hostname or None
    return pa.array([name] * table.num_rows, pa.string()) if name else pa.nulls(table.num_rows, pa.string())


#: Linux capability names by bit (the drivers' PPM_CAP_* bits follow the kernel's numbering)
CAP_NAMES = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
             "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
             "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
             "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
             "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
             "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
             "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
             "CAP_CHECKPOINT_RESTORE")


def cap_names(mask: int) -> str:
    """A capability set as libsinsp prints it: the names of its bits, in bit order, separated by spaces."""
    return " ".join(name for bit, name in enumerate(CAP_NAMES) if mask >> bit & 1)


def _caps(name: str) -> Any:
    """thread.cap_*: the set's names (null where the capture does not carry capability sets)."""
    def table_fn(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
        masks = column(table, name)
        uniq = pc.unique(masks).drop_null()
        names = pa.array([cap_names(m & (1 << 64) - 1) for m in uniq.to_pylist()], pa.string())
        return pc.take(names, pc.index_in(masks, value_set=uniq))
    return table_fn


def _exe_flag(bit: int) -> Any:
    """proc.is_exe_*: a PPM_EXE_* bit of the execve exit's flags (null where the capture has no flags)."""
    def expr(ref: FieldRef, ctx: FieldContext) -> pc.Expression:
        flags = pc.field("sysnb.exe_flags")
        return call("not_equal", call("bit_wise_and", flags, pc.scalar(bit)), pc.scalar(0))
    return expr


def _ancestor_exe(field: str) -> Any:
    """proc.aexe[N] / proc.aexepath[N] from the chains the engine records (N=0: the process itself); null
    without an index (the any-ancestor form of filters is not implemented for them)."""
    def table_fn(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
        from sysnb.filter.dynamic import ancestor_at

        if ref.index is None or ref.index < 0:
            return pa.nulls(table.num_rows, pa.string())
        return ancestor_at(table, field, ref.index)
    return table_fn


def _vpgid_leader(ref: FieldRef, ctx: FieldContext) -> pc.Expression:
    return call("equal", pc.field("proc.vpgid"), pc.field("proc.vpid"))


def _state(typ: str, desc: str, state: str, **kw: Any) -> tuple[str, str, dict[str, Any]]:
    return typ, desc, dict(state=state, **kw)


EXTENSIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "evt.hostname": ("CHARBUF", "The hostname of the machine the capture was recorded on (its machine-info block).",
                     dict(table=_hostname)),
    "proc.pexe": ("CHARBUF", "The proc.exe (first command line argument argv[0]) of the parent process.",
                  stored("proc.pexe")),
    "proc.pexepath": ("CHARBUF", "The proc.exepath (full executable path) of the parent process.",
                      stored("proc.pexepath")),
    "proc.aexe": ("CHARBUF", "The proc.exe of a process ancestor: proc.aexe[1] the parent's, [2] the "
                  "grandparent's, [0] the process's own; without an index (filters) any ancestor.",
                  dict(columns=("sysnb.aexe",), table=_ancestor_exe("proc.aexe"), arg="optional")),
    "proc.aexepath": ("CHARBUF", "The proc.exepath of a process ancestor: proc.aexepath[1] the parent's, "
                      "[0] the process's own; without an index (filters) any ancestor.",
                      dict(columns=("sysnb.aexepath",), table=_ancestor_exe("proc.aexepath"), arg="optional")),
    "proc.is_exe_upper_layer": ("BOOL", "'true' if this process' executable file is in the upper layer of "
                                "an overlayfs.", dict(columns=("sysnb.exe_flags",), expr=_exe_flag(2))),
    "proc.is_exe_from_memfd": ("BOOL", "'true' if the executable file of the current process is an anonymous "
                               "file created with memfd_create() and executed through its fd.",
                               dict(columns=("sysnb.exe_flags",), expr=_exe_flag(4))),
    "proc.is_vpgid_leader": ("BOOL", "'true' if this process is the leader of its virtual process group "
                             "(proc.vpgid == proc.vpid).",
                             dict(columns=("proc.vpgid", "proc.vpid"), expr=_vpgid_leader)),
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
    "thread.cap_permitted": ("CHARBUF", "The permitted capabilities set.",
                             dict(columns=("sysnb.cap_permitted",), table=_caps("sysnb.cap_permitted"))),
    "thread.cap_inheritable": ("CHARBUF", "The inheritable capabilities set.",
                               dict(columns=("sysnb.cap_inheritable",), table=_caps("sysnb.cap_inheritable"))),
    "thread.cap_effective": ("CHARBUF", "The effective capabilities set.",
                             dict(columns=("sysnb.cap_effective",), table=_caps("sysnb.cap_effective"))),
    "fd.nameraw": ("CHARBUF", "FD full name raw: like fd.name, but the file path as the syscall passed it, "
                   "not made absolute or sanitized.", stored("fd.nameraw")),
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


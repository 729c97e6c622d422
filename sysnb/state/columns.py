"""From replayed events to Arrow columns.

The engine's loop records only what varies per event (number, visibility, rendered
args, result, latency, fd number, buffer) plus two small integers: an index into a
table of *thread snapshots* and one into a table of *fd snapshots*. A snapshot is
taken when a thread or fd is first seen in a batch and again only after it changed,
so the 14 process columns and 8 fd columns are built once per distinct state with a
vectorised ``take`` instead of per event. Everything that follows from the raw event
header (time, cpu, direction, type, category) is computed with numpy after the loop.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.format.values import ERRNO
from sysnb.scap import events as E
from sysnb.scap.reader import RawEvent
from sysnb.state import model as M
from sysnb.state.model import Fd, Thread

_STR = pa.dictionary(pa.int32(), pa.string())
_GENERATIONS = itertools.count(1)

THREAD_FIELDS = (("proc.pid", pa.int64()), ("proc.ppid", pa.int64()), ("proc.name", _STR), ("proc.exe", _STR),
                 ("proc.exepath", _STR), ("proc.args", _STR), ("proc.cwd", _STR), ("proc.pname", _STR),
                 ("user.uid", pa.uint32()), ("user.name", _STR), ("user.loginuid", pa.int64()),
                 ("group.gid", pa.uint32()), ("group.name", _STR), ("container.id", _STR),
                 ("sysnb.clone_ts", pa.uint64()), ("sysnb.apid", pa.list_(pa.int64())),
                 ("sysnb.aname", pa.list_(pa.string())),
                 # per-thread state of libsinsp's sinsp_threadinfo (docs/fields-state-needed.md)
                 ("thread.vtid", pa.int64()), ("proc.vpid", pa.int64()), ("proc.tty", pa.int64()),
                 ("proc.sid", pa.int64()), ("proc.vpgid", pa.int64()), ("proc.env", _STR), ("proc.pcmdline", _STR),
                 ("proc.sname", _STR), ("thread.cgroups", _STR), ("proc.pexe", _STR), ("proc.pexepath", _STR),
                 # newer drivers' execve exits (null when the capture does not carry them)
                 ("sysnb.cap_inheritable", pa.int64()), ("sysnb.cap_permitted", pa.int64()),
                 ("sysnb.cap_effective", pa.int64()), ("sysnb.exe_flags", pa.int64()),
                 ("sysnb.aexe", pa.list_(pa.string())), ("sysnb.aexepath", pa.list_(pa.string())))
#: proc.apid[N]/proc.aname[N] are kept this many levels deep (0 = the process itself)
MAX_ANCESTORS = 16
FD_FIELDS = (("fd.type", _STR), ("fd.typechar", _STR), ("fd.name", _STR), ("fd.sip", _STR),
             ("fd.sport", pa.uint16()), ("fd.cip", _STR), ("fd.cport", pa.uint16()), ("fd.l4proto", _STR),
             ("fd.connected", pa.bool_()), ("fd.nameraw", _STR))

SCHEMA = pa.schema([
    ("evt.num", pa.int64()), ("evt.rawtime", pa.uint64()), ("evt.cpu", pa.uint16()), ("evt.dir", _STR),
    ("evt.type", _STR), ("evt.category", _STR), ("evt.rawres", pa.int64()), ("evt.res", _STR),
    ("evt.failed", pa.bool_()), ("evt.latency", pa.int64()), ("evt.args", pa.string()),
    ("evt.buffer", pa.binary()), ("evt.buflen", pa.int64()), ("thread.tid", pa.int64()),
    *THREAD_FIELDS, ("fd.num", pa.int64()), *FD_FIELDS, ("fd.name_changed", pa.bool_()),
    ("sysnb.type_id", pa.uint16()), ("sysnb.syscall_id", pa.uint16()), ("sysnb.visible", pa.bool_()),
    ("sysnb.offset", pa.uint64()), ("sysnb.evt_flags", pa.uint32()), ("sysnb.params", pa.list_(pa.binary())),
    ("sysnb.info", pa.string()),
])

# per event type, computed once: display name, category, where the result and the data buffer are
_NAMES = [e.name_2022 if e.known_2022 else e.name for e in E.EVENTS]
_CATEGORY_NAMES = {"IPC": "IPC"}  # sysdig spells every category in lower case except this one
_IO = ("IO_READ", "IO_WRITE", "IO_OTHER")
_IO_SUBCATEGORY = {M.FD_FILE: "file", M.FD_FILE_V2: "file", M.FD_DIRECTORY: "file", M.FD_IPV4_SOCK: "net",
                   M.FD_IPV6_SOCK: "net", M.FD_IPV4_SERVSOCK: "net", M.FD_IPV6_SERVSOCK: "net", M.FD_FIFO: "ipc",
                   M.FD_UNIX_SOCK: "ipc", M.FD_EVENT: "ipc", M.FD_SIGNALFD: "ipc", M.FD_INOTIFY: "ipc"}


def category(cat: str, fd: Fd | None) -> str:
    """evt.category as sysdig names it: I/O events are named after the kind of fd they use."""
    if cat in _IO:
        return "unknown" if fd is None else _IO_SUBCATEGORY.get(fd.type, "unknown")
    return _CATEGORY_NAMES.get(cat, cat.lower())
HAS_RES: list[bool] = [bool(e.id & 1 and e.params_2022 and e.params_2022[0][0] in ("res", "fd"))
                       for e in E.EVENTS]
WRITES_TO_FD: list[bool] = [e.id & 1 == 1 and "WRITES_TO_FD" in (e.flags_2022 if e.known_2022 else e.flags)
                            for e in E.EVENTS]
DATA_IDX = [next((i for i, p in enumerate(e.params) if p[0] == "data" and p[1] == "BYTEBUF"), -1)
             for e in E.EVENTS]


class BatchRecorder:
    """Accumulates one batch of events; ``finish()`` returns it as an Arrow record batch."""

    def __init__(self, users: dict[int, str], groups: dict[int, str], threads: dict[int, Thread]) -> None:
        self.users, self.groups, self.threads = users, groups, threads
        self.gen = next(_GENERATIONS)  # renewed when thread-level state changed: snapshots are retaken
        self.tsnaps: list[tuple[Any, ...]] = []
        self.fsnaps: list[tuple[Any, ...]] = []
        self.num: list[int | None] = []
        self.visible: list[bool] = []
        self.args: list[str | None] = []
        self.res: list[int | None] = []
        self.latency: list[int | None] = []
        self.fdnum: list[int | None] = []
        self.tsnap: list[int] = []
        self.fsnap: list[int] = []
        self.buf: list[bytes | None] = []
        self.name: list[str | None] = []  # display name override (generic syscalls, opaque rows)
        self.info: list[str | None] = []  # evt.info when a protocol decoder replaces evt.args
        self.category: list[str | None] = []
        self.buflen: list[int | None] = []
        self.name_changed: list[bool | None] = []  # fd.name_changed: the event changed its fd's name

    # -- snapshots --------------------------------------------------------------------------------------------

    def invalidate_threads(self) -> None:
        self.gen = next(_GENERATIONS)

    def thread_snap(self, t: Thread | None) -> int:
        if t is None:
            return -1
        if t.snap_gen == self.gen and t.snap >= 0:
            return t.snap
        main = self.threads.get(t.pid, t) if t.pid != t.tid else t  # proc.ppid: the process's parent
        parent = self.threads.get(t.ptid) if t.ptid >= 0 else None  # proc.pname: the thread's own parent
        known = t.uid != 0xFFFFFFFF
        chains = self._ancestors(main)
        fake = t.fake
        row = (t.pid, main.ptid,  # -1 when unknown, as sysdig prints it
               None if fake else t.comm, None if fake else t.exe, t.exepath,
               None if fake else " ".join(t.args), t.proc.cwd,
               parent.comm if parent is not None else None,  # "<NA>" for a placeholder parent, as sysdig
               t.uid, self.users.get(t.uid) if known else None,  # sysdig prints 4294967295 when unknown
               t.loginuid - (1 << 32) if t.loginuid >= 1 << 31 else t.loginuid,  # sysdig prints it signed
               t.gid, self.groups.get(t.gid),
               t.container,  # placeholder threads are on the "host" for sysdig too
               t.clone_ts, *chains[:2], *self._namespace_and_session(t, main, parent), *chains[2:])
        t.snap, t.snap_gen = len(self.tsnaps), self.gen
        self.tsnaps.append(row)
        return t.snap

    def _namespace_and_session(self, t: Thread, main: Thread, parent: Thread | None) -> tuple[Any, ...]:
        """thread.vtid, proc.vpid (-1: unknown), tty, sid, vpgid, the process's environment, the parent's
        command line (populate_cmdline), the session leader's name, the cgroups, the parent's exe and exepath,
        the capability sets and the PPM_EXE_* flags."""
        return (None if t.vtid == -1 else t.vtid, None if t.vpid == -1 else t.vpid, t.tty, t.sid, t.vpgid,
                " ".join(main.env), parent.cmdline() if parent is not None else None, self._sname(t, main),
                M.cgroups_text(t.cgroups) or None,  # sysdig: <NA> without cgroups
                parent.exe if parent is not None else None, parent.exepath if parent is not None else None,
                *(_signed(c) for c in (t.caps or (None, None, None))), t.exe_flags)

    def _sname(self, t: Thread, main: Thread) -> str:
        """proc.sname: the name of the thread whose tid is the session id, else of the eldest ancestor with the
        same session id (libsinsp's traverse_parent_state from the thread, starting at its main thread)."""
        leader = self.threads.get(t.sid)
        if leader is not None:
            return leader.comm
        found, seen, cur = main, {t.tid}, t
        while (parent := self.threads.get(cur.ptid)) is not None and parent.tid not in seen:
            if parent.sid != t.sid:
                break
            seen.add(parent.tid)
            found = cur = parent
        return found.comm

    def _ancestors(self, main: Thread) -> tuple[list[int], list[str], list[str], list[str]]:
        """proc.apid[N]/aname[N]/aexe[N]/aexepath[N] from the process (N=0) up its parents as the thread table
        knows them now (libsinsp's get_parent_thread: a lookup of ptid, stopping at an unknown thread or a
        loop)."""
        pids, names, seen = [main.pid], [main.comm], {main.tid}
        exes, exepaths = [main.exe], [main.exepath]
        t = main
        while len(pids) < MAX_ANCESTORS:
            parent = self.threads.get(t.ptid)
            if parent is None or parent.tid in seen:
                break
            seen.add(parent.tid)
            pids.append(parent.pid)
            names.append(parent.comm)
            exes.append(parent.exe)
            exepaths.append(parent.exepath)
            t = parent
        return pids, names, exes, exepaths

    def container_snap(self, cid: str) -> int:
        """The synthetic thread sysdig shows for a container event: pid -1, parent 0, uid 0, vtid and vpid -2."""
        self.tsnaps.append((-1, 0, f"container:{cid}", "", "", "", "", None, 0, self.users.get(0), 0, 0,
                            self.groups.get(0), cid, 0, [], [], -2, -2, 0, -1, -1, "", None, f"container:{cid}", None,
                            None, None, None, None, None, None, [], []))
        return len(self.tsnaps) - 1

    def null_fd_snap(self, typechar: str, name: str | None) -> int:
        """An fd-related event whose fd is not in the table: only a guessed type char and a name."""
        self.fsnaps.append((None, typechar, name, None, None, None, None, None, None, None))
        return len(self.fsnaps) - 1

    def fd_snap(self, fd: Fd, name: str | None = None) -> int:
        """Snapshot of an fd; ``name`` overrides fd.name for this event only."""
        if name is None and fd.snap >= 0 and fd.snap_owner is self:
            return fd.snap
        sock = fd.type in M.SOCK_TYPES
        server = fd.type in (M.FD_IPV4_SERVSOCK, M.FD_IPV6_SERVSOCK)
        if server:
            addr: tuple[Any, ...] = (fd.sip, fd.sport, None, None)
        elif sock and fd.role != M.ROLE_NONE:  # source = client, destination = server once a role is known
            addr = (fd.dip, fd.dport, fd.sip, fd.sport)
        else:
            addr = (None, None, None, None)
        if fd.role != M.ROLE_NONE and fd.type not in (M.FD_IPV4_SOCK, M.FD_IPV6_SOCK):
            addr = (*addr[:3], 0)  # sysdig 0.29.3: fd.cport falls through to fd.cproto and reads as 0
        row = (M.TYPENAMES.get(fd.type, "unknown"), fd.typechar, M.sanitize(fd.name) if name is None else name,
               *addr, M.L4_NAMES.get(fd.effective_l4proto()) if sock else None, fd.connected, fd.nameraw)
        self.fsnaps.append(row)
        if name is not None:
            return len(self.fsnaps) - 1
        fd.snap, fd.snap_owner = len(self.fsnaps) - 1, self
        return fd.snap

    # -- output -----------------------------------------------------------------------------------------------

    def finish(self, batch: list[RawEvent]) -> pa.RecordBatch:
        offs, cpus, flags, tss, tids, types, params = zip(*batch, strict=True)
        t = np.fromiter(types, dtype=np.int64, count=len(batch))
        known = t < E.TABLE_SIZE
        tk = np.where(known, t, 0)
        n = len(batch)
        res = pa.array(self.res, pa.int64())
        names = [ov if ov is not None else _NAMES[i] for ov, i in zip(self.name, tk.tolist(), strict=True)]
        syscall = np.full(n, -1, dtype=np.int64)
        generic = (t == E.GENERIC_E) | (t == E.GENERIC_X)
        for i in np.flatnonzero(generic).tolist():
            p = params[i]
            if p and len(p[0]) == 2:
                syscall[i] = int.from_bytes(p[0], "little")
        cols: dict[str, pa.Array] = {
            "evt.num": pa.array(self.num, pa.int64()),
            "evt.rawtime": pa.array(tss, pa.uint64()),
            "evt.cpu": pa.array(cpus, pa.uint16()),
            "evt.dir": _dict(np.where(t & 1, 1, 0), [">", "<"]),
            "evt.type": _safe_array(names, pa.string()).dictionary_encode(),
            "evt.category": pa.array(self.category, pa.string()).dictionary_encode(),
            "evt.rawres": res,
            "evt.res": _res_names(res),
            "evt.failed": pc.fill_null(pc.less(res, 0), False),  # sysdig: false when there is no error
            "evt.latency": pa.array(self.latency, pa.int64()),
            "evt.args": _safe_array(self.args, pa.string()),
            "sysnb.info": _safe_array(self.info, pa.string()),
            "evt.buffer": pa.array(self.buf, pa.binary()),
            "thread.tid": pa.array(tids, pa.int64()),
            "fd.num": pa.array(self.fdnum, pa.int64()),
            "sysnb.type_id": pa.array(t, pa.uint16()),
            "sysnb.syscall_id": pa.array(syscall, pa.uint16(), mask=syscall < 0),
            "sysnb.visible": pa.array(self.visible, pa.bool_()),
            "sysnb.offset": pa.array(offs, pa.uint64()),
            "sysnb.evt_flags": pa.array(flags, pa.uint32()),
            "sysnb.params": pa.array([list(p) for p in params], pa.list_(pa.binary())),
        }
        cols["evt.buflen"] = pa.array(self.buflen, pa.int64())
        cols["fd.name_changed"] = pa.array(self.name_changed, pa.bool_())
        cols.update(_take(self.tsnaps, THREAD_FIELDS, self.tsnap))
        cols.update(_take(self.fsnaps, FD_FIELDS, self.fsnap))
        return pa.RecordBatch.from_arrays([_cast(cols[f.name], f.type) for f in SCHEMA], schema=SCHEMA)


def _signed(v: int | None) -> int | None:
    """A 64-bit mask stored in an int64 column."""
    return None if v is None else v - (1 << 64) if v >= 1 << 63 else v


def _dict(indices: np.ndarray, values: list[str], null_mask: np.ndarray | None = None) -> pa.Array:
    idx = pa.array(indices.astype(np.int32), mask=null_mask)
    return pa.DictionaryArray.from_arrays(idx, pa.array(values, pa.string()))


_ERRNO_TABLE = [ERRNO.get(i, "") for i in range(max(ERRNO) + 1)]


def _res_names(res: pa.Array) -> pa.Array:
    """SUCCESS for res >= 0, else the errno name (the number when unknown), null without a result."""
    vals = [None if r is None else ("SUCCESS" if r >= 0 else (_errno(r))) for r in res.to_pylist()] \
        if res.null_count < len(res) else [None] * len(res)
    return pa.array(vals, pa.string()).dictionary_encode()


def _errno(r: int) -> str:
    return (_ERRNO_TABLE[-r] if -r < len(_ERRNO_TABLE) else "") or str(r)


def _take(rows: list[tuple[Any, ...]], fields: tuple[tuple[str, pa.DataType], ...],
          idx: list[int]) -> dict[str, pa.Array]:
    """Columns of the snapshot rows, gathered by event (-1 = null)."""
    indices = pa.array(idx, pa.int32(), mask=np.asarray(idx, dtype=np.int64) < 0)
    out = {}
    for k, (name, typ) in enumerate(fields):
        base = typ.value_type if pa.types.is_dictionary(typ) else typ
        col = _safe_array([r[k] for r in rows], base)
        out[name] = col.take(indices)
    return out


def _safe_array(values: list[Any], typ: pa.DataType) -> pa.Array:
    try:
        return pa.array(values, typ)
    except UnicodeEncodeError:  # bytes that are not UTF-8 (kept by surrogateescape): store U+FFFD
        return pa.array([_utf8(v) for v in values], typ)


def _utf8(v: Any) -> Any:
    """A string (or the strings of a list, e.g. ancestor names) with undecodable bytes as U+FFFD."""
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(v, list):
        return [_utf8(x) for x in v]
    return v


def _cast(arr: pa.Array, typ: pa.DataType) -> pa.Array:
    if arr.type == typ:
        return arr
    if pa.types.is_dictionary(typ) and not pa.types.is_dictionary(arr.type):
        if pa.types.is_string(arr.type):
            return arr.dictionary_encode()
        return _safe_array(arr.to_pylist(), pa.string()).dictionary_encode()
    return arr.cast(typ)

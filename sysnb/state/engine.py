"""The state engine: replays events over thread/process/fd state as libsinsp does.

For each raw event it (1) finds or creates the thread, (2) pairs enter/exit per
thread, (3) applies the event's state change (``parsers.py``), (4) renders
``evt.args`` against the state as it is after the event, and (5) hands the rest to
the column recorder (``columns.py``). State is sequential by nature, so this is the
one per-event loop of the pipeline; it keeps per-event work to what must be done in
order, and everything downstream (filters, formatting, chisels) works on columns.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import pyarrow as pa

from sysnb.format.args import ArgRenderer
from sysnb.format.paths import as_cwd, concatenate_paths
from sysnb.scap import events as E
from sysnb.scap.reader import RawEvent, Section
from sysnb.state.columns import DATA_IDX, HAS_RES, SCHEMA, WRITES_TO_FD, BatchRecorder, category
from sysnb.state.fdfields import (
    CONNECT_X,
    FD_FAMILY,
    NAME_FROM_PARAM1,
    OPENAT_NEW_X,
    OPENAT_OLD_X,
    null_fd_typechar,
    openat_dirfd_name,
)
from sysnb.state.model import (
    FD_IPV4_SERVSOCK,
    FD_IPV4_SOCK,
    FD_IPV6_SERVSOCK,
    ROLE_CLIENT,
    ROLE_SERVER,
    Fd,
    Proc,
    Thread,
    sanitize,
    tuple_name,
)
from sysnb.state.network import Interfaces
from sysnb.state.parsers import CLONES, PARSERS, THREAD_MUTATORS, cstr, parse_clone, resolve_at
from sysnb.state.syslog import info_line as syslog_info

_Q = struct.Struct("<q")
#: events that do not touch pairing or fd state: skip-reset ones, container metadata, sched switch (libsinsp)
_NO_RESET = frozenset(e.id for e in E.EVENTS if "SKIPPARSERESET" in (e.flags | e.flags_2022)) \
    | E.CONTAINER_IDS | {152}
_SCHED_SWITCH = 152
COLUMNS = tuple(SCHEMA.names)


class Engine:
    """Replays raw events; ``process(batch)`` returns that batch as an Arrow record batch."""

    def __init__(self) -> None:
        self.threads: dict[int, Thread] = {}
        self.users: dict[int, str] = {}
        self.groups: dict[int, str] = {}
        self.evtnum = 0
        self._sections = 0
        self._section_start = False
        self._counted = False
        self.renderer = ArgRenderer(self)
        self._to_remove_tid: int | None = None
        self._to_remove_fd: tuple[Proc, int] | None = None
        self.containers: dict[str, dict[str, Any]] = {}
        self.interfaces = Interfaces()
        self.hostname = ""
        self._seen_syscall = False

    # -- sections ---------------------------------------------------------------------------------------------

    def load_section(self, s: Section) -> None:
        """Reset state from a section's metadata (libsinsp re-reads state for concatenated files)."""
        self._sections += 1
        self._section_start = self._sections > 1
        self.threads = {}
        procs: dict[int, Proc] = {}
        for e in s.threads:
            if e.tid == e.pid or e.pid not in procs:
                procs.setdefault(e.pid, Proc(as_cwd(concatenate_paths("", e.cwd))))
        for e in s.threads:
            proc = procs[e.pid]
            if e.tid == e.pid:
                proc.cwd = as_cwd(concatenate_paths("", e.cwd))
            self.threads[e.tid] = Thread.from_entry(e, proc)
        for tid, fds in s.fds.items():
            t = self.threads.get(tid)
            if t is None:
                continue
            for fe in fds:
                if fe.type > 16:
                    continue
                t.proc.fds[fe.fd] = Fd.from_entry(fe)
        self.interfaces = Interfaces(s.interfaces)
        for t in self.threads.values():
            for fd in t.proc.fds.values():
                self.interfaces.update_fd(fd)  # as libsinsp's add_fd_from_scap does
        self._fix_sockets_from_proc()
        self.users = {u.uid: u.name for u in s.users}
        self.groups = dict(s.groups)
        if s.machine is not None:
            self.hostname = s.machine.hostname
        self._seen_syscall = False

    def _fix_sockets_from_proc(self) -> None:
        """libsinsp's fix_sockets_coming_from_proc: a connected IPv4 socket whose source port is a port some
        IPv4 server socket listens on is the server's end: swap it to client->server and make it a server."""
        procs = {id(t.proc): t.proc for t in self.threads.values()}.values()
        ports = {fd.sport for p in procs for fd in p.fds.values() if fd.type in (FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK)}
        for p in procs:
            for fd in p.fds.values():
                if fd.type != FD_IPV4_SOCK:
                    continue
                if fd.sport in ports:
                    fd.sip, fd.dip, fd.sport, fd.dport = fd.dip, fd.sip, fd.dport, fd.sport
                    fd.name = tuple_name(fd.sip, fd.sport, fd.dip, fd.dport)
                    fd.role = ROLE_SERVER
                else:
                    fd.role = ROLE_CLIENT

    # -- per event --------------------------------------------------------------------------------------------

    def get_thread(self, tid: int, create: bool) -> Thread | None:
        t = self.threads.get(tid)
        if t is None and create and tid > 0:
            t = Thread(tid, tid, -1, Proc())
            t.comm = t.exe = "<NA>"
            t.fake = True
            self.threads[tid] = t
        return t

    def process(self, batch: list[RawEvent]) -> pa.RecordBatch:
        rec = BatchRecorder(self.users, self.groups, self.threads)
        for ev in batch:
            self._one(ev, rec)
        return rec.finish(batch)

    def _one(self, ev: RawEvent, rec: BatchRecorder) -> None:
        _, _, eflags, ts, tid, etype, params = ev
        if self._to_remove_fd is not None:
            proc, fdn = self._to_remove_fd
            proc.fds.pop(fdn, None)
            self._to_remove_fd = None
        if self._to_remove_tid is not None:
            self.threads.pop(self._to_remove_tid, None)
            self._to_remove_tid = None
            rec.invalidate_threads()
        info = E.event_info(etype)
        if info is None:
            _record_opaque(rec, etype)
            return
        # sysdig 0.29.3 does not number the container events that open a later section of a concatenated
        # capture (measured: 2 per section on mpm-event x2/x50, 1 on alpine x2, other columns equal)
        container_event = etype in E.CONTAINER_IDS
        numbered = info.known_2022
        self._counted = numbered and not (self._section_start and container_event)
        self._section_start = self._section_start and container_event
        if self._counted:
            self.evtnum += 1
        thread, fd, fdnum = self._reset(info, ts, tid, params)
        reset = (fd, fd.name if fd is not None else None)  # libsinsp's m_oldname, for fd.name_changed
        container = self._container(etype, params) if etype in E.CONTAINER_IDS else None
        handler = PARSERS.get(info.name)
        if handler is not None and thread is not None:
            fd, fdnum = handler(self, info, thread, params, fd, fdnum)
        elif info.name in CLONES and etype & 1:
            parse_clone(self, info, tid, thread, params, ts)
        if info.name in THREAD_MUTATORS:
            rec.invalidate_threads()
        visible = numbered and info.category_2022 != "INTERNAL" and not (eflags & 1)
        if container is not None or etype in E.CONTAINER_IDS:
            # container state read before the first syscall event is consumed, not shown
            visible = visible and self._seen_syscall
        else:
            self._seen_syscall = True
        if thread is None:
            thread = self.threads.get(tid)
        self._record(rec, ev, info, thread, fd, fdnum, numbered, visible, container, reset)

    def _reset(self, info: E.EventInfo, ts: int, tid: int, params: tuple[bytes, ...]
               ) -> tuple[Thread | None, Fd | None, int | None]:
        """libsinsp's parser reset: find the thread, pair enter/exit, find the fd the event uses."""
        etype = info.id
        if etype in _NO_RESET:
            return self.threads.get(tid), None, None
        is_clone_exit = info.name in ("clone", "fork", "vfork", "clone3") and etype & 1
        t = self.get_thread(tid, create=not is_clone_exit)
        if t is None:
            return None, None, None
        uses_fd = "USES_FD" in (info.flags_2022 if info.known_2022 else info.flags)
        if not etype & 1:  # enter
            t.last_type = etype
            t.last_params = params
            t.last_fd = -1
            fd = None
            if uses_fd and params and len(params[0]) == 8:
                t.last_fd = _Q.unpack(params[0])[0]
                fd = t.proc.fds.get(t.last_fd)
            t.latency = 0
            t.last_ts = ts
            t.pair_ok = False
            return t, fd, (t.last_fd if uses_fd else None)
        if t.last_ts:
            latency = ts - t.last_ts
            t.latency = latency if -(1 << 63) <= latency < 1 << 63 else 0  # a damaged timestamp
        t.pair_ok = etype == t.last_type + 1 or (etype == 293 and t.last_type == 330)
        if not t.pair_ok:
            return t, None, None
        if uses_fd:
            return t, t.proc.fds.get(t.last_fd), t.last_fd
        return t, None, None

    def enter_params(self, t: Thread) -> tuple[bytes, ...] | None:
        return t.last_params if t.pair_ok else None

    def _record(self, rec: BatchRecorder, ev: RawEvent, info: E.EventInfo, t: Thread | None, fd: Fd | None,
                fdnum: int | None, numbered: bool, visible: bool, container: str | None,
                reset: tuple[Fd | None, str | None]) -> None:
        etype, params = ev[5], ev[6]
        name = None
        cat = info.category_2022
        if etype == E.GENERIC_E or etype == E.GENERIC_X:
            if params and len(params[0]) == 2:
                code = struct.unpack("<H", params[0])[0]
                name, cat = E.syscall_name(code), E.syscall_category(code)
            args = ""
        elif visible or not numbered:
            args = self.renderer.render_all(info.params_2022, params, t, fd)
        else:
            args = ""  # not shown by sysdig: rendered on demand (evt.args of hidden rows is empty)
        is_exit = etype & 1
        rec.num.append(self.evtnum if self._counted else None)
        rec.visible.append(visible)
        rec.args.append(args)
        rec.name.append(name)
        rec.category.append(category(cat, fd))
        res = _Q.unpack(params[0])[0] if is_exit and params and HAS_RES[etype] and len(params[0]) == 8 else None
        rec.res.append(res)
        # evt.buflen: the result of an I/O exit that has its fd (libsinsp extract_buflen)
        rec.buflen.append(res if fd is not None and cat.startswith("IO_") and res is not None and res >= 0 else None)
        rec.latency.append(_latency(info, t))
        di = DATA_IDX[etype]
        data = params[di] if 0 <= di < len(params) else None
        rec.buf.append(data)
        decoded = fd is not None and fd.syslog and WRITES_TO_FD[etype] and res is not None and res >= 0
        rec.info.append(syslog_info(data) if decoded and data else None)
        rec.tsnap.append(rec.container_snap(container) if container is not None else rec.thread_snap(t))
        if t is None or not FD_FAMILY[etype]:
            rec.fdnum.append(None)
            rec.fsnap.append(-1)
            rec.name_changed.append(None)
            return
        rec.fdnum.append(t.last_fd)
        parsed = fd
        if fd is None and t.last_fd != -1:
            fd = t.proc.fds.get(t.last_fd)
        rec.name_changed.append(_name_changed(fd, parsed, reset, info.name))
        if fd is None:
            name = self._creator_name(info, params, t) if is_exit else None
            rec.fsnap.append(rec.null_fd_snap(null_fd_typechar(etype), name))
        elif etype == CONNECT_X and params and len(params[0]) == 8 and _Q.unpack(params[0])[0] < 0:
            rec.fsnap.append(rec.fd_snap(fd, self._creator_name(info, params, t)))  # failed connect
        else:
            rec.fsnap.append(rec.fd_snap(fd))

    def _creator_name(self, info: E.EventInfo, params: tuple[bytes, ...], t: Thread) -> str | None:
        """fd.name of an exit whose fd is unknown: taken from the syscall that made it (libsinsp)."""
        etype = info.id
        if etype in NAME_FROM_PARAM1:
            if len(params) < 2 or len(info.params_2022) < 2:
                return ""
            val, resolved = self.renderer.render(info.params_2022[1], params[1], params, info.params_2022, t, None)
            return resolved or val
        if etype == OPENAT_OLD_X or etype in OPENAT_NEW_X:
            src = self.enter_params(t) if etype == OPENAT_OLD_X else params[1:]
            if src is None or len(src) < 2:
                return None
            name, dirfd = openat_dirfd_name(src[1], src[0])
            return sanitize(resolve_at(t, dirfd, name))
        return ""

    # -- containers ---------------------------------------------------------------------------------------------

    def _container(self, etype: int, params: tuple[bytes, ...]) -> str | None:
        """Record container metadata; returns the container id."""
        if etype == 228 and params:
            cid = cstr(params[0])
            self.containers[cid] = {"id": cid, "name": cstr(params[2]) if len(params) > 2 else "",
                                    "image": cstr(params[3]) if len(params) > 3 else ""}
            return cid
        if params:
            try:
                c = json.loads(cstr(params[0])).get("container", {})
            except ValueError:
                return None
            if "id" in c:
                self.containers[c["id"]] = c
                return str(c["id"])
        return None


_COPIES = frozenset({"dup", "dup2", "dup3", "fcntl"})


def _name_changed(fd: Fd | None, parsed: Fd | None, reset: tuple[Fd | None, str | None], name: str) -> bool | None:
    """fd.name_changed as libsinsp computes it after parsing (m_name != m_oldname): the fd the event had when its
    parsing began against its name then; an fd the event created against "" (a dup's copy keeps its source's
    old name); null without an fd."""
    if fd is None:
        return None
    if fd is reset[0]:
        return fd.name != reset[1]
    if fd is parsed and name not in _COPIES:
        return fd.name != ""
    return False


def _latency(info: E.EventInfo, t: Thread | None) -> int | None:
    """libsinsp's evt.latency: the thread's current latency when the event carries its thread (skip-reset
    and container events do not, except sched switch), 0 otherwise; nothing for internal events."""
    if info.category_2022 == "INTERNAL":
        return None
    if t is None or (info.id in _NO_RESET and info.id != _SCHED_SWITCH):
        return 0
    return t.latency


def _record_opaque(rec: BatchRecorder, etype: int) -> None:
    """An event type no table knows: a row with its header and raw params, nothing interpreted."""
    rec.num.append(None)
    rec.visible.append(False)
    rec.args.append("")
    rec.name.append(f"unknown({etype})")
    rec.info.append(None)
    rec.category.append(None)
    rec.buflen.append(None)
    rec.res.append(None)
    rec.latency.append(None)
    rec.buf.append(None)
    rec.fdnum.append(None)
    rec.tsnap.append(-1)
    rec.fsnap.append(-1)
    rec.name_changed.append(None)


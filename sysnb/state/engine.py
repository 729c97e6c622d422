"""The state engine: replays events over thread/process/fd state as libsinsp does.

For each raw event it (1) finds or creates the thread, (2) pairs enter/exit per
thread, (3) applies the state change of the event, (4) records the columns of
the table for that event (thread, process, fd, user fields and the rendered
``evt.args``). State is sequential by nature (every event may depend on all
earlier ones), so this is the one per-event loop of the pipeline; everything
downstream (filters, formatting, chisels) works on whole columns.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

from sysnb.format.args import PPM_AT_FDCWD, ArgRenderer, join_path, socktuple_str
from sysnb.format.values import errno_name, ip_from_bytes
from sysnb.scap import events as E
from sysnb.scap.reader import RawEvent, Section
from sysnb.state import model as M
from sysnb.state.model import Fd, Proc, Thread

_Q = struct.Struct("<q")
_I = struct.Struct("<I")

CLONE_THREAD = 0x2000
PPM_O_DIRECTORY = 0x400

COLUMNS = (
    "evt.num", "evt.rawtime", "evt.cpu", "evt.dir", "evt.type", "evt.category", "evt.rawres", "evt.res",
    "evt.failed", "evt.latency", "evt.args", "evt.buffer", "evt.buflen", "thread.tid", "proc.pid", "proc.ppid",
    "proc.name", "proc.exe", "proc.exepath", "proc.args", "proc.cwd", "proc.pname", "user.uid", "user.name",
    "user.loginuid", "group.gid", "group.name", "container.id", "fd.num", "fd.type", "fd.typechar", "fd.name",
    "fd.sip", "fd.sport", "fd.cip", "fd.cport", "fd.l4proto", "sysnb.type_id", "sysnb.visible", "sysnb.offset",
    "sysnb.evt_flags", "sysnb.params",
)


def _i64(b: bytes) -> int:
    return int(_Q.unpack(b)[0]) if len(b) == 8 else 0


def _cstr(b: bytes) -> str:
    i = b.find(b"\0")
    return (b if i < 0 else b[:i]).decode("utf-8", "surrogateescape")


def _nul_list(b: bytes) -> list[str]:
    parts = b.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", "surrogateescape") for p in parts]


class Engine:
    """Replays raw events; ``process(batch)`` returns the table columns of that batch."""

    def __init__(self) -> None:
        self.threads: dict[int, Thread] = {}
        self.users: dict[int, str] = {}
        self.groups: dict[int, str] = {}
        self.evtnum = 0
        self.renderer = ArgRenderer(self)
        self._to_remove_tid: int | None = None
        self._to_remove_fd: tuple[Proc, int] | None = None
        self.containers: dict[str, dict[str, Any]] = {}
        self.hostname = ""
        self._seen_syscall = False

    # -- sections ---------------------------------------------------------------------------------------------

    def load_section(self, s: Section) -> None:
        """Reset state from a section's metadata (libsinsp re-reads state for concatenated files)."""
        self.threads = {}
        procs: dict[int, Proc] = {}
        for e in s.threads:
            if e.tid == e.pid or e.pid not in procs:
                procs.setdefault(e.pid, Proc(e.cwd))
        for e in s.threads:
            proc = procs[e.pid]
            if e.tid == e.pid:
                proc.cwd = e.cwd
            self.threads[e.tid] = Thread.from_entry(e, proc)
        for tid, fds in s.fds.items():
            t = self.threads.get(tid)
            if t is None:
                continue
            for fe in fds:
                if fe.type > 16:
                    continue
                t.proc.fds[fe.fd] = Fd.from_entry(fe)
        self.users = {u.uid: u.name for u in s.users}
        self.groups = dict(s.groups)
        if s.machine is not None:
            self.hostname = s.machine.hostname
        self._seen_syscall = False

    # -- per event --------------------------------------------------------------------------------------------

    def get_thread(self, tid: int, create: bool) -> Thread | None:
        t = self.threads.get(tid)
        if t is None and create and tid > 0:
            t = Thread(tid, tid, -1, Proc())
            t.comm = t.exe = "<NA>"
            t.fake = True
            self.threads[tid] = t
        return t

    def process(self, batch: list[RawEvent]) -> dict[str, list[Any]]:
        cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
        app = {c: cols[c].append for c in COLUMNS}
        for ev in batch:
            self._one(ev, app)
        return cols

    def _one(self, ev: RawEvent, app: dict[str, Callable[[Any], None]]) -> None:
        _, _, eflags, ts, tid, etype, params = ev
        if self._to_remove_fd is not None:
            proc, fdn = self._to_remove_fd
            proc.fds.pop(fdn, None)
            self._to_remove_fd = None
        if self._to_remove_tid is not None:
            self.threads.pop(self._to_remove_tid, None)
            self._to_remove_tid = None
        info = E.event_info(etype)
        numbered = info is not None and info.known_2022
        if numbered:
            self.evtnum += 1
        if info is None:
            self._record_opaque(ev, app)
            return
        thread, fd, fdnum = self._reset(info, ts, tid, params)
        container = self._container(etype, params) if etype in E.CONTAINER_IDS else None
        handler = _PARSERS.get(info.name)
        if handler is not None and thread is not None:
            fd, fdnum = handler(self, info, thread, params, fd, fdnum)
        elif handler is parse_clone and etype & 1:
            parse_clone_child(self, info, tid, params)
        visible = numbered and info.category_2022 != "INTERNAL" and not (eflags & 1)
        if etype in E.CONTAINER_IDS:
            # container state read before the first syscall event is consumed, not shown
            visible = visible and self._seen_syscall
        else:
            self._seen_syscall = True
        self._record(ev, info, thread, fd, fdnum, numbered, visible, app)
        if container is not None:
            names: list[Any] = app["proc.name"].__self__  # type: ignore[attr-defined]
            names[-1] = f"container:{container}"

    def _reset(self, info: E.EventInfo, ts: int, tid: int, params: tuple[bytes, ...]
               ) -> tuple[Thread | None, Fd | None, int | None]:
        etype = info.id
        if "SKIPPARSERESET" in info.flags or etype in E.CONTAINER_IDS:
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
                t.last_fd = _i64(params[0])
                fd = t.proc.fds.get(t.last_fd)
            t.latency = 0
            t.last_ts = ts
            t.pair_ok = False
            return t, fd, (t.last_fd if uses_fd else None)
        t.latency = ts - t.last_ts if t.last_ts else 0
        t.pair_ok = etype == t.last_type + 1 or (etype == 293 and t.last_type == 330)
        if not t.pair_ok:
            return t, None, None
        if uses_fd:
            return t, t.proc.fds.get(t.last_fd), t.last_fd
        return t, None, None

    def enter_params(self, t: Thread) -> tuple[bytes, ...] | None:
        return t.last_params if t.pair_ok else None

    # -- recording ----------------------------------------------------------------------------------------------

    def _record(self, ev: RawEvent, info: E.EventInfo, t: Thread | None, fd: Fd | None, fdnum: int | None,
                numbered: bool, visible: bool, app: dict[str, Callable[[Any], None]]) -> None:
        offset, cpu, eflags, ts, tid, etype, params = ev
        p22 = info.params_2022
        name = info.name_2022
        if etype in (E.GENERIC_E, E.GENERIC_X) and params and len(params[0]) == 2:
            name = E.syscall_name(struct.unpack("<H", params[0])[0])
            args = ""
        elif visible or not numbered:
            rt = t if t is not None else self.threads.get(tid)
            args = self.renderer.render_all(p22, params, rt, fd)
        else:
            args = ""
        app["evt.num"](self.evtnum if numbered else None)
        app["evt.rawtime"](ts)
        app["evt.cpu"](cpu)
        app["evt.dir"](info.direction)
        app["evt.type"](name)
        app["evt.category"](info.category_2022.lower())
        res = None
        if etype & 1 and params and p22 and p22[0][0] in ("res", "fd") and len(params[0]) == 8:
            res = _i64(params[0])
        app["evt.rawres"](res)
        app["evt.res"](None if res is None else ("SUCCESS" if res >= 0 else (errno_name(res) or str(res))))
        app["evt.failed"](None if res is None else res < 0)
        app["evt.latency"](t.latency if (t is not None and etype & 1 and t.pair_ok) else (0 if t is not None else None))
        app["evt.args"](args)
        buf = None
        for i, p in enumerate(info.params):
            if p[0] == "data" and p[1] == "BYTEBUF" and i < len(params):
                buf = params[i]
                break
        app["evt.buffer"](buf)
        app["evt.buflen"](res if (buf is not None and res is not None and res >= 0) else None)
        self._record_thread(t if t is not None else self.threads.get(tid), tid, app)
        self._record_fd(fd, fdnum, app)
        if fd is None and etype & 1 and fdnum is not None and fdnum >= 0:
            # libsinsp: a paired exit of an fd syscall whose fd is not in the table has an empty fd.name
            names: list[Any] = app["fd.name"].__self__  # type: ignore[attr-defined]
            names[-1] = ""
        app["sysnb.type_id"](etype)
        app["sysnb.visible"](visible)
        app["sysnb.offset"](offset)
        app["sysnb.evt_flags"](eflags)
        app["sysnb.params"](list(params))

    def _record_thread(self, t: Thread | None, tid: int, app: dict[str, Callable[[Any], None]]) -> None:
        app["thread.tid"](tid)
        if t is None:
            for c in ("proc.pid", "proc.ppid", "proc.name", "proc.exe", "proc.exepath", "proc.args", "proc.cwd",
                      "proc.pname", "user.uid", "user.name", "user.loginuid", "group.gid", "group.name",
                      "container.id"):
                app[c](None)
            return
        fake = t.fake
        app["proc.pid"](t.pid)
        parent = self.threads.get(t.ptid) if t.ptid >= 0 else None
        app["proc.ppid"](t.ptid if t.ptid >= 0 else None)
        app["proc.name"](t.comm if not fake else None)
        app["proc.exe"](t.exe if not fake else None)
        app["proc.exepath"](t.exepath or None)
        app["proc.args"](" ".join(t.args) if not fake else None)
        app["proc.cwd"](t.proc.cwd or None)
        app["proc.pname"](parent.comm if parent is not None and not parent.fake else None)
        known = t.uid != 0xFFFFFFFF
        app["user.uid"](t.uid if known else None)
        app["user.name"](self.users.get(t.uid) if known else None)
        app["user.loginuid"](None if t.loginuid == 0xFFFFFFFF else t.loginuid)
        app["group.gid"](t.gid if t.gid != 0xFFFFFFFF else None)
        app["group.name"](self.groups.get(t.gid))
        app["container.id"](None if fake else t.container)

    def _record_fd(self, fd: Fd | None, fdnum: int | None, app: dict[str, Callable[[Any], None]]) -> None:
        if fd is None:
            app["fd.num"](fdnum if fdnum is not None and fdnum >= 0 else None)
            for c in ("fd.type", "fd.typechar", "fd.name", "fd.sip", "fd.sport", "fd.cip", "fd.cport", "fd.l4proto"):
                app[c](None)
            return
        app["fd.num"](fdnum)
        app["fd.type"](M.TYPENAMES.get(fd.type, "unknown"))
        app["fd.typechar"](fd.typechar)
        app["fd.name"](M.sanitize(fd.name))
        is_sock = fd.type in M.SOCK_TYPES
        if is_sock and fd.type in (M.FD_IPV4_SERVSOCK, M.FD_IPV6_SERVSOCK):
            app["fd.sip"](fd.sip)
            app["fd.sport"](fd.sport)
            app["fd.cip"](None)
            app["fd.cport"](None)
        elif is_sock:
            # libsinsp: source = client, destination = server for a connected tuple
            app["fd.sip"](fd.dip)
            app["fd.sport"](fd.dport)
            app["fd.cip"](fd.sip)
            app["fd.cport"](fd.sport)
        else:
            for c in ("fd.sip", "fd.sport", "fd.cip", "fd.cport"):
                app[c](None)
        app["fd.l4proto"](M.L4_NAMES.get(fd.l4proto) if is_sock else None)

    def _record_opaque(self, ev: RawEvent, app: dict[str, Callable[[Any], None]]) -> None:
        offset, cpu, eflags, ts, tid, etype, params = ev
        for c in COLUMNS:
            app[c](None)
        # overwrite the few known values: appended lists are per column, so fix the last element
        for c, v in (("evt.rawtime", ts), ("evt.cpu", cpu), ("evt.dir", "<" if etype & 1 else ">"),
                     ("evt.type", f"unknown({etype})"), ("thread.tid", tid), ("sysnb.type_id", etype),
                     ("sysnb.visible", False), ("sysnb.offset", offset), ("sysnb.evt_flags", eflags),
                     ("sysnb.params", list(params)), ("evt.args", "")):
            lst: list[Any] = app[c].__self__  # type: ignore[attr-defined]
            lst[-1] = v

    # -- containers ---------------------------------------------------------------------------------------------

    def _container(self, etype: int, params: tuple[bytes, ...]) -> str | None:
        """Record container metadata; returns the container id."""
        if etype == 228 and params:
            cid = _cstr(params[0])
            self.containers[cid] = {"id": cid, "name": _cstr(params[2]) if len(params) > 2 else "",
                                    "image": _cstr(params[3]) if len(params) > 3 else ""}
            return cid
        if params:
            try:
                c = json.loads(_cstr(params[0])).get("container", {})
            except ValueError:
                return None
            if "id" in c:
                self.containers[c["id"]] = c
                return str(c["id"])
        return None


# -- parsers: one per event name, applied to exit events (and the few enter events that change state) ------------

Parser = Callable[[Engine, E.EventInfo, Thread, tuple[bytes, ...], Fd | None, int | None],
                  tuple[Fd | None, int | None]]


def _pidx(info: E.EventInfo, name: str) -> int:
    for i, p in enumerate(info.params):
        if p[0] == name:
            return i
    return -1


def _param(info: E.EventInfo, params: tuple[bytes, ...], name: str) -> bytes | None:
    i = _pidx(info, name)
    return params[i] if 0 <= i < len(params) else None


def _exit_fd(info: E.EventInfo, t: Thread, params: tuple[bytes, ...]) -> int:
    return _i64(params[0]) if params else -1


def _add_fd(e: Engine, t: Thread, n: int, fd: Fd) -> tuple[Fd, int]:
    t.proc.fds[n] = fd
    t.last_fd = n
    return fd, n


def parse_open(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
               fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or not params:
        return fd, fdnum
    n = _exit_fd(info, t, params)
    name_b = _param(info, params, "name") or b""
    flags_b = _param(info, params, "flags")
    flags = _I.unpack(flags_b)[0] if flags_b and len(flags_b) == 4 else 0
    dirfd = PPM_AT_FDCWD
    dfb = _param(info, params, "dirfd")
    if dfb is not None:
        dirfd = _i64(dfb)
    enter = e.enter_params(t)
    if enter is not None:
        einfo = E.event_info(info.id - 1)
        if einfo is not None:
            en = _param(einfo, enter, "name")
            if en and _cstr(en) != "(NULL)":
                name_b = en
                ef = _param(einfo, enter, "flags")
                if ef is not None and len(ef) == 4:
                    flags = _I.unpack(ef)[0]
                ed = _param(einfo, enter, "dirfd")
                if ed is not None:
                    dirfd = _i64(ed)
    if n < 0:
        return None, n
    name = _cstr(name_b)
    if dirfd == PPM_AT_FDCWD or (dfb is None and info.name != "openat"):
        base = t.proc.cwd
    else:
        d = t.proc.fds.get(dirfd)
        base = (d.name + "/") if d is not None else ""
    full = join_path("", name) if name.startswith("/") else join_path(base, name)
    f = Fd(M.FD_DIRECTORY if flags & PPM_O_DIRECTORY else M.FD_FILE_V2, full)
    f.openflags = flags
    return _add_fd(e, t, n, f)


_SOCK_L4 = {1: 2, 2: 3, 3: 5}


def parse_socket(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                 fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or not params:
        return fd, fdnum
    n = _i64(params[0])
    enter = e.enter_params(t)
    if n < 0 or enter is None or len(enter) < 3:
        return None, (n if n >= 0 else None)
    domain = _I.unpack(enter[0])[0] if len(enter[0]) == 4 else 0
    stype = (_I.unpack(enter[1])[0] if len(enter[1]) == 4 else 0) & 0xF
    proto = _I.unpack(enter[2])[0] if len(enter[2]) == 4 else 0
    if domain == 1:
        f = Fd(M.FD_UNIX_SOCK)
    elif domain in (2, 10):
        f = Fd(M.FD_IPV4_SOCK if domain == 2 else M.FD_IPV6_SOCK)
        f.l4proto = 4 if proto in (1, 58) and stype in (2, 3) else _SOCK_L4.get(stype, 0)
    elif domain == 16:
        f = Fd(M.FD_NETLINK)
    else:
        f = Fd(M.FD_UNKNOWN)
    return _add_fd(e, t, n, f)


_ZERO_IPS = ("0.0.0.0", "::", None)


def _apply_tuple(f: Fd, tup: bytes) -> None:
    """libsinsp's fill_client_socket_info: source always updated, destination only when unknown."""
    if not tup:
        return
    fam = tup[0]
    if fam == 2 and len(tup) == 13:
        sip, dip = ip_from_bytes(tup[1:5]), ip_from_bytes(tup[7:11])
        sport, dport = struct.unpack_from("<H", tup, 5)[0], struct.unpack_from("<H", tup, 11)[0]
        ftype = M.FD_IPV4_SOCK
    elif fam == 10 and len(tup) == 37:
        s6, d6 = tup[1:17], tup[19:35]
        mapped = s6[:12] == b"\0" * 10 + b"\xff\xff" and d6[:12] == b"\0" * 10 + b"\xff\xff"
        ftype = M.FD_IPV4_SOCK if mapped else M.FD_IPV6_SOCK
        sip, dip = ip_from_bytes(s6[12:] if mapped else s6), ip_from_bytes(d6[12:] if mapped else d6)
        sport, dport = struct.unpack_from("<H", tup, 17)[0], struct.unpack_from("<H", tup, 35)[0]
    elif fam == 1 and len(tup) >= 17:
        f.type = M.FD_UNIX_SOCK
        f.src_ep, f.dst_ep = struct.unpack_from("<QQ", tup, 1)
        f.name = socktuple_str(tup)
        if f.role == M.ROLE_NONE:
            f.role = M.ROLE_CLIENT
        return
    else:
        return
    f.type = ftype
    same = (sip, sport, dip, dport) == (f.sip, f.sport, f.dip, f.dport) or \
        (dip, dport, sip, sport) == (f.sip, f.sport, f.dip, f.dport)
    if not same:
        f.sip, f.sport = sip, sport
        if f.dip in _ZERO_IPS:
            f.dip = dip
        if not f.dport:
            f.dport = dport
    f.name = M.tuple_name(f.sip or _zero(ftype), f.sport or 0, f.dip or _zero(ftype), f.dport or 0)
    if f.role == M.ROLE_NONE:
        f.role = M.ROLE_CLIENT


def _zero(ftype: int) -> str:
    return "0.0.0.0" if ftype == M.FD_IPV4_SOCK else "::"


def parse_connect(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                  fdnum: int | None) -> tuple[Fd | None, int | None]:
    if fd is None or len(params) < 2:
        return fd, fdnum
    if not info.id & 1:
        _connect_enter(fd, params[1])
        return fd, fdnum
    res = _i64(params[0])
    if res < 0 and res != -115:  # EINPROGRESS still connects
        return fd, fdnum
    _apply_tuple(fd, params[1])
    return fd, fdnum


def _connect_enter(fd: Fd, a: bytes) -> None:
    """The destination is known from connect()'s address before the call returns."""
    if not a:
        return
    if a[0] == 2 and len(a) == 7:
        fd.type, fd.dip, fd.dport = M.FD_IPV4_SOCK, ip_from_bytes(a[1:5]), struct.unpack_from("<H", a, 5)[0]
    elif a[0] == 10 and len(a) == 19:
        ip = a[1:17]
        port = struct.unpack_from("<H", a, 17)[0]
        if ip[:12] == b"\0" * 10 + b"\xff\xff":
            fd.type, fd.dip, fd.dport = M.FD_IPV4_SOCK, ip_from_bytes(ip[12:]), port
        else:
            fd.type, fd.dip, fd.dport = M.FD_IPV6_SOCK, ip_from_bytes(ip), port
    elif a[0] == 1:
        fd.name = M.sanitize(_cstr(a[1:]))


def parse_accept(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                 fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or len(params) < 2:
        return fd, fdnum
    n = _i64(params[0])
    if n < 0:
        return None, None
    f = Fd(M.FD_UNKNOWN)
    f.l4proto = 2
    f.role = M.ROLE_SERVER
    _apply_tuple(f, params[1])
    if f.type == M.FD_UNKNOWN:
        f.type = M.FD_UNIX_SOCK if params[1][:1] == b"\x01" else M.FD_IPV4_SOCK
    return _add_fd(e, t, n, f)


def parse_bind(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
               fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or fd is None or len(params) < 2 or _i64(params[0]) < 0:
        return fd, fdnum
    a = params[1]
    if a[:1] == b"\x02" and len(a) == 7:
        fd.type = M.FD_IPV4_SERVSOCK
        fd.sip, fd.sport = ip_from_bytes(a[1:5]), struct.unpack_from("<H", a, 5)[0]
        fd.name = f"{fd.sip}:{fd.sport}"
        fd.server = True
        fd.role = M.ROLE_SERVER
    elif a[:1] == b"\x0a" and len(a) == 19:
        fd.type = M.FD_IPV6_SERVSOCK
        fd.sip, fd.sport = ip_from_bytes(a[1:17]), struct.unpack_from("<H", a, 17)[0]
        fd.name = f"{fd.sip}:{fd.sport}"
        fd.server = True
        fd.role = M.ROLE_SERVER
    elif a[:1] == b"\x01":
        fd.name = _cstr(a[1:])
    return fd, fdnum


def parse_io_tuple(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                   fdnum: int | None) -> tuple[Fd | None, int | None]:
    """sendto/recvfrom/sendmsg/recvmsg: a socket without addresses learns them from the tuple."""
    if fd is None or fd.type not in (M.FD_IPV4_SOCK, M.FD_IPV6_SOCK, M.FD_UNIX_SOCK) or fd.name:
        return fd, fdnum
    tup = _param(info, params, "tuple")
    if tup is None and not info.id & 1:
        return fd, fdnum
    if tup:
        _apply_tuple(fd, tup)
    return fd, fdnum


def parse_close(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                fdnum: int | None) -> tuple[Fd | None, int | None]:
    if info.id & 1 and params and _i64(params[0]) >= 0 and fdnum is not None:
        e._to_remove_fd = (t.proc, fdnum)
    return fd, fdnum


def _simple_fd_parser(ftype: int) -> Parser:
    def parse(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
              fdnum: int | None) -> tuple[Fd | None, int | None]:
        if not info.id & 1 or not params:
            return fd, fdnum
        n = _i64(params[0])
        if n < 0:
            return fd, fdnum
        return _add_fd(e, t, n, Fd(ftype))
    return parse


def parse_pipe(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
               fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or len(params) < 3 or _i64(params[0]) < 0:
        return fd, fdnum
    for raw in (params[1], params[2]):
        f = Fd(M.FD_FIFO)
        t.proc.fds[_i64(raw)] = f
    return fd, fdnum


def parse_socketpair(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                     fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or len(params) < 5 or _i64(params[0]) < 0:
        return fd, fdnum
    src, peer = _i64(params[3]), _i64(params[4])
    for raw in (params[1], params[2]):
        f = Fd(M.FD_UNIX_SOCK)
        f.src_ep, f.dst_ep = src & (2**64 - 1), peer & (2**64 - 1)
        t.proc.fds[_i64(raw)] = f
    return fd, fdnum


def parse_dup(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
              fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or not params:
        return fd, fdnum
    n = _i64(params[0])
    src = fd
    if src is None:
        oldfd = _param(info, params, "oldfd") or _param(info, params, "fd")
        if oldfd is not None:
            src = t.proc.fds.get(_i64(oldfd))
    if n < 0 or src is None:
        return fd, fdnum
    if info.name == "fcntl":
        enter = e.enter_params(t)
        cmd = enter[1][0] if enter is not None and len(enter) > 1 and enter[1] else 0
        if cmd not in (1, 26):  # F_DUPFD, F_DUPFD_CLOEXEC
            return fd, fdnum
    t.proc.fds[n] = src.copy()
    return fd, fdnum


def parse_chdir(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or not params or _i64(params[0]) < 0:
        return fd, fdnum
    if info.name == "chdir" and len(params) > 1:
        path = _cstr(params[1])
        t.proc.cwd = _dir(path if path.startswith("/") else join_path(t.proc.cwd, path))
    elif info.name == "fchdir" and fd is not None:
        t.proc.cwd = _dir(fd.name)
    return fd, fdnum


def _dir(p: str) -> str:
    return p if p.endswith("/") else p + "/"


def parse_clone(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or len(params) < 8:
        return fd, fdnum
    res = _i64(params[0])
    if res < 0:
        return fd, fdnum
    flags_b = _param(info, params, "flags")
    flags = _I.unpack(flags_b)[0] if flags_b and len(flags_b) == 4 else 0
    if res > 0 or not t.fake:
        return fd, fdnum  # the child's own exit (res == 0) creates it, as libsinsp shows it
    ctid = t.tid
    threaded = bool(flags & CLONE_THREAD)
    parent = e.threads.get(_i64(params[4]) if threaded else _i64(params[5]))
    if parent is not None:
        proc = parent.proc if threaded else parent.proc.fork()
    else:
        proc = Proc(_cstr(params[6]) or "/")
    pid = _i64(params[4]) if threaded else ctid
    c = Thread(ctid, pid, _i64(params[5]), proc)
    c.exe = _cstr(params[1])
    comm = _param(info, params, "comm")
    c.comm = _cstr(comm) if comm is not None else c.exe
    c.args = _nul_list(params[2])
    if parent is not None:
        c.exepath, c.env, c.container, c.loginuid = parent.exepath, parent.env, parent.container, parent.loginuid
        c.uid, c.gid = parent.uid, parent.gid
    uid_b, gid_b = _param(info, params, "uid"), _param(info, params, "gid")
    if uid_b is not None and len(uid_b) == 4:
        c.uid = _I.unpack(uid_b)[0]
    if gid_b is not None and len(gid_b) == 4:
        c.gid = _I.unpack(gid_b)[0]
    cg = _param(info, params, "cgroups")
    if cg:
        c.container = M.container_id(_nul_list(cg))
    e.threads[ctid] = c
    if threaded and pid not in e.threads and pid > 0:
        main = Thread(pid, pid, c.ptid, proc)
        for k in ("comm", "exe", "exepath", "args", "env", "uid", "gid", "loginuid", "container"):
            setattr(main, k, getattr(c, k))
        e.threads[pid] = main
    return fd, fdnum


def parse_clone_child(e: Engine, info: E.EventInfo, tid: int, params: tuple[bytes, ...]) -> None:
    """The child's clone exit arrives before the parent's: create the child from the event."""
    if len(params) < 8 or _i64(params[0]) != 0:
        return
    placeholder = Thread(tid, tid, -1, Proc())
    placeholder.fake = True
    e.threads[tid] = placeholder
    parse_clone(e, info, placeholder, params, None, None)


def parse_execve(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                 fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or len(params) < 3 or _i64(params[0]) < 0:
        return fd, fdnum
    t.exe = _cstr(params[1])
    comm = _param(info, params, "comm")
    t.comm = _cstr(comm) if comm is not None else t.exe
    t.args = _nul_list(params[2])
    env = _param(info, params, "env")
    if env is not None:
        t.env = _nul_list(env)
    cg = _param(info, params, "cgroups")
    if cg:
        t.container = M.container_id(_nul_list(cg))
    enter = e.enter_params(t)
    if enter:
        t.exepath = _cstr(enter[0]) if info.id == 293 and t.last_type == 292 else t.exepath
    t.fake = False
    return fd, fdnum


def parse_procexit(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                   fdnum: int | None) -> tuple[Fd | None, int | None]:
    e._to_remove_tid = t.tid
    return fd, fdnum


def parse_setuid(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                 fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or not params or _i64(params[0]) < 0:
        return fd, fdnum
    enter = e.enter_params(t)
    if enter and len(enter[0]) == 4:
        val = _I.unpack(enter[0])[0]
        if info.name == "setuid":
            t.uid = val
        else:
            t.gid = val
    return fd, fdnum


_PARSERS: dict[str, Parser] = {
    "open": parse_open, "openat": parse_open, "openat2": parse_open, "creat": parse_open,
    "socket": parse_socket, "connect": parse_connect, "accept": parse_accept, "accept4": parse_accept,
    "bind": parse_bind, "sendto": parse_io_tuple, "recvfrom": parse_io_tuple, "sendmsg": parse_io_tuple,
    "recvmsg": parse_io_tuple, "close": parse_close, "pipe": parse_pipe, "pipe2": parse_pipe,
    "socketpair": parse_socketpair, "eventfd": _simple_fd_parser(M.FD_EVENT),
    "eventfd2": _simple_fd_parser(M.FD_EVENT), "signalfd": _simple_fd_parser(M.FD_SIGNALFD),
    "signalfd4": _simple_fd_parser(M.FD_SIGNALFD), "timerfd_create": _simple_fd_parser(M.FD_TIMERFD),
    "inotify_init": _simple_fd_parser(M.FD_INOTIFY), "inotify_init1": _simple_fd_parser(M.FD_INOTIFY),
    "epoll_create": _simple_fd_parser(M.FD_EVENTPOLL), "epoll_create1": _simple_fd_parser(M.FD_EVENTPOLL),
    "dup": parse_dup, "dup2": parse_dup, "dup3": parse_dup, "fcntl": parse_dup, "chdir": parse_chdir,
    "fchdir": parse_chdir, "clone": parse_clone, "fork": parse_clone, "vfork": parse_clone,
    "clone3": parse_clone, "execve": parse_execve, "execveat": parse_execve, "procexit": parse_procexit,
    "setuid": parse_setuid, "setgid": parse_setuid,
}

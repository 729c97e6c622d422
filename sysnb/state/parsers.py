"""State changes, one parser per event name (libsinsp's parsers.cpp semantics).

Each parser gets the engine, the event's table entry, its thread, raw params and
the fd found by pairing, and returns the (possibly new) fd and fd number of the
event. Parsers that change an existing Fd set ``fd.snap = -1`` so the column
recorder takes a fresh snapshot of it.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from sysnb.format.args import PPM_AT_FDCWD, socktuple_str
from sysnb.format.paths import as_cwd, concatenate_paths
from sysnb.format.values import ip_from_bytes
from sysnb.scap import events as E
from sysnb.state import model as M
from sysnb.state.model import Fd, Thread
from sysnb.state.network import guess_role
from sysnb.state.syslog import is_syslog_name

if TYPE_CHECKING:
    from sysnb.state.engine import Engine

_Q = struct.Struct("<q")
_I = struct.Struct("<I")

CLONE_THREAD = 0x2000
_SLASHES = re.compile("/+")
PPM_O_DIRECTORY = 0x400


def _i64(b: bytes) -> int:
    return int(_Q.unpack(b)[0]) if len(b) == 8 else 0


def cstr(b: bytes) -> str:
    i = b.find(b"\0")
    return (b if i < 0 else b[:i]).decode("utf-8", "surrogateescape")


_cstr = cstr


def _nul_list(b: bytes) -> list[str]:
    parts = b.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", "surrogateescape") for p in parts]


Parser = Callable[["Engine", E.EventInfo, Thread, tuple[bytes, ...], Fd | None, int | None],
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


def resolve_at(t: Thread, dirfd: int, name: str) -> str:
    """Absolute, normalised path of ``name`` opened relative to ``dirfd`` (AT_FDCWD: the cwd)."""
    if name.startswith("/") or dirfd == PPM_AT_FDCWD:
        return concatenate_paths(t.proc.cwd, name)
    d = t.proc.fds.get(dirfd)
    return concatenate_paths((d.name + "/") if d is not None else "", name)


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
    full = resolve_at(t, dirfd, _cstr(name_b))
    f = Fd(M.FD_DIRECTORY if flags & PPM_O_DIRECTORY else M.FD_FILE_V2, full)
    f.openflags = flags
    f.syslog = is_syslog_name(full)
    f.nameraw = _SLASHES.sub("/", _cstr(name_b))  # libsinsp's remove_duplicate_path_separators
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
        f.snap = -1
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
    f.snap = -1


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
    fd.syslog = is_syslog_name(fd.name)
    fd.connected, fd.snap = True, -1
    return fd, fdnum


def _connect_enter(fd: Fd, a: bytes) -> None:
    """The destination is known from connect()'s address before the call returns."""
    if not a:
        return
    fd.snap = -1
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
    f.connected = True
    _apply_tuple(f, params[1])
    if f.type == M.FD_UNKNOWN:
        f.type = M.FD_UNIX_SOCK if params[1][:1] == b"\x01" else M.FD_IPV4_SOCK
    return _add_fd(e, t, n, f)


def parse_bind(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
               fdnum: int | None) -> tuple[Fd | None, int | None]:
    """libsinsp parse_bind_exit: a non-zero port makes a server socket; the name is the address."""
    if not info.id & 1 or fd is None or len(params) < 2 or _i64(params[0]) < 0 or not params[1]:
        return fd, fdnum
    a = params[1]
    fd.snap = -1
    ip: bytes | None = None
    if a[0] == 2 and len(a) == 7:
        ip, port, ftype = a[1:5], struct.unpack_from("<H", a, 5)[0], M.FD_IPV4_SERVSOCK
    elif a[0] == 10 and len(a) == 19:
        ip, port, ftype = a[1:17], struct.unpack_from("<H", a, 17)[0], M.FD_IPV6_SERVSOCK
        if ip[:12] == b"\0" * 10 + b"\xff\xff":
            ip, ftype = ip[12:], M.FD_IPV4_SERVSOCK
    if ip is not None and port > 0:
        fd.type, fd.sip, fd.sport = ftype, ip_from_bytes(ip), port
        fd.server, fd.role = True, M.ROLE_SERVER
    sockaddr = next((p for p in info.params_2022 if p[1] == "SOCKADDR"), None)
    if sockaddr is not None:
        fd.name = e.renderer.render(sockaddr, a, params, info.params_2022, t, fd)[0]
    return fd, fdnum


_TUPLE_SOURCES = {"sendto": "enter", "sendmsg": "enter", "recvfrom": "exit", "recvmsg": "exit"}


def parse_io_tuple(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                   fdnum: int | None) -> tuple[Fd | None, int | None]:
    """sendto/sendmsg/recvfrom/recvmsg exits, as libsinsp parse_rw_exit: a socket with no name yet, or any
    non-TCP socket, takes its addresses from the call's tuple (writes: the enter's, reads: the exit's)."""
    if not info.id & 1 or fd is None or not params or _i64(params[0]) < 0:
        return fd, fdnum
    if fd.name and fd.effective_l4proto() == 2:
        return fd, fdnum
    if _TUPLE_SOURCES[info.name] == "enter":
        enter = e.enter_params(t)
        einfo = E.event_info(info.id - 1)
        tup = _param(einfo, enter, "tuple") if enter is not None and einfo is not None else None
    else:
        tup = _param(info, params, "tuple")
    if tup:
        _update_from_io(e, t, fd, tup, incoming=_TUPLE_SOURCES[info.name] == "exit")
    return fd, fdnum


def _update_from_io(e: Engine, t: Thread, fd: Fd, tup: bytes, incoming: bool) -> None:
    """libsinsp's update_fd, role guess and swap for a send/receive with a tuple. A server socket becomes a
    connected one (sysdig 0.29.3 reinterprets the server address through a C union here and shows addresses
    that never existed, e.g. the port bytes as an IP; sysnb keeps the real ones)."""
    if tup[0] == 1:
        _apply_tuple(fd, tup)
        return
    if fd.type in (M.FD_IPV4_SERVSOCK, M.FD_IPV6_SERVSOCK):
        fd.dip, fd.dport = None, None
    elif not fd.connected:  # sysdig 0.29.3: a send/receive whose tuple updates a (non-server) socket connects it
        fd.connected, fd.snap = True, -1
    before = (fd.type, fd.sip, fd.sport, fd.dip, fd.dport)
    role = fd.role
    _apply_tuple(fd, tup)
    fd.role = role
    if (fd.type, fd.sip, fd.sport, fd.dip, fd.dport) == before:
        return
    e.interfaces.update_fd(fd)
    if fd.role == M.ROLE_NONE:
        fd.role = guess_role(t.proc, fd)
    if (incoming and fd.role == M.ROLE_CLIENT) or (not incoming and fd.role == M.ROLE_SERVER):
        fd.sip, fd.dip, fd.sport, fd.dport = fd.dip, fd.sip, fd.dport, fd.sport
    fd.name = M.tuple_name(fd.sip, fd.sport, fd.dip, fd.dport)


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
        _add_fd(e, t, _i64(raw), Fd(M.FD_FIFO))
    return fd, fdnum


def parse_socketpair(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                     fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or len(params) < 5 or _i64(params[0]) < 0:
        return fd, fdnum
    src, peer = _i64(params[3]), _i64(params[4])
    for raw in (params[1], params[2]):
        f = Fd(M.FD_UNIX_SOCK)
        f.src_ep, f.dst_ep = src & (2**64 - 1), peer & (2**64 - 1)
        _add_fd(e, t, _i64(raw), f)
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
    return _add_fd(e, t, n, src.copy())  # like libsinsp's add_fd: the new fd becomes the event's fd


def parse_chdir(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or not params or _i64(params[0]) < 0:
        return fd, fdnum
    if info.name in ("chdir", "getcwd") and len(params) > 1:  # libsinsp also learns the cwd from getcwd()
        path = _cstr(params[1])
        t.proc.cwd = as_cwd(concatenate_paths(t.proc.cwd, path))
    elif info.name == "fchdir" and fd is not None:
        t.proc.cwd = as_cwd(concatenate_paths(t.proc.cwd, fd.name))
    return fd, fdnum


CLONE_CHILD_IN_PIDNS = 0x20000000


#: libsinsp settings.h: a thread older than this that receives a child-side clone exit was lost, not new
CLONE_STALE_TIME_NS = 2_000_000_000


def parse_clone(e: Engine, info: E.EventInfo, tid: int, t: Thread | None, params: tuple[bytes, ...],
                ts: int) -> None:
    """clone/fork/vfork/clone3 exit, as libsinsp 2022 parse_clone_exit.

    The parent's exit (res = child tid) creates the child, except when the clone happened
    inside a pid namespace (the result is then a namespace-local id). The child's exit
    (res = 0) creates it only if it arrives first ("inverted" clone). A parent that was
    never seen (a fake "<NA>" thread) learns its name from the child's parameters.
    """
    if len(params) < 8:
        return
    res = _i64(params[0])
    if res < 0:
        return
    flags_b = _param(info, params, "flags")
    flags = _I.unpack(flags_b)[0] if flags_b and len(flags_b) == 4 else 0
    threaded = bool(flags & CLONE_THREAD)
    vtid_b = _param(info, params, "vtid")
    in_container = bool(flags & CLONE_CHILD_IN_PIDNS) or (vtid_b is not None and _i64(vtid_b) != tid)
    if res == 0:
        if t is not None and t.clone_ts and ts - t.clone_ts > CLONE_STALE_TIME_NS:
            e.threads.pop(tid, None)  # an old thread whose exit was lost: this clone creates it anew
            t = None
        if t is not None:  # the parent's exit already created this thread
            if in_container:  # its ids as seen in its pid namespace are only known from its own exit
                t.vtid, t.vpid = _ns_ids(info, params, t.vtid, t.vpid)
            return
        childtid, caller, inverted = tid, _i64(params[4] if threaded else params[5]), True
    else:
        if in_container:
            return
        childtid, caller, inverted = res, tid, False
    parent = e.get_thread(caller, create=True)
    if parent is None:
        return
    old = e.threads.get(childtid)
    if old is not None and old.inverted:
        return
    exe = _cstr(params[1])
    comm_b = _param(info, params, "comm")
    comm = _cstr(comm_b) if comm_b is not None else exe
    args = _nul_list(params[2])
    proc = parent.proc if threaded else parent.proc.fork()
    c = Thread(childtid, _i64(params[4]) if threaded else childtid, caller, proc)
    c.loginuid = 0  # libsinsp's default for a new thread; copied from a known parent below
    if parent.comm == "<NA>" and parent.uid == 0xFFFFFFFF:  # parent unknown: name it after the child
        parent.comm, parent.exe, parent.args, parent.fake = comm, exe, args, False
    else:
        c.exepath, c.loginuid, c.container = parent.exepath, parent.loginuid, parent.container
        c.tty, c.sid, c.vpgid, c.cgroups = parent.tty, parent.sid, parent.vpgid, parent.cgroups
        c.caps, c.exe_flags = parent.caps, parent.exe_flags
        if not threaded:
            c.env = parent.env
    c.exe, c.comm, c.args, c.inverted = exe, comm, args, inverted
    uid_b, gid_b = _param(info, params, "uid"), _param(info, params, "gid")
    if uid_b is not None and len(uid_b) == 4:
        c.uid = _I.unpack(uid_b)[0]
    if gid_b is not None and len(gid_b) == 4:
        c.gid = _I.unpack(gid_b)[0]
    cg = _param(info, params, "cgroups")
    if cg:
        c.cgroups = _nul_list(cg)
        c.container = M.container_id(c.cgroups)
    _resources(c, info, params)
    if in_container and inverted:
        c.vtid, c.vpid = _ns_ids(info, params, -1, -1)
    else:
        c.vtid, c.vpid = c.tid, c.pid
    c.clone_ts = ts
    e.threads[childtid] = c


def _ns_ids(info: E.EventInfo, params: tuple[bytes, ...], vtid: int, vpid: int) -> tuple[int, int]:
    """The vtid and vpid parameters of a clone exit (the thread's ids in its pid namespace)."""
    vt, vp = _param(info, params, "vtid"), _param(info, params, "vpid")
    return (_i64(vt) if vt is not None and len(vt) == 8 else vtid,
            _i64(vp) if vp is not None and len(vp) == 8 else vpid)


def _resources(t: Thread, info: E.EventInfo, params: tuple[bytes, ...]) -> None:
    """fdlimit and memory sizes carried by clone/execve exits (ps shows them)."""
    for name, attr in (("fdlimit", "fdlimit"), ("vm_size", "vmsize_kb"), ("vm_rss", "vmrss_kb")):
        raw = _param(info, params, name)
        if raw is not None and len(raw) in (4, 8):
            setattr(t, attr, int.from_bytes(raw, "little", signed=len(raw) == 8))


def parse_execve(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                 fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or len(params) < 3 or _i64(params[0]) < 0:
        return fd, fdnum
    t.exe = _cstr(params[1])
    if len(params) > 5:
        t.pid = _i64(params[4])
        if t.ptid == -1:  # libsinsp keeps a known parent
            t.ptid = _i64(params[5])
    comm = _param(info, params, "comm")
    t.comm = _cstr(comm) if comm is not None else t.exe
    t.args = _nul_list(params[2])
    env = _param(info, params, "env")
    if env is not None:
        t.env = _nul_list(env)
    loginuid = _param(info, params, "loginuid")
    if loginuid is not None and len(loginuid) == 4:
        t.loginuid = _I.unpack(loginuid)[0]
    cg = _param(info, params, "cgroups")
    if cg:
        t.cgroups = _nul_list(cg)
        t.container = M.container_id(t.cgroups)
    tty, vpgid = _param(info, params, "tty"), _param(info, params, "vpgid")
    if tty is not None and len(tty) == 4:
        t.tty = _I.unpack(tty)[0]
    if vpgid is not None and len(vpgid) == 8:
        t.vpgid = _i64(vpgid)
    _exec_extras(t, info, params)
    enter = e.enter_params(t)
    if enter:
        t.exepath = _cstr(enter[0]) if info.id == 293 and t.last_type == 292 else t.exepath
    t.fake = False
    return fd, fdnum


def _exec_extras(t: Thread, info: E.EventInfo, params: tuple[bytes, ...]) -> None:
    """Capability sets and PPM_EXE_* flags of newer drivers' execve exits (absent from 2022 captures)."""
    caps = [_param(info, params, f"cap_{k}") for k in ("inheritable", "permitted", "effective")]
    if all(c is not None and len(c) == 8 for c in caps):
        t.caps = (_u64(caps[0]), _u64(caps[1]), _u64(caps[2]))
    flags = _param(info, params, "flags")
    if flags is not None and len(flags) == 4:
        t.exe_flags = _I.unpack(flags)[0]


def _u64(b: bytes | None) -> int:
    return int.from_bytes(b or b"", "little")


def parse_procexit(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                   fdnum: int | None) -> tuple[Fd | None, int | None]:
    e._to_remove_tid = t.tid
    return fd, fdnum


def parse_setuid(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                 fdnum: int | None) -> tuple[Fd | None, int | None]:
    if not info.id & 1 or not params or _i64(params[0]) < 0:
        return fd, fdnum
    # setuid/setgid take the id from the enter's first parameter, setresuid/setresgid the effective one (2nd)
    k = 1 if info.name.startswith("setres") else 0
    enter = e.enter_params(t)
    if enter and len(enter) > k and len(enter[k]) == 4:
        val = _I.unpack(enter[k])[0]
        if val == 0xFFFFFFFF:
            return fd, fdnum  # -1: unchanged
        if info.name.endswith("uid"):
            t.uid = val
        else:
            t.gid = val
    return fd, fdnum


def parse_setsid(e: Engine, info: E.EventInfo, t: Thread, params: tuple[bytes, ...], fd: Fd | None,
                 fdnum: int | None) -> tuple[Fd | None, int | None]:
    """libsinsp parse_setsid_exit: a successful setsid() makes its result the thread's session id."""
    if info.id & 1 and params and _i64(params[0]) >= 0:
        t.sid = _i64(params[0])
    return fd, fdnum


#: parsers after which thread-level snapshots (names, cwd, users, parents) may be stale
CLONES = frozenset({"clone", "fork", "vfork", "clone3"})
THREAD_MUTATORS = frozenset({"clone", "fork", "vfork", "clone3", "execve", "execveat", "chdir", "fchdir", "getcwd",
                             "setuid", "setgid", "setresuid", "setresgid", "procexit", "setsid"})

PARSERS: dict[str, Parser] = {
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
    "fchdir": parse_chdir, "getcwd": parse_chdir,
    "execve": parse_execve, "execveat": parse_execve, "procexit": parse_procexit,
    "setuid": parse_setuid, "setgid": parse_setuid, "setresuid": parse_setuid, "setresgid": parse_setuid,
    "setsid": parse_setsid,
}

"""Thread, process and fd state, as libsinsp keeps it."""

from __future__ import annotations

import re

from sysnb.scap.blocks import FdEntry, ThreadEntry

# scap fd types (scap.h)
FD_UNKNOWN, FD_FILE, FD_DIRECTORY, FD_IPV4_SOCK, FD_IPV6_SOCK = 0, 1, 2, 3, 4
FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK, FD_FIFO, FD_UNIX_SOCK, FD_EVENT = 5, 6, 7, 8, 9
FD_UNSUPPORTED, FD_SIGNALFD, FD_EVENTPOLL, FD_INOTIFY, FD_TIMERFD = 10, 11, 12, 13, 14
FD_NETLINK, FD_FILE_V2 = 15, 16

TYPECHARS = {FD_FILE: "f", FD_FILE_V2: "f", FD_IPV4_SOCK: "4", FD_IPV6_SOCK: "6", FD_DIRECTORY: "d",
             FD_IPV4_SERVSOCK: "4", FD_IPV6_SERVSOCK: "6", FD_FIFO: "p", FD_UNIX_SOCK: "u", FD_EVENT: "e",
             FD_UNKNOWN: "o", FD_UNSUPPORTED: "X", FD_SIGNALFD: "s", FD_EVENTPOLL: "l", FD_INOTIFY: "i",
             FD_TIMERFD: "t", FD_NETLINK: "n"}
# fd.type as sysdig names it
TYPENAMES = {FD_FILE: "file", FD_FILE_V2: "file", FD_IPV4_SOCK: "ipv4", FD_IPV6_SOCK: "ipv6",
             FD_DIRECTORY: "directory", FD_IPV4_SERVSOCK: "ipv4", FD_IPV6_SERVSOCK: "ipv6", FD_FIFO: "pipe",
             FD_UNIX_SOCK: "unix", FD_EVENT: "event", FD_UNKNOWN: "unknown", FD_UNSUPPORTED: "unknown",
             FD_SIGNALFD: "signalfd", FD_EVENTPOLL: "eventpoll", FD_INOTIFY: "inotify", FD_TIMERFD: "timerfd",
             FD_NETLINK: "netlink"}
L4_NAMES = {0: None, 1: None, 2: "tcp", 3: "udp", 4: "icmp", 5: "raw"}
L4_CHARS = {2: "t", 3: "u", 4: "i", 5: "r"}
ROLE_NONE, ROLE_CLIENT, ROLE_SERVER = 0, 1, 2
SOCK_TYPES = (FD_IPV4_SOCK, FD_IPV6_SOCK, FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK)


class Fd:
    """One open file descriptor. Socket endpoints: s=source, d=destination as libsinsp stores them."""

    __slots__ = (
        "connected",
        "dip",
        "dport",
        "dst_ep",
        "ino",
        "l4proto",
        "name",
        "nameraw",
        "openflags",
        "role",
        "server",
        "sip",
        "snap",
        "snap_owner",
        "sport",
        "src_ep",
        "syslog",
        "type",
    )

    def __init__(self, ftype: int, name: str = "") -> None:
        self.type = ftype
        self.name = name
        self.sip: str | None = None
        self.sport: int | None = None
        self.dip: str | None = None
        self.dport: int | None = None
        self.l4proto = 0
        self.openflags = 0
        self.server = False
        self.ino = 0
        self.src_ep = 0
        self.dst_ep = 0
        self.role = ROLE_NONE
        self.snap = -1  # index of this fd's row in the current batch's fd snapshots
        self.snap_owner: object = None
        self.syslog = False  # writes are decoded as syslog messages (libsinsp's syslog decoder)
        self.connected = False  # libsinsp's FLAGS_SOCKET_CONNECTED: set by connect and accept exits
        self.nameraw = ""  # the path as open/openat/creat received it (libsinsp's m_name_raw)

    @property
    def typechar(self) -> str:
        return TYPECHARS.get(self.type, "?")

    def effective_l4proto(self) -> int:
        """libsinsp's get_l4proto: a socket with no role yet has no known protocol (except raw)."""
        if self.type in (FD_IPV4_SOCK, FD_IPV6_SOCK):
            if self.l4proto == 5:
                return 5
            return 1 if self.role == ROLE_NONE else self.l4proto
        if self.type in (FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK):
            return self.l4proto
        return 1

    def tagged_name(self) -> str:
        """``<f>/etc/passwd``, ``<4t>1.2.3.4:5->6.7.8.9:10`` as sysdig renders a resolved fd."""
        proto = L4_CHARS.get(self.effective_l4proto(), "") if self.type in SOCK_TYPES else ""
        return f"<{self.typechar}{proto}>{sanitize(self.name)}"

    def copy(self) -> Fd:
        c = Fd(self.type, self.name)
        for k in Fd.__slots__:
            setattr(c, k, getattr(self, k))
        c.snap, c.snap_owner = -1, None
        return c

    @staticmethod
    def from_entry(e: FdEntry) -> Fd:
        t = e.type
        fd = Fd(t, e.name)
        fd.ino = e.ino
        if t in (FD_IPV4_SOCK, FD_IPV6_SOCK):
            fd.sip, fd.dip, fd.sport, fd.dport, fd.l4proto = e.sip, e.dip, e.sport, e.dport, e.l4proto
            if t == FD_IPV6_SOCK and _mapped(e.sip) and _mapped(e.dip):
                fd.type = FD_IPV4_SOCK
                fd.sip, fd.dip = e.sip[7:] if e.sip else None, e.dip[7:] if e.dip else None
            fd.name = tuple_name(fd.sip, fd.sport, fd.dip, fd.dport)
            if fd.l4proto == 2:
                fd.role = ROLE_CLIENT  # connected TCP sockets from /proc count as having a role
        elif t in (FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK):
            fd.sip, fd.sport, fd.l4proto = e.sip, e.sport, e.l4proto
            fd.name = f"{e.sip}:{e.sport}"
            fd.server = True  # libsinsp gives server sockets from the fd table no role
        elif t == FD_UNIX_SOCK:
            fd.src_ep, fd.dst_ep = e.src_endpoint, e.dst_endpoint
            fd.server = bool(e.name)
            fd.role = ROLE_SERVER if e.name else ROLE_CLIENT
        elif t == FD_FILE_V2:
            fd.openflags = e.flags
        return fd


def _mapped(ip: str | None) -> bool:
    return bool(ip) and ip.startswith("::ffff:") and "." in (ip or "")  # type: ignore[union-attr]


def tuple_name(sip: str | None, sport: int | None, dip: str | None, dport: int | None) -> str:
    return f"{sip}:{sport}->{dip}:{dport}"


_INVALID = re.compile(r"[\x00-\x1f\x7f]")


def sanitize(s: str) -> str:
    """libsinsp's sanitize_string: drop control characters."""
    return _INVALID.sub("", s) if s and not s.isprintable() else s


class Proc:
    """State shared by the threads of one process (fd table, cwd)."""

    __slots__ = ("cwd", "fds")

    def __init__(self, cwd: str = "") -> None:
        self.fds: dict[int, Fd] = {}
        self.cwd = cwd

    def fork(self) -> Proc:
        p = Proc(self.cwd)
        p.fds = {k: v.copy() for k, v in self.fds.items()}
        return p


_DOCKER_ID = re.compile(r"(?:docker[-/]|/kubepods/.*/|crio-|containerd-|libpod-)([0-9a-f]{64})")


V2_CONTROLLERS = "cpuset,cpu,cpuacct,io,memory,devices,freezer,net_cls,perf_event,net_prio,hugetlb,pids,rdma,misc"


def cgroup_entries(path: str, subsys: str = "") -> list[str]:
    """The ``controller=path`` entries sysdig lists for a cgroup (every controller for a v2 cgroup)."""
    return [f"{name}={path}" for name in (subsys or V2_CONTROLLERS).split(",")]


#: libsinsp's set_cgroups keeps cgroup v1 names for the controllers cgroup v2 renamed
_V1_NAMES = {"perf": "perf_event", "mem": "memory", "io": "blkio"}


def cgroups_text(cgroups: list[str]) -> str:
    """thread.cgroups: the ``subsys=path`` entries joined with a space, with v1 controller names (libsinsp stops
    at an entry without "=")."""
    out = []
    for cg in cgroups:
        subsys, sep, path = cg.partition("=")
        if not sep:
            break
        out.append(f"{_V1_NAMES.get(subsys, subsys)}={path}")
    return " ".join(out)


def container_id(cgroups: list[str]) -> str:
    """Container id from cgroup paths (first 12 hex chars), ``host`` when none is found."""
    for cg in cgroups:
        m = _DOCKER_ID.search(cg)
        if m:
            return m.group(1)[:12]
        m = re.search(r"/docker/([0-9a-f]{12,64})", cg)
        if m:
            return m.group(1)[:12]
    return "host"


class Thread:
    __slots__ = (
        "args",
        "caps",
        "cgroups",
        "clone_ts",
        "comm",
        "container",
        "env",
        "exe",
        "exe_flags",
        "exepath",
        "fake",
        "fdlimit",
        "gid",
        "inverted",
        "last_fd",
        "last_params",
        "last_ts",
        "last_type",
        "latency",
        "loginuid",
        "pair_ok",
        "pid",
        "proc",
        "ptid",
        "sid",
        "snap",
        "snap_gen",
        "tid",
        "tty",
        "uid",
        "vmrss_kb",
        "vmsize_kb",
        "vpgid",
        "vpid",
        "vtid",
    )

    def __init__(self, tid: int, pid: int, ptid: int, proc: Proc) -> None:
        self.tid = tid
        self.pid = pid
        self.ptid = ptid
        self.comm = ""
        self.exe = ""
        self.exepath = ""
        self.args: list[str] = []
        self.env: list[str] = []
        self.uid = 0xFFFFFFFF
        self.gid = 0xFFFFFFFF
        self.loginuid = 0xFFFFFFFF
        self.container = "host"
        self.proc = proc
        self.last_type = -1
        self.last_params: tuple[bytes, ...] | None = None
        self.last_fd = 0  # libsinsp starts a thread's "last event fd" at 0
        self.last_ts = 0
        self.latency = 0
        self.pair_ok = False
        self.fake = False
        self.vtid = -1
        self.fdlimit = -1  # unknown until a process list entry or a clone/execve says
        self.vmsize_kb = self.vmrss_kb = 0
        self.vpid = -1
        self.tty = 0  # the controlling terminal (0: none)
        self.sid = self.vpgid = -1  # session and process group ids as libsinsp initialises them
        self.cgroups: list[str] = []  # "subsys=path" entries
        self.caps: tuple[int, int, int] | None = None  # inheritable, permitted, effective (newer drivers' execve)
        self.exe_flags: int | None = None  # PPM_EXE_* flags of the newer drivers' execve exit
        self.snap = -1  # row of this thread in the current batch's thread snapshots, valid for snap_gen
        self.snap_gen = 0
        self.inverted = False  # created by its own clone exit, before the parent's
        self.clone_ts = 0  # when a clone in the capture created it (proc.duration); 0 for start-state threads

    @staticmethod
    def from_entry(e: ThreadEntry, proc: Proc) -> Thread:
        t = Thread(e.tid, e.pid, e.ptid, proc)
        t.comm, t.exe, t.exepath, t.args = e.comm, e.exe, e.exepath, e.args
        t.uid, t.gid, t.env = e.uid, e.gid, e.env
        t.loginuid = e.loginuid & 0xFFFFFFFF
        t.container = container_id(e.cgroups)
        t.vtid, t.vpid = e.vtid, e.vpid
        t.tty, t.sid, t.vpgid, t.cgroups = e.tty, e.sid, e.vpgid, e.cgroups
        t.fdlimit, t.vmsize_kb, t.vmrss_kb = e.fdlimit, e.vmsize_kb, e.vmrss_kb
        return t

    def cmdline(self) -> str:
        return " ".join([self.comm, *self.args])

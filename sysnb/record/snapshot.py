"""The state of the host when a recording starts, read from /proc: machine, interfaces, users and groups,
every thread, and the open fds of every process (files with their open flags, sockets with their
addresses from /proc/net, pipes, eventfds, ...). Written as the metadata blocks of the .scap, so the
first events already have process and fd names, as sysdig's own /proc scan does."""

from __future__ import annotations

import os
import socket
import stat
import time
from pathlib import Path

from sysnb.record.convert import open_flag
from sysnb.scap import blocks as B
from sysnb.scap.reader import Section
from sysnb.state.model import cgroup_entries

_ANON_TYPES = {"[eventfd]": 9, "[signalfd]": 11, "[eventpoll]": 12, "inotify": 13, "[timerfd]": 14}
_TCP_LISTEN = "0A"


def boot_offset_ns() -> int:
    """Nanoseconds to add to CLOCK_BOOTTIME (the BPF clock) to get the wall clock."""
    return time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def take_snapshot() -> Section:
    section = Section(0, (1, 2))
    section.machine = B.MachineInfo(os.cpu_count() or 1, _memory(), _int("/proc/sys/kernel/pid_max"),
                                    socket.gethostname(), boot_offset_ns())
    section.interfaces = _interfaces()
    section.users, section.groups = _users()
    sockets = _SocketTable()
    for pid in _pids():
        for tid in _tids(pid):
            t = _thread(pid, tid)
            if t is not None:
                section.threads.append(t)
        fds = _fds(pid, sockets)
        if fds:
            section.fds[pid] = fds
    return section


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def _int(path: str) -> int:
    try:
        return int(_read(path).strip() or 0)
    except ValueError:
        return 0


def _memory() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _pids() -> list[int]:
    return sorted(int(d) for d in os.listdir("/proc") if d.isdigit())


def _tids(pid: int) -> list[int]:
    try:
        return sorted(int(d) for d in os.listdir(f"/proc/{pid}/task") if d.isdigit())
    except OSError:
        return []


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


def _status(pid: int, tid: int) -> dict[str, str]:
    out = {}
    for line in _read(f"/proc/{pid}/task/{tid}/status").splitlines():
        key, _, val = line.partition(":")
        out[key] = val.strip()
    return out


def _thread(pid: int, tid: int) -> B.ThreadEntry | None:
    st = _status(pid, tid)
    if not st:
        return None
    argv = [a.decode("utf-8", "surrogateescape") for a in _bytes(f"/proc/{pid}/cmdline").split(b"\0")[:-1]]
    stat_fields = _read(f"/proc/{pid}/task/{tid}/stat").rpartition(")")[2].split()
    t = B.ThreadEntry(tid, pid, int(st.get("PPid", "0") or 0))
    t.comm = _read(f"/proc/{pid}/task/{tid}/comm").rstrip("\n")
    t.exe = argv[0] if argv else t.comm
    t.exepath = _link(f"/proc/{pid}/exe")
    t.args = argv[1:]
    t.cwd = _link(f"/proc/{pid}/cwd")
    t.uid = _u32(int(st.get("Uid", "0").split()[1])) if st.get("Uid") else 0
    t.gid = _u32(int(st.get("Gid", "0").split()[1])) if st.get("Gid") else 0
    t.fdlimit = _fdlimit(pid)
    t.env = [e.decode("utf-8", "surrogateescape") for e in _bytes(f"/proc/{pid}/environ").split(b"\0")[:-1]]
    nspid, nstgid = st.get("NSpid", str(tid)).split(), st.get("NStgid", str(pid)).split()
    t.vtid, t.vpid = int(nspid[-1]), int(nstgid[-1])
    t.cgroups = _cgroups(pid)
    t.root = _link(f"/proc/{pid}/root")
    t.loginuid = _int(f"/proc/{pid}/loginuid") if os.path.exists(f"/proc/{pid}/loginuid") else -1
    if t.loginuid == 0xFFFFFFFF:
        t.loginuid = -1
    if len(stat_fields) > 4:
        t.sid, t.vpgid = int(stat_fields[3]), int(stat_fields[2])
    if len(stat_fields) > 22:
        t.pfminor, t.pfmajor = int(stat_fields[7]), int(stat_fields[9])
    t.vmsize_kb, t.vmrss_kb, t.vmswap_kb = (_kb(st.get(k, "0 kB")) for k in ("VmSize", "VmRSS", "VmSwap"))
    return t


def _kb(text: str) -> int:
    """A /proc size in kB, at most what the process list's 32-bit field holds: a JIT or sandbox (V8, WASM
    guard regions) reserves more than 4 TiB of address space, VmSize beyond 2^32 kB."""
    head = text.split()[0] if text.split() else "0"
    return _u32(int(head)) if head.isdigit() else 0


def _u32(value: int) -> int:
    return min(max(value, 0), 0xFFFFFFFF)


def _bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def _fdlimit(pid: int) -> int:
    for line in _read(f"/proc/{pid}/limits").splitlines():
        if line.startswith("Max open files"):
            soft = line.split()[3]
            return int(soft) if soft.isdigit() else -1
    return 0


def _cgroups(pid: int) -> list[str]:
    out = []
    for line in _read(f"/proc/{pid}/cgroup").splitlines():
        _, subsys, path = line.split(":", 2)
        out.extend(cgroup_entries(path, subsys))
    return out


def _fds(pid: int, sockets: _SocketTable) -> list[B.FdEntry]:
    base = f"/proc/{pid}/fd"
    try:
        names = os.listdir(base)
    except OSError:
        return []
    out = []
    for name in sorted(names, key=int):
        target = _link(f"{base}/{name}")
        if not target:
            continue
        try:
            st = os.stat(f"{base}/{name}")
        except OSError:
            continue
        entry = _fd_entry(pid, int(name), target, st, sockets)
        if entry is not None:
            out.append(entry)
    return out


def _fd_entry(pid: int, fd: int, target: str, st: os.stat_result, sockets: _SocketTable) -> B.FdEntry | None:
    ino = st.st_ino
    if target.startswith("socket:"):
        return sockets.entry(pid, fd, ino)
    if target.startswith("pipe:"):
        return B.FdEntry(fd, ino, 7, target)
    if target.startswith("anon_inode:"):
        kind = target.split(":", 1)[1]
        return B.FdEntry(fd, ino, _ANON_TYPES.get(kind, 10), target)
    if stat.S_ISDIR(st.st_mode):
        return B.FdEntry(fd, ino, 2, target)
    flags = 0
    for line in _read(f"/proc/{pid}/fdinfo/{fd}").splitlines():
        if line.startswith("flags:"):
            flags = open_flag(int(line.split()[1], 8))
    return B.FdEntry(fd, ino, 16, target, flags=flags)


class _SocketTable:
    """Socket inodes -> addresses, from /proc/PID/net/{tcp,tcp6,udp,udp6,unix}, once per network namespace."""

    def __init__(self) -> None:
        self._by_netns: dict[str, dict[int, B.FdEntry]] = {}

    def entry(self, pid: int, fd: int, ino: int) -> B.FdEntry:
        ns = _link(f"/proc/{pid}/ns/net")
        table = self._by_netns.get(ns)
        if table is None:
            table = self._by_netns[ns] = _net_sockets(pid)
        known = table.get(ino)
        if known is None:
            return B.FdEntry(fd, ino, 10, f"socket:[{ino}]")
        e = B.FdEntry(fd, ino, known.type, known.name, known.sip, known.dip, known.sport, known.dport,
                      known.l4proto, src_endpoint=known.src_endpoint, dst_endpoint=known.dst_endpoint)
        return e


def _net_sockets(pid: int) -> dict[int, B.FdEntry]:
    out: dict[int, B.FdEntry] = {}
    for proto, v6, l4 in (("tcp", False, 2), ("tcp6", True, 2), ("udp", False, 3), ("udp6", True, 3)):
        for line in _read(f"/proc/{pid}/net/{proto}").splitlines()[1:]:
            f = line.split()
            if len(f) < 10:
                continue
            (lip, lport), (rip, rport), ino = _hexaddr(f[1], v6), _hexaddr(f[2], v6), int(f[9])
            listening = (proto.startswith("tcp") and f[3] == _TCP_LISTEN) or (l4 == 3 and rport == 0)
            if listening:
                out[ino] = B.FdEntry(0, ino, 6 if v6 else 5, sip=lip, sport=lport, l4proto=l4)
            else:
                out[ino] = B.FdEntry(0, ino, 4 if v6 else 3, sip=lip, dip=rip, sport=lport, dport=rport, l4proto=l4)
    for line in _read(f"/proc/{pid}/net/unix").splitlines()[1:]:
        f = line.split()
        if len(f) >= 7:
            out[int(f[6])] = B.FdEntry(0, int(f[6]), 8, f[7] if len(f) > 7 else "",
                                       src_endpoint=int(f[0].rstrip(":"), 16))
    for line in _read(f"/proc/{pid}/net/netlink").splitlines()[1:]:
        f = line.split()
        if len(f) >= 10:
            out[int(f[9])] = B.FdEntry(0, int(f[9]), 15, "")
    return out


def _hexaddr(text: str, v6: bool) -> tuple[str, int]:
    addr, _, port = text.partition(":")
    raw = bytes.fromhex(addr)
    if v6:
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
        return socket.inet_ntop(socket.AF_INET6, raw), int(port, 16)
    return socket.inet_ntop(socket.AF_INET, raw[::-1]), int(port, 16)


def _users() -> tuple[list[B.UserEntry], dict[int, str]]:
    users = []
    for line in _read("/etc/passwd").splitlines():
        f = line.split(":")
        if len(f) >= 7 and f[2].isdigit() and f[3].isdigit():
            users.append(B.UserEntry(int(f[2]), int(f[3]), f[0], f[5], f[6]))
    groups = {}
    for line in _read("/etc/group").splitlines():
        f = line.split(":")
        if len(f) >= 3 and f[2].isdigit():
            groups[int(f[2])] = f[0]
    return users, groups


def _interfaces() -> list[B.InterfaceEntry]:
    """IPv4 addresses by interface (SIOCGIFADDR), IPv6 from /proc/net/if_inet6."""
    out = []
    for name, addr, plen in _ipv4_addresses():
        mask = socket.inet_ntoa((0xFFFFFFFF << (32 - plen) & 0xFFFFFFFF).to_bytes(4, "big"))
        out.append(B.InterfaceEntry(name, 1, addr, mask))
    for line in _read("/proc/net/if_inet6").splitlines():
        f = line.split()
        if len(f) >= 6:
            addr = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(f[0]))
            plen = int(f[2], 16)
            mask = socket.inet_ntop(socket.AF_INET6, ((1 << 128) - (1 << (128 - plen))).to_bytes(16, "big"))
            out.append(B.InterfaceEntry(f[5], 2, addr, mask))
    return out


def _ipv4_addresses() -> list[tuple[str, str, int]]:
    import fcntl
    import struct

    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            req = struct.pack("256s", name.encode()[:15])
            try:
                addr = socket.inet_ntoa(fcntl.ioctl(s.fileno(), 0x8915, req)[20:24])  # SIOCGIFADDR
                mask = fcntl.ioctl(s.fileno(), 0x891B, req)[20:24]  # SIOCGIFNETMASK
            except OSError:
                continue
            out.append((name, addr, bin(int.from_bytes(mask, "big")).count("1")))
    return out

"""Block type ids and decoders of the metadata blocks (machine, process, fd, interface, user lists).

See ``../shared/docs/scap-format.md`` sections 3-6. Every decoder takes the block
body (without the 8-byte header and the trailer) and is bounded by the lengths
the file stores, never by what the structure is expected to hold.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

SHB = 0x0A0D0D0A
BYTE_ORDER_MAGIC = 0x1A2B3C4D

MI = (0x201, 0x8002ABCD)
PL = {0x202: 1, 0x8000ABCD: 1, 0x207: 2, 0x8013ABCD: 2, 0x209: 3, 0x8014ABCD: 3,
      0x210: 4, 0x211: 5, 0x212: 6, 0x213: 7, 0x214: 8, 0x215: 9}
FDL = {0x203: 1, 0x8001ABCD: 1, 0x218: 2}
IL = {0x205: 1, 0x8011ABCD: 1, 0x219: 2}
UL = {0x206: 1, 0x8012ABCD: 1, 0x220: 2}
# event blocks: type -> (version, has_flags, large)
EV = {0x204: (1, False, False), 0x8010ABCD: (1, False, False), 0x208: (1, True, False),
      0x216: (2, False, False), 0x217: (2, True, False),
      0x221: (2, False, True), 0x222: (2, True, True)}

BLOCK_NAMES = {SHB: "section header", 0x201: "machine info", 0x8002ABCD: "machine info"}
BLOCK_NAMES.update({k: f"process list v{v}" for k, v in PL.items()})
BLOCK_NAMES.update({k: f"fd list v{v}" for k, v in FDL.items()})
BLOCK_NAMES.update({k: f"interface list v{v}" for k, v in IL.items()})
BLOCK_NAMES.update({k: f"user list v{v}" for k, v in UL.items()})
BLOCK_NAMES.update({k: "event" + (" (flags)" if f else "") + f" v{v}" + (" large" if lg else "")
                    for k, (v, f, lg) in EV.items()})


def block_name(btype: int) -> str:
    return BLOCK_NAMES.get(btype, f"unknown (type 0x{btype:X})")


class _Cursor:
    """A bounded little-endian reader over one block body."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes | memoryview, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def left(self) -> int:
        return self.end - self.pos

    def take(self, n: int) -> bytes:
        if n > self.end - self.pos:
            raise ValueError(f"entry needs {n} bytes, {self.end - self.pos} left")
        b = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return b

    def unpack(self, fmt: str) -> tuple[int, ...]:
        size = struct.calcsize(fmt)
        if size > self.end - self.pos:
            raise ValueError(f"entry needs {size} bytes, {self.end - self.pos} left")
        vals = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return vals

    def u8(self) -> int:
        return self.unpack("<B")[0]

    def u16(self) -> int:
        return self.unpack("<H")[0]

    def u32(self) -> int:
        return self.unpack("<I")[0]

    def u64(self) -> int:
        return self.unpack("<Q")[0]

    def i64(self) -> int:
        return self.unpack("<q")[0]

    def str16(self) -> str:
        return self.take(self.u16()).decode("utf-8", "surrogateescape")

    def raw16(self) -> bytes:
        return self.take(self.u16())


@dataclass
class MachineInfo:
    num_cpus: int = 0
    memory_bytes: int = 0
    max_pid: int = 0
    hostname: str = ""
    boot_ts: int = 0


@dataclass
class ThreadEntry:
    tid: int
    pid: int
    ptid: int
    sid: int = -1  # older process lists have no session and process group ids: unknown, as libscap reads them
    vpgid: int = -1
    comm: str = ""
    exe: str = ""
    exepath: str = ""
    args: list[str] = field(default_factory=list)
    cwd: str = ""
    fdlimit: int = 0
    flags: int = 0
    uid: int = 0
    gid: int = 0
    env: list[str] = field(default_factory=list)
    vtid: int = -1
    vpid: int = -1
    cgroups: list[str] = field(default_factory=list)
    root: str = ""
    loginuid: int = -1
    tty: int = 0
    vmsize_kb: int = 0
    vmrss_kb: int = 0
    vmswap_kb: int = 0
    pfmajor: int = 0
    pfminor: int = 0


@dataclass
class FdEntry:
    fd: int
    ino: int
    type: int
    name: str = ""
    # sockets: addresses as text, ports as ints (None when not a socket)
    sip: str | None = None
    dip: str | None = None
    sport: int | None = None
    dport: int | None = None
    l4proto: int = 0
    flags: int = 0
    src_endpoint: int = 0
    dst_endpoint: int = 0


@dataclass
class UserEntry:
    uid: int
    gid: int
    name: str
    home: str = ""
    shell: str = ""


@dataclass
class InterfaceEntry:
    name: str
    family: int
    addr: str
    netmask: str = ""


def _nul_list(raw: bytes) -> list[str]:
    parts = raw.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", "surrogateescape") for p in parts]


def parse_machine_info(body: bytes | memoryview) -> MachineInfo:
    c = _Cursor(body)
    ncpu, mem, maxpid = c.unpack("<IQQ")
    host = c.take(128).split(b"\0", 1)[0].decode("utf-8", "replace")
    boot = c.u64() if c.left() >= 8 else 0
    return MachineInfo(ncpu, mem, maxpid, host, boot)


def parse_process_list(body: bytes | memoryview, version: int) -> list[ThreadEntry]:
    out = []
    c = _Cursor(body)
    while c.left() >= 4:
        if version == 9:
            start = c.pos
            entry_len = c.u32()
            if entry_len < 4 or start + entry_len > c.end:
                raise ValueError(f"thread entry length {entry_len} exceeds the block")
            sub = _Cursor(c.buf, c.pos, start + entry_len)
            out.append(_thread_entry(sub, version))
            c.pos = start + entry_len
        else:
            out.append(_thread_entry(c, version))
    return out


def _thread_entry(c: _Cursor, v: int) -> ThreadEntry:
    tid, pid, ptid = c.unpack("<qqq")
    t = ThreadEntry(tid, pid, ptid)
    if v >= 6:
        t.sid = c.i64()
    if v >= 8:
        t.vpgid = c.i64()
    t.comm, t.exe = c.str16(), c.str16()
    if v >= 7:
        t.exepath = c.str16()
    t.args = _nul_list(c.raw16())
    t.cwd = c.str16()
    t.fdlimit, t.flags, t.uid, t.gid = c.unpack("<qIII")
    if v >= 2:
        t.vmsize_kb, t.vmrss_kb, t.vmswap_kb, t.pfmajor, t.pfminor = c.unpack("<IIIQQ")
    if v >= 3:
        t.env = _nul_list(c.raw16())
    if v >= 4:
        t.vtid, t.vpid = c.unpack("<qq")
        t.cgroups = _nul_list(c.raw16())
    if v >= 5:
        t.root = c.str16()
    if v == 9:
        _thread_tail(c, t)
    return t


def _thread_tail(c: _Cursor, t: ThreadEntry) -> None:
    # Producers older than libs 0.10 wrote the tail without pidns_init_start_ts and tty.
    if c.left() > 29 and c.left() >= 12:
        c.u64()  # pidns_init_start_ts
        t.tty = c.u32()
    if c.left() >= 4:
        t.loginuid = struct.unpack("<i", c.take(4))[0]


def _ip(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def parse_fd_list(body: bytes | memoryview, version: int) -> tuple[int, list[FdEntry]]:
    c = _Cursor(body)
    tid = c.i64()
    out = []
    while c.left() >= 4:
        if version == 2:
            start = c.pos
            entry_len = c.u32()
            if entry_len < 4 or start + entry_len > c.end:
                raise ValueError(f"fd entry length {entry_len} exceeds the block")
            out.append(_fd_entry(_Cursor(c.buf, c.pos, start + entry_len)))
            c.pos = start + entry_len
        else:
            out.append(_fd_entry(c))
    return tid, out


def _fd_entry(c: _Cursor) -> FdEntry:
    fd, ino, ftype = c.unpack("<qQB")
    e = FdEntry(fd, ino, ftype)
    if ftype == 3 or ftype == 4:
        n = 4 if ftype == 3 else 16
        e.sip, e.dip = _ip(c.take(n)), _ip(c.take(n))
        e.sport, e.dport, e.l4proto = c.unpack("<HHB")
    elif ftype == 5 or ftype == 6:
        e.sip = _ip(c.take(4 if ftype == 5 else 16))
        e.sport, e.l4proto = c.unpack("<HB")
    elif ftype == 8:
        e.src_endpoint, e.dst_endpoint = c.unpack("<QQ")
        e.name = c.str16()
    elif ftype == 16:
        e.flags = c.u32()
        e.name = c.str16()
    elif ftype == 0:
        pass
    else:
        e.name = c.str16()
    return e


def parse_interface_list(body: bytes | memoryview, version: int) -> list[InterfaceEntry]:
    out = []
    c = _Cursor(body)
    while c.left() >= 4:
        if version == 2:
            entry_len = c.u32()
            sub = _Cursor(c.buf, c.pos, min(c.pos + entry_len, c.end))
            c.pos = sub.end
        else:
            sub = c
        itype, nlen = sub.unpack("<HH")
        if itype in (1, 3):
            addr = _ip(sub.take(4))
            netmask = _ip(sub.take(4))
            sub.take(4)
        elif itype in (2, 4):
            addr = _ip(sub.take(16))
            netmask = _ip(sub.take(16))
            sub.take(16)
        else:
            raise ValueError(f"unknown interface type {itype}")
        if itype in (1, 2):
            sub.u64()
        out.append(InterfaceEntry(sub.take(nlen).decode("utf-8", "replace"), itype, addr, netmask))
    return out


def parse_user_list(body: bytes | memoryview, version: int) -> tuple[list[UserEntry], dict[int, str]]:
    users: list[UserEntry] = []
    groups: dict[int, str] = {}
    c = _Cursor(body)
    while c.left() >= 4:
        if version == 2:
            start = c.pos
            entry_len = c.u32()
            sub = _Cursor(c.buf, c.pos, min(start + entry_len, c.end))
            c.pos = sub.end
        else:
            sub = c
        kind = sub.u8()
        if kind == 0:
            uid, gid = sub.unpack("<II")
            users.append(UserEntry(uid, gid, sub.str16(), sub.str16(), sub.str16()))
        else:
            gid = sub.u32()
            groups[gid] = sub.str16()
    return users, groups

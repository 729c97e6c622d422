"""Recorder records -> scap events (the 2022 event types sysdig 0.29.3 knows), as the column batch the
.scap writer takes.

Each syscall record becomes an enter and an exit event of the syscall's dedicated event type, with the
parameters listed in ``SPECS`` (sources: syscall arguments, return value, captured payload/path, socket
tuple, process fields), or a generic ``syscall`` pair (ID + native number) when sysnb has no spec for it:
the type name is then right and the arguments are absent, never invented. Process exits become
``procexit``. Work is per event *type*, whole columns at a time; only socket addresses and process
command lines are encoded row by row.
"""

from __future__ import annotations

import functools
import socket
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from sysnb._core import RecordConverter
from sysnb.record import layout as L
from sysnb.record.syscall_table import SYSCALLS
from sysnb.scap.events import event_info
from sysnb.state.model import cgroup_entries

GENERIC_E, GENERIC_X, PROCEXIT_E = 0, 1, 186
SOCK_RAW = 3  # a raw socket's "port" in the kernel socket is its protocol number, not a port
PPM_AF: dict[int, int] = {int(socket.AF_UNIX): 1, int(socket.AF_INET): 2, int(socket.AF_INET6): 10}

# -- flag conversions (Linux values -> the driver's PPM_* bits) ------------------------------------------------

_OPEN_BITS = ((0o100, 4), (0o2000, 8), (0o10000, 16), (0o200, 32), (0o4000, 64), (0o4000000, 128), (0o1000, 256),
              (0o40000, 512), (0o200000, 1024), (0o100000, 2048), (0o2000000, 4096), (0o20000000, 8192))
_CLONE_BITS = ((0x400, 1), (0x200, 2), (0x80000000, 4), (0x08000000, 8), (0x40000000, 16), (0x20000, 32),
               (0x20000000, 64), (0x04000000, 128), (0x8000, 256), (0x100000, 512), (0x2000, 1024), (0x800, 2048),
               (0x40000, 4096), (0x10000, 8192), (0x800000, 16384), (0x100, 32768), (0x10000000, 1048576),
               (0x200000, 8388608), (0x01000000, 16777216), (0x80000, 33554432), (0x4000, 134217728),
               (0x02000000, 268435456))
_RESOLVE_BITS = ((0x08, 1), (0x10, 2), (0x02, 4), (0x04, 8), (0x01, 16), (0x20, 32))
_EXECVEAT_BITS = ((0x1000, 1), (0x100, 2))
#: Linux PTRACE_* (x86-64) -> PPM_PTRACE_* (ptrace_requests_to_scap; anything else is PPM_PTRACE_UNKNOWN 0)
PTRACE_REQUESTS = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 7, 7: 8, 8: 9, 9: 10, 16: 11, 17: 12, 24: 13, 0x4200: 14,
                   0x4201: 15, 0x4202: 16, 0x4203: 17, 0x4204: 18, 0x4205: 19, 0x4206: 20, 0x4207: 21, 0x4208: 22,
                   0x4209: 23, 0x420A: 24, 0x420B: 25, 12: 26, 13: 27, 14: 28, 15: 29, 18: 30, 19: 31, 21: 32,
                   25: 33, 26: 34, 30: 35, 31: 36, 32: 37, 33: 38}
_PTRACE_PEEK = {2, 3, 4}  # PEEKTEXT/DATA/USR: the driver reads the word at `data`, which the recorder does not
_PTRACE_SIGNAL = {8, 10, 12, 13}  # CONT, SINGLESTEP, DETACH, SYSCALL: `data` is a signal number
_FCNTL = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 8, 7: 9, 8: 10, 9: 12, 10: 13, 11: 15, 1030: 26}


def _bits(values: np.ndarray, table: tuple[tuple[int, int], ...]) -> np.ndarray:
    v = values.astype(np.uint64)
    out = np.zeros(len(v), np.uint64)
    for linux, ppm in table:
        out |= np.where(v & np.uint64(linux), np.uint64(ppm), np.uint64(0))
    return out


def open_flags(values: np.ndarray) -> np.ndarray:
    """Linux open(2) flags -> PPM_O_* (access mode: RDONLY 1, WRONLY 2, RDWR 3)."""
    v = np.asarray(values, dtype=np.uint64)
    out = _bits(v, _OPEN_BITS)
    out |= ((v & np.uint64(3)) + np.uint64(1)).clip(1, 3)
    return out


def open_flag(value: int) -> int:
    return int(open_flags(np.array([value]))[0])


# -- a group of records of one syscall, and the parameter sources over it ---------------------------------------

Param = tuple[np.ndarray, np.ndarray]  # (length of each event's value, the values' bytes back to back)


class Group:
    def __init__(self, base: np.ndarray, big: np.ndarray | None) -> None:
        self.base, self.big = base, big
        self.n = len(base)

    def subset(self, mask: np.ndarray) -> Group:
        if self.big is not None:
            big = L.take_rows(self.big, mask)
            return Group(big["b"], big)
        return Group(L.take_rows(self.base, mask), None)

    def arg(self, i: int) -> np.ndarray:
        return self.base["args"][:, i]

    def int_arg(self, i: int) -> np.ndarray:
        """An ``int`` argument: the low 32 bits of the register, sign-extended."""
        return self.base["args"][:, i].astype(np.uint32).view(np.int32).astype(np.int64)

    def bytes_of(self, field: str, length: str) -> Param:
        """The first ``length`` bytes of each row of a byte-matrix field, gathered (cost ~ bytes kept)."""
        if self.big is None:
            return np.zeros(self.n, np.int64), np.zeros(0, np.uint8)
        mat = self.big[field]
        lens = np.minimum(self.big[length].astype(np.int64), mat.shape[1])
        starts = np.arange(self.n, dtype=np.int64) * mat.shape[1]
        idx = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens) + np.arange(int(lens.sum()))
        return lens, np.ascontiguousarray(mat).reshape(-1)[idx]


def fixed(values: np.ndarray, width: int) -> Param:
    kind = {1: "<u1", 2: "<u2", 4: "<u4", 8: "<u8"}[width]
    v = np.asarray(values)
    raw = v.astype(np.int64).astype(np.uint64) if v.dtype.kind == "i" else v.astype(np.uint64)
    return np.full(len(v), width, np.int64), raw.astype(kind).view(np.uint8)


def rows(items: list[bytes]) -> Param:
    return np.fromiter(map(len, items), np.int64, len(items)), np.frombuffer(b"".join(items), np.uint8)


def empty(n: int) -> Param:
    return np.zeros(n, np.int64), np.zeros(0, np.uint8)


def _cstr(p: Param) -> Param:
    """Strings read with bpf_probe_read_user_str already end in NUL; truncated ones get one appended."""
    lens, flat = p
    if not len(lens):
        return p
    ends = np.cumsum(lens) - 1
    missing = (lens > 0) & (flat[np.clip(ends, 0, None)] != 0) if flat.size else lens > 0
    if not missing.any():
        return p
    items = _split(p)
    return rows([b if not m else b + b"\0" for b, m in zip(items, missing, strict=True)])


def _split(p: Param) -> list[bytes]:
    lens, flat = p
    raw = flat.tobytes()
    out, at = [], 0
    for n in lens.tolist():
        out.append(raw[at:at + n])
        at += n
    return out


# -- socket addresses -----------------------------------------------------------------------------------------

def _sockaddr(raw: bytes) -> bytes:
    """A user sockaddr -> PT_SOCKADDR (PPM family, address, host-order port)."""
    if len(raw) < 2:
        return b""
    fam = struct.unpack_from("<H", raw)[0]
    if fam == socket.AF_INET and len(raw) >= 8:
        return b"\x02" + raw[4:8] + struct.pack("<H", struct.unpack_from(">H", raw, 2)[0])
    if fam == socket.AF_INET6 and len(raw) >= 24:
        return b"\x0a" + raw[8:24] + struct.pack("<H", struct.unpack_from(">H", raw, 2)[0])
    if fam == socket.AF_UNIX:
        path = raw[2:].split(b"\0", 1)[0] if raw[2:3] != b"\0" else raw[3:].split(b"\0", 1)[0]
        return b"\x01" + path + b"\0"
    return b""


def _tuples(g: Group, inbound: bool) -> Param:
    """PT_SOCKTUPLE from the kernel socket (local/remote), the user sockaddr filling in the remote end of an
    unconnected datagram socket. Outbound: local -> remote; inbound (accept, recv*): remote -> local."""
    assert g.big is not None
    out = []
    for r in g.big:
        fam = int(r["family"])
        addr2 = bytes(r["data2"][:r["data2_len"]])
        if fam in (socket.AF_INET, socket.AF_INET6):
            n = 4 if fam == socket.AF_INET else 16
            local, lport = bytes(r["saddr"][:n]), int(r["sport"]) if int(r["sock_type"]) != SOCK_RAW else 0
            remote, rport = bytes(r["daddr"][:n]), int(r["dport"])
            if rport == 0 and addr2:
                sa = _sockaddr(addr2)
                if len(sa) == 1 + n + 2:
                    remote, rport = sa[1:1 + n], struct.unpack_from("<H", sa, 1 + n)[0]
            a, b = ((remote, rport), (local, lport)) if inbound else ((local, lport), (remote, rport))
            out.append(bytes([PPM_AF[fam]]) + a[0] + struct.pack("<H", a[1]) + b[0] + struct.pack("<H", b[1]))
        elif fam == socket.AF_UNIX:
            path = addr2[2:] if addr2[:2] == struct.pack("<H", socket.AF_UNIX) else addr2
            path = path.split(b"\0", 1)[0] if path[:1] != b"\0" else b"@" + path[1:].split(b"\0", 1)[0]
            out.append(b"\x01" + bytes(r["saddr"][:8]) + bytes(r["daddr"][:8]) + path + b"\0")
        else:
            out.append(b"")
    return rows(out)


# -- process fields of execve / clone exits ------------------------------------------------------------------

def _argv(g: Group) -> tuple[list[bytes], list[bytes]]:
    """(exe, args) from the command line the recorder read (argv NUL-separated; args as NUL-terminated list)."""
    exes, args = [], []
    lens, flat = g.bytes_of("data", "data_len")
    for raw in _split((lens, flat)):
        parts = raw.rstrip(b"\0").split(b"\0")
        exes.append(parts[0] + b"\0" if parts and parts[0] else b"\0")
        args.append(b"".join(p + b"\0" for p in parts[1:]))
    return exes, args


def _proc_params(g: Group, exec_: bool, nr: int) -> dict[str, Param]:
    b = g.base
    exes, args = _argv(g)
    if exec_:
        failed = b["ret"] < 0
        if failed.any():  # the recorder read the filename instead of the new image's argv
            paths = _split(g.bytes_of("data", "data_len"))
            exes = [p if f else e for p, e, f in zip(paths, exes, failed, strict=True)]
            args = [b"" if f else a for a, f in zip(args, failed, strict=True)]
    comm = [c.split(b"\0", 1)[0] + b"\0" for c in b["comm"].tolist()]
    env = _split(g.bytes_of("data2", "data2_len"))
    if nr == 435:  # clone3: flags came from struct clone_args
        flags = _bits(g.big["data_total"] if g.big is not None else np.zeros(g.n), _CLONE_BITS)
    elif nr == 58:
        flags = np.full(g.n, 134217728 | 32768, np.uint64)
    elif nr == 56:
        flags = _bits(g.arg(0), _CLONE_BITS)
    else:
        flags = np.zeros(g.n, np.uint64)
    zero8 = fixed(np.zeros(g.n, np.int64), 8)
    zero4 = fixed(np.zeros(g.n, np.int64), 4)
    return {
        "exe": rows(exes), "args": rows(args), "tid": fixed(b["tid"], 8), "pid": fixed(b["pid"], 8),
        "ptid": fixed(b["ppid"], 8), "cwd": rows([b"\0"] * g.n), "fdlimit": zero8, "pgft_maj": zero8,
        "pgft_min": zero8, "vm_size": zero4, "vm_rss": zero4, "vm_swap": zero4, "comm": rows(comm),
        "cgroups": _cgroup_param(g), "env": rows(env), "tty": zero4, "pgid": fixed(b["pid"], 8),
        "loginuid": fixed(np.full(g.n, -1), 4), "flags": fixed(flags, 4), "uid": fixed(b["uid"], 4),
        "gid": fixed(b["gid"], 4), "vtid": fixed(b["tid"], 8), "vpid": fixed(b["pid"], 8),
    }


def _cgroup_param(g: Group) -> Param:
    """The recorder's cgroup names (leaf first) as sysdig's cgroups parameter ("cpuset=/docker/<id>", …),
    from which the state engine takes container.id; empty when the record has none."""
    if g.big is None:
        return empty(g.n)
    out = []
    for names in g.big["cgroup"].tolist():
        parts = [n.decode("utf-8", "replace") for n in reversed(names) if n]
        out.append(b"".join(e.encode() + b"\0" for e in cgroup_entries("/" + "/".join(parts))) if parts else b"")
    return rows(out)


# -- the specs: parameter name -> source, per syscall ------------------------------------------------------------

Source = Callable[[Group], Any]  # a numeric column (encoded to the parameter's width) or a Param


def _ret(g: Group) -> np.ndarray:
    return g.base["ret"]


def _a(i: int) -> Source:
    return lambda g: g.arg(i)


def _i(i: int) -> Source:
    return lambda g: g.int_arg(i)


def _data(g: Group) -> Param:
    return g.bytes_of("data", "data_len")


def _path(g: Group) -> Param:
    return _cstr(g.bytes_of("data", "data_len"))


def _path2(g: Group) -> Param:
    return _cstr(g.bytes_of("data2", "data2_len"))


def _addr2(g: Group) -> Param:
    return rows([_sockaddr(b) for b in _split(g.bytes_of("data2", "data2_len"))])


def _bound(g: Group) -> Param:
    """bind's address: the port the kernel really bound (the user asked for port 0 when it let the kernel
    choose), else the address the user passed."""
    assert g.big is not None
    user = _split(g.bytes_of("data2", "data2_len"))
    out = []
    for r, raw in zip(g.big, user, strict=True):
        fam = int(r["family"])
        if fam in (socket.AF_INET, socket.AF_INET6) and int(r["sport"]):
            n = 4 if fam == socket.AF_INET else 16
            out.append(bytes([PPM_AF[fam]]) + bytes(r["saddr"][:n]) + struct.pack("<H", int(r["sport"])))
        else:
            out.append(_sockaddr(raw))
    return rows(out)


def _total(g: Group) -> np.ndarray:
    return g.big["data_total"] if g.big is not None else np.zeros(g.n)


def _zero(g: Group) -> np.ndarray:
    return np.zeros(g.n, np.int64)


def _pair_fd(i: int) -> Source:
    def get(g: Group) -> np.ndarray:
        if g.big is None:
            return np.zeros(g.n, np.int64)
        ok = (g.base["ret"] == 0) & (g.big["data2_len"] >= 8)
        fds = g.big["data2"][:, 4 * i:4 * i + 4].copy().view("<i4").ravel().astype(np.int64)
        return np.where(ok, fds, -1)
    return get


def _how(i: int) -> Source:
    """A field of openat2's ``struct open_how`` (flags, mode, resolve), read into data2."""
    def get(g: Group) -> np.ndarray:
        if g.big is None:
            return np.zeros(g.n, np.uint64)
        values = g.big["data2"][:, 8 * i:8 * i + 8].copy().view("<u8").ravel()
        return np.where(g.big["data2_len"] >= 24, values, 0)
    return get


def _openflags(src: Source) -> Source:
    return lambda g: open_flags(np.asarray(src(g)))


def _map(src: Source, table: tuple[tuple[int, int], ...]) -> Source:
    return lambda g: _bits(np.asarray(src(g)), table)


def _fcntl(g: Group) -> np.ndarray:
    return np.array([_FCNTL.get(int(c), 0) for c in g.int_arg(1)], np.int64)


def _mode(i: int) -> Source:
    """chmod's mode as PPM_S_* (chmod_mode_to_scap: the same bits as Linux's low twelve)."""
    return lambda g: g.arg(i) & np.uint64(0o7777)


def _ptrace_request(g: Group) -> np.ndarray:
    return np.array([PTRACE_REQUESTS.get(int(r), 0) for r in g.arg(0)], np.int64)


def _ptrace_dyn(g: Group, which: int) -> Param:
    """ptrace exit's ``addr`` (which=2) or ``data`` (3) as the driver's PT_DYN: an index byte (0: UINT64,
    1: SIGTYPE) and the value; 0 as UINT64 when the call failed. A PEEK's data is the word the driver read
    from the tracee, which the recorder does not read: left empty rather than invented."""
    out = []
    for ret, req, value in zip(g.base["ret"].tolist(), g.arg(0).tolist(), g.arg(which).tolist(), strict=True):
        ppm = PTRACE_REQUESTS.get(req, 0)
        if ret < 0:
            out.append(b"\0" + bytes(8))
        elif which == 3 and ppm in _PTRACE_PEEK:
            out.append(b"")
        elif which == 3 and ppm in _PTRACE_SIGNAL:
            out.append(b"\1" + struct.pack("<B", value & 0xFF))
        else:
            out.append(b"\0" + struct.pack("<Q", value))
    return rows(out)


def _tuple_out(g: Group) -> Param:
    return _tuples(g, inbound=False)


def _tuple_in(g: Group) -> Param:
    return _tuples(g, inbound=True)


Spec = tuple[dict[str, Source], dict[str, Source]]  # (enter parameters, exit parameters) by name
_IO_ENTER: dict[str, Source] = {"fd": _i(0), "size": _a(2)}
_RW: Spec = ({**_IO_ENTER}, {"res": _ret, "data": _data})
_PRW: Spec = ({**_IO_ENTER, "pos": _a(3)}, {"res": _ret, "data": _data})
_ACCEPT_X: dict[str, Source] = {"fd": _ret, "tuple": _tuple_in, "queuepct": _zero, "queuelen": _zero,
                                "queuemax": _zero}
_FORK: Spec = ({}, {"res": _ret})

SPECS: dict[str, Spec] = {
    "read": _RW, "write": _RW, "pread64": _PRW, "pwrite64": _PRW,
    "readv": ({"fd": _i(0)}, {"res": _ret, "size": _total, "data": _data}),
    "writev": ({"fd": _i(0), "size": _total}, {"res": _ret, "data": _data}),
    "preadv": ({"fd": _i(0), "pos": _a(3)}, {"res": _ret, "size": _total, "data": _data}),
    "pwritev": ({"fd": _i(0), "size": _total, "pos": _a(3)}, {"res": _ret, "data": _data}),
    "open": ({"name": _path, "flags": _openflags(_a(1)), "mode": _a(2)},
             {"fd": _ret, "name": _path, "flags": _openflags(_a(1)), "mode": _a(2), "dev": _zero}),
    "openat": ({"dirfd": _i(0), "name": _path, "flags": _openflags(_a(2)), "mode": _a(3)},
               {"fd": _ret, "dirfd": _i(0), "name": _path, "flags": _openflags(_a(2)), "mode": _a(3), "dev": _zero}),
    "openat2": ({"dirfd": _i(0), "name": _path, "flags": _openflags(_how(0)), "mode": _how(1),
                 "resolve": _map(_how(2), _RESOLVE_BITS)},
                {"fd": _ret, "dirfd": _i(0), "name": _path, "flags": _openflags(_how(0)), "mode": _how(1),
                 "resolve": _map(_how(2), _RESOLVE_BITS)}),
    "creat": ({"name": _path, "mode": _a(1)}, {"fd": _ret, "name": _path, "mode": _a(1), "dev": _zero}),
    "close": ({"fd": _i(0)}, {"res": _ret}),
    "socket": ({"domain": _a(0), "type": _a(1), "proto": _a(2)}, {"fd": _ret}),
    "bind": ({"fd": _i(0)}, {"res": _ret, "addr": _bound}),
    "connect": ({"fd": _i(0), "addr": _addr2}, {"res": _ret, "tuple": _tuple_out}),
    "listen": ({"fd": _i(0), "backlog": _a(1)}, {"res": _ret}),
    "accept": ({}, _ACCEPT_X), "accept4": ({"flags": _a(3)}, _ACCEPT_X),
    "sendto": ({**_IO_ENTER, "tuple": _tuple_out}, {"res": _ret, "data": _data}),
    "recvfrom": ({**_IO_ENTER}, {"res": _ret, "data": _data, "tuple": _tuple_in}),
    "sendmsg": ({"fd": _i(0), "size": _total, "tuple": _tuple_out}, {"res": _ret, "data": _data}),
    "recvmsg": ({"fd": _i(0)}, {"res": _ret, "size": _total, "data": _data, "tuple": _tuple_in}),
    "shutdown": ({"fd": _i(0), "how": _a(1)}, {"res": _ret}),
    "pipe": ({}, {"res": _ret, "fd1": _pair_fd(0), "fd2": _pair_fd(1), "ino": _zero}),
    "pipe2": ({}, {"res": _ret, "fd1": _pair_fd(0), "fd2": _pair_fd(1), "ino": _zero}),
    "socketpair": ({"domain": _a(0), "type": _a(1), "proto": _a(2)},
                   {"res": _ret, "fd1": _pair_fd(0), "fd2": _pair_fd(1), "source": _zero, "peer": _zero}),
    "dup": ({"fd": _i(0)}, {"res": _ret}), "dup2": ({"fd": _i(0)}, {"res": _ret}),
    "dup3": ({"fd": _i(0)}, {"res": _ret}), "fcntl": ({"fd": _i(0), "cmd": _fcntl}, {"res": _ret}),
    "execve": ({"filename": lambda g: rows(_argv(g)[0])}, {"res": _ret}),
    "execveat": ({"dirfd": _i(0), "pathname": lambda g: rows(_argv(g)[0]),
                  "flags": _map(_a(4), _EXECVEAT_BITS)}, {"res": _ret}),
    "clone": _FORK, "fork": _FORK, "vfork": _FORK, "clone3": _FORK,
    "chdir": ({}, {"res": _ret, "path": _path}), "fchdir": ({"fd": _i(0)}, {"res": _ret}),
    "setns": ({"fd": _i(0), "nstype": _map(_a(1), _CLONE_BITS)}, {"res": _ret}),
    "unlink": ({}, {"res": _ret, "path": _path}),
    "unlinkat": ({}, {"res": _ret, "dirfd": _i(0), "name": _path, "flags": _a(2)}),
    "rename": ({}, {"res": _ret, "oldpath": _path, "newpath": _path2}),
    "renameat": ({}, {"res": _ret, "olddirfd": _i(0), "oldpath": _path, "newdirfd": _i(2), "newpath": _path2}),
    "renameat2": ({}, {"res": _ret, "olddirfd": _i(0), "oldpath": _path, "newdirfd": _i(2), "newpath": _path2,
                       "flags": _a(4)}),
    "mkdir": ({"mode": _a(1)}, {"res": _ret, "path": _path}),
    "mkdirat": ({}, {"res": _ret, "dirfd": _i(0), "path": _path, "mode": _a(2)}),
    "rmdir": ({}, {"res": _ret, "path": _path}),
    "link": ({}, {"res": _ret, "oldpath": _path, "newpath": _path2}),
    "linkat": ({}, {"res": _ret, "olddir": _i(0), "oldpath": _path, "newdir": _i(2), "newpath": _path2,
                    "flags": _a(4)}),
    "symlink": ({}, {"res": _ret, "target": _path, "linkpath": _path2}),
    "symlinkat": ({}, {"res": _ret, "target": _path, "linkdirfd": _i(1), "linkpath": _path2}),
    "setuid": ({"uid": _a(0)}, {"res": _ret}), "setgid": ({"gid": _a(0)}, {"res": _ret}),
    "setresuid": ({"ruid": _a(0), "euid": _a(1), "suid": _a(2)}, {"res": _ret}),
    "setresgid": ({"rgid": _a(0), "egid": _a(1), "sgid": _a(2)}, {"res": _ret}),
    "getuid": ({}, {"uid": _ret}), "geteuid": ({}, {"euid": _ret}), "getgid": ({}, {"gid": _ret}),
    "getegid": ({}, {"egid": _ret}),
    "chmod": ({}, {"res": _ret, "filename": _path, "mode": _mode(1)}),
    "fchmod": ({}, {"res": _ret, "fd": _i(0), "mode": _mode(1)}),
    "fchmodat": ({}, {"res": _ret, "dirfd": _i(0), "filename": _path, "mode": _mode(2)}),
    "ptrace": ({"request": _ptrace_request, "pid": _i(1)},
               {"res": _ret, "addr": lambda g: _ptrace_dyn(g, 2), "data": lambda g: _ptrace_dyn(g, 3)}),
}
_PROC_SYSCALLS = {"execve": True, "execveat": True, "clone": False, "fork": False, "vfork": False, "clone3": False}

_WIDTH = {"INT8": 1, "UINT8": 1, "FLAGS8": 1, "SIGTYPE": 1, "ENUMFLAGS8": 1, "L4PROTO": 1, "SOCKFAMILY": 1,
          "INT16": 2, "UINT16": 2, "FLAGS16": 2, "PORT": 2, "SYSCALLID": 2, "ENUMFLAGS16": 2,
          "INT32": 4, "UINT32": 4, "FLAGS32": 4, "MODE": 4, "UID": 4, "GID": 4, "BOOL": 4, "SIGSET": 4,
          "FD32": 4, "PID32": 4, "ENUMFLAGS32": 4, "IPV4ADDR": 4,
          "INT64": 8, "UINT64": 8, "ERRNO": 8, "FD": 8, "PID": 8, "RELTIME": 8, "ABSTIME": 8, "DOUBLE": 8}


def _encode(g: Group, etype: int, spec: dict[str, Source], extra: dict[str, Param] | None = None) -> list[Param]:
    info = event_info(etype)
    assert info is not None
    params = []
    for name, pt, _fmt, _info in info.params_2022:
        if extra is not None and name in extra:
            params.append(extra[name])
            continue
        src = spec.get(name)
        value = src(g) if src is not None else None
        if value is None:
            params.append(fixed(np.zeros(g.n, np.int64), _WIDTH[pt]) if pt in _WIDTH else empty(g.n))
        elif isinstance(value, tuple):
            params.append(value)
        else:
            params.append(fixed(value, _WIDTH[pt]))
    return params


# -- assembling the event batch ----------------------------------------------------------------------------------

class Events:
    """Columns of events under construction (one entry per event group)."""

    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {k: [] for k in ("cpu", "ts", "tid", "type", "seq")}
        self.params: list[pa.Array] = []

    def add(self, g: Group, etype: int, ts: np.ndarray, seq: np.ndarray, params: list[Param]) -> None:
        self.cols["cpu"].append(g.base["cpu"].astype(np.uint16))
        self.cols["ts"].append(ts.astype(np.uint64))
        self.cols["tid"].append(g.base["tid"].astype(np.int64))
        self.cols["type"].append(np.full(g.n, etype, np.uint16))
        self.cols["seq"].append(seq)
        self.params.append(_list_array(g.n, params))

    def table(self, boot_offset: int) -> pa.Table:
        if not self.params:
            return pa.table({"evt.cpu": pa.array([], pa.uint16())})
        c = {k: np.concatenate(v) for k, v in self.cols.items()}
        order = np.lexsort((c["seq"], c["ts"]))
        params = pa.concat_arrays(self.params).take(pa.array(order))
        return pa.table({
            "evt.cpu": c["cpu"][order], "sysnb.evt_flags": np.zeros(len(order), np.uint32),
            "evt.rawtime": c["ts"][order] + np.uint64(boot_offset), "thread.tid": c["tid"][order],
            "sysnb.type_id": c["type"][order], "sysnb.params": params,
        })


def _list_array(n: int, params: list[Param]) -> pa.Array:
    from sysnb.scap.writer import interleave

    k = len(params)
    if k == 0:
        return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], pa.binary()))
    lens = np.stack([p[0] for p in params], axis=1).astype(np.int64)  # (n, k)
    data = interleave([(p[1], p[0]) for p in params], lens.sum(axis=1))
    value_offsets = np.concatenate(([0], np.cumsum(lens.ravel()))).astype(np.int32)
    values = pa.BinaryArray.from_buffers(pa.binary(), n * k, [None, pa.py_buffer(value_offsets),
                                                              pa.py_buffer(data)])
    return pa.ListArray.from_arrays(pa.array(np.arange(0, n * k + 1, k, dtype=np.int32)), values)


def convert(small: np.ndarray, mid: np.ndarray, big: np.ndarray, boot_offset: int) -> pa.Table:
    """Records (already drained, any order) -> an events table sorted by time, ready for ScapWriter and the
    live engine. Converted by the native core (``RecordConverter``, without the GIL); ``convert_reference``
    is the numpy implementation it is tested against."""
    batch = _native().convert(L.raw_rows(small).tobytes(), L.raw_rows(mid).tobytes(), _width(mid),
                              L.raw_rows(big).tobytes(), _width(big), boot_offset)
    return pa.Table.from_batches([batch])


def _width(recs: np.ndarray) -> int:
    """Payload bytes of each row of a mid or big record batch (0 for an empty batch of any layout)."""
    return int(recs.dtype["data"].shape[0]) if len(recs) else 0


@functools.cache
def _native() -> RecordConverter:
    return RecordConverter([(nr, name, enter, exit_, sc) for nr, (name, enter, exit_, sc) in SYSCALLS.items()])


def convert_reference(small: np.ndarray, mid: np.ndarray, big: np.ndarray, boot_offset: int) -> pa.Table:
    """Records (already drained, any order) -> an events table sorted by time, in numpy (the reference the
    native converter is tested against). Mid records (read/write payloads) have the big record's payload
    fields and none of its others."""
    ev = Events()
    seq_base = 0
    for recs, is_big in ((small, False), (mid, True), (big, True)):
        nr = recs["b"]["nr"] if is_big else recs["nr"]
        order = np.argsort(nr, kind="stable")
        recs_sorted = L.take_rows(recs, order)
        bounds = np.flatnonzero(np.diff(nr[order].astype(np.int64))) + 1
        for chunk, idx in zip(np.split(recs_sorted, bounds), np.split(order, bounds), strict=True):
            if not len(chunk):
                continue
            g = Group(chunk["b"], chunk) if is_big else Group(chunk, None)
            _convert_group(ev, g, int(g.base["nr"][0]), (seq_base + idx.astype(np.int64)) * 2)
        seq_base += len(recs)
    return ev.table(boot_offset)


def _convert_group(ev: Events, g: Group, nr: int, seq: np.ndarray) -> None:
    b = g.base
    exit_ts = b["ts"]
    enter_ts = np.where((b["enter_ts"] > 0) & (b["enter_ts"] <= exit_ts), b["enter_ts"], exit_ts)
    if nr == L.PROCEXIT_NR:
        code = b["ret"]
        params = [fixed(code, 8), fixed(code >> 8, 8), fixed(code & 0x7F, 1), fixed((code & 0x80) != 0, 1)]
        ev.add(g, PROCEXIT_E, exit_ts, seq, params)
        return
    name, enter_type, exit_type, ppm_sc = SYSCALLS.get(nr, (f"syscall_{nr}", None, None, None))
    spec = SPECS.get(name)
    if spec is None or enter_type is None or exit_type is None:
        sc = fixed(np.full(g.n, ppm_sc or 0), 2)
        ev.add(g, GENERIC_E, enter_ts, seq, [sc, fixed(np.full(g.n, nr), 2)])
        ev.add(g, GENERIC_X, exit_ts, seq + 1, [sc])
        return
    enter_spec, exit_spec = spec
    parent = b["ret"] != 0 if name in _PROC_SYSCALLS and not _PROC_SYSCALLS[name] else np.ones(g.n, bool)
    if parent.all():
        ev.add(g, enter_type, enter_ts, seq, _encode(g, enter_type, enter_spec))
    else:  # a new child returns from clone/fork without having entered it: no enter event for it
        ge = g.subset(parent)
        ev.add(ge, enter_type, enter_ts[parent], seq[parent], _encode(ge, enter_type, enter_spec))
    extra = _proc_params(g, _PROC_SYSCALLS[name], nr) if name in _PROC_SYSCALLS else None
    ev.add(g, exit_type, exit_ts, seq + 1, _encode(g, exit_type, exit_spec, extra))

"""``evt.args`` rendering, parameter by parameter, as libsinsp 2022 (sysdig 0.29.3) renders it.

Each parameter renders as ``name=value`` or ``name=value(resolved)``; the
resolved part comes from state (fd names, thread names, user names), errno and
signal names, flag names and relative paths joined to the working directory.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from sysnb.format.paths import concatenate_paths
from sysnb.format.values import (
    SIGNALS,
    buffer_normal,
    errno_name,
    flags_to_str,
    ip_from_bytes,
)
from sysnb.scap.events import DYN_TABLES, Param, syscall_name
from sysnb.state.model import Fd, Thread, sanitize

if TYPE_CHECKING:
    from sysnb.state.engine import Engine

PPM_AT_FDCWD = -100
BUF_NORMAL, BUF_ASCII, BUF_HEX, BUF_HEXASCII = "normal", "ascii", "hex", "hexascii"
BUF_JSON = "json"  # -j: buffers as dots like normal output, but never cut at 80 characters


def _num(raw: bytes, fmt_char: str, pf: str) -> str:
    v = struct.unpack("<" + fmt_char, raw)[0]
    if pf == "HEX":
        return f"{v & ((1 << (8 * len(raw))) - 1):X}" if fmt_char.islower() else f"{v:X}"
    if pf == "OCT":
        return f"{v:#o}".replace("0o", "0") if v else "0"
    if pf == "10_PADDED_DEC":
        return f"{v:09d}"
    return str(v)


_INT_FMT = {"INT8": "b", "INT16": "h", "INT32": "i", "INT64": "q", "UINT8": "B", "UINT16": "H",
            "UINT32": "i", "UINT64": "q", "FD32": "i", "PID32": "i", "ENUMFLAGS8": "B", "ENUMFLAGS16": "H",
            "ENUMFLAGS32": "I", "PORT": "H", "L4PROTO": "B", "SOCKFAMILY": "B", "BOOL": "I"}
_FLAG_FMT = {"FLAGS8": "B", "FLAGS16": "H", "FLAGS32": "I"}


class ArgRenderer:
    """Renders parameters with access to the engine's state at the time of the event."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def render_all(self, params: tuple[Param, ...], raw: tuple[bytes, ...], thread: Thread | None,
                   fd: Fd | None) -> str:
        parts = []
        prev = ""
        for i, p in enumerate(params):
            if i >= len(raw):
                break
            val, res = self.render(p, raw[i], raw, params, thread, fd)
            if not raw[i] and p[1] in ("FSPATH", "FSRELPATH"):
                val = prev  # libsinsp leaves its string buffer untouched for an empty path
            prev = val
            parts.append(f"{p[0]}={val}({res}) " if res else f"{p[0]}={val} ")
        return "".join(parts)

    def render(self, p: Param, v: bytes, raw: tuple[bytes, ...], params: tuple[Param, ...],
               thread: Thread | None, fd: Fd | None) -> tuple[str, str]:
        _, ptype, pf, info = p
        if ptype == "DYN" and isinstance(info, str) and v:
            table = DYN_TABLES.get(info, ())
            if v[0] < len(table):
                ptype, pf = table[v[0]]
                info = None
                v = v[1:]
        fc = _INT_FMT.get(ptype)
        if fc is not None:
            if len(v) != struct.calcsize(fc):
                return "", ""
            return _num(v, fc, pf), ""
        handler: Any = _HANDLERS.get(ptype)
        if handler is None:
            return "(n.a.)", ""
        try:
            out: tuple[str, str] = handler(self, v, pf, info, raw, params, thread, fd)
        except struct.error:  # a fixed-size parameter of the wrong length (damaged file): no value, as above
            return "", ""
        return out

    # -- handlers -------------------------------------------------------------------------------------------

    def _fd(self, v: bytes, pf: str, info: object, raw: tuple[bytes, ...], params: tuple[Param, ...],
            thread: Thread | None, fd: Fd | None) -> tuple[str, str]:
        if len(v) != 8:
            return "", ""
        n = struct.unpack("<q", v)[0]
        if thread is None:
            return str(n), ""
        if n >= 0:
            f = thread.proc.fds.get(n)
            return str(n), (f.tagged_name() if f is not None else "")
        if n == PPM_AT_FDCWD:
            return str(n), "AT_FDCWD"
        return str(n), errno_name(n)

    def _pid(self, v: bytes, *a: object) -> tuple[str, str]:
        n = struct.unpack("<q", v)[0] if len(v) == 8 else 0
        t = self.engine.threads.get(n)
        return str(n), (t.comm if t is not None else "")

    def _errno(self, v: bytes, *a: object) -> tuple[str, str]:
        n = struct.unpack("<q", v)[0] if len(v) == 8 else 0
        return str(n), errno_name(n)

    def _charbuf(self, v: bytes, *a: object) -> tuple[str, str]:
        return _cstr(v), ""

    def _path(self, v: bytes, pf: str, info: object, raw: tuple[bytes, ...], params: tuple[Param, ...],
              thread: Thread | None, fd: Fd | None) -> tuple[str, str]:
        s = sanitize(_cstr(v))
        if thread is None or not v or s.startswith("<NA>") or not s or s.startswith("/"):
            return s, ""
        base = thread.proc.cwd
        if isinstance(info, int) and info < len(raw) and info < len(params) and params[info][1] == "FD":
            dirfd = struct.unpack("<q", raw[info])[0] if len(raw[info]) == 8 else PPM_AT_FDCWD
            if dirfd != PPM_AT_FDCWD:
                d = thread.proc.fds.get(dirfd)
                base = (sanitize(d.name) + "/") if d is not None and d.name else ""
                if not base:
                    return s, ""
        return s, concatenate_paths(base, s)

    def _bytebuf(self, v: bytes, *a: object) -> tuple[str, str]:
        # normal mode only: -A/-X/-x/-j re-render buffers from the raw values at output time
        return buffer_normal(v), ""

    def _sockaddr(self, v: bytes, pf: str, info: object, raw: tuple[bytes, ...], params: tuple[Param, ...],
                  thread: Thread | None, fd: Fd | None) -> tuple[str, str]:
        if not v:
            return "NULL", ""
        fam = v[0]
        if fam == 1:
            return sanitize(_cstr(v[1:])), ""
        if fam == 2:
            if len(v) != 7:
                return "INVALID IPv4", ""
            return f"{ip_from_bytes(v[1:5])}:{struct.unpack_from('<H', v, 5)[0]}", ""
        if fam == 10:
            if len(v) != 19:
                return "INVALID IPv6", ""
            return f"{ip_from_bytes(v[1:17])}:{struct.unpack_from('<H', v, 17)[0]}", ""
        return f"family {fam}", ""

    def _socktuple(self, v: bytes, *a: object) -> tuple[str, str]:
        return socktuple_str(v), ""

    def _fdlist(self, v: bytes, pf: str, info: object, raw: tuple[bytes, ...], params: tuple[Param, ...],
                thread: Thread | None, fd: Fd | None) -> tuple[str, str]:
        if thread is None or len(v) < 2:
            return "", ""
        n = struct.unpack_from("<H", v)[0]
        out = []
        for j in range(n):
            pos = 2 + 10 * j
            if pos + 10 > len(v):
                break
            f, flags = struct.unpack_from("<qh", v, pos)
            fi = thread.proc.fds.get(f)
            out.append(f"{f & 0xFFFFFFFFFFFFFFFF}:{fi.typechar if fi else '?'}{flags & 0xFFFFFFFF:x}")
        return " ".join(out), ""

    def _syscallid(self, v: bytes, *a: object) -> tuple[str, str]:
        code = struct.unpack("<H", v)[0]
        return str(code), syscall_name(code)

    def _sigtype(self, v: bytes, *a: object) -> tuple[str, str]:
        return str(v[0]), SIGNALS.get(v[0], "")

    def _reltime(self, v: bytes, *a: object) -> tuple[str, str]:
        n = struct.unpack("<Q", v)[0]
        if n == 0xFFFFFFFFFFFFFFFF:
            return "none", ""
        return str(n), f"{_lg(n / 1e9)}s"

    def _flags(self, v: bytes, pf: str, info: object, raw: tuple[bytes, ...], params: tuple[Param, ...],
               thread: Thread | None, fd: Fd | None, ptype: str = "") -> tuple[str, str]:
        width = len(v)
        if width not in (1, 2, 4):
            return "", ""
        val = int.from_bytes(v, "little")
        return str(val), flags_to_str(val, info if isinstance(info, str) else None)

    def _mode(self, v: bytes, pf: str, info: object, *a: object) -> tuple[str, str]:
        val = struct.unpack("<I", v)[0]
        txt = _num(v, "I", pf)
        return txt, flags_to_str(val, info if isinstance(info, str) else None)

    def _uid(self, v: bytes, *a: object) -> tuple[str, str]:
        val = struct.unpack("<I", v)[0]
        if val == 0xFFFFFFFF:
            return "-1", "<NONE>"
        u = self.engine.users.get(val)
        return str(val), (sanitize(u) if u is not None else "<NA>")

    def _gid(self, v: bytes, *a: object) -> tuple[str, str]:
        val = struct.unpack("<I", v)[0]
        if val == 0xFFFFFFFF:
            return "-1", "<NONE>"
        g = self.engine.groups.get(val)
        return str(val), (sanitize(g) if g is not None else "<NA>")

    def _sigset(self, v: bytes, *a: object) -> tuple[str, str]:
        val = struct.unpack("<I", v)[0]
        return " ".join(SIGNALS[s + 1] for s in range(32) if val & (1 << s) and s + 1 in SIGNALS), ""

    def _dyn_invalid(self, *a: object) -> tuple[str, str]:
        return "INVALID DYNAMIC PARAMETER", ""

    def _ipv4(self, v: bytes, *a: object) -> tuple[str, str]:
        return (ip_from_bytes(v) if len(v) == 4 else ""), ""


def _lg(x: float) -> str:
    """C's ``%lg``."""
    s = f"{x:g}"
    return s


def _cstr(v: bytes) -> str:
    i = v.find(b"\0")
    return (v if i < 0 else v[:i]).decode("utf-8", "surrogateescape")


def socktuple_str(v: bytes) -> str:
    if not v:
        return "NULL"
    fam = v[0]
    if fam == 2:
        if len(v) != 13:
            return "INVALID IPv4"
        sport, = struct.unpack_from("<H", v, 5)
        dport, = struct.unpack_from("<H", v, 11)
        return f"{ip_from_bytes(v[1:5])}:{sport}->{ip_from_bytes(v[7:11])}:{dport}"
    if fam == 10:
        if len(v) != 37:
            return "INVALID IPv6"
        sip, dip = v[1:17], v[19:35]
        sport, = struct.unpack_from("<H", v, 17)
        dport, = struct.unpack_from("<H", v, 35)
        if _is_mapped(sip) and _is_mapped(dip):
            return f"{ip_from_bytes(sip[12:])}:{sport}->{ip_from_bytes(dip[12:])}:{dport}"
        return f"{ip_from_bytes(sip)}:{sport}->{ip_from_bytes(dip)}:{dport}"
    if fam == 1:
        if len(v) < 17:
            return "family 1"
        src, dst = struct.unpack_from("<QQ", v, 1)
        return f"{src:x}->{dst:x} {sanitize(_cstr(v[17:]))}"
    return f"family {fam}"


def _is_mapped(ip: bytes) -> bool:
    return ip[:10] == b"\0" * 10 and ip[10:12] == b"\xff\xff"


_HANDLERS = {
    "FD": ArgRenderer._fd, "PID": ArgRenderer._pid, "ERRNO": ArgRenderer._errno,
    "CHARBUF": ArgRenderer._charbuf, "FSPATH": ArgRenderer._path, "FSRELPATH": ArgRenderer._path,
    "BYTEBUF": ArgRenderer._bytebuf, "SOCKADDR": ArgRenderer._sockaddr, "SOCKTUPLE": ArgRenderer._socktuple,
    "FDLIST": ArgRenderer._fdlist, "SYSCALLID": ArgRenderer._syscallid, "SIGTYPE": ArgRenderer._sigtype,
    "RELTIME": ArgRenderer._reltime, "FLAGS8": ArgRenderer._flags, "FLAGS16": ArgRenderer._flags,
    "FLAGS32": ArgRenderer._flags, "MODE": ArgRenderer._mode, "UID": ArgRenderer._uid, "GID": ArgRenderer._gid,
    "SIGSET": ArgRenderer._sigset, "DYN": ArgRenderer._dyn_invalid, "ABSTIME": ArgRenderer._dyn_invalid,
    "IPV4ADDR": ArgRenderer._ipv4,
}

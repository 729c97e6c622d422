"""Name tables and value renderers shared by evt.args and field output (errno, signals, flags, buffers)."""

from __future__ import annotations

import errno as _errno
import socket

from sysnb.scap.events import FLAG_TABLES

_ERRNO_NAMES = (
    "EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM EACCES EFAULT ENOTBLK EBUSY "
    "EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY EFBIG ENOSPC ESPIPE EROFS EMLINK "
    "EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY ELOOP ENOMSG EIDRM ECHRNG EL2NSYNC EL3HLT "
    "EL3RST ELNRNG EUNATCH ENOCSI EL2HLT EBADE EBADR EXFULL ENOANO EBADRQC EBADSLT EBFONT ENOSTR ENODATA ETIME "
    "ENOSR ENONET ENOPKG EREMOTE ENOLINK EADV ESRMNT ECOMM EPROTO EMULTIHOP EDOTDOT EBADMSG EOVERFLOW ENOTUNIQ "
    "EBADFD EREMCHG ELIBACC ELIBBAD ELIBSCN ELIBMAX ELIBEXEC EILSEQ ERESTART ESTRPIPE EUSERS ENOTSOCK "
    "EDESTADDRREQ EMSGSIZE EPROTOTYPE ENOPROTOOPT EPROTONOSUPPORT ESOCKTNOSUPPORT EOPNOTSUPP EPFNOSUPPORT "
    "EAFNOSUPPORT EADDRINUSE EADDRNOTAVAIL ENETDOWN ENETUNREACH ENETRESET ECONNABORTED ECONNRESET ENOBUFS "
    "EISCONN ENOTCONN ESHUTDOWN ETOOMANYREFS ETIMEDOUT ECONNREFUSED EHOSTDOWN EHOSTUNREACH EALREADY "
    "EINPROGRESS ESTALE EUCLEAN ENOTNAM ENAVAIL EISNAM EREMOTEIO EDQUOT ENOMEDIUM EMEDIUMTYPE ECANCELED"
).split()
#: errno value -> name, as libsinsp's errno_to_str (Linux numbering, kernel-internal codes included)
ERRNO: dict[int, str] = {getattr(_errno, n): n for n in _ERRNO_NAMES if hasattr(_errno, n)}
ERRNO.update({512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND", 515: "ENOIOCTLCMD",
              521: "EBADHANDLE", 522: "ENOTSYNC", 523: "EBADCOOKIE", 524: "ENOTSUPP", 525: "ETOOSMALL",
              526: "ESERVERFAULT", 527: "EBADTYPE", 528: "EJUKEBOX", 529: "EIOCBQUEUED", 530: "EIOCBRETRY"})

SIGNALS = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
           8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM",
           15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP",
           21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM",
           27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS"}


def errno_name(res: int) -> str:
    """Name of a negative return value (``-2`` -> ``ENOENT``), empty when unknown."""
    return ERRNO.get(-res, "") if res < 0 else ""


def flags_to_str(val: int, table: str | None) -> str:
    """Render a flag set as libsinsp does: names of matching bits in table order, separated by ``|``."""
    items = FLAG_TABLES.get(table or "", ())
    if not items:
        return ""
    out = []
    initial = val
    for name, fv in items:
        if fv == initial:
            out.append(name)
            break
        if (fv == 0 and initial == 0) or (fv != 0 and (val & fv) == fv and val != 0):
            out.append(name)
            val &= ~fv
    return "|".join(out)


_DOTS = bytes(c if 0x20 <= c < 0x7F else 0x2E for c in range(256))


#: sysdig's m_max_evt_output_len: buffers in normal output are cut to this many characters
MAX_BUFFER_OUTPUT = 80


def buffer_dots(data: bytes) -> str:
    """Non-printable bytes as ``.``."""
    return data.translate(_DOTS).decode("ascii")


def buffer_normal(data: bytes) -> str:
    """A byte buffer in sysdig's normal output: dots, cut to 80 characters ending in ``...``."""
    s = buffer_dots(data)
    return s[:MAX_BUFFER_OUTPUT - 3] + "..." if len(s) > MAX_BUFFER_OUTPUT else s


def buffer_ascii(data: bytes) -> str:
    """sysdig ``-A``: printable characters only, CR becomes newline, LF kept unless it follows CR."""
    out = bytearray(b"\n")
    prev = -1
    for c in data:
        if 0x20 <= c < 0x7F:
            out.append(c)
        elif c == 0x0D:
            out.append(0x0A)
        elif c == 0x0A and prev != -1 and prev != 0x0D:
            out.append(c)
        prev = c
    return out.decode("ascii")


def buffer_hex(data: bytes, with_ascii: bool) -> str:
    """sysdig ``-x`` / ``-X``: rows of 16 bytes as 8 groups of 4 hex digits, optionally with ASCII."""
    rows = []
    for j in range(0, len(data), 16):
        chunk = data[j:j + 16]
        groups = [chunk[k:k + 2].hex() for k in range(0, len(chunk), 2)]
        row = f"\n\t0x{j:04x}:" + "".join(" " + g for g in groups)
        if with_ascii:
            row += "     " * (8 - len(groups)) + "  " + chunk.translate(_DOTS).decode("ascii")
        rows.append(row)
    return "".join(rows) + "\n"


def ip_from_bytes(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


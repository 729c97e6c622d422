"""Running out of memory when opening a capture: a clear "not enough memory (needs ~N MB)" instead of a hang,
an abort or a traceback.

Two guards at the boundaries (the CLI's ``main``, the notebook magics), whatever the reader underneath:

* before opening, under an address-space limit (``ulimit -v``), the memory a capture needs is estimated
  from its size and the open is refused when even that estimate exceeds the limit (a table that cannot be
  mapped would otherwise be rebuilt for minutes, then fail);
* any ``MemoryError`` (Arrow's included) or ENOMEM on the way, wherever it is raised or chained, becomes
  :class:`NotEnoughMemory` with the same message.
"""

from __future__ import annotations

import errno
import os
import resource
import struct

from sysnb.errors import SysnbError

MB = 1 << 20
# bytes of table (Arrow columns, mapped from the cache) per byte of uncompressed capture: 4.0 on the
# 128 MiB benchmark capture, 3.0-4.5 on recordings and the shared captures
TABLE_PER_CAPTURE_BYTE = 4.0
GZIP_MAX_RATIO = 50          # a gzip trailer claiming more than this is not believed (hostile or > 4 GiB)
WORKING_MB = 64              # beyond the table: filtering, formatting, the summary


class NotEnoughMemory(SysnbError):
    """Opening or processing a capture needs more memory than this process may have."""


def address_space_limit() -> int | None:
    """The soft RLIMIT_AS (``ulimit -v``) in bytes, or None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def _status_kb(key: str) -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def capture_bytes(path: str) -> int:
    """The capture's uncompressed size: the file's, or for gzip what its trailer says (within reason)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if f.read(2) != b"\x1f\x8b" or size < 18:
                return size
            f.seek(-4, os.SEEK_END)
            isize = int(struct.unpack("<I", f.read(4))[0])
    except OSError:
        return 0
    return isize if size <= isize <= size * GZIP_MAX_RATIO else size * 8


def needed_bytes(path: str) -> int:
    """About what this process will occupy once the capture at ``path`` is open: address space under a
    ``ulimit -v`` (what the limit counts), else resident memory."""
    now = _status_kb("VmSize" if address_space_limit() is not None else "VmRSS") * 1024
    return now + int(capture_bytes(path) * TABLE_PER_CAPTURE_BYTE) + WORKING_MB * MB


_estimates: dict[str, int] = {}  # path -> bytes needed, as estimated before opening (check_room)


def message(path: str | None) -> str:
    """Not enough memory: how much the capture needs and what this process may have."""
    limit = address_space_limit()
    what = f"to open {path}" if path else "for this"
    est = (_estimates.get(path) or needed_bytes(path)) if path else 0
    smaller = "or open a smaller capture (sysnb -r BIG -w PART FILTER)"
    if limit is None:
        need = f"needs ~{est // MB:,} MB, " if est else ""
        return (f"not enough memory {what} ({need}{_meminfo_mb('MemAvailable'):,} MB available): close other "
                f"programs {smaller}")
    need = f"needs ~{est // MB:,} MB, more than" if est > limit else "needs more than"
    return (f"not enough memory {what}: it {need} the {limit // MB:,} MB of address space this process may use "
            f"(ulimit -v); raise the limit {smaller}")


def _meminfo_mb(key: str) -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def check_room(path: str) -> None:
    """Raise :class:`NotEnoughMemory` when the capture at ``path`` cannot fit under this process's
    address-space limit (no limit: nothing is checked; the estimate is then no better than trying)."""
    limit = address_space_limit()
    if limit is None or not os.path.isfile(path):
        return
    _estimates[path] = needed_bytes(path)
    if _estimates[path] > limit:
        raise NotEnoughMemory(message(path))


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` or an exception it was raised from or during is a memory allocation failure."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, MemoryError):
            return True
        if isinstance(e, OSError) and (e.errno == errno.ENOMEM or os.strerror(errno.ENOMEM) in str(e)):
            return True
        e = e.__cause__ or e.__context__
    return False

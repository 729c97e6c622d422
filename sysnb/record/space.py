"""Free space for a recording: checked before it starts and while it runs.

A recording needs room twice: for the spill while it runs, then for the .scap written from it at stop
(the spill is deleted only once the .scap is whole). So the recorder stops early, with a warning, when the
free space falls below what writing the .scap of the records spilled so far will take (``reserve``), and
refuses to start below ``MIN_FREE`` (the snapshot, the first second of a busy host and the file's metadata).
"""

from __future__ import annotations

import os

from sysnb.errors import SysnbError

MIB = 1 << 20
MIN_FREE = 64 * MIB           # below this a recording does not start
LOW_FREE = 1 << 30            # below this the user is told the recording may stop early
MARGIN = 32 * MIB             # kept free beyond the estimate
# bytes of .scap per byte of spill, measured on recordings of dd, getppid loops and the test workload
# (plain: 0.55-0.9; gzip: 0.04-0.2), rounded up
SCAP_PER_SPILL = {False: 1.0, True: 0.3}


class NotEnoughSpace(SysnbError):
    """The output's file system has too little room to start a recording."""


def free_bytes(folder: str) -> int:
    """Bytes an unprivileged writer may still use on the file system of ``folder``."""
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


def reserve(spilled: int, compress: bool) -> int:
    """The free space to keep while ``spilled`` bytes of records are in the spill: the .scap they make."""
    return int(spilled * SCAP_PER_SPILL[compress]) + MARGIN


def mb(n: int) -> str:
    return f"{n / MIB:,.0f} MB"


def check_before(folder: str) -> str | None:
    """Raise :class:`NotEnoughSpace` when a recording in ``folder`` cannot start; return a warning when the
    room is low, else None."""
    try:
        free = free_bytes(folder)
    except OSError as e:
        raise SysnbError(f"cannot record into {folder}: {e.strerror}") from None
    if free < MIN_FREE:
        raise NotEnoughSpace(f"only {mb(free)} free on the file system of {folder}: a recording needs at least "
                             f"{mb(MIN_FREE)}; free some space or record elsewhere (-w OTHER/PATH)")
    if free < LOW_FREE:
        return (f"only {mb(free)} free on the file system of {folder}: the recording will stop by itself "
                "before the disk is full, keeping what it recorded")
    return None


def low_space(folder: str, spilled: int, compress: bool) -> str | None:
    """Why recording must stop now (the .scap of what is spilled would no longer fit), or None (also when the
    file system cannot be asked: the spill's own write errors then tell)."""
    try:
        free = free_bytes(folder)
    except OSError:
        return None
    need = reserve(spilled, compress)
    if free >= need:
        return None
    return (f"only {mb(free)} left on the file system of {folder}: recording stopped to keep room for the "
            f"capture of what was recorded (about {mb(need - MARGIN)})")

"""evt.abspath / evt.abspath.src / evt.abspath.dst: a path joined to its dirfd, as libsinsp's extract_abspath.

An absolute path stands alone; ``AT_FDCWD`` joins the thread's working directory (proc.cwd); any other dirfd
joins the name of that fd in the process's fd table. The engine records fd names only for the fds events
use, so the dirfd's name is the one of the process's latest earlier event on that fd number (an open of the
directory, usually) or, failing that, the capture's start-state fd list; ``<UNKNOWN>/`` otherwise, as
libsinsp when the fd is not in its table.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.fields.common import column, ids
from sysnb.format.paths import concatenate_paths

AT_FDCWD = -100
#: event type -> {argument: (dirfd parameter, path parameter)}; "" is evt.abspath, "src"/"dst" the suffixes
_SPECS: dict[int, dict[str, tuple[str, str]]] = {}
for sym, src, dst in (("SYSCALL_RENAMEAT_X", ("olddirfd", "oldpath"), ("newdirfd", "newpath")),
                      ("SYSCALL_RENAMEAT2_X", ("olddirfd", "oldpath"), ("newdirfd", "newpath")),
                      ("SYSCALL_SYMLINKAT_X", ("linkdirfd", "linkpath"), ("linkdirfd", "linkpath")),
                      ("SYSCALL_OPENAT_E", ("dirfd", "name"), ("dirfd", "name")),
                      ("SYSCALL_OPENAT_2_X", ("dirfd", "name"), ("dirfd", "name")),
                      ("SYSCALL_OPENAT2_X", ("dirfd", "name"), ("dirfd", "name")),
                      ("SYSCALL_LINKAT_E", ("olddir", "oldpath"), ("newdir", "newpath")),
                      ("SYSCALL_LINKAT_2_X", ("olddir", "oldpath"), ("newdir", "newpath")),
                      ("SYSCALL_UNLINKAT_E", ("dirfd", "name"), ("dirfd", "name")),
                      ("SYSCALL_UNLINKAT_2_X", ("dirfd", "name"), ("dirfd", "name")),
                      ("SYSCALL_MKDIRAT_X", ("dirfd", "path"), ("dirfd", "path")),
                      ("SYSCALL_FCHMODAT_X", ("dirfd", "filename"), ("dirfd", "filename"))):
    _SPECS[ids(sym)[0]] = {"": src, "src": src, "dst": dst}


def _param_index(type_id: int, name: str) -> int:
    from sysnb.scap.events import event_info

    info = event_info(type_id)
    names = [p[0] for p in info.params_2022] if info is not None else []
    return names.index(name) if name in names else -1


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def abspath(table: pa.Table, which: str) -> pa.Array:
    types = np.asarray(column(table, "sysnb.type_id").to_numpy(zero_copy_only=False), np.int64)
    rows = np.flatnonzero(np.isin(types, list(_SPECS)) & np.asarray(pc.is_valid(column(table, "proc.pid"))
                                                                       .to_numpy(zero_copy_only=False), bool))
    out: list[str | None] = [None] * table.num_rows
    if len(rows) == 0:
        return pa.nulls(table.num_rows, pa.string())
    params = column(table, "sysnb.params").take(pa.array(rows)).to_pylist()
    cwds = column(table, "proc.cwd").take(pa.array(rows)).to_pylist()
    lookup = _FdNames(table)
    for r, raw, cwd in zip(rows.tolist(), params, cwds, strict=True):
        dirfd_name, path_name = _SPECS[int(types[r])][which]
        kd, kp = _param_index(int(types[r]), dirfd_name), _param_index(int(types[r]), path_name)
        if kd < 0 or kp < 0 or kd >= len(raw or []) or kp >= len(raw or []):
            continue
        dirfd = int.from_bytes(raw[kd][:8], "little", signed=True) if len(raw[kd]) == 8 else AT_FDCWD
        path = _cstr(raw[kp] or b"")
        if path.startswith("/"):
            base = "."
        elif dirfd == AT_FDCWD:
            base = cwd or ""
        else:
            name = lookup.name(r, dirfd)
            base = "<UNKNOWN>/" if name is None else name + "/"
        out[r] = concatenate_paths(base, path)
    return pa.array(out, pa.string())


class _FdNames:
    """The name an fd number had in a process before a given row (the latest earlier event using it)."""

    def __init__(self, table: pa.Table) -> None:
        pid = np.asarray(pc.fill_null(column(table, "proc.pid"), -1).to_numpy(zero_copy_only=False), np.int64)
        fdnum = column(table, "fd.num")
        fd = np.asarray(pc.fill_null(fdnum, -1).to_numpy(zero_copy_only=False), np.int64)
        rows = np.flatnonzero(np.asarray(pc.and_(pc.is_valid(fdnum), pc.is_valid(column(table, "fd.name")))
                                         .to_numpy(zero_copy_only=False), bool))
        order = np.lexsort((rows, fd[rows], pid[rows]))
        self.rows, self.pid, self.fd = rows[order], pid[rows][order], fd[rows][order]
        self.row_pid = pid
        self.names = column(table, "fd.name")

    def name(self, row: int, fd: int) -> str | None:
        p = self.row_pid[row]
        lo = np.searchsorted(self.pid, p, "left")
        hi = np.searchsorted(self.pid, p, "right")
        flo = lo + np.searchsorted(self.fd[lo:hi], fd, "left")
        fhi = lo + np.searchsorted(self.fd[lo:hi], fd, "right")
        k = flo + np.searchsorted(self.rows[flo:fhi], row, "left") - 1
        if k < flo:
            return None
        value = self.names[int(self.rows[k])].as_py()
        return str(value) if value is not None else None

"""The ``process`` class (proc.* and thread.*), as libsinsp's sinsp_filter_check_thread extracts it.

A thread libsinsp invents for an unknown tid (a "placeholder") has the name and exe ``<NA>`` and no
arguments; the table stores those values as null, and ``proc.pid`` is set only when the event has a thread.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.fields.common import column, ids, param_ints, sql_in, type_in
from sysnb.fields.context import FieldContext
from sysnb.fields.evt import stored
from sysnb.fields.model import FieldRef, call, col_str, null
from sysnb.scap.events import CONTAINER_IDS

_NA = pc.scalar("<NA>")
_SWITCH = ids("SCHEDSWITCH_1_E", "SCHEDSWITCH_6_E")
_PROCINFO = ids("PROCINFO_E")[0]


def has_thread() -> pc.Expression:
    return pc.field("proc.pid").is_valid()


def _or_placeholder(name: str, value: pc.Expression) -> pc.Expression:
    """A text field of the thread: the placeholder's value where the thread is a placeholder."""
    return call("if_else", has_thread(), call("coalesce", col_str(name), value), null(pa.string()))


def comm() -> pc.Expression:
    return _or_placeholder("proc.name", _NA)


def exe() -> pc.Expression:
    return _or_placeholder("proc.exe", _NA)


def args() -> pc.Expression:
    return _or_placeholder("proc.args", pc.scalar(""))


def cmdline() -> pc.Expression:
    """populate_cmdline: the name, then " " and the arguments when there are some."""
    a = args()
    return call("if_else", call("equal", a, pc.scalar("")), comm(),
                call("binary_join_element_wise", comm(), a, pc.scalar(" ")))


def _exeline() -> pc.Expression:
    """proc.exe + " " + the arguments (the space is there even without arguments)."""
    return call("binary_join_element_wise", exe(), args(), pc.scalar(" "))


def _duration() -> pc.Expression:
    """ns since a clone in the capture created the event's thread (null for start-state threads)."""
    clone = pc.field("sysnb.clone_ts")
    elapsed = call("subtract", call("cast", pc.field("evt.rawtime"), options=pc.CastOptions(pa.int64())),
                   call("cast", clone, options=pc.CastOptions(pa.int64())))
    return call("if_else", call("greater", clone, pc.scalar(0)), elapsed, null(pa.int64()))


_CMDLINE_SQL = ("""(CASE WHEN "proc.pid" IS NULL THEN NULL WHEN COALESCE("proc.args", '') = '' """
                """THEN COALESCE("proc.name", '<NA>') ELSE COALESCE("proc.name", '<NA>') || ' ' || "proc.args" END)""")


def _loginshellid(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    """The pid of the oldest ancestor (the process itself included) whose name ends in "sh"."""
    names = column(table, "sysnb.aname")
    pids = column(table, "sysnb.apid")
    lengths = np.asarray(pc.fill_null(pc.list_value_length(names), 0).to_numpy(zero_copy_only=False), np.int64)
    owner = np.repeat(np.arange(table.num_rows), lengths)
    flat = pc.list_flatten(names)
    shell = np.asarray(pc.fill_null(pc.ends_with(flat, pattern="sh"), False).to_numpy(zero_copy_only=False), bool)
    last = np.full(table.num_rows, -1, np.int64)
    pos = np.arange(len(flat))
    np.maximum.at(last, owner[shell], pos[shell])
    flat_pids = pc.list_flatten(pids)
    found = last >= 0
    picked = flat_pids.take(pa.array(np.where(found, last, 0))) if len(flat_pids) else pa.nulls(len(last), pa.int64())
    return pc.if_else(pa.array(found), picked, pa.scalar(None, pa.int64()))


def _switch_exectime(table: pa.Table) -> np.ndarray:
    """thread.exectime: on switch events, the time since the previous switch on the same CPU (0 at the first
    one seen and on other events)."""
    types = np.asarray(column(table, "sysnb.type_id").to_numpy(zero_copy_only=False), np.int64)
    rows = np.flatnonzero(np.isin(types, _SWITCH))
    out = np.zeros(table.num_rows, np.int64)
    if len(rows) == 0:
        return out
    cpu = np.asarray(column(table, "evt.cpu").to_numpy(zero_copy_only=False), np.int64)[rows]
    ts = np.asarray(column(table, "evt.rawtime").to_numpy(zero_copy_only=False), np.int64)[rows]
    order = np.lexsort((rows, cpu))
    c, t = cpu[order], ts[order]
    delta = np.zeros(len(rows), np.int64)
    same = c[1:] == c[:-1]
    delta[1:] = np.where(same, t[1:] - t[:-1], 0)
    out[rows[order]] = delta
    return out


def _exectime(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    return pa.array(_switch_exectime(table), pa.int64())


def _totexectime(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    """The running sum of thread.exectime per thread, over the events evaluated so far."""
    exec_ns = _switch_exectime(table)
    tid = np.asarray(pc.fill_null(column(table, "thread.tid"), -1).to_numpy(zero_copy_only=False), np.int64)
    order = np.lexsort((np.arange(len(tid)), tid))
    sums = np.cumsum(exec_ns[order])
    t = tid[order]
    starts = np.r_[0, np.flatnonzero(t[1:] != t[:-1]) + 1]
    base = np.repeat(np.r_[0, sums[starts[1:] - 1]] if len(starts) else np.zeros(0, np.int64),
                     np.diff(np.r_[starts, len(t)]))
    out = np.zeros(len(tid), np.int64)
    out[order] = sums - base
    return pa.array(out, pa.int64(), mask=~np.asarray(pc.is_valid(column(table, "proc.pid"))
                                                        .to_numpy(zero_copy_only=False), bool))


def _thread_cpu(user: bool, system: bool) -> Any:
    """thread.cpu*: on procinfo events, the growth of the thread's CPU counters since its previous procinfo
    event (capped at 100; 0 the first time), null on other events."""
    def table_fn(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
        u = param_ints(table, {_PROCINFO: (0, "UINT64")}) if user else None
        s = param_ints(table, {_PROCINFO: (1, "UINT64")}) if system else None
        total = u if s is None else s if u is None else pc.add(u, s)
        assert total is not None
        valid = np.asarray(pc.and_(pc.is_valid(total), pc.is_valid(column(table, "proc.pid")))
                           .to_numpy(zero_copy_only=False), bool)
        rows = np.flatnonzero(valid)
        out = np.full(table.num_rows, np.nan)
        if len(rows):
            tid = np.asarray(column(table, "thread.tid").to_numpy(zero_copy_only=False), np.int64)[rows]
            tot = np.asarray(total.to_numpy(zero_copy_only=False), np.float64)[rows]
            order = np.lexsort((rows, tid))
            t, v = tid[order], tot[order]
            prev = np.r_[0.0, v[:-1]]
            first = np.r_[True, t[1:] != t[:-1]]
            delta = np.where(first | (prev == 0), 0.0, np.minimum(v - prev, 100.0))
            out[rows[order]] = delta
        return pa.array(out, pa.float64(), mask=np.isnan(out))
    return table_fn


def _probe(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    """proc.is_container_*: false while no container of the capture has health probes (the thread category
    libsinsp assigns at execve then never differs from "none"); otherwise the state is needed."""
    if any(c.probes for c in ctx.containers.values()):
        return pa.nulls(table.num_rows, pa.bool_())
    return pc.if_else(pc.is_valid(column(table, "proc.pid")), pa.scalar(False), pa.scalar(None, pa.bool_()))


def _cgroup(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    """thread.cgroup.X: the path of subsystem X in the thread's cgroups (null when it has none)."""
    if not ref.arg:
        return pa.nulls(table.num_rows, pa.string())
    found = pc.extract_regex(column(table, "thread.cgroups"), pattern=rf"(?:^| ){re.escape(ref.arg)}=(?P<path>[^ ]*)")
    return pc.struct_field(found, "path")


def _ancestor(field: str) -> Any:
    """proc.apid[N] / proc.aname[N] from the ancestor chains the engine records (N=0: the process)."""
    def table_fn(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
        from sysnb.filter.dynamic import ancestor_at

        if ref.index is None or ref.index < 0:
            return pa.nulls(table.num_rows, pa.int64() if field == "proc.apid" else pa.string())
        values = ancestor_at(table, field, ref.index)
        if ref.index == 0:  # a thread without a recorded chain (container events' thread) is its own level 0
            own = column(table, "proc.pid") if field == "proc.apid" else column(table, "proc.name")
            values = pc.coalesce(values, own.cast(values.type))
        return values
    return table_fn


def _exe_writable() -> pc.Expression:
    """PPM_EXE_WRITABLE of the execve exit's flags; false (libsinsp's default) where the capture has none."""
    flag = call("not_equal", call("bit_wise_and", pc.field("sysnb.exe_flags"), pc.scalar(1)), pc.scalar(0))
    return call("if_else", has_thread(), call("coalesce", flag, pc.scalar(False)), null(pa.bool_()))


def _ismain() -> pc.Expression:
    """tid == pid; a container event's thread is libsinsp's synthetic one (tid = pid = -1)."""
    container = call("and_kleene", type_in(CONTAINER_IDS), call("equal", pc.field("proc.pid"), pc.scalar(-1)))
    return call("or_kleene", call("equal", pc.field("thread.tid"), pc.field("proc.pid")), container)


def _expr(fn: Any) -> Any:
    return lambda ref, ctx: fn()


def _state(what: str) -> dict[str, Any]:
    return dict(state=what)


_THREAD = ("proc.pid",)
FIELDS: dict[str, dict[str, Any]] = {
    "proc.pid": stored("proc.pid"),
    "proc.exe": dict(columns=("proc.exe", "proc.pid"), expr=_expr(exe),
                     sql=lambda r, c: """(CASE WHEN "proc.pid" IS NOT NULL THEN COALESCE("proc.exe", '<NA>') END)"""),
    "proc.name": dict(columns=("proc.name", "proc.pid"), expr=_expr(comm),
                      sql=lambda r, c: """(CASE WHEN "proc.pid" IS NOT NULL THEN COALESCE("proc.name", '<NA>') END)"""),
    "proc.args": dict(columns=("proc.args", "proc.pid"), expr=_expr(args),
                      sql=lambda r, c: """(CASE WHEN "proc.pid" IS NOT NULL THEN COALESCE("proc.args", '') END)"""),
    "proc.env": stored("proc.env"),
    "proc.cmdline": dict(columns=("proc.name", "proc.args", "proc.pid"), expr=_expr(cmdline),
                         sql=lambda r, c: _CMDLINE_SQL),
    "proc.exeline": dict(columns=("proc.exe", "proc.args", "proc.pid"), expr=_expr(_exeline),
                         sql=lambda r, c: """(CASE WHEN "proc.pid" IS NOT NULL THEN COALESCE("proc.exe", '<NA>') """
                                          """|| ' ' || COALESCE("proc.args", '') END)"""),
    "proc.cwd": stored("proc.cwd"),
    "proc.nthreads": _state("the main thread's number of threads (m_nchilds + 1)"),
    "proc.nchilds": _state("the thread's m_nchilds"),
    "proc.ppid": stored("proc.ppid"),
    "proc.pname": stored("proc.pname"),
    "proc.pcmdline": stored("proc.pcmdline"),
    "proc.apid": dict(columns=("sysnb.apid", "proc.pid"), table=_ancestor("proc.apid"), arg="optional"),
    "proc.aname": dict(columns=("sysnb.aname", "proc.name"), table=_ancestor("proc.aname"), arg="optional"),
    "proc.loginshellid": dict(columns=("sysnb.aname", "sysnb.apid"), table=_loginshellid),
    "proc.duration": dict(columns=("evt.rawtime", "sysnb.clone_ts"), expr=_expr(_duration),
                          sql=lambda r, c: """(CASE WHEN "sysnb.clone_ts" > 0 THEN CAST("evt.rawtime" AS BIGINT) """
                                           """- CAST("sysnb.clone_ts" AS BIGINT) END)"""),
    "proc.fdopencount": _state("the number of fds in the process's fd table"),
    "proc.fdlimit": _state("the fdlimit parameter of execve/clone exits and the process list"),
    "proc.fdusage": _state("fd table size / fdlimit"),
    "proc.vmsize": _state("vm_size of the latest execve/clone/brk/mmap/switch event or the process list"),
    "proc.vmrss": _state("vm_rss of the latest execve/clone/brk/mmap/switch event or the process list"),
    "proc.vmswap": _state("vm_swap of the latest execve/clone/brk/mmap/switch event or the process list"),
    "thread.pfmajor": _state("pgft_maj of the latest execve/clone/switch event or the process list"),
    "thread.pfminor": _state("pgft_min of the latest execve/clone/switch event or the process list"),
    "thread.tid": stored("thread.tid"),
    "thread.ismain": dict(columns=("thread.tid", "proc.pid", "sysnb.type_id"), expr=_expr(_ismain),
                          sql=lambda r, c: f'(("thread.tid" = "proc.pid") OR ({sql_in(CONTAINER_IDS)} '
                                           f'AND "proc.pid" = -1))'),
    "thread.exectime": dict(columns=("sysnb.type_id", "evt.cpu", "evt.rawtime"), table=_exectime, ordered=True,
                            json=lambda ref, table, ctx: [0] * table.num_rows),  # -j extracts it twice: 0
    "thread.totexectime": dict(columns=("sysnb.type_id", "evt.cpu", "evt.rawtime", "thread.tid", "proc.pid"),
                               table=_totexectime, ordered=True),
    "thread.cgroups": stored("thread.cgroups"),
    "thread.cgroup": dict(arg="required", columns=("thread.cgroups",), table=_cgroup),
    "thread.vtid": stored("thread.vtid"),
    "proc.vpid": stored("proc.vpid"),
    "thread.cpu": dict(columns=("sysnb.type_id", "sysnb.params", "thread.tid", "proc.pid"),
                       table=_thread_cpu(True, True), fmt="DOUBLE", ordered=True),
    "thread.cpu.user": dict(columns=("sysnb.type_id", "sysnb.params", "thread.tid", "proc.pid"),
                            table=_thread_cpu(True, False), fmt="DOUBLE", ordered=True),
    "thread.cpu.system": dict(columns=("sysnb.type_id", "sysnb.params", "thread.tid", "proc.pid"),
                              table=_thread_cpu(False, True), fmt="DOUBLE", ordered=True),
    "thread.vmsize": _state("vm_size for the main thread, 0 for the others"),
    "thread.vmrss": _state("vm_rss for the main thread, 0 for the others"),
    "proc.sid": stored("proc.sid"),
    "proc.sname": stored("proc.sname"),
    "proc.tty": stored("proc.tty"),
    "proc.exepath": stored("proc.exepath"),
    "proc.vpgid": stored("proc.vpgid"),
    "proc.is_container_healthcheck": dict(columns=_THREAD, table=_probe),
    "proc.is_container_liveness_probe": dict(columns=_THREAD, table=_probe),
    "proc.is_container_readiness_probe": dict(columns=_THREAD, table=_probe),
    "proc.is_exe_writable": dict(columns=("sysnb.exe_flags", "proc.pid"), expr=_expr(_exe_writable)),
}

HIDDEN: dict[str, tuple[str, str, dict[str, Any]]] = {
    "thread.nametid": ("CHARBUF", "this field chains the process name and tid of a thread and can be used as a "
                       "specific identifier of a thread for a specific execve.",
                       dict(columns=("proc.name", "proc.pid", "thread.tid"),
                            expr=lambda r, c: call("binary_join_element_wise", comm(),
                                                   pc.field("thread.tid").cast(pa.string()), pc.scalar("")))),
    "thread.vmsize.b": ("UINT64", "For the process main thread, this is the total virtual memory for the process "
                        "(in bytes). For the other threads, this field is zero.", _state("vm_size")),
    "thread.vmrss.b": ("UINT64", "For the process main thread, this is the resident non-swapped memory for the "
                       "process (in bytes). For the other threads, this field is zero.", _state("vm_rss")),
}

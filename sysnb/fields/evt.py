"""The ``evt`` fields (both of sysdig's evt classes), as libsinsp's sinsp_filter_check_gen_event and
sinsp_filter_check_event extract them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.fields import evtargs
from sysnb.fields import render as T
from sysnb.fields.common import (
    column,
    ids,
    ids_with,
    is_exit,
    ordered_delta,
    param_ints,
    parsed_before_filter,
    sql_in,
    type_in,
)
from sysnb.fields.context import FieldContext
from sysnb.fields.model import FieldRef, call, col_str, null
from sysnb.scap import events as E

NS = 1_000_000_000
_U64 = pa.uint64()


def _ts() -> pc.Expression:
    return pc.field("evt.rawtime")


def _u64(v: int) -> pc.Expression:
    return pc.scalar(pa.scalar(v, _U64))


def _rel(ctx: FieldContext) -> pc.Expression:
    """libsinsp's ``ts - m_firstevent_ts`` in uint64: an event stamped before the first one (hidden state
    events are) wraps around, as in sysdig, instead of failing the whole query."""
    return call("subtract", _ts(), _u64(ctx.first_ts)) if ctx.first_ts else _ts()


def _sql_rel(ctx: FieldContext) -> str:
    return f'((("evt.rawtime"::HUGEINT - {ctx.first_ts}) + {1 << 64}) % {1 << 64})::UBIGINT'


def _time_text(fn: Any) -> Any:
    def text(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
        return fn(column(table, "evt.rawtime"))
    return text


def _rawtime_json(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> list[Any]:
    values: list[Any] = column(table, "evt.rawtime").to_pylist()
    return values


_CHILD_CLONES = {t: (15, "UINT32") for t in ids("SYSCALL_CLONE_20_X", "SYSCALL_FORK_20_X", "SYSCALL_VFORK_20_X",
                                                 "SYSCALL_CLONE3_X")}
_CHILD_IN_PIDNS = 1 << 29


def _inverted_clone_child(table: pa.Table) -> pa.Array:
    """A child's clone exit in a pid namespace: libsinsp creates the child thread only while parsing it (the
    parent's exit did not), so the event itself carries no thread."""
    flags = param_ints(table, _CHILD_CLONES)
    vtid = param_ints(table, {t: (18, "INT64") for t in _CHILD_CLONES})
    child = pc.equal(pc.fill_null(column(table, "evt.rawres"), -1), 0)
    pidns = pc.or_(pc.not_equal(pc.bit_wise_and(flags, _CHILD_IN_PIDNS), 0),
                   pc.not_equal(vtid, column(table, "thread.tid")))
    return pc.fill_null(pc.and_(child, pidns), False)


def _latency_human(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    """format_time of evt.latency; an event without a thread repeats the previous value (libsinsp leaves its
    string storage as it was)."""
    lat = column(table, "evt.latency")
    human = T.human_duration(lat)
    nothread = pc.and_(pc.is_valid(lat), pc.or_(pc.is_null(column(table, "proc.pid")),
                                                _inverted_clone_child(table)))
    if not pc.any(nothread).as_py():
        return human
    stale = pc.if_else(nothread, pa.scalar(None, pa.string()), human)
    filled = pc.fill_null_forward(stale)
    return pc.if_else(nothread, filled, human)


def _delta(part: str) -> Any:
    def table_fn(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
        d = ordered_delta(column(table, "evt.rawtime"))
        if part == "s":
            return pc.divide(d, NS)
        if part == "ns":
            return pc.subtract(d, pc.multiply(pc.divide(d, NS), NS))
        return d
    return table_fn


def _zeros_json(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> list[Any]:
    """-j extracts these fields twice per event, so the second delta is always 0 (libsinsp's formatter)."""
    return [0] * table.num_rows


def _outputtime(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    """evt.outputtime in the -t time type: h clock, a seconds.ns from epoch, r since the first event,
    d the event's latency, D since the previous printed event."""
    ts = column(table, "evt.rawtime").cast(pa.int64(), safe=False)
    mode = ctx.time_type
    if mode == "h":
        return T.clock(ts)
    if mode == "a":
        return T.join(pc.divide(ts, NS).cast(pa.string()), ".", pc.remainder(ts, NS).cast(pa.string()))
    if mode == "r":
        rel = pc.subtract(ts, pa.scalar(ctx.first_ts, pa.int64()))
    elif mode == "d":
        lat = pc.fill_null(column(table, "evt.latency").cast(pa.int64()), 0)
        rel = pc.if_else(pc.is_null(column(table, "proc.pid")), pa.scalar(0, pa.int64()), lat)
    else:
        rel = ordered_delta(ts)
    return T.join(pc.divide(rel, NS).cast(pa.string()), ".", T.padded(pc.remainder(rel, NS), 9))


def _type_is(ref: FieldRef, ctx: FieldContext) -> pc.Expression:
    """evt.type.is.NAME: the first event id with that name and the next one (libsinsp's extract_type);
    evt.type.is.N: event id N."""
    wanted = type_is_ids(ref.arg or "")
    return call("if_else", type_in(wanted), pc.scalar(pa.scalar(1, pa.uint32())), pc.scalar(pa.scalar(0, pa.uint32())))


def type_is_ids(arg: str) -> tuple[int, ...]:
    if arg.isdigit():
        return (int(arg),)
    for e in E.EVENTS:
        if e.known_2022 and e.name_2022 == arg:
            return (e.id, e.id + 1)
    return ()


_NO_SYSCALL = tuple(sorted(set(ids_with("SKIPPARSERESET")) | set(ids("SCHEDSWITCH_6_E"))))


def _syscall_type(ref: FieldRef, ctx: FieldContext) -> pc.Expression:
    return call("if_else", type_in(_NO_SYSCALL), null(pa.string()), col_str("evt.type"))


def _io(*flags: str) -> Any:
    return lambda ref, ctx: type_in(ids_with(*flags))


def _io_dir(ref: FieldRef, ctx: FieldContext) -> pc.Expression:
    return call("if_else", type_in(ids_with("WRITES_TO_FD")), pc.scalar("write"),
                call("if_else", type_in(ids_with("READS_FROM_FD")), pc.scalar("read"), null(pa.string())))


def _wait_latency(ref: FieldRef, ctx: FieldContext) -> pc.Expression:
    waits = call("and_kleene", type_in(ids_with("WAITS")), is_exit())
    return call("if_else", waits, call("coalesce", pc.field("evt.latency"), pc.scalar(0)), null(pa.int64()))


def _is_syslog(ref: FieldRef, ctx: FieldContext) -> pc.Expression:
    named = call("match_substring", col_str("fd.name"), options=pc.MatchSubstringOptions("/dev/log"))
    hit = call("and_kleene", call("and_kleene", type_in(ids_with("WRITES_TO_FD")), pc.field("fd.type").is_valid()),
               named)
    return call("coalesce", hit, pc.scalar(False))


_ONE = pc.scalar(pa.scalar(1, pa.uint32()))
_FILE_TYPES = ("file", "directory")
_NET_TYPES = ("ipv4", "ipv6", "unix")
_FILE_OPENS = ids("SYSCALL_OPEN_X", "SYSCALL_CREAT_X", "SYSCALL_OPENAT_X", "SYSCALL_OPENAT_2_X", "SYSCALL_OPENAT2_X")
_NET_OPENS = ids("SOCKET_ACCEPT_X", "SOCKET_ACCEPT_5_X", "SOCKET_ACCEPT4_X", "SOCKET_ACCEPT4_5_X", "SOCKET_CONNECT_X")


def _error_expr(where: pc.Expression | None = None) -> pc.Expression:
    """1 for a failed event (where ``where`` holds), unset otherwise (libsinsp's extract_error_count)."""
    failed = call("less", pc.field("evt.rawres"), pc.scalar(0))
    cond = failed if where is None else call("and_kleene", failed, where)
    return call("if_else", call("coalesce", cond, pc.scalar(False)), _ONE, null(pa.uint32()))


def _error_count(where: pc.Expression | None = None) -> Any:
    return lambda ref, ctx: _error_expr(where)


def _fd_type_in(names: tuple[str, ...]) -> pc.Expression:
    return col_str("fd.type").isin(pa.array(names))


def _counted(fd_names: tuple[str, ...], opens: tuple[int, ...]) -> pc.Expression:
    """libsinsp's file/net error counters: by the fd's type, or by the creating syscall when there is no fd."""
    has_fd = pc.field("fd.type").is_valid()
    return call("if_else", has_fd, _fd_type_in(fd_names), type_in(opens))


def _count_other() -> pc.Expression:
    has_fd = pc.field("fd.type").is_valid()
    memory = call("equal", col_str("evt.category"), pc.scalar("memory"))
    no_fd = call("invert", call("or_kleene", type_in(_FILE_OPENS + _NET_OPENS), call("coalesce", memory,
                                                                                     pc.scalar(False))))
    return call("if_else", has_fd, call("invert", _fd_type_in(_FILE_TYPES + _NET_TYPES)), no_fd)


def _count_exit(ref: FieldRef, ctx: FieldContext) -> pc.Expression:
    return call("if_else", is_exit(), _ONE, null(pa.uint32()))


_OPEN_FLAGS = {ids("SYSCALL_OPEN_X")[0]: (2, "UINT32"), ids("SYSCALL_OPENAT_E")[0]: (2, "UINT32"),
               ids("SYSCALL_OPENAT_2_X")[0]: (3, "UINT32"), ids("SYSCALL_OPENAT2_X")[0]: (3, "UINT32")}
_OPEN_MODE = {ids("SYSCALL_OPEN_X")[0]: (3, "UINT32"), ids("SYSCALL_OPENAT_E")[0]: (3, "UINT32"),
              ids("SYSCALL_OPENAT_2_X")[0]: (4, "UINT32"), ids("SYSCALL_OPENAT2_X")[0]: (4, "UINT32"),
              ids("SYSCALL_CREAT_X")[0]: (2, "UINT32")}
_O_RDONLY, _O_WRONLY, _O_CREAT, _O_TMPFILE = 1, 2, 4, 1 << 13
_EXEC_BITS = (1 << 0) | (1 << 3) | (1 << 6)


def _is_open(which: str) -> Any:
    """evt.is_open_read/write/exec from the open flags (and mode for exec) of open/openat/openat2/creat."""
    def table_fn(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
        flags = np.asarray(pc.fill_null(param_ints(table, _OPEN_FLAGS), 0).to_numpy(zero_copy_only=False), np.int64)
        if which == "read":
            return pa.array(flags & _O_RDONLY != 0)
        if which == "write":
            return pa.array(flags & _O_WRONLY != 0)
        mode = np.asarray(pc.fill_null(param_ints(table, _OPEN_MODE), 0).to_numpy(zero_copy_only=False), np.int64)
        creat = np.asarray(type_mask(table, ids("SYSCALL_CREAT_X")), bool)
        creates = (flags & (_O_CREAT | _O_TMPFILE) != 0) | creat
        return pa.array(creates & (mode & _EXEC_BITS != 0))
    return table_fn


def type_mask(table: pa.Table, type_ids: tuple[int, ...]) -> np.ndarray:
    return np.asarray(pc.is_in(column(table, "sysnb.type_id"), value_set=pa.array(type_ids, pa.uint16()))
                      .to_numpy(zero_copy_only=False), bool)


IO_CATEGORIES = pa.array(sorted(e.id for e in E.EVENTS if (e.category_2022 if e.known_2022 else e.category)
                                 in ("IO_READ", "IO_WRITE", "IO_OTHER")), pa.uint16())


def lost_error_count(table: pa.Table, name: str) -> pa.Array:
    """evt.count.error.file/.net/.other of an event without its fd in libsinsp: by the syscall alone."""
    from sysnb.fields.common import project

    if name == "evt.count.error.file":
        where = type_in(_FILE_OPENS)
    elif name == "evt.count.error.net":
        where = type_in(_NET_OPENS)
    else:
        memory = call("coalesce", call("equal", col_str("evt.category"), pc.scalar("memory")), pc.scalar(False))
        where = call("invert", call("or_kleene", type_in(_FILE_OPENS + _NET_OPENS), memory))
    return project(table, _error_expr(where))


def _args(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    return evtargs.args_text(table, ctx)


def _info(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    """evt.info; a capture filter runs before the protocol decoders, so it sees the plain arguments."""
    info = evtargs.info_text(table, ctx)
    if not ctx.capture_filter:
        return info
    return pc.if_else(parsed_before_filter(table), info, evtargs.args_text(table, ctx))


def _buffer_text(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    return evtargs.buffer_text(table, ctx)


def _arg(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    key: str | int = ref.index if ref.index is not None else (ref.arg or "")
    return evtargs.arg_text(table, ctx, key)


def _rawarg(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    from sysnb.filter.dynamic import evt_rawarg

    return evt_rawarg(table, ref.arg or "")


def _rawarg_text(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    return evtargs.rawarg_text(table, ref.arg or "")


def _abspath(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    from sysnb.fields.abspath import abspath

    return abspath(table, ref.arg or "")


def _sql(text: str) -> Any:
    return lambda ref, ctx: text


def _expr(name: str) -> Any:
    return lambda ref, ctx: pc.field(name)


def stored(name: str, **kw: Any) -> dict[str, Any]:
    """A field that is a stored column."""
    return dict(columns=(name,), expr=_expr(name), sql=_sql(f'"{name}"'), **kw)


def _div(name: str, part: str) -> Any:
    """The seconds (``s``) or nanoseconds (``ns``) part of a time: evt.rawtime, evt.reltime or evt.latency."""
    def expr(ref: FieldRef, ctx: FieldContext) -> pc.Expression:
        value = _rel(ctx) if name == "reltime" else pc.field(name)
        ns = pc.scalar(NS) if name == "evt.latency" else _u64(NS)
        secs = call("divide", value, ns)
        return secs if part == "s" else call("subtract", value, call("multiply", secs, ns))
    return expr


def _div_sql(name: str, part: str) -> Any:
    def sql(ref: FieldRef, ctx: FieldContext) -> str:
        value = _sql_rel(ctx) if name == "reltime" else f'"{name}"'
        return f"({value} // {NS})" if part == "s" else f"({value} % {NS})"
    return sql


_TIME = ("evt.rawtime",)
_LAT = ("evt.latency", "proc.pid", "sysnb.type_id", "sysnb.params", "evt.rawres", "thread.tid")

FIELDS: dict[str, dict[str, Any]] = {
    "evt.num": stored("evt.num"),
    "evt.time": dict(columns=_TIME, table=_time_text(T.clock), json=_rawtime_json),
    "evt.time.s": dict(columns=_TIME, table=_time_text(lambda ts: T.clock(ts, ns=False)), json=_rawtime_json),
    "evt.time.iso8601": dict(columns=_TIME, table=_time_text(T.iso8601), json=_rawtime_json),
    "evt.datetime": dict(columns=_TIME, table=_time_text(T.datetime), json=_rawtime_json),
    "evt.datetime.s": dict(columns=_TIME, table=_time_text(lambda ts: T.datetime(ts, ns=False)), json=_rawtime_json),
    "evt.rawtime": stored("evt.rawtime"),
    "evt.rawtime.s": dict(columns=_TIME, expr=_div("evt.rawtime", "s"), sql=_div_sql("evt.rawtime", "s")),
    "evt.rawtime.ns": dict(columns=_TIME, expr=_div("evt.rawtime", "ns"), sql=_div_sql("evt.rawtime", "ns"),
                           fmt="PADDED"),
    "evt.reltime": dict(columns=_TIME, expr=lambda ref, ctx: _rel(ctx), sql=lambda ref, ctx: _sql_rel(ctx),
                        fmt="PADDED"),
    "evt.reltime.s": dict(columns=_TIME, expr=_div("reltime", "s"), sql=_div_sql("reltime", "s")),
    "evt.reltime.ns": dict(columns=_TIME, expr=_div("reltime", "ns"), sql=_div_sql("reltime", "ns"), fmt="PADDED"),
    "evt.pluginname": dict(expr=lambda ref, ctx: null(pa.string()), sql=_sql("NULL")),
    "evt.plugininfo": dict(expr=lambda ref, ctx: null(pa.string()), sql=_sql("NULL")),
    "evt.latency": stored("evt.latency"),
    "evt.latency.s": dict(columns=_LAT, expr=_div("evt.latency", "s"), sql=_div_sql("evt.latency", "s")),
    "evt.latency.ns": dict(columns=_LAT, expr=_div("evt.latency", "ns"), sql=_div_sql("evt.latency", "ns"),
                           fmt="PADDED"),
    "evt.latency.human": dict(columns=_LAT, table=_latency_human, ordered=True),
    "evt.deltatime": dict(columns=_TIME, table=_delta(""), ordered=True, json=_zeros_json),
    "evt.deltatime.s": dict(columns=_TIME, table=_delta("s"), ordered=True, json=_zeros_json),
    "evt.deltatime.ns": dict(columns=_TIME, table=_delta("ns"), ordered=True, json=_zeros_json, fmt="PADDED"),
    "evt.outputtime": dict(columns=(*_TIME, *_LAT), table=_outputtime, json=_rawtime_json, ordered=True),
    "evt.dir": stored("evt.dir"),
    "evt.type": stored("evt.type"),
    "evt.type.is": dict(columns=("sysnb.type_id",), expr=_type_is, arg="required",
                        sql=lambda ref, ctx: f"(CASE WHEN {sql_in(type_is_ids(ref.arg or ''))} THEN 1 ELSE 0 END)"),
    "syscall.type": dict(columns=("evt.type", "sysnb.type_id"), expr=_syscall_type,
                         sql=_sql(f'(CASE WHEN {sql_in(_NO_SYSCALL)} THEN NULL ELSE "evt.type" END)')),
    "evt.category": dict(stored("evt.category"), columns=("evt.category", "sysnb.type_id", "thread.tid")),
    "evt.cpu": stored("evt.cpu"),
    "evt.args": dict(columns=("evt.args", "sysnb.type_id", "sysnb.params"), table=_args, sql=_sql('"evt.args"')),
    "evt.arg": dict(columns=("evt.args", "sysnb.type_id", "sysnb.params"), table=_arg, arg="required"),
    "evt.rawarg": dict(columns=("evt.args", "sysnb.type_id", "sysnb.params"), table=_rawarg, text=_rawarg_text,
                       json=lambda ref, table, ctx: _rawarg_text(ref, table, ctx).to_pylist(), arg="required"),
    "evt.info": dict(columns=("evt.args", "sysnb.info", "sysnb.type_id", "sysnb.params"), table=_info,
                     sql=_sql('COALESCE("sysnb.info", "evt.args")')),
    "evt.buffer": dict(columns=("evt.buffer",), expr=_expr("evt.buffer"), text=_buffer_text,
                       sql=_sql('"evt.buffer"')),
    "evt.buflen": dict(stored("evt.buflen"), columns=("evt.buflen", "sysnb.type_id", "thread.tid")),
    "evt.res": stored("evt.res"),
    "evt.rawres": stored("evt.rawres"),
    "evt.failed": stored("evt.failed"),
    "evt.is_io": dict(columns=("sysnb.type_id",), expr=_io("READS_FROM_FD", "WRITES_TO_FD"),
                      sql=_sql(sql_in(ids_with("READS_FROM_FD", "WRITES_TO_FD")))),
    "evt.is_io_read": dict(columns=("sysnb.type_id",), expr=_io("READS_FROM_FD"),
                           sql=_sql(sql_in(ids_with("READS_FROM_FD")))),
    "evt.is_io_write": dict(columns=("sysnb.type_id",), expr=_io("WRITES_TO_FD"),
                            sql=_sql(sql_in(ids_with("WRITES_TO_FD")))),
    "evt.io_dir": dict(columns=("sysnb.type_id",), expr=_io_dir,
                       sql=_sql(f"(CASE WHEN {sql_in(ids_with('WRITES_TO_FD'))} THEN 'write' "
                                f"WHEN {sql_in(ids_with('READS_FROM_FD'))} THEN 'read' END)")),
    "evt.is_wait": dict(columns=("sysnb.type_id",), expr=_io("WAITS"), sql=_sql(sql_in(ids_with("WAITS")))),
    "evt.wait_latency": dict(columns=("sysnb.type_id", "evt.latency"), expr=_wait_latency,
                             sql=_sql(f'(CASE WHEN {sql_in(ids_with("WAITS"))} AND "sysnb.type_id" % 2 = 1 '
                                      f'THEN COALESCE("evt.latency", 0) END)')),
    "evt.is_syslog": dict(columns=("sysnb.type_id", "fd.type", "fd.name", "thread.tid"), expr=_is_syslog,
                          sql=_sql(f"COALESCE({sql_in(ids_with('WRITES_TO_FD'))} AND \"fd.type\" IS NOT NULL "
                                   "AND contains(\"fd.name\", '/dev/log'), FALSE)")),
    "evt.count": dict(expr=lambda ref, ctx: _ONE, sql=_sql("1")),
    "evt.count.error": dict(columns=("evt.rawres",), expr=_error_count(),
                            sql=_sql('(CASE WHEN "evt.rawres" < 0 THEN 1 END)')),
    "evt.count.error.file": dict(columns=("evt.rawres", "fd.type", "sysnb.type_id", "thread.tid", "evt.category"),
                                 expr=_error_count(_counted(_FILE_TYPES, _FILE_OPENS))),
    "evt.count.error.net": dict(columns=("evt.rawres", "fd.type", "sysnb.type_id", "thread.tid", "evt.category"),
                                expr=_error_count(_counted(_NET_TYPES, _NET_OPENS))),
    "evt.count.error.memory": dict(columns=("evt.rawres", "evt.category"),
                                   expr=_error_count(call("equal", col_str("evt.category"), pc.scalar("memory"))),
                                   sql=_sql('(CASE WHEN "evt.rawres" < 0 AND "evt.category" = \'memory\' THEN 1 END)')),
    "evt.count.error.other": dict(columns=("evt.rawres", "fd.type", "sysnb.type_id", "evt.category", "thread.tid"),
                                  expr=_error_count(_count_other())),
    "evt.count.exit": dict(columns=("sysnb.type_id",), expr=_count_exit,
                           sql=_sql('(CASE WHEN "sysnb.type_id" % 2 = 1 THEN 1 END)')),
    "evt.around": dict(columns=("evt.rawtime",), arg="required"),
    "evt.abspath": dict(columns=("sysnb.type_id", "sysnb.params", "proc.cwd", "fd.name", "fd.num", "proc.pid",
                                 "thread.tid", "evt.rawtime"), table=_abspath, arg="optional"),
    "evt.is_open_read": dict(columns=("sysnb.type_id", "sysnb.params"), table=_is_open("read")),
    "evt.is_open_write": dict(columns=("sysnb.type_id", "sysnb.params"), table=_is_open("write")),
    "evt.is_open_exec": dict(columns=("sysnb.type_id", "sysnb.params"), table=_is_open("exec")),
}

#: usable in -p and filters but not listed by sysdig 0.29.3 (EPF_PRINT_ONLY / EPF_TABLE_ONLY fields)
HIDDEN: dict[str, tuple[str, str, dict[str, Any]]] = {
    "evt.outputtime": ("CHARBUF", "this depends on -t param, default is %evt.time ('h').", {}),
}

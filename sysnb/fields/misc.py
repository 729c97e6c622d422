"""The ``syslog``, ``fdlist``, ``span`` and ``evtin`` classes.

syslog.*: libsinsp's syslog decoder runs on writes to an fd named like /dev/log and is valid only on that
event; the engine records its line in ``sysnb.info``, and the fields decode the same data again.
fdlist.nums comes from the poll/ppoll ``fds`` parameter; the other fdlist fields look each fd up in the
thread's fd table at the event, which the table does not keep. span.* and evtin.* need the tracer events
(PPME_TRACER_E/X) parsed into spans.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.fields.common import column, ids, parsed_before_filter
from sysnb.fields.context import FieldContext
from sysnb.fields.model import FieldRef
from sysnb.state import syslog


def decode(data: bytes) -> tuple[int, int, str] | None:
    """(facility, severity, message) of a syslog datagram (sinsp_decoder_syslog); the message prints as a C
    string, up to its first NUL."""
    parsed = syslog.decode(data)
    return None if parsed is None else (parsed[0], parsed[1], parsed[2].split("\0", 1)[0])


def _syslog(part: str) -> Any:
    def table_fn(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
        info = column(table, "sysnb.info")
        decoded = pc.fill_null(pc.starts_with(info, "syslog sev="), False)
        typ = pa.uint32() if part in ("facility", "severity") else pa.string()
        if ctx.capture_filter:  # a capture filter runs before the decoder, except on state-changing events
            decoded = pc.and_(decoded, parsed_before_filter(table))
        if not pc.any(decoded).as_py():
            return pa.nulls(table.num_rows, typ)
        values: list[Any] = []
        for ok, data in zip(decoded.to_pylist(), column(table, "evt.buffer").to_pylist(), strict=True):
            d = decode(data) if ok and data is not None else None
            values.append(None if d is None else _part(d, part))
        return pa.array(values, typ)
    return table_fn


def _part(d: tuple[int, int, str], part: str) -> Any:
    facility, severity, msg = d
    return {"facility": facility, "severity": severity, "message": msg,
            "facility.str": syslog.FACILITIES[facility] if facility < len(syslog.FACILITIES) else "<NA>",
            "severity.str": syslog.SEVERITIES[severity]}[part]


_POLL = {ids("SYSCALL_POLL_E")[0]: 0, ids("SYSCALL_POLL_X")[0]: 1, ids("SYSCALL_PPOLL_E")[0]: 0,
         ids("SYSCALL_PPOLL_X")[0]: 1}


def _fdlist_nums(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    """The fd numbers of a poll's ``fds`` argument, comma-separated (unset when there are none)."""
    types = column(table, "sysnb.type_id")
    mask = pc.is_in(types, value_set=pa.array(sorted(_POLL), pa.uint16()))
    if not pc.any(mask).as_py():
        return pa.nulls(table.num_rows, pa.string())
    out: list[str | None] = []
    for ok, t, params in zip(mask.to_pylist(), types.to_pylist(), column(table, "sysnb.params").to_pylist(),
                             strict=True):
        raw = params[_POLL[t]] if ok and params and len(params) > _POLL[t] else None
        out.append(_nums(raw) if raw is not None else None)
    return pa.array(out, pa.string())


def _nums(raw: bytes) -> str | None:
    if len(raw) < 2:
        return None
    n = int.from_bytes(raw[:2], "little")
    fds = [str(int.from_bytes(raw[2 + 10 * k:10 + 10 * k], "little", signed=True)) for k in range(n)
           if 2 + 10 * k + 8 <= len(raw)]
    return ",".join(fds) or None


_SYSLOG = ("sysnb.info", "evt.buffer")
_FDTABLE = "the thread's fd table at the event (name, type and ends of every fd of the poll)"
_TRACERS = "tracer events (PPME_TRACER_E/X, written to /dev/null) parsed into spans"
FIELDS: dict[str, dict[str, Any]] = {
    "syslog.facility.str": dict(columns=_SYSLOG, table=_syslog("facility.str")),
    "syslog.facility": dict(columns=_SYSLOG, table=_syslog("facility")),
    "syslog.severity.str": dict(columns=_SYSLOG, table=_syslog("severity.str")),
    "syslog.severity": dict(columns=_SYSLOG, table=_syslog("severity")),
    "syslog.message": dict(columns=_SYSLOG, table=_syslog("message")),
    "fdlist.nums": dict(columns=("sysnb.type_id", "sysnb.params"), table=_fdlist_nums),
    **{f"fdlist.{n}": dict(state=_FDTABLE) for n in ("names", "cips", "sips", "cports", "sports")},
    **{f"span.{n}": dict(state=_TRACERS) for n in ("id", "time", "ntags", "nargs", "tags", "args", "enterargs",
                                                   "duration", "duration.human")},
    **{f"span.{n}": dict(state=_TRACERS, arg="required") for n in ("tag", "arg", "enterarg")},
}
for scope in ("", "p.", "s.", "m."):
    for n in ("id", "ntags", "nargs", "tags", "args"):
        FIELDS[f"evtin.span.{scope}{n}"] = dict(state=_TRACERS)
    for n in ("tag", "arg"):
        FIELDS[f"evtin.span.{scope}{n}"] = dict(state=_TRACERS, arg="required")

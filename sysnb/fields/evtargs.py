"""evt.args, evt.info, evt.buffer, evt.arg.* and evt.rawarg.* as sysdig prints them.

The state engine stores ``evt.args`` rendered for sysdig's default output (buffers as dots, cut at 80
characters). Other buffer formats (``-A -x -X -b -j``), full buffers (``-v``) and a reading snaplen (``-s``)
re-render the byte-buffer parameters from the raw ones (``sysnb.params``), only on the rows of event types
that have such a parameter; everything else stays whole-column.
"""

from __future__ import annotations

import base64
import functools
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.fields.common import column
from sysnb.fields.context import FieldContext
from sysnb.fields.render import join
from sysnb.format.args import BUF_ASCII, BUF_HEXASCII, BUF_JSON, BUF_NORMAL
from sysnb.format.values import MAX_BUFFER_OUTPUT, buffer_ascii, buffer_dots, buffer_hex
from sysnb.scap.events import EVENTS, GENERIC_E, GENERIC_X, event_info, syscall_name

#: parameter types whose rendering may carry a "(resolved)" part
RESOLVABLE = frozenset({"FD", "PID", "ERRNO", "FSPATH", "FSRELPATH", "FLAGS8", "FLAGS16", "FLAGS32", "MODE",
                         "UID", "GID", "SYSCALLID", "SIGTYPE", "RELTIME"})
_DOTS = np.array([c if 0x20 <= c < 0x7F else 0x2E for c in range(256)], np.uint8)


@functools.cache
def bytebuf_params(type_id: int) -> dict[str, int]:
    """Names and positions of the byte-buffer parameters of an event type (2022 table)."""
    info = event_info(type_id)
    if info is None:
        return {}
    return {p[0]: k for k, p in enumerate(info.params_2022) if p[1] == "BYTEBUF"}


BUFFER_TYPES = pa.array(sorted(e.id for e in EVENTS if bytebuf_params(e.id)), pa.uint16())


def plain(ctx: FieldContext) -> bool:
    """Buffers print as the engine stored them (dots, cut at 80 characters)."""
    return ctx.bufmode == BUF_NORMAL and not ctx.full_buffers and ctx.snaplen is None and not ctx.base64


def render_buffer(data: bytes, ctx: FieldContext, payload: bool = True) -> str:
    """One buffer in the chosen format (libsinsp binary_buffer_to_string and m_max_evt_output_len); a reading
    snaplen (``-s`` with ``-r``) cuts I/O ``payload`` buffers only, as the driver's snaplen does (not clone's
    cgroups or execve's args, which are byte buffers too)."""
    if ctx.snaplen is not None and payload:
        data = data[:max(ctx.snaplen, 0)]
    if ctx.base64:
        return base64.b64encode(data).decode("ascii")
    if ctx.bufmode == BUF_ASCII:
        return buffer_ascii(data)
    if ctx.bufmode in (BUF_HEXASCII, "hex"):
        return buffer_hex(data, ctx.bufmode == BUF_HEXASCII)
    text = buffer_dots(data)
    if ctx.bufmode == BUF_NORMAL and not ctx.full_buffers and len(text) > MAX_BUFFER_OUTPUT:
        return text[:MAX_BUFFER_OUTPUT - 3] + "..."
    return text


def dots(data: pa.Array, cut: bool) -> pa.Array:
    """Byte buffers as text with non-printable bytes as ``.``, whole-column; ``cut`` at 80 characters."""
    data = data.cast(pa.binary()) if not pa.types.is_binary(data.type) else data
    bufs = data.buffers()
    raw = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    text = pa.Array.from_buffers(pa.string(), len(data), [bufs[0], bufs[1], pa.py_buffer(_DOTS[raw].tobytes())],
                                 null_count=data.null_count, offset=data.offset)
    if not cut:
        return text
    long = pc.greater(pc.utf8_length(text), MAX_BUFFER_OUTPUT)
    return pc.if_else(long, join(pc.utf8_slice_codeunits(text, 0, MAX_BUFFER_OUTPUT - 3), "..."), text)


def buffer_text(table: pa.Table, ctx: FieldContext) -> pa.Array:
    """evt.buffer as printed."""
    data = column(table, "evt.buffer")
    if ctx.bufmode in (BUF_NORMAL, BUF_JSON) and ctx.snaplen is None and not ctx.base64:
        return dots(data, cut=ctx.bufmode == BUF_NORMAL and not ctx.full_buffers)
    return pa.array([None if d is None else render_buffer(d, ctx) for d in data.to_pylist()], pa.string())


def args_text(table: pa.Table, ctx: FieldContext) -> pa.Array:
    """evt.args as printed: the stored text, with byte buffers re-rendered when the output asks for it."""
    args = pc.fill_null(column(table, "evt.args"), "")
    if plain(ctx):
        return args
    rows = np.flatnonzero(np.asarray(pc.is_in(column(table, "sysnb.type_id"), value_set=BUFFER_TYPES)
                                     .to_numpy(zero_copy_only=False), bool))
    if len(rows) == 0:
        return args
    sub = pa.array(rows)
    texts = args.take(sub).to_pylist()
    types = column(table, "sysnb.type_id").take(sub).to_pylist()
    params = column(table, "sysnb.params").take(sub).to_pylist()
    new = [_rerender(t, ty, p or [], ctx) for t, ty, p in zip(texts, types, params, strict=True)]
    mask = np.zeros(table.num_rows, bool)
    mask[rows] = True
    return pc.replace_with_mask(args, pa.array(mask), pa.array(new, pa.string()))


def _rerender(args: str, type_id: int, raw: list[bytes], ctx: FieldContext) -> str:
    bufs = bytebuf_params(type_id)
    if not args:
        return args
    out = []
    for name, value in split_args(args, type_id).items():
        k = bufs.get(name)
        if k is not None and k < len(raw) and raw[k]:
            value = render_buffer(raw[k], ctx, payload=name == "data")
        out.append(f"{name}={value} ")
    return "".join(out)


def info_text(table: pa.Table, ctx: FieldContext) -> pa.Array:
    """evt.info: a protocol decoder's line (syslog) where there is one, else evt.args."""
    return pc.coalesce(column(table, "sysnb.info"), args_text(table, ctx))


def split_args(args: str, type_id: int) -> dict[str, str]:
    """A rendered evt.args string split back into name -> value, using the event's parameter names."""
    info = event_info(type_id)
    if info is None or not args:
        return {}
    names = [p[0] for p in info.params_2022]
    out: dict[str, str] = {}
    pos = 0
    for k, n in enumerate(names):
        key = n + "="
        if not args.startswith(key, pos):
            break
        start = pos + len(key)
        end = len(args) - 1
        if k + 1 < len(names):
            nxt = args.find(" " + names[k + 1] + "=", start)
            end = nxt if nxt >= 0 else end
        out[n] = args[start:end]
        pos = end + 1
    return out


def arg_text(table: pa.Table, ctx: FieldContext, key: str | int) -> pa.Array:
    """evt.arg.NAME / evt.arg[N]: the resolved value when the argument has one, else its value (libsinsp).
    Whole-column per event type; generic syscall events answer ID (the syscall name) and nativeID."""
    from sysnb.filter.dynamic import evt_arg

    values = evt_arg(table, key) if plain(ctx) or not _has_buffer_arg(key) else _arg_rows(table, ctx, key)
    types = column(table, "sysnb.type_id")
    generic = pc.is_in(types, value_set=pa.array([GENERIC_E, GENERIC_X], pa.uint16()))
    if not pc.any(generic).as_py():
        return values
    which = {0: "ID", 1: "nativeID"}.get(key, str(key)) if isinstance(key, int) else key
    gen = _generic_arg(table, which)
    return pc.if_else(generic, gen, values)


def _has_buffer_arg(key: str | int) -> bool:
    return isinstance(key, int) or any(key in bytebuf_params(e.id) for e in EVENTS)


def _arg_rows(table: pa.Table, ctx: FieldContext, key: str | int) -> pa.Array:
    args = args_text(table, ctx).to_pylist()
    types = column(table, "sysnb.type_id").to_pylist()
    return pa.array([_arg_value(a or "", t, key) for a, t in zip(args, types, strict=True)], pa.string())


def _arg_value(args: str, type_id: int, key: str | int) -> str | None:
    parsed = split_args(args, type_id)
    info = event_info(type_id)
    types = {p[0]: p[1] for p in info.params_2022} if info is not None else {}
    if isinstance(key, int):
        keys = list(parsed)
        if key >= len(keys) or key < 0:
            return None
        key = keys[key]
    v = parsed.get(key)
    if v is None or types.get(key) not in RESOLVABLE or not v.endswith(")"):
        return v
    open_at = v.find("(")
    return v[open_at + 1:-1] if open_at > 0 and v[open_at + 1:-1] else v


def _generic_arg(table: pa.Table, which: str) -> pa.Array:
    """Generic syscall events print no arguments, but evt.arg.ID is the syscall's name, nativeID its number."""
    from sysnb.fields.common import decode_ints

    params = column(table, "sysnb.params")
    if which == "ID":
        codes = decode_ints(pc.list_element(_padded_lists(params, 1), 0), "UINT16").to_pylist()
        return pa.array([None if c is None else syscall_name(c) for c in codes], pa.string())
    if which == "nativeID":
        return decode_ints(pc.list_element(_padded_lists(params, 2), 1), "UINT16").cast(pa.string())
    return pa.nulls(table.num_rows, pa.string())


def _padded_lists(params: pa.Array, n: int) -> pa.Array:
    """Lists with at least ``n`` elements (shorter ones padded with nulls), so list_element never fails."""
    short = pc.less(pc.fill_null(pc.list_value_length(params), 0), n)
    pad = pa.array([[None] * n], pa.list_(pa.binary()))
    return pc.if_else(short, pad.take(pa.array(np.zeros(len(params), np.int64))), params)


@functools.cache
def rawarg_type(name: str) -> str | None:
    """The type libsinsp gives evt.rawarg.NAME: that of the first parameter so named in its event table
    (find_longest_matching_evt_param), whatever the event."""
    for e in EVENTS[:336]:
        for p in e.params_2022:
            if p[0] == name:
                return p[1]
    return None


def raw_param(table: pa.Table, name: str) -> pa.Array:
    """The raw bytes of the parameter called ``name`` of every event (null where it has none)."""
    from sysnb.fields.common import param_bytes

    where = {}
    for t in pc.unique(column(table, "sysnb.type_id")).to_pylist():
        info = event_info(int(t)) if t is not None else None
        names = [p[0] for p in info.params_2022] if info is not None else []
        if name in names:
            where[int(t)] = names.index(name)
    return param_bytes(table, where)


_NO_TEXT = frozenset({"INT8", "INT16", "INT32", "UINT8", "UINT16", "UINT32", "UINT64", "RELTIME", "ABSTIME",
                      "PORT", "L4PROTO"})


def rawarg_text(table: pa.Table, name: str) -> pa.Array:
    """evt.rawarg.NAME as sysdig prints it: the raw value read as the type of the first parameter so named
    (rawval_to_string with no print format): 64-bit integers in decimal, strings as they are, unset for the
    other integer types. (For FD, flag and other types sysdig stops with "wrong event type"; sysnb prints the
    number.)"""
    typ = rawarg_type(name)
    raw = raw_param(table, name)
    if typ is None or typ in _NO_TEXT:
        return pa.nulls(table.num_rows, pa.string())
    values = raw.to_pylist()
    if typ in ("CHARBUF", "FSPATH", "FSRELPATH", "BYTEBUF"):
        return pa.array([None if v is None else v.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                         for v in values], pa.string())
    if typ == "BOOL":
        return pa.array([None if v is None else "true" if int.from_bytes(v[:4], "little") else "false"
                         for v in values], pa.string())
    if typ == "IPV4ADDR":
        return pa.array([None if v is None or len(v) < 4 else ".".join(str(b) for b in v[:4]) for v in values],
                        pa.string())
    return pa.array([None if v is None else str(int.from_bytes(v[:8], "little", signed=True)) for v in values],
                    pa.string())


_TUPLE = re.compile(r"(\d+\.\d+\.\d+\.\d+|[0-9a-fA-F:]*:[0-9a-fA-F:.]+):(\d+)")

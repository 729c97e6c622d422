"""Building blocks shared by the field definitions: event-type sets, raw parameters, projections."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb import exprs
from sysnb.fields.model import call
from sysnb.scap import events as E

SYM = {e.symbol: e.id for e in E.EVENTS}
#: parameter type -> numpy dtype of its raw little-endian bytes, for the integer ones
NUMERIC_DTYPES = {"INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8", "UINT8": "<u1", "UINT16": "<u2",
                  "UINT32": "<u4", "UINT64": "<u8", "FD": "<i8", "FD32": "<i4", "PID": "<i8", "ERRNO": "<i8",
                  "FLAGS8": "<u1", "FLAGS16": "<u2", "FLAGS32": "<u4", "MODE": "<u4", "UID": "<u4", "GID": "<u4",
                  "SYSCALLID": "<u2", "SIGTYPE": "<u1", "RELTIME": "<u8", "ABSTIME": "<u8", "PORT": "<u2",
                  "L4PROTO": "<u1", "SOCKFAMILY": "<u1", "BOOL": "<u4", "ENUMFLAGS8": "<u1", "ENUMFLAGS16": "<u2",
                  "ENUMFLAGS32": "<u4", "SIGSET": "<u4"}


def ids(*symbols: str) -> tuple[int, ...]:
    return tuple(sorted(SYM[s] for s in symbols))


def flags_of(e: E.EventInfo) -> frozenset[str]:
    return e.flags_2022 if e.known_2022 else e.flags


@functools.cache
def ids_with(*flags: str) -> tuple[int, ...]:
    """Event types carrying one of these flags (the 2022 table's flags where sysdig 0.29.3 knows the type)."""
    return tuple(e.id for e in E.EVENTS if flags_of(e) & set(flags))


def parsed_before_filter(table: pa.Table) -> pa.Array:
    """Rows of events libsinsp parses before running the capture filter on them: those that change state
    (EF_MODIFIES_STATE); the others are filtered first, before protocol decoders and parsers saw them."""
    return pc.is_in(column(table, "sysnb.type_id"), value_set=pa.array(ids_with("MODIFIES_STATE"), pa.uint16()))


def type_in(type_ids: Iterable[int]) -> pc.Expression:
    """``sysnb.type_id`` is one of these event types (false, not null, when there is no type)."""
    return pc.field("sysnb.type_id").isin(pa.array(sorted(type_ids), pa.uint16()))


def sql_in(type_ids: Iterable[int]) -> str:
    return f'("sysnb.type_id" IN ({", ".join(map(str, sorted(type_ids))) or "NULL"}))'


def is_exit() -> pc.Expression:
    return call("equal", call("bit_wise_and", pc.field("sysnb.type_id"), pc.scalar(pa.scalar(1, pa.uint16()))),
                pc.scalar(pa.scalar(1, pa.uint16())))


def project(table: pa.Table, expr: pc.Expression) -> pa.Array:
    """``expr`` evaluated over ``table``, as one array."""
    out = exprs.project(table, {"v": expr})["v"]
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def column(table: pa.Table, name: str) -> pa.Array:
    """A stored column as one (decoded) array."""
    col = table[name].combine_chunks() if isinstance(table[name], pa.ChunkedArray) else table[name]
    return col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col


def scatter(n: int, rows: np.ndarray, values: pa.Array, typ: pa.DataType) -> pa.Array:
    """A length-n null array with ``values`` at positions ``rows`` (rows sorted ascending)."""
    if len(rows) == 0:
        return pa.nulls(n, typ)
    mask = np.zeros(n, bool)
    mask[rows] = True
    return pc.replace_with_mask(pa.nulls(n, typ), pa.array(mask), values.cast(typ))


def param_ints(table: pa.Table, where: dict[int, tuple[int, str]]) -> pa.Array:
    """An int64 column: for rows of the event types in ``where`` (type id -> (parameter index, PT type)),
    the raw parameter decoded as a little-endian integer; null elsewhere or when the parameter is missing."""
    types = np.asarray(column(table, "sysnb.type_id").to_numpy(zero_copy_only=False), np.int64)
    out_rows, out_vals = [], []
    params = None
    for type_id, (k, ptype) in where.items():
        rows = np.flatnonzero(types == type_id)
        if len(rows) == 0:
            continue
        if params is None:
            params = column(table, "sysnb.params")
        lists = params.take(pa.array(rows))
        ok = np.asarray(pc.fill_null(pc.greater(pc.list_value_length(lists), k), False)
                        .to_numpy(zero_copy_only=False), bool)
        rows, lists = rows[ok], lists.filter(pa.array(ok))
        if len(rows) == 0:
            continue
        out_rows.append(rows)
        out_vals.append(decode_ints(pc.list_element(lists, k), ptype))
    if not out_rows:
        return pa.nulls(table.num_rows, pa.int64())
    rows = np.concatenate(out_rows)
    order = np.argsort(rows, kind="stable")
    values = pa.concat_arrays(out_vals).take(pa.array(order))
    return scatter(table.num_rows, rows[order], values, pa.int64())


def param_bytes(table: pa.Table, where: dict[int, int]) -> pa.Array:
    """The raw bytes of one parameter (type id -> parameter index) of the rows of those event types."""
    types = np.asarray(column(table, "sysnb.type_id").to_numpy(zero_copy_only=False), np.int64)
    out_rows, out_vals = [], []
    for type_id, k in where.items():
        rows = np.flatnonzero(types == type_id)
        if len(rows) == 0:
            continue
        lists = column(table, "sysnb.params").take(pa.array(rows))
        ok = np.asarray(pc.fill_null(pc.greater(pc.list_value_length(lists), k), False)
                        .to_numpy(zero_copy_only=False), bool)
        if ok.any():
            out_rows.append(rows[ok])
            out_vals.append(pc.list_element(lists.filter(pa.array(ok)), k))
    if not out_rows:
        return pa.nulls(table.num_rows, pa.binary())
    rows = np.concatenate(out_rows)
    order = np.argsort(rows, kind="stable")
    return scatter(table.num_rows, rows[order], pa.concat_arrays(out_vals).take(pa.array(order)), pa.binary())


def decode_ints(raw: pa.Array, ptype: str) -> pa.Array:
    """Little-endian integers of the parameter's width, gathered from the binary array's data buffer (null where
    the value has another length)."""
    dtype = np.dtype(NUMERIC_DTYPES.get(ptype, "<i8"))
    width = dtype.itemsize
    raw = raw.cast(pa.binary()) if not pa.types.is_binary(raw.type) else raw
    lengths = np.asarray(pc.fill_null(pc.binary_length(raw), -1).to_numpy(zero_copy_only=False), np.int64)
    ok = lengths == width
    offsets = np.frombuffer(raw.buffers()[1], np.int32)[raw.offset:raw.offset + len(raw) + 1]
    data = np.frombuffer(raw.buffers()[2], np.uint8) if raw.buffers()[2] is not None else np.zeros(0, np.uint8)
    starts = offsets[:-1][ok].astype(np.int64)
    gathered = data[starts[:, None] + np.arange(width)].reshape(-1).view(dtype) if ok.any() else np.zeros(0, dtype)
    values = np.zeros(len(raw), np.int64)
    values[ok] = gathered.astype(np.int64)  # UINT64 above 2^63 wraps to negative, as an int64 field would
    return pa.array(values, pa.int64(), mask=~ok)


def ordered_delta(values: pa.Array) -> pa.Array:
    """libsinsp's per-check "previous value" state: each row minus the row before it (0 for the first)."""
    v = np.asarray(pc.fill_null(values.cast(pa.int64(), safe=False), 0).to_numpy(zero_copy_only=False), np.int64)
    out = np.zeros(len(v), np.int64)
    out[1:] = v[1:] - v[:-1]
    return pa.array(out, pa.int64())


def host_cid() -> pc.Expression:
    """The thread's raw container id: "" on the host (the table stores "host")."""
    cid = pc.field("container.id").cast(pa.string())
    return call("if_else", call("equal", cid, pc.scalar("host")), pc.scalar(""), cid)

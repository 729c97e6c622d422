"""Whole-column text rendering of field values as libsinsp prints them (rawval_to_string, ts_to_string,
format_time): numbers, booleans, times of day, dates, ISO 8601 and human-readable durations."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NS = 1_000_000_000


def local_offset() -> int:
    """libsinsp's gmt2local(0): the local time zone's offset now (not at the event), in seconds."""
    return time.localtime().tm_gmtoff


def padded(values: pa.Array, width: int) -> pa.Array:
    """Decimal text of non-negative integers, zero-padded to ``width`` digits (printf ``%0Nu``)."""
    return pc.utf8_lpad(values.cast(pa.string()), width=width, padding="0")


def join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and literals (null when any part is null)."""
    arrays = [p if isinstance(p, (pa.Array, pa.ChunkedArray)) else pa.scalar(p, pa.string()) for p in parts]
    return pc.binary_join_element_wise(*arrays, "")


def _ints(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(values as int64 with nulls as 0, validity mask)."""
    valid = np.asarray(pc.is_valid(values).to_numpy(zero_copy_only=False), bool)
    ints = np.asarray(pc.fill_null(values.cast(pa.int64(), safe=False), 0).to_numpy(zero_copy_only=False), np.int64)
    return ints, valid


def _arr(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(values, pa.int64(), mask=~valid)


def clock(ts: pa.Array, ns: bool = True, offset: int | None = None) -> pa.Array:
    """``HH:MM:SS.nnnnnnnnn`` (``HH:MM:SS`` without ``ns``) in local time, as sinsp_utils::ts_to_string."""
    t, valid = _ints(ts.cast(pa.uint64()))
    off = local_offset() if offset is None else offset
    sec = t // NS
    s = (sec + off) % 86400
    out = join(padded(_arr(s // 3600, valid), 2), ":", padded(_arr(s % 3600 // 60, valid), 2), ":",
               padded(_arr(s % 60, valid), 2))
    return join(out, ".", padded(_arr(t % NS, valid), 9)) if ns else out


def date(ts: pa.Array, offset: int | None = None) -> pa.Array:
    """``YYYY-MM-DD`` of the local day (ts_to_string with date)."""
    t, valid = _ints(ts.cast(pa.uint64()))
    off = local_offset() if offset is None else offset
    days = ((t // NS + off) // 86400).astype("datetime64[D]")
    return pa.array(np.datetime_as_string(days, unit="D"), pa.string(), mask=~valid)


def datetime(ts: pa.Array, ns: bool = True) -> pa.Array:
    off = local_offset()
    return join(date(ts, off), " ", clock(ts, ns, off))


def iso8601(ts: pa.Array) -> pa.Array:
    """``YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000`` (UTC), as sinsp_utils::ts_to_iso_8601."""
    return join(date(ts, 0), "T", clock(ts, True, 0), "+0000")


def numbers(values: pa.Array, fmt: str = "DEC") -> pa.Array:
    """Integers as rawval_to_string prints them: decimal, ``%09`` (PADDED) or upper-case hex (HEX)."""
    if fmt == "PADDED":
        ints = values.cast(pa.int64(), safe=False) if not pa.types.is_integer(values.type) else values
        return padded(ints, 9)
    if fmt == "HEX":
        return pa.array([None if v is None else f"{v & 0xFFFFFFFF:X}" for v in values.to_pylist()], pa.string())
    if fmt == "DOUBLE":
        uniq = pc.unique(values)
        text = pa.array([None if v is None else f"{v:.1f}" for v in uniq.to_pylist()], pa.string())
        return text.take(pc.index_in(values, value_set=uniq))
    return values.cast(pa.string())


def booleans(values: pa.Array) -> pa.Array:
    return pc.if_else(values.cast(pa.bool_()), pa.scalar("true"), pa.scalar("false"))


def human_duration(ns: pa.Array) -> pa.Array:
    """A duration as format_time prints it: ``10.3ms``, ``1.10s``, ``2:05``, ``01:02:03``, ``777ns``."""
    v, valid = _ints(ns)
    v = np.maximum(v, 0)

    def num(x: np.ndarray, width: int = 0) -> pa.Array:
        a = _arr(x, valid).cast(pa.string())
        return pc.utf8_lpad(a, width=width, padding="0") if width else a

    us, ms, s = 1_000, 1_000_000, NS
    conds = [v >= 3600 * s, v >= 60 * s, v >= s, v >= s // 100, v >= s // 1000, v >= s // 100000, v >= s // 1000000]
    choices = [
        join(num(v // (3600 * s), 2), ":", num(v // (60 * s) % 60, 2), ":", num(v // s % 60, 2)),
        join(num(v // (60 * s)), ":", num(v // s % 60)),
        join(num(v // s), ".", num(v % s // 10_000_000, 2), "s"),
        join(num(v // ms), "ms"),
        join(num(v // ms), ".", num(v % ms // 10_000, 2), "ms"),
        join(num(v // us), "us"),
        join(num(v // us), ".", num(v % us // 10, 2), "us"),
    ]
    out = join(num(v), "ns")
    for cond, text in reversed(list(zip(conds, choices, strict=True))):
        out = pc.if_else(pa.array(cond), text, out)
    return pc.if_else(pa.array(valid), out, pa.scalar(None, pa.string()))

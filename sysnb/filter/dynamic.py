"""Filter fields computed from the table when a filter is evaluated (not stored as columns).

- ``evt.arg.NAME`` / ``evt.arg[N]``: the rendered argument (its resolved part when it has one, as libsinsp),
  cut out of evt.args per event type with one regex per type; ``evt.rawarg.NAME``: the raw value, numbers
  decoded from the stored parameters with numpy.
- ``proc.aname[N]`` / ``proc.apid[N]`` and, without an index, "any ancestor": from the ancestor chains the
  state engine records per thread snapshot (``sysnb.aname``/``sysnb.apid``).
- ``fd.snet`` / ``fd.cnet`` (and ``fd.net``): CIDR membership, decided once per distinct address.
- ``b64(...)``: Falco's base64-decoding transformer, once per distinct value.

Each function returns an array aligned with the table's rows (null where the field has no value).
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.fields.common import NUMERIC_DTYPES as _NUMERIC
from sysnb.fields.common import decode_ints as decode_ints  # re-exported for the chisels
from sysnb.fields.evtargs import RESOLVABLE
from sysnb.scap.events import EVENTS, event_info


def _params(type_id: int) -> tuple[tuple[str, str], ...]:
    info = event_info(type_id)
    return tuple((p[0], p[1]) for p in info.params_2022) if info is not None else ()


@functools.cache
def rawarg_is_numeric(name: str) -> bool:
    """evt.rawarg.NAME compares as a number when every event type's NAME parameter is an integer."""
    kinds = {p[1] for e in EVENTS for p in e.params_2022 if p[0] == name}
    return bool(kinds) and all(k in _NUMERIC for k in kinds)


def _scatter(n: int, parts: list[tuple[np.ndarray, pa.Array]], typ: pa.DataType) -> pa.Array:
    """Rows ``idx`` of a length-n null array set to ``values``, for every (idx, values) part."""
    if not parts:
        return pa.nulls(n, typ)
    idx = np.concatenate([p[0] for p in parts])
    values = pa.concat_arrays([p[1].cast(typ) for p in parts])
    order = np.argsort(idx, kind="stable")
    mask = np.zeros(n, bool)
    mask[idx] = True
    return pc.replace_with_mask(pa.nulls(n, typ), pa.array(mask), values.take(pa.array(order)))


def _groups(table: pa.Table) -> list[tuple[int, np.ndarray]]:
    types = np.asarray(table["sysnb.type_id"].to_numpy(), np.int64)
    return [(int(t), np.flatnonzero(types == t)) for t in np.unique(types)]


def evt_arg(table: pa.Table, key: str | int) -> pa.Array:
    """evt.arg.NAME (key a name) or evt.arg[N] (key an index), as strings."""
    args = table["evt.args"].combine_chunks()
    parts = []
    for type_id, rows in _groups(table):
        params = _params(type_id)
        names = [p[0] for p in params]
        k = key if isinstance(key, int) else (names.index(key) if key in names else -1)
        if k < 0 or k >= len(names):
            continue
        nxt = f" {names[k + 1]}=" if k + 1 < len(names) else " $"
        pattern = f"(?s)(?:^| ){names[k]}=(?P<v>.*?)(?:{nxt}| ?$)"
        values = pc.struct_field(pc.extract_regex(args.take(pa.array(rows)), pattern), [0])
        if params[k][1] in RESOLVABLE:  # "3(<f>/etc/passwd)" -> "<f>/etc/passwd"
            inner = pc.struct_field(pc.extract_regex(values, r"(?s)^[^(]+\((?P<r>.+)\)$"), [0])
            values = pc.coalesce(inner, values)
        parts.append((rows, values))
    return _scatter(table.num_rows, parts, pa.string())


def evt_rawarg(table: pa.Table, name: str) -> pa.Array:
    """evt.rawarg.NAME: int64 for integer parameters, else the bytes as a string."""
    numeric = rawarg_is_numeric(name)
    params_col = table["sysnb.params"].combine_chunks()
    parts = []
    for type_id, rows in _groups(table):
        params = _params(type_id)
        k = next((i for i, p in enumerate(params) if p[0] == name), -1)
        if k < 0:
            continue
        lists = params_col.take(pa.array(rows))
        long_enough = pc.greater(pc.list_value_length(lists), k).to_numpy(zero_copy_only=False)
        rows, lists = rows[long_enough], lists.filter(pa.array(long_enough))
        raw = pc.list_element(lists, k) if len(lists) else pa.array([], pa.binary())
        parts.append((rows, decode_ints(raw, params[k][1]) if numeric else raw.cast(pa.string(), safe=False)))
    return _scatter(table.num_rows, parts, pa.int64() if numeric else pa.string())


def _chains(table: pa.Table, field: str) -> pa.ListArray:
    return table["sysnb." + field.split(".")[1]].combine_chunks()


def ancestor_at(table: pa.Table, field: str, level: int) -> pa.Array:
    """proc.aname[N] / proc.apid[N]."""
    chains = _chains(table, field)
    lengths = np.asarray(pc.fill_null(pc.list_value_length(chains), 0).to_numpy(), np.int64)
    offsets = np.asarray(chains.offsets.to_numpy(), np.int64)[:-1]
    ok = lengths > level
    if not ok.any():
        return pa.nulls(len(chains), chains.type.value_type)
    picked = chains.values.take(pa.array(np.where(ok, offsets + level, 0)))
    return pc.if_else(pa.array(ok), picked, pa.scalar(None, picked.type))


def any_ancestor(table: pa.Table, field: str, test: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """proc.aname / proc.apid without an index: true when ``test`` holds for one of the ancestors
    (levels 1 and up: libsinsp's traverse_parent_state visits the parents, not the process)."""
    chains = _chains(table, field)
    n = table.num_rows
    lengths = np.asarray(pc.fill_null(pc.list_value_length(chains), 0).to_numpy(), np.int64)
    owner = np.repeat(np.arange(n), lengths)
    level = np.arange(len(owner)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    values = pc.list_flatten(chains)
    hits = np.asarray(pc.fill_null(test(values), False).to_numpy(zero_copy_only=False), bool) & (level >= 1)
    return pa.array(np.bincount(owner[hits], minlength=n) > 0)


def in_networks(table: pa.Table, column: str, cidrs: list[str]) -> pa.Array:
    """The column's address lies in one of the networks (each distinct address tested once)."""
    nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    col = table[column].combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    inside = []
    for value in pc.unique(col).to_pylist():
        try:
            addr = ipaddress.ip_address(value) if value else None
        except ValueError:
            addr = None
        if addr is not None and any(addr.version == n.version and addr in n for n in nets):
            inside.append(value)
    return pc.fill_null(pc.is_in(col, value_set=pa.array(inside, pa.string())), False)


def b64_decode(values: pa.Array) -> pa.Array:
    """Falco's b64(): the base64-decoded value (null when it is not base64)."""
    strings = values.cast(pa.string()) if not pa.types.is_string(values.type) else values

    def one(v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return base64.b64decode(v, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return None
    uniq = pc.unique(strings)
    decoded = pa.array([one(v) for v in uniq.to_pylist()], pa.string())
    return decoded.take(pc.index_in(strings, value_set=uniq))

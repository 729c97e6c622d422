"""What a field is: its name, type and description, the stored columns it reads, and how it is computed.

A field is computed in one of two ways, both whole-column:

* ``expr(ref, ctx)``: a ``pyarrow.compute`` expression over stored columns (usable inside filter
  expressions and projections as is);
* ``table(ref, table, ctx)``: an array computed from the table (per event type, per distinct value, or in
  event order for fields with state across events such as ``evt.deltatime``).

``sql(ref, ctx)`` is the same value as a DuckDB expression (None when there is none: such fields are filtered
with Arrow). ``text(ref, table, ctx)`` overrides how the value prints (``-p``), ``json(ref, table, ctx)`` how
it appears in ``-j`` output. Fields whose per-event state the engine does not track yet name that state in
``state`` and evaluate to null (printed ``<NA>``); docs/fields-state-needed.md lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from sysnb.fields.context import FieldContext

STRING_TYPES = frozenset({"CHARBUF", "FSPATH", "FSRELPATH"})
NUMERIC_TYPES = frozenset({"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "RELTIME",
                           "ABSTIME", "PORT", "DOUBLE", "PID", "ERRNO", "FD", "L4PROTO", "SOCKFAMILY"})
IP_TYPES = frozenset({"IPADDR", "IPV4ADDR", "IPV6ADDR"})

ExprFn = Callable[["FieldRef", "FieldContext"], pc.Expression]
TableFn = Callable[["FieldRef", pa.Table, "FieldContext"], pa.Array]
SqlFn = Callable[["FieldRef", "FieldContext"], "str | None"]
JsonFn = Callable[["FieldRef", pa.Table, "FieldContext"], list[Any]]


@dataclass(frozen=True)
class Field:
    """One field of the registry (see the module docstring)."""

    name: str
    type: str
    description: str
    cls: str = ""
    columns: tuple[str, ...] = ()
    expr: ExprFn | None = None
    table: TableFn | None = None
    sql: SqlFn | None = None
    text: TableFn | None = None
    json: JsonFn | None = None
    fmt: str = "DEC"  # how numbers print: DEC, PADDED (%09), HEX (%X), DOUBLE (%.1f)
    arg: str | None = None  # "required" / "optional": the name takes an argument (evt.arg.fd, proc.aname[2])
    filter_only: bool = False
    hidden: bool = False  # usable but not listed (sysdig's table-only and print-only fields)
    extension: bool = False  # beyond sysdig 0.29.3
    state: str | None = None  # per-event state the engine does not track yet: the value is null until it does
    ordered: bool = False  # the value depends on the events evaluated before (evt.deltatime, thread.exectime)
    extras: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def kind(self) -> str:
        """How filters compare it: string, numeric, bool, binary, ip or net."""
        if self.type in STRING_TYPES:
            return "string"
        if self.type == "BOOL":
            return "bool"
        if self.type == "BYTEBUF":
            return "binary"
        if self.type in IP_TYPES:
            return "ip"
        if self.type == "IPNET":
            return "net"
        if self.type == "DYNAMIC":
            return "dynamic"
        return "numeric"


@dataclass(frozen=True)
class FieldRef:
    """A field as named in a filter or a format: the registry entry plus its argument, if any
    (``evt.arg.fd`` -> field evt.arg, arg "fd"; ``proc.aname[2]`` -> arg "2"; ``proc.aname`` -> None)."""

    field: Field
    name: str
    arg: str | None = None
    index: int | None = None  # the argument as a number when it is one (``[2]``)

    @property
    def kind(self) -> str:
        return self.field.kind

    @property
    def type(self) -> str:
        return self.field.type


def call(fn: str, *args: pc.Expression, options: object = None) -> pc.Expression:
    """A compute function applied to expressions (``pc.Expression._call`` under a short name)."""
    return pc.Expression._call(fn, list(args), options)


def null(typ: pa.DataType) -> pc.Expression:
    return pc.scalar(pa.scalar(None, typ))


def col_str(name: str) -> pc.Expression:
    """A stored column as plain strings (the engine dictionary-encodes most text columns)."""
    return pc.field(name).cast(pa.string())

"""The field registry: every field sysnb knows, from one table.

Every field sysdig 0.29.3 lists (sysdig_list.py, generated from sysdig itself) with its name, type, class
and description, joined with its implementation (evt.py, process.py, user.py, container.py, fd.py,
misc.py); fields sysdig does not list (its print-only and table-only ones) and Falco's newer fields
(extensions.py) follow. Importing this module fails if a listed field has no implementation.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.errors import UsageError
from sysnb.exprs import project as project_table
from sysnb.fields import container, evt, extensions, fd, misc, process, user
from sysnb.fields import render as T
from sysnb.fields.common import project
from sysnb.fields.context import FieldContext
from sysnb.fields.model import Field, FieldRef
from sysnb.fields.sysdig_list import CLASSES

_IMPL: dict[str, dict[str, Any]] = {**evt.FIELDS, **process.FIELDS, **user.FIELDS, **container.FIELDS, **fd.FIELDS,
                                    **misc.FIELDS}
EXTENSION_CLASS = ("sysnb", "extensions", "Fields beyond sysdig 0.29.3: newer Falco fields that Falco's rules use. "
                   "Those whose data the capture does not carry evaluate to <NA>.")


def _build() -> tuple[dict[str, Field], list[tuple[str, str, str, list[str]]]]:
    fields: dict[str, Field] = {}
    classes: list[tuple[str, str, str, list[str]]] = []
    for cls, short, desc, entries in CLASSES:
        names = []
        for name, typ, description, filter_only in entries:
            impl = _IMPL.get(name)
            if impl is None:
                raise RuntimeError(f"field {name} of sysdig 0.29.3 has no implementation in sysnb.fields")
            fields[name] = Field(name, typ, description, cls, **{**impl, "filter_only": filter_only})
            names.append(name)
        classes.append((cls, short, desc, names))
    for name, (typ, description, impl) in {**evt.HIDDEN, **process.HIDDEN}.items():
        fields[name] = Field(name, typ, description, "", hidden=True, **{**_IMPL.get(name, {}), **impl})
    ext = []
    for name, (typ, description, impl) in extensions.EXTENSIONS.items():
        fields[name] = Field(name, typ, description, EXTENSION_CLASS[0], extension=True, **impl)
        ext.append(name)
    classes.append((*EXTENSION_CLASS, ext))
    return fields, classes


FIELDS, FIELD_CLASSES = _build()
_BY_LENGTH = sorted(FIELDS, key=len, reverse=True)
_NAME_CHARS = re.compile(r"[A-Za-z0-9_]+")
_LABEL_CHARS = re.compile(r"[A-Za-z0-9_./-]+")


def _all_param_names() -> list[str]:
    from sysnb.scap.events import EVENTS

    return sorted({p[0] for e in EVENTS for p in e.params_2022}, key=len, reverse=True)


_PARAMS = _all_param_names()


def _bracket(rest: str) -> tuple[str, int] | None:
    """``[ARG]`` at the start of ``rest``: (ARG, characters consumed)."""
    if not rest.startswith("["):
        return None
    end = rest.find("]")
    return (rest[1:end], end + 1) if end > 0 else None


def _parse_arg(f: Field, rest: str) -> tuple[str | None, int]:
    """The argument of ``f`` at the start of ``rest`` and how many characters it takes (0: none)."""
    name = f.name
    if name in ("evt.arg", "evt.rawarg", "span.arg", "span.enterarg", "evtin.span.arg", "evtin.span.p.arg",
                "evtin.span.s.arg", "evtin.span.m.arg"):
        if name != "evt.rawarg" and (b := _bracket(rest)):
            return b
        if rest.startswith("."):
            if name in ("evt.arg", "evt.rawarg"):  # find_longest_matching_evt_param
                param = next((p for p in _PARAMS if rest.startswith(p, 1)), None)
                return (param, len(param) + 1) if param else (None, 0)
            m = _NAME_CHARS.match(rest, 1)
            return (m.group(0), m.end()) if m else (None, 0)
        return None, 0
    if name == "evt.type.is" or name == "thread.cgroup" or name.endswith(".label"):
        pattern = _LABEL_CHARS if name.endswith(".label") else _NAME_CHARS
        m = pattern.match(rest, 1) if rest.startswith(".") else None
        return (m.group(0), m.end()) if m else (None, 0)
    if name == "evt.abspath":
        for suffix in ("src", "dst"):
            if rest.startswith("." + suffix):
                return suffix, len(suffix) + 1
        return None, 0
    b = _bracket(rest)
    return b if b else (None, 0)


def _ref(f: Field, arg: str | None, token: str) -> FieldRef:
    index = int(arg) if arg is not None and re.fullmatch(r"-?\d+", arg) else None
    return FieldRef(f, token, arg, index)


def match(text: str) -> tuple[FieldRef, int] | None:
    """The field at the start of ``text`` (the longest field name it starts with, then its argument), and the
    number of characters it takes; as libsinsp's parse_field_name for format strings."""
    for name in _BY_LENGTH:
        if text.startswith(name):
            f = FIELDS[name]
            rest = text[len(name):]
            arg, used = _parse_arg(f, rest) if f.arg else (None, 0)
            return _ref(f, arg, text[:len(name) + used]), len(name) + used
    return None


def resolve(name: str) -> FieldRef | None:
    """The field named exactly ``name`` (a filter operand), or None."""
    found = match(name)
    if found is None or found[1] != len(name):
        return None
    return found[0]


def lookup(name: str, where: str = "") -> FieldRef:
    """:func:`resolve`, raising :class:`UsageError` with suggestions for an unknown name."""
    ref = resolve(name)
    if ref is None:
        raise UsageError(f"unknown field '{name}'{where}{hint(name)}")
    if ref.field.arg == "required" and ref.arg is None and not ref.field.filter_only:
        raise UsageError(f"field '{name}' needs an argument, e.g. {example(ref.field)}{where}")
    return ref


def example(f: Field) -> str:
    return {"evt.arg": "evt.arg.fd or evt.arg[0]", "evt.rawarg": "evt.rawarg.res", "evt.type.is": "evt.type.is.open",
            "thread.cgroup": "thread.cgroup.cpuacct", "evt.around": "evt.around[1404996934793590564]=1000"}.get(
        f.name, f"{f.name}[0]")


def hint(name: str) -> str:
    close = difflib.get_close_matches(name, [n for n, f in FIELDS.items() if not f.hidden], n=3)
    return f"; did you mean {', '.join(close)}?" if close else "; `sysnb -l` lists the fields"


def value_type(f: Field) -> pa.DataType:
    if f.kind in ("string", "ip", "net"):
        return pa.string()
    if f.kind == "bool":
        return pa.bool_()
    if f.kind == "binary":
        return pa.binary()
    if f.type == "DOUBLE":
        return pa.float64()
    return pa.int64()


def expression(ref: FieldRef, ctx: FieldContext) -> pc.Expression | None:
    """The field as an expression over stored columns, when it is one."""
    f = ref.field
    if f.state or f.expr is None or (ctx.fdinfo_lost is not None and f.name in LOST_FDINFO):
        return None
    return f.expr(ref, ctx)


def evaluate(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    """The field's values for every row of ``table`` (null where the event has none)."""
    f = ref.field
    if f.state:
        return pa.nulls(table.num_rows, value_type(f))
    if f.table is not None:
        values = f.table(ref, table, ctx)
    elif f.expr is not None:
        values = project(table, f.expr(ref, ctx))
    else:
        raise UsageError(f"{ref.name} can only be used in filters")
    if ctx.fdinfo_lost is not None and f.name in LOST_FDINFO:
        values = pc.if_else(ctx.fdinfo_lost, LOST_FDINFO[f.name](table), values)
    return values


def _lost_category(table: pa.Table) -> pa.Array:
    from sysnb.fields.evt import IO_CATEGORIES

    cat = project(table, pc.field("evt.category").cast(pa.string()))
    io = pc.is_in(project(table, pc.field("sysnb.type_id")), value_set=IO_CATEGORIES)
    return pc.if_else(io, pa.scalar("unknown"), cat)


def _lost_count(name: str) -> Any:
    def fn(table: pa.Table) -> pa.Array:
        from sysnb.fields.evt import lost_error_count

        return lost_error_count(table, name)
    return fn


#: fields read from the event's fd (evt->m_fdinfo), and their value when libsinsp has none for the event
LOST_FDINFO: dict[str, Any] = {
    "evt.buflen": lambda t: pa.nulls(t.num_rows, pa.int64()),
    "evt.is_syslog": lambda t: pa.array([False] * t.num_rows, pa.bool_()),
    "evt.category": _lost_category,
    **{n: _lost_count(n) for n in ("evt.count.error.file", "evt.count.error.net", "evt.count.error.other")},
}


def text(ref: FieldRef, table: pa.Table, ctx: FieldContext, value: pa.Array | None = None) -> pa.Array:
    """The field as ``-p`` prints it, one string per row (null: the value is missing); ``value`` is the field's
    value when already computed (texts_of computes expressions together)."""
    f = ref.field
    if f.state:
        return pa.nulls(table.num_rows, pa.string())
    if f.text is not None:
        return f.text(ref, table, ctx)
    return to_text(evaluate(ref, table, ctx) if value is None else value, f)


def texts(refs: list[FieldRef], table: pa.Table, ctx: FieldContext) -> dict[str, pa.Array]:
    """:func:`text` of several fields; the Arrow expressions among them are evaluated in one pass."""
    exprs = {r.name: r.field.expr(r, ctx) for r in refs
             if r.field.expr is not None and r.field.text is None and not r.field.state}
    values: dict[str, pa.Array] = {}
    if exprs:
        columns = sorted({c for r in refs if r.name in exprs for c in r.field.columns} & set(table.column_names))
        out = project_table(table.select(columns), exprs)
        values = {n: out[n].combine_chunks() for n in exprs}
    return {r.name: text(r, table, ctx, values.get(r.name)) for r in refs}


def to_text(values: pa.Array, f: Field) -> pa.Array:
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    if pa.types.is_boolean(values.type):
        return T.booleans(values)
    if pa.types.is_binary(values.type):
        from sysnb.fields.evtargs import dots

        return dots(values, cut=True)
    if pa.types.is_floating(values.type):
        return T.numbers(values, "DOUBLE")
    return T.numbers(values, f.fmt)


def json_values(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> list[Any]:
    """The field's values as -j writes them: numbers and booleans as JSON values, the rest as text."""
    f = ref.field
    if f.json is not None and not f.state:
        return f.json(ref, table, ctx)
    if f.kind in ("numeric", "bool") and f.fmt != "HEX" and not f.state:
        values = evaluate(ref, table, ctx)
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        if pa.types.is_integer(values.type) or pa.types.is_boolean(values.type) or pa.types.is_floating(values.type):
            numbers: list[Any] = values.to_pylist()
            return numbers
    strings: list[Any] = text(ref, table, ctx).to_pylist()
    return strings


def columns(ref: FieldRef) -> frozenset[str]:
    """The stored columns the field reads."""
    return frozenset(ref.field.columns)


def sql(ref: FieldRef, ctx: FieldContext) -> str | None:
    """The field as a DuckDB expression (None: it has none; filter with Arrow)."""
    f = ref.field
    if f.state:
        return "NULL"
    return f.sql(ref, ctx) if f.sql is not None else None


def display_fields() -> list[str]:
    """The fields worth showing for one event (the explorer's detail pane): printable, no argument needed, not
    waiting for engine state, not depending on the events printed before."""
    return [n for n, f in FIELDS.items() if not (f.hidden or f.filter_only or f.arg or f.state or f.ordered)]

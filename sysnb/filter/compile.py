"""Check a parsed filter against the field registry and compile it to a ``pyarrow.compute`` expression.

The expression is evaluated on whole columns (no per-row Python). A check on a field that has no
value for an event is false, so ``not`` of it is true, as in sysdig. Fields are resolved, typed and computed
by the registry (sysnb.fields); what is special to filters lives here: the "either end" connection fields
(fd.ip, fd.port, fd.net, fd.proto), network membership, DNS names, ancestors without an index and
evt.around.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.errors import UsageError
from sysnb.exprs import project
from sysnb.fields import EMPTY, FieldContext, FieldRef
from sysnb.fields import registry as R
from sysnb.fields.common import ids, ids_with
from sysnb.filter import dynamic as D
from sysnb.filter.parser import BoolOp, Check, FilterSyntaxError, MacroRef, Node, Not, parse
from sysnb.filter.parser import FieldRef as ValRef
from sysnb.scap.events import EVENTS, SYSCALL_INFO_2022
from sysnb.state.columns import SCHEMA
from sysnb.state.containers import COLUMNS as CONTAINER_COLUMNS

#: stored text columns the engine dictionary-encodes (compared as plain strings)
_DICT_COLUMNS = frozenset({f.name for f in SCHEMA if pa.types.is_dictionary(f.type)} | set(CONTAINER_COLUMNS))
#: stored columns and their types (what or-ed equalities may be merged on)
_TYPES = {f.name: f.type for f in SCHEMA} | {c: pa.dictionary(pa.int32(), pa.string()) for c in CONTAINER_COLUMNS}
_STRING_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "contains", "icontains", "startswith", "endswith",
                         "glob", "iglob", "regex", "in", "intersects", "pmatch", "exists"})
_NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"})
_BINARY_OPS = frozenset({"contains", "bcontains", "startswith", "bstartswith", "exists"})
_CMP = {"=": "equal", "!=": "not_equal", "<": "less", "<=": "less_equal", ">": "greater",
        ">=": "greater_equal"}
#: fields that stand for "either end" of a connection
EITHER = {"fd.ip": ("fd.sip", "fd.cip"), "fd.port": ("fd.sport", "fd.cport"), "fd.proto": ("fd.sport", "fd.cport"),
          "fd.net": ("fd.snet", "fd.cnet")}
_NETS = {"fd.snet": "fd.sip", "fd.cnet": "fd.cip", "fd.lnet": "fd.lip", "fd.rnet": "fd.rip"}
_DOMAINS = {"fd.cip.name": "fd.cip", "fd.sip.name": "fd.sip", "fd.lip.name": "fd.lip", "fd.rip.name": "fd.rip"}
_SOCKETS = pa.array(["ipv4", "ipv6"])
#: what evt.type may be compared with: the event names of sysdig 0.29.3's table and its syscall names
_EVENT_NAMES = frozenset(e.name_2022 for e in EVENTS[:336] if e.known_2022) | frozenset(n for _, n in SYSCALL_INFO_2022)


class _Env:
    """Where computed fields get their values: the table being filtered, or None while only checking."""

    def __init__(self, table: pa.Table | None, ctx: FieldContext = EMPTY) -> None:
        self.table = table
        self.ctx = ctx
        self.extra: dict[str, pa.Array] = {}
        self.dictionary = False  # a check runs on a dictionary column's values when there is a table
        self.cache: dict[str, tuple[pa.Table, dict[str, pa.Array]]] = {}
        self.dynamic = False

    def column(self, compute: Callable[[pa.Table], pa.Array]) -> pc.Expression:
        """A computed column, referenced by a private name (filled only when there is a table)."""
        self.dynamic = True
        name = f"__sysnb_{len(self.extra)}"
        self.extra[name] = compute(self.table) if self.table is not None else pa.nulls(0)
        return pc.field(name)

    def evaluate(self, expr: pc.Expression) -> pa.Array:
        """``expr`` over the table and the computed columns so far (for transformers that run in Python)."""
        assert self.table is not None
        table = self.table
        for name, col in self.extra.items():
            table = table.append_column(name, col)
        return project(table, {"x": expr})["x"].combine_chunks()


class CompiledFilter:
    """A checked filter: ``expression`` for pyarrow datasets/tables, ``apply(table)`` to filter a table.
    ``dynamic`` filters use fields computed from the table at evaluation (evt.arg.*, proc.aname, fd.net, ...):
    their ``expression`` needs those columns, which ``apply``/``mask`` add themselves. ``context`` gives the
    capture's metadata (interfaces, users, containers, first event time) to the fields that read it."""

    def __init__(self, text: str, node: Node, expression: pc.Expression, dynamic: bool = False,
                 dictionary: bool = False) -> None:
        self.text, self.node, self.expression, self.dynamic = text, node, expression, dynamic
        self.dictionary = dictionary  # string checks of dictionary columns: evaluated per distinct value

    def _bind(self, table: pa.Table, context: FieldContext | None) -> tuple[pc.Expression, dict[str, pa.Array]]:
        if not self.dynamic and not self.dictionary and context is None:
            return self.expression, {}
        ctx = context or EMPTY
        if ctx.capture_filter and self.columns() & {"thread.tid"} and _names_lost_fields(self.node):
            ctx = replace(ctx, fdinfo_lost=self._fdinfo_lost(table, ctx))
        env = _Env(table, ctx)
        return _compile(self.node, self.text, env), env.extra

    def _fdinfo_lost(self, table: pa.Table, ctx: FieldContext) -> pa.Array:
        """Exit events whose enter event the filter dropped: libsinsp then has no fd for them (the dropped
        enter reset the thread's last event type), so their fd-based evt fields read as unset."""
        env = _Env(table, ctx)
        first = project(_with(table, env, _compile(self.node, self.text, env)), {"m": pc.field("__m")})[
            "m"].combine_chunks()
        return _lost_exits(table, pc.fill_null(first, False))

    def apply(self, table: pa.Table, context: FieldContext | None = None) -> pa.Table:
        """The rows of ``table`` the filter selects: the mask is computed over the columns the filter names
        only, then the rows are taken (``Table.filter(expression)`` would scan every column)."""
        return table.filter(self.mask(table, context))

    def mask(self, table: pa.Table, context: FieldContext | None = None) -> pa.ChunkedArray:
        """The filter as a boolean column over ``table`` (null counts as no match), reading only the
        columns the filter names: no copy of the table, unlike ``apply``."""
        expr, extra = self._bind(table, context)
        narrow = table.select(sorted(self.columns() & set(table.column_names)))
        for name, col in extra.items():
            narrow = narrow.append_column(name, col)
        result = project(narrow, {"m": expr})["m"]
        return pc.fill_null(result, False)

    def columns(self) -> set[str]:
        return set(_fields(self.node))

    def needs_whole_table(self) -> bool:
        """Whether the filter may select otherwise over a batch than over the whole capture: it names a
        field whose value depends on other events (evt.around, evt.deltatime...) or the fd information an
        exit loses when the filter dropped its enter (which may lie in the batch before)."""
        for name in _check_fields(self.node):
            ref = R.resolve(name)
            if name.startswith("evt.around") or (ref is not None and ref.field.ordered):
                return True
        return bool(self.columns() & {"thread.tid"}) and _names_lost_fields(self.node)

    @property
    def sql(self) -> str:
        """The same filter as a DuckDB WHERE condition (columns quoted by their field names)."""
        return self.sql_for(EMPTY)

    def sql_for(self, context: FieldContext) -> str:
        from sysnb.filter.sql import to_sql

        return to_sql(self.node, context)

    def __repr__(self) -> str:
        return f"<sysnb filter {self.text!r} -> {self.expression}>"


def _with(table: pa.Table, env: _Env, expr: pc.Expression) -> pa.Table:
    out = table.select([c for c in table.column_names if not c.startswith("__")])
    for name, col in env.extra.items():
        out = out.append_column(name, col)
    return project(out, {**{c: pc.field(c) for c in out.column_names}, "__m": expr})


def _lost_exits(table: pa.Table, passed: pa.Array) -> pa.Array:
    """Rows that are exits whose thread's previous event is their enter and did not pass."""
    import numpy as np

    tid = np.asarray(pc.fill_null(table["thread.tid"], -1).to_numpy(), np.int64)
    types = np.asarray(pc.fill_null(table["sysnb.type_id"], 0).to_numpy(), np.int64)
    ok = np.asarray(passed.to_numpy(zero_copy_only=False), bool)
    # switch and other skip-reset events leave the thread's last event as it was: they are not "previous"
    tracked = ~np.isin(types, _NO_RESET)
    tid = np.where(tracked, tid, -2 - np.arange(len(tid)))  # each untracked row alone in its own group
    order = np.lexsort((np.arange(len(tid)), tid))
    prev = np.full(len(tid), -1)
    same = tid[order][1:] == tid[order][:-1]
    prev[order[1:][same]] = order[:-1][same]
    has_prev = prev >= 0
    p = np.where(has_prev, prev, 0)
    # an enter that changes state is filtered after it was parsed: it leaves the thread's last event alone
    filtered_early = ~np.isin(types[p], ids_with("MODIFIES_STATE"))
    lost = (types & 1 == 1) & has_prev & (types[p] == types - 1) & ~ok[p] & filtered_early
    # before filtering a write exit libsinsp looks its fd up again (its tracer check): never lost
    lost &= types != _WRITE_X
    return pa.array(lost)


_WRITE_X = ids("SYSCALL_WRITE_X")[0]
_NO_RESET = ids_with("SKIPPARSERESET") + ids("SCHEDSWITCH_6_E")


def _check_fields(node: Node) -> list[str]:
    """The field names the filter's checks read (compared fields and fields compared with)."""
    if isinstance(node, Check):
        return [node.field, *([node.value.field] if isinstance(node.value, ValRef) else [])]
    if isinstance(node, Not):
        return _check_fields(node.operand)
    if isinstance(node, BoolOp):
        return [f for op in node.operands for f in _check_fields(op)]
    return []


def _names_lost_fields(node: Node) -> bool:
    if isinstance(node, Check):
        ref = R.resolve(node.field)
        return ref is not None and ref.field.name in R.LOST_FDINFO
    if isinstance(node, Not):
        return _names_lost_fields(node.operand)
    return isinstance(node, BoolOp) and any(_names_lost_fields(op) for op in node.operands)


def compile_filter(text: str) -> CompiledFilter:
    """Parse, check and compile a sysdig filter; mistakes raise :class:`UsageError` naming the column."""
    _check_encoding(text)
    try:
        node = merge_equalities(parse(text))
    except FilterSyntaxError as e:
        raise UsageError(f"filter syntax error: {e}") from None
    return compile_node(node, text)


def compile_node(node: Node, text: str) -> CompiledFilter:
    """Check and compile a parsed filter (Falco rules build theirs from macros); ``text`` is what error
    positions point into."""
    env = _Env(None)
    expr = _compile(node, text, env)
    return CompiledFilter(text, node, expr, env.dynamic or not _sql_ok(node), env.dictionary)


def _sql_ok(node: Node) -> bool:
    """Every field of the filter has a DuckDB rendering (else Capture.sql filters with Arrow)."""
    from sysnb.filter.sql import renders

    return renders(node)


def _check_encoding(text: str) -> None:
    """Bytes that are not UTF-8 (kept as surrogates from argv) cannot be compared with the table's text."""
    for i, ch in enumerate(text):
        if "\ud800" <= ch <= "\udfff":
            raise _error(f"the filter holds a byte that is not UTF-8 (0x{ord(ch) & 0xFF:02X}); write the value "
                         "in UTF-8 (names that are not UTF-8 are stored with U+FFFD in their place)", text, i)


#: or-ed equalities on one field merged into one set lookup from this many on
MERGE_AT = 8


def merge_equalities(node: Node) -> Node:
    """``f=a or f=b or ...`` as ``f in (a, b, ...)``: one set lookup instead of thousands of comparisons (the
    same events: '=' and 'in' agree on every field kind). Only plain checks of one stored column merge."""
    if isinstance(node, Not):
        return Not(merge_equalities(node.operand))
    if not isinstance(node, BoolOp):
        return node
    operands = [merge_equalities(op) for op in node.operands]
    counts = Counter(op.field for op in operands if isinstance(op, Check) and _mergeable(op))
    many = {f for f, n in counts.items() if n >= MERGE_AT}
    if node.op != "or" or not many:
        return BoolOp(node.op, tuple(operands))
    values: dict[str, list[str]] = {f: [] for f in many}
    out: list[Node] = []
    where: dict[str, int] = {}  # the merged check takes the place of the first one
    for op in operands:
        if isinstance(op, Check) and op.field in many and _mergeable(op):
            values[op.field].append(str(op.value))
            where.setdefault(op.field, len(out))
            if where[op.field] == len(out):
                out.append(op)
        else:
            out.append(op)
    for f, i in where.items():
        first = out[i]
        assert isinstance(first, Check)
        out[i] = Check(f, "in", tuple(values[f]), first.pos)
    return out[0] if len(out) == 1 else BoolOp("or", tuple(out))


def _mergeable(node: Check) -> bool:
    return (node.op == "=" and isinstance(node.value, str) and not node.transforms and node.field in _TYPES
            and not pa.types.is_binary(_TYPES[node.field]))


def _field_columns(name: str) -> list[str]:
    base = name.split("[", 1)[0]
    if base == "evt.around":
        return ["evt.rawtime"]
    ref = R.resolve(name)
    if ref is None:
        return []
    cols = list(ref.field.columns)
    if name in _NETS or name in _DOMAINS:
        cols += list(R.FIELDS[_NETS.get(name) or _DOMAINS[name]].columns)
    return cols


def _fields(node: Node) -> list[str]:
    if isinstance(node, Check):
        ref = [node.value.field] if isinstance(node.value, ValRef) else []
        return [c for f in [node.field, *ref] for c in _field_columns(f)]
    if isinstance(node, Not):
        return _fields(node.operand)
    if isinstance(node, MacroRef):
        return []
    return [f for op in node.operands for f in _fields(op)]


def _compile(node: Node, text: str, env: _Env) -> pc.Expression:
    if isinstance(node, Not):
        return ~_compile(node.operand, text, env)
    if isinstance(node, BoolOp):
        return balanced([_compile(op, text, env) for op in node.operands], node.op)
    if isinstance(node, MacroRef):
        raise _error(f"undefined macro '{node.name}'", text, node.pos)
    return pc.Expression._call("coalesce", [_check(node, text, env), pc.scalar(False)])


def balanced(exprs: list[pc.Expression], op: str) -> pc.Expression:
    """``a op b op c ...`` as a balanced tree (depth log2 n): Arrow evaluates expressions recursively, and a
    one-sided chain of 20,000 terms overflowed its stack (a segfault). Arrow also flattens nested calls of
    one associative function into one chain before evaluating, so the levels alternate between its two
    spellings of the operator (``and_kleene``/``and``, ``or_kleene``/``or``), which agree here: every
    operand is a coalesced check, never null."""
    names = ("and_kleene", "and") if op == "and" else ("or_kleene", "or")
    level = 0
    while len(exprs) > 1:
        name = names[level % 2]
        pairs = [pc.Expression._call(name, [exprs[i], exprs[i + 1]]) for i in range(0, len(exprs) - 1, 2)]
        exprs = pairs + exprs[len(exprs) - len(exprs) % 2:]
        level += 1
    return exprs[0]


def _error(msg: str, text: str, pos: int) -> UsageError:
    return UsageError(f"{msg} at column {pos + 1}\n  {text}\n  {' ' * pos}^")


def _lookup(name: str, c: Check, text: str) -> FieldRef:
    ref = R.resolve(name)
    if ref is None:
        raise _error(f"unknown field '{name}'{R.hint(name)}", text, c.pos)
    f = ref.field
    if f.arg == "required" and ref.arg is None:
        raise _error(f"field '{name}' needs an argument, e.g. {R.example(f)}", text, c.pos)
    if ref.arg is not None and f.name in ("proc.aname", "proc.apid") and ref.index is None:
        raise _error(f"'{name}' needs a numeric index, e.g. {f.name}[1]", text, c.pos)
    return ref


def _check(c: Check, text: str, env: _Env) -> pc.Expression:
    base = c.field.split("[", 1)[0]
    if base == "evt.around":
        return _around(c, text)
    ref = _lookup(c.field, c, text)
    name = ref.field.name
    if name in EITHER:
        return _either(c, text, env)
    if name in _NETS:
        return _net_check(c, text, env)
    if name in _DOMAINS:
        return _domain_check(c, text, env)
    if ref.kind == "ip":
        _check_ips(c, text)
    if name == "evt.type" and not c.transforms:
        _check_event_types(c, text)
    if name in ("proc.aname", "proc.apid") and ref.arg is None:
        return _any_ancestor(c, text, env)
    expr, kind = _operand(ref, c, text, env)
    if _on_dictionary(ref, c, kind):
        env.dictionary = True
        if env.table is not None and pa.types.is_dictionary(env.table.schema.field(name).type):
            probe = _string_check(Check("v", c.op, c.value, c.pos, ()), pc.field("v"), text)
            return env.column(lambda t: dictionary_mask(t[name], probe)) == pc.scalar(True)
    if _on_combinations(ref, c, env):
        env.dictionary = True
        if env.table is not None:
            check = _compare(c, expr, kind, text, env, ref)
            return env.column(lambda t: combinations_mask(t, ref.field.columns, check)) == pc.scalar(True)
    for fn in c.transforms:
        expr, kind = _transform(fn, expr, kind, c, text, env)
    return _compare(c, expr, kind, text, env, ref)


def _on_combinations(ref: FieldRef, c: Check, env: _Env) -> bool:
    """A check of a field computed row by row from dictionary columns only (fd.directory and fd.filename
    from fd.name and fd.type): evaluated once per distinct combination of their values (#18: Falco's
    file rules test fd.directory on every open of a capture)."""
    f = ref.field
    return (not c.transforms and not isinstance(c.value, ValRef) and not f.state and not f.ordered
            and len(f.columns) > 1 and all(col in _DICT_COLUMNS for col in f.columns)
            and R.expression(ref, env.ctx) is not None)


#: below this many rows a check runs on the rows themselves (finding the combinations would cost more)
COMBINATIONS_FROM = 4096


def combinations_mask(table: pa.Table, columns: tuple[str, ...], check: pc.Expression) -> pa.ChunkedArray:
    """``check`` (over ``columns``) for every row: evaluated on each batch's distinct combinations of the
    columns' dictionary codes, then taken back to the rows. Exact: the check reads nothing else."""
    out = []
    for batch in table.select(list(columns)).to_batches():
        distinct = _combinations(batch) if batch.num_rows >= COMBINATIONS_FROM else None
        if distinct is None:
            out.append(project(pa.Table.from_batches([batch]), {"m": check})["m"].combine_chunks())
            continue
        values, inverse = distinct
        on_values = project(values, {"m": check})["m"].combine_chunks()
        out.append(pc.take(on_values, pa.array(inverse)))
    return pa.chunked_array(out, pa.bool_())


def _combinations(batch: pa.RecordBatch) -> tuple[pa.Table, Any] | None:
    """(a table of the distinct value combinations, each row's index into it); None when a column is not
    dictionary-encoded or the codes would not fit one int64 key."""
    key, radix, sizes = np.zeros(batch.num_rows, np.int64), 1, list[int]()
    for col in batch.columns:
        if not pa.types.is_dictionary(col.type):
            return None
        size = len(col.dictionary) + 1  # code 0: null
        if radix * size >= 1 << 62:
            return None
        codes = np.asarray(pc.fill_null(col.indices, -1).to_numpy(zero_copy_only=False), np.int64) + 1
        key += codes * radix
        radix, sizes = radix * size, [*sizes, size]
    unique, inverse = np.unique(key, return_inverse=True)
    values, radix = {}, 1
    for name, col, size in zip(batch.schema.names, batch.columns, sizes, strict=True):
        codes = (unique // radix) % size - 1
        radix *= size
        values[name] = pc.take(col.dictionary, pa.array(codes, mask=codes < 0))
    return pa.table(values), inverse


def _on_dictionary(ref: FieldRef, c: Check, kind: str) -> bool:
    """A string check of a dictionary-encoded column: evaluated once per distinct value (#16)."""
    f = ref.field
    return (kind == "string" and not c.transforms and c.op != "exists" and not isinstance(c.value, ValRef)
            and f.columns == (f.name,) and f.name in _DICT_COLUMNS and not f.state)


def dictionary_mask(column: pa.ChunkedArray, probe: pc.Expression) -> pa.ChunkedArray:
    """``probe`` (over a string field ``v``) for every row of a dictionary column: evaluated on each chunk's
    dictionary, then taken by the rows' indices (a null row stays null)."""
    chunks = column.chunks
    if not chunks:
        return pa.chunked_array([], pa.bool_())
    # every chunk's dictionary in one evaluation (each evaluation has a fixed cost of about half a
    # millisecond: 28 chunks of big50 made it a third of an in-memory filter's time)
    values = pa.concat_arrays([c.dictionary for c in chunks])
    on_values = project(pa.table({"v": values}), {"m": probe})["m"].combine_chunks()
    out, start = [], 0
    for chunk in chunks:
        size = len(chunk.dictionary)
        out.append(pc.take(on_values.slice(start, size), chunk.indices))
        start += size
    return pa.chunked_array(out, pa.bool_())


def _operand(ref: FieldRef, c: Check, text: str, env: _Env) -> tuple[pc.Expression, str]:
    """A field as an expression and its kind: string, numeric, bool or binary."""
    f = ref.field
    kind = {"ip": "string", "net": "string"}.get(f.kind, f.kind)
    if f.name == "evt.rawarg":
        kind = "numeric" if D.rawarg_is_numeric(ref.arg or "") else "string"
    if f.state:
        return pc.scalar(pa.scalar(None, R.value_type(f))), kind
    expr = R.expression(ref, env.ctx)
    if expr is None:
        if f.table is None and f.expr is None:
            raise _error(f"'{ref.name}' cannot be used in this filter", text, c.pos)
        return env.column(lambda t: R.evaluate(ref, t, env.ctx)), kind
    if f.columns == (f.name,) and f.name in _DICT_COLUMNS and kind == "string":
        expr = expr.cast(pa.string())
    return expr, kind


def _check_event_types(c: Check, text: str) -> None:
    """sysdig rejects evt.type comparisons with a name that is neither an event nor a syscall."""
    if c.op == "exists" or isinstance(c.value, ValRef):
        return
    for v in _values(c):
        if v not in _EVENT_NAMES:
            import difflib

            close = difflib.get_close_matches(v, sorted(_EVENT_NAMES), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else " (`sysnb -L` lists the events)"
            at = text.find(v, c.pos)
            raise _error(f"unknown event type '{v}'{hint}", text, at if at >= 0 else c.pos)


def _transform(fn: str, expr: pc.Expression, kind: str, c: Check, text: str,
               env: _Env) -> tuple[pc.Expression, str]:
    """Falco's transformers (sysnb extension: sysdig 0.29.3 has none)."""
    if fn == "len":
        if kind not in ("string", "binary"):
            raise _error(f"len() needs a string or buffer field, not '{c.field}'", text, c.pos)
        return pc.Expression._call("binary_length" if kind == "binary" else "utf8_length", [expr]), "numeric"
    if kind != "string":
        raise _error(f"{fn}() needs a string field, not '{c.field}'", text, c.pos)
    if fn == "tolower":
        return pc.Expression._call("utf8_lower", [expr]), "string"
    if fn == "toupper":
        return pc.Expression._call("utf8_upper", [expr]), "string"
    if fn == "basename":
        return pc.Expression._call("replace_substring_regex", [expr],
                                   pc.ReplaceSubstringOptions("^.*/", "")), "string"
    return env.column(lambda t: D.b64_decode(env.evaluate(expr))), "string"  # b64


def _compare(c: Check, expr: pc.Expression, kind: str, text: str, env: _Env,
             ref: FieldRef | None = None) -> pc.Expression:
    if c.op == "exists":
        return expr.is_valid()
    if isinstance(c.value, ValRef):
        return _val_check(c, expr, kind, text, env)
    if kind == "binary":
        return _binary_check(c, expr, text)
    if kind == "string":
        return _string_check(c, expr, text)
    if kind == "bool":
        return _numeric_check(c, expr, [_bool(v, c, text) for v in _values(c)], text)
    if ref is not None and ref.type == "DOUBLE":
        return _numeric_check(c, expr, [_float(v, c, text) for v in _values(c)], text)
    port = ref is not None and ref.type == "PORT"
    return _numeric_check(c, expr, [_port(v, c, text) if port else _int(v, c, text) for v in _values(c)], text)


def _val_check(c: Check, left: pc.Expression, kind: str, text: str, env: _Env) -> pc.Expression:
    """``field OP val(other)``: compare two fields of the same event (sysnb extension, as Falco today)."""
    assert isinstance(c.value, ValRef)
    if c.op not in _CMP:
        raise _error(f"operator '{c.op}' cannot compare with val(); use =, !=, <, <=, > or >=", text, c.pos)
    right, rkind = _operand(_lookup(c.value.field, c, text), c, text, env)
    if (kind == "string") != (rkind == "string"):
        raise _error(f"'{c.field}' and '{c.value.field}' are not of the same kind", text, c.pos)
    return pc.Expression._call(_CMP[c.op], [left, right])


def _sock() -> pc.Expression:
    return pc.field("fd.type").cast(pa.string()).isin(_SOCKETS)


def _either(c: Check, text: str, env: _Env) -> pc.Expression:
    """fd.ip / fd.port / fd.proto / fd.net (libsinsp compare_ip/_port/_net): '=' and 'in' (and, for ports,
    '<' '<=' '>' '>=') hold when either end of an IPv4/IPv6 socket matches, '!=' when neither does. The ends are
    the socket's raw ones, role or not (sysnb.fields.fd.raw_ends)."""
    if c.field == "fd.ip":
        _check_ips(c, text)
    ports = c.field in ("fd.port", "fd.proto")
    allowed = ("=", "!=", "in", "<", "<=", ">", ">=") if ports else ("=", "!=", "in")
    if c.op not in allowed:
        raise _error(f"operator '{c.op}' does not apply to '{c.field}' (use {', '.join(allowed)})", text, c.pos)
    part = "port" if ports else "ip"
    sides = [_end_column(env, f"{end}_{part}") for end in ("src", "dst")]
    if c.field == "fd.net":
        nets = _networks(c, text)
        hits = [env.column(_in_networks(env, f"{end}_ip", nets)) for end in ("src", "dst")]
        present = sides[0].is_valid()
        if c.op == "!=":
            return present & ~hits[0] & ~hits[1]
        return present & (hits[0] | hits[1])
    probe = Check(c.field, "=" if c.op == "!=" else c.op, c.value, c.pos)
    checks = [_numeric_check(probe, e, [_port(v, c, text) for v in _values(c)], text) if ports
              else _string_check(probe, e, text) for e in sides]
    if c.op == "!=":
        return sides[0].is_valid() & ~checks[0] & ~checks[1]
    return checks[0] | checks[1]


def _in_networks(env: _Env, end: str, nets: list[str]) -> Callable[[pa.Table], pa.Array]:
    """Whether the ``end`` address of each event's socket is in one of ``nets`` (a column function)."""
    return lambda t: D.in_networks(pa.table({"a": _ends(env, t)[end]}), "a", nets)


def _ends(env: _Env, table: pa.Table) -> dict[str, pa.Array]:
    """The raw connection ends of ``table``'s events, computed once per filter evaluation."""
    from sysnb.fields.fd import raw_ends

    cached = env.cache.get("ends")
    if cached is None or cached[0] is not table:
        cached = (table, raw_ends(table))
        env.cache["ends"] = cached
    return cached[1]


def _end_column(env: _Env, key: str) -> pc.Expression:
    return env.column(lambda t: _ends(env, t)[key])


def _any_ancestor(c: Check, text: str, env: _Env) -> pc.Expression:
    """proc.aname / proc.apid without an index: any ancestor satisfies the check."""
    kind = "string" if c.field == "proc.aname" else "numeric"
    probe = _compare(Check("v", c.op, c.value, c.pos, ()), pc.field("v"), kind, text, env)

    def test(values: pa.Array) -> pa.Array:
        return project(pa.table({"v": values}), {"m": probe})["m"].combine_chunks()
    return env.column(lambda t: D.any_ancestor(t, c.field, test)) == pc.scalar(True)


def _networks(c: Check, text: str) -> list[str]:
    if c.op not in ("=", "!=", "in"):
        raise _error(f"operator '{c.op}' does not apply to the network field '{c.field}'", text, c.pos)
    nets = list(_values(c))
    for v in nets:
        try:
            ipaddress.ip_network(v, strict=False)
        except ValueError:
            raise _error(f"unrecognized network {v!r} (write it as 10.0.0.0/8)", text, c.pos) from None
    return nets


def _net_check(c: Check, text: str, env: _Env) -> pc.Expression:
    nets = _networks(c, text)
    address = R.resolve(_NETS[c.field])
    assert address is not None

    def inside(t: pa.Table) -> pa.Array:
        return D.in_networks(pa.table({"a": R.evaluate(address, t, env.ctx)}), "a", nets)
    present = env.column(lambda t: pc.is_valid(R.evaluate(address, t, env.ctx)))
    member = env.column(inside)
    return (present == pc.scalar(True)) & (~member if c.op == "!=" else member)


def _domain_check(c: Check, text: str, env: _Env) -> pc.Expression:
    """fd.*ip.name: libsinsp resolves the name with the system resolver when the filter is first evaluated
    and compares the fd's address with its addresses (IPv4/IPv6 sockets with a role only)."""
    if c.op not in ("=", "!=", "in"):
        raise _error(f"'{c.field}' only supports the operators =, != and in", text, c.pos)
    addresses = {a for name in _values(c) for a in _resolve_name(name)}
    address = R.resolve(_DOMAINS[c.field])
    assert address is not None

    def matched(t: pa.Table) -> pa.Array:
        values = R.evaluate(address, t, env.ctx)
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        canon = pa.array([_canonical(v) for v in pc.unique(values).to_pylist()], pa.string())
        hit = pc.is_in(canon, value_set=pa.array(sorted(addresses), pa.string()))
        return pc.fill_null(hit.take(pc.index_in(values, value_set=pc.unique(values))), False)
    role = _sock() & pc.field("fd.cip").is_valid()
    hit = env.column(matched)
    return role & (~hit if c.op == "!=" else hit)


@functools.lru_cache(maxsize=4096)
def _resolve_name(name: str) -> frozenset[str]:
    """The addresses of a name in fd.*ip.name checks: an address literal, /etc/hosts, and the system
    resolver only with SYSNB_RESOLVE_DNS=1. A forensic tool does not send the names in a filter (or in
    Falco's rules: domain lists of miners and C2 servers) to a DNS server unasked, and what a name resolves
    to today says nothing about what it was when the capture was made (libsinsp resolves at filter time)."""
    if (literal := _canonical(name)) is not None:
        return frozenset({literal})
    found = _hosts_file().get(name.lower(), set())
    if os.environ.get("SYSNB_RESOLVE_DNS") != "1":
        return frozenset(found)
    try:
        infos = socket.getaddrinfo(name, None)
    except (OSError, UnicodeError):
        return frozenset(found)
    return frozenset(found | ({_canonical(str(i[4][0])) or "" for i in infos} - {""}))


@functools.lru_cache(maxsize=1)
def _hosts_file() -> dict[str, set[str]]:
    """/etc/hosts: name -> canonical addresses."""
    out: dict[str, set[str]] = {}
    try:
        with open("/etc/hosts", encoding="utf-8", errors="replace") as f:
            lines = f.read(1 << 20).splitlines()
    except OSError:
        return out
    for line in lines:
        words = line.split("#", 1)[0].split()
        addr = _canonical(words[0]) if words else None
        if addr is None:
            continue
        for name in words[1:]:
            out.setdefault(name.lower(), set()).add(addr)
    return out


def _canonical(addr: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(addr)) if addr else None
    except ValueError:
        return None


def _check_ips(c: Check, text: str) -> None:
    if c.op not in ("=", "!=", "in", "intersects") or isinstance(c.value, ValRef) or c.transforms:
        return
    for v in _values(c):
        try:
            ipaddress.ip_address(v)
        except ValueError:
            raise _error(f"unrecognized IP address {v!r} (networks go in fd.net, fd.snet, fd.cnet)", text,
                         c.pos) from None


def _around(c: Check, text: str) -> pc.Expression:
    """evt.around[T]=D: events from D ms before T to D ms after it (T an evt.rawtime)."""
    if c.op != "=":
        raise _error("evt.around only takes '=' (evt.around[TIMESTAMP]=MILLISECONDS)", text, c.pos)
    t = _index(c.field, c, text)
    d = _int(str(c.value), c, text) * 1_000_000
    ts = pc.field("evt.rawtime")
    return (ts >= pc.scalar(pa.scalar(max(t - d, 0), pa.uint64()))) & (ts <= pc.scalar(pa.scalar(t + d, pa.uint64())))


def _index(name: str, c: Check, text: str) -> int:
    try:
        return int(name.split("[", 1)[1].rstrip("]"))
    except (IndexError, ValueError):
        raise _error(f"'{name}' needs a numeric index, e.g. {name.split('[')[0]}[1]", text, c.pos) from None


def _values(c: Check) -> tuple[str, ...]:
    return c.value if isinstance(c.value, tuple) else (str(c.value),)


def _numeric_check(c: Check, field: pc.Expression, values: list[object], text: str) -> pc.Expression:
    if c.op not in _NUMERIC_OPS:
        raise _error(f"operator '{c.op}' does not apply to the numeric field '{c.field}'", text, c.pos)
    if c.op in ("in", "intersects"):
        return pc.Expression._call("is_in", [field], pc.SetLookupOptions(pa.array(values)))
    return pc.Expression._call(_CMP[c.op], [field, pc.scalar(_literal(values[0]))])


def _literal(value: object) -> object:
    """A non-negative integer as uint64: against an int64 column Arrow casts it (it fits), against a uint64
    one (times, ``evt.reltime`` of an event stamped before the first) the column stays uint64, where an int64
    literal made Arrow cast the column to int64 and fail on values above 2^63."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 64:
        return pa.scalar(value, pa.uint64())
    return value


def _string_check(c: Check, field: pc.Expression, text: str) -> pc.Expression:
    if c.op not in _STRING_OPS:
        raise _error(f"operator '{c.op}' is not supported on '{c.field}' yet", text, c.pos)
    if c.op in ("in", "intersects"):  # intersects: a scalar field "intersects" a set when it is in it
        return pc.Expression._call("is_in", [field], pc.SetLookupOptions(pa.array(list(_values(c)), pa.string())))
    if c.op == "pmatch":  # Falco's path prefix match: the path itself or anything below it
        return _pmatch(field, _values(c))
    v = str(c.value)
    if c.op in _CMP:
        return pc.Expression._call(_CMP[c.op], [field, pc.scalar(v)])
    if c.op in ("contains", "icontains"):
        return pc.Expression._call("match_substring", [field],
                                   pc.MatchSubstringOptions(v, ignore_case=c.op == "icontains"))
    if c.op == "startswith":
        return pc.Expression._call("starts_with", [field], pc.MatchSubstringOptions(v))
    if c.op == "endswith":
        return pc.Expression._call("ends_with", [field], pc.MatchSubstringOptions(v))
    pattern = v if c.op == "regex" else glob_regex(v)
    _check_regex(pattern, c, text)
    return pc.Expression._call("match_substring_regex", [field],
                               pc.MatchSubstringOptions(pattern, ignore_case=c.op == "iglob"))


#: prefixes per regular expression of a pmatch (RE2 programs stay small; the chunks are or-ed)
PMATCH_CHUNK = 1000


def _pmatch(field: pc.Expression, prefixes: tuple[str, ...]) -> pc.Expression:
    """The path equals a prefix or lies below it: one RE2 alternation per PMATCH_CHUNK prefixes (10,000
    prefixes were 20,000 chained Arrow calls, and a segfault)."""
    alternatives = sorted({"/.*" if not p.rstrip("/") else _re2_literal(p.rstrip("/")) + "(?:/.*)?" for p in prefixes})
    return balanced([pc.Expression._call("match_substring_regex", [field], pc.MatchSubstringOptions(
        "(?s)^(?:" + "|".join(alternatives[i:i + PMATCH_CHUNK]) + ")$"))
        for i in range(0, len(alternatives), PMATCH_CHUNK)], "or")


def _re2_literal(s: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "/_-") else f"\\x{{{ord(ch):x}}}" for ch in s)


def _check_regex(pattern: str, c: Check, text: str) -> None:
    """RE2 refuses the pattern when the filter runs; say so now, at its column."""
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        what = "regular expression" if c.op == "regex" else f"{c.op} pattern"
        raise _error(f"invalid {what} {str(c.value)!r}: {str(e).removeprefix('Invalid regular expression: ')}",
                     text, c.pos) from None


def glob_regex(glob: str) -> str:
    """A shell glob as an anchored RE2 pattern (``*`` any run, ``?`` one character, ``[...]`` a class)."""
    out, i = ["^"], 0
    while i < len(glob):
        ch = glob[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[" and "]" in glob[i + 1:]:
            j = glob.index("]", i + 1)
            body = glob[i + 1:j].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = j
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out) + "$"


def _binary_check(c: Check, field: pc.Expression, text: str) -> pc.Expression:
    if c.op not in _BINARY_OPS:
        raise _error(f"operator '{c.op}' does not apply to the buffer field '{c.field}'", text, c.pos)
    v = str(c.value)
    if c.op.startswith("b"):
        try:
            needle = bytes.fromhex(v)
        except ValueError:
            raise _error(f"'{v}' is not a hex byte string", text, c.pos) from None
    else:
        needle = v.encode()
    if c.op.endswith("contains"):
        return pc.Expression._call("match_substring", [field], pc.MatchSubstringOptions(needle.decode("latin-1")))
    return pc.Expression._call("starts_with", [field], pc.MatchSubstringOptions(needle.decode("latin-1")))


def _int(v: str, c: Check, text: str) -> int:
    try:
        n = int(v, 0)
    except ValueError:
        raise _error(f"'{v}' is not a number (field '{c.field}' is numeric)", text, c.pos) from None
    if not -(1 << 63) <= n < 1 << 64:
        raise _error(f"'{v}' is out of range: numeric fields hold 64-bit integers", text, c.pos)
    return n


def _float(v: str, c: Check, text: str) -> float:
    try:
        return float(v)
    except ValueError:
        raise _error(f"'{v}' is not a number (field '{c.field}' is numeric)", text, c.pos) from None


def _port(v: str, c: Check, text: str) -> int:
    """A port as a number or a service name (libsinsp resolves names with getservbyname)."""
    if v.isdigit() or not v:
        return int(v or 0) & 0xFFFF
    try:
        return socket.getservbyname(v)
    except OSError:
        raise _error(f"unrecognized protocol '{v}' (give a port number or a service name)", text, c.pos) from None


def _bool(v: str, c: Check, text: str) -> bool:
    if v in ("true", "false"):
        return v == "true"
    raise _error(f"'{v}' is not true or false", text, c.pos)

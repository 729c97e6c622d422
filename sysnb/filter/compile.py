"""Check a parsed filter against the field registry and compile it to a ``pyarrow.compute`` expression.

The expression is evaluated on whole columns (no per-row Python). A check on a field that has no
value for an event is false, so ``not`` of it is true, as in sysdig.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections import Counter
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.derived import DERIVED, NUMERIC_DERIVED
from sysnb.errors import UsageError
from sysnb.exprs import project
from sysnb.fields import FIELDS
from sysnb.filter import dynamic as D
from sysnb.filter.parser import BoolOp, Check, FieldRef, FilterSyntaxError, MacroRef, Node, Not, parse
from sysnb.scap.events import ids_with_flag
from sysnb.state.columns import SCHEMA
from sysnb.state.containers import COLUMNS as CONTAINER_COLUMNS

#: filterable columns and their types: the state engine's, plus those added when a capture is opened
_TYPES = {f.name: f.type for f in SCHEMA} | {c: pa.dictionary(pa.int32(), pa.string()) for c in CONTAINER_COLUMNS}
NUMERIC_COLUMNS = frozenset(n for n, t in _TYPES.items() if pa.types.is_integer(t) or pa.types.is_boolean(t)) | \
    NUMERIC_DERIVED
_STRING_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "contains", "icontains", "startswith", "endswith",
                         "glob", "iglob", "regex", "in", "intersects", "pmatch", "exists"})
_NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"})
_BINARY_OPS = frozenset({"contains", "bcontains", "startswith", "bstartswith", "exists"})
_CMP = {"=": "equal", "!=": "not_equal", "<": "less", "<=": "less_equal", ">": "greater",
        ">=": "greater_equal"}


_IO_READ = pa.array(ids_with_flag("READS_FROM_FD"), pa.uint16())
_IO_WRITE = pa.array(ids_with_flag("WRITES_TO_FD"), pa.uint16())
IO_TYPE_IDS = {"evt.is_io": ids_with_flag("READS_FROM_FD", "WRITES_TO_FD"), "evt.is_io_read": _IO_READ.to_pylist(),
               "evt.is_io_write": _IO_WRITE.to_pylist()}
_IO_ANY = pa.array(IO_TYPE_IDS["evt.is_io"], pa.uint16())
#: fields that are one expression over stored columns: name -> (expression factory, kind, columns read)
_COMPUTED: dict[str, tuple[Callable[[], pc.Expression], str, tuple[str, ...]]] = {
    "evt.is_io": (lambda: pc.field("sysnb.type_id").isin(_IO_ANY), "bool", ("sysnb.type_id",)),
    "evt.is_io_read": (lambda: pc.field("sysnb.type_id").isin(_IO_READ), "bool", ("sysnb.type_id",)),
    "evt.is_io_write": (lambda: pc.field("sysnb.type_id").isin(_IO_WRITE), "bool", ("sysnb.type_id",)),
    "fd.sockfamily": (lambda: pc.Expression._call("case_when", [
        pc.Expression._call("make_struct", [pc.field("fd.type").cast(pa.string()).isin(pa.array(["ipv4", "ipv6"])),
                                            pc.field("fd.type").cast(pa.string()) == pc.scalar("unix")]),
        pc.scalar("ip"), pc.scalar("unix")]), "string", ("fd.type",)),
}
#: fields that stand for "either side" of a connection
EITHER = {"fd.ip": ("fd.sip", "fd.cip"), "fd.port": ("fd.sport", "fd.cport"), "fd.net": ("fd.snet", "fd.cnet")}
_NETS = {"fd.snet": "fd.sip", "fd.cnet": "fd.cip"}
_IP_FIELDS = frozenset({"fd.sip", "fd.cip", "fd.ip"})


class _Env:
    """Where computed fields get their values: the table being filtered, or None while only checking."""

    def __init__(self, table: pa.Table | None) -> None:
        self.table = table
        self.extra: dict[str, pa.Array] = {}
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
    their ``expression`` needs those columns, which ``apply``/``mask`` add themselves."""

    def __init__(self, text: str, node: Node, expression: pc.Expression, dynamic: bool = False) -> None:
        self.text, self.node, self.expression, self.dynamic = text, node, expression, dynamic

    def _bind(self, table: pa.Table) -> tuple[pc.Expression, dict[str, pa.Array]]:
        if not self.dynamic:
            return self.expression, {}
        env = _Env(table)
        return _compile(self.node, self.text, env), env.extra

    def apply(self, table: pa.Table) -> pa.Table:
        expr, extra = self._bind(table)
        if not extra:
            return table.filter(expr)
        return table.filter(self.mask(table))

    def mask(self, table: pa.Table) -> pa.ChunkedArray:
        """The filter as a boolean column over ``table`` (null counts as no match), reading only the
        columns the filter names: no copy of the table, unlike ``apply``."""
        expr, extra = self._bind(table)
        narrow = table.select(sorted(self.columns() & set(table.column_names)))
        for name, col in extra.items():
            narrow = narrow.append_column(name, col)
        result = project(narrow, {"m": expr})["m"]
        return pc.fill_null(result, False)

    def columns(self) -> set[str]:
        return set(_fields(self.node))

    @property
    def sql(self) -> str:
        """The same filter as a DuckDB WHERE condition (columns quoted by their field names)."""
        from sysnb.filter.sql import to_sql

        return to_sql(self.node, NUMERIC_COLUMNS)

    def __repr__(self) -> str:
        return f"<sysnb filter {self.text!r} -> {self.expression}>"


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
    return CompiledFilter(text, node, _compile(node, text, env), env.dynamic)


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
    if name in DERIVED:
        return list(DERIVED[name][1])
    if name in _COMPUTED:
        return list(_COMPUTED[name][2])
    if name in EITHER:
        return ["fd.type", *(c for side in EITHER[name] for c in _field_columns(side))]
    if name in _NETS:
        return [_NETS[name]]
    if base.startswith("evt.arg"):
        return ["evt.args", "sysnb.type_id"]
    if base.startswith("evt.rawarg."):
        return ["sysnb.params", "sysnb.type_id"]
    if base in ("proc.aname", "proc.apid"):
        return ["sysnb." + base.split(".")[1]]
    if base == "evt.around":
        return ["evt.rawtime"]
    return [name]


def _fields(node: Node) -> list[str]:
    if isinstance(node, Check):
        ref = [node.value.field] if isinstance(node.value, FieldRef) else []
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


def _check(c: Check, text: str, env: _Env) -> pc.Expression:
    if c.field in EITHER:
        return _either(c, text, env)
    if c.field in _NETS:
        return _net_check(c, text, env)
    if c.field in _IP_FIELDS:
        _check_ips(c, text)
    base = c.field.split("[", 1)[0]
    if base == "evt.around":
        return _around(c, text)
    if c.field in ("proc.aname", "proc.apid"):
        return _any_ancestor(c, text, env)
    expr, kind = _operand(c.field, c, text, env)
    for fn in c.transforms:
        expr, kind = _transform(fn, expr, kind, c, text, env)
    return _compare(c, expr, kind, text, env)


def _either(c: Check, text: str, env: _Env) -> pc.Expression:
    """fd.ip / fd.port / fd.net (libsinsp compare_ip/_port/_net): '=' and 'in' hold when either end of the
    connection matches, '!=' when neither does (a listening socket has only its own end)."""
    if c.field == "fd.ip":
        _check_ips(c, text)
    if c.op not in ("=", "!=", "in"):
        raise _error(f"operator '{c.op}' does not apply to '{c.field}' (use =, != or in)", text, c.pos)
    sides = [Check(f, c.op, c.value, c.pos, c.transforms) for f in EITHER[c.field]]
    if c.op != "!=":
        return _compile(BoolOp("or", tuple(sides)), text, env)
    columns = [_field_columns(side.field)[0] for side in sides]
    present = [pc.field(col).is_valid() for col in columns]
    each = [(~p) | _compile(side, text, env) for p, side in zip(present, sides, strict=True)]
    socket = pc.field("fd.type").cast(pa.string()).isin(pa.array(["ipv4", "ipv6"]))  # unset ends are zeros
    return socket & each[0] & each[1]


def _compare(c: Check, expr: pc.Expression, kind: str, text: str, env: _Env) -> pc.Expression:
    if c.op == "exists":
        return expr.is_valid()
    if isinstance(c.value, FieldRef):
        return _val_check(c, expr, kind, text, env)
    if kind == "binary":
        return _binary_check(c, expr, text)
    if kind == "string":
        return _string_check(c, expr, text)
    if kind == "bool":
        return _numeric_check(c, expr, [_bool(v, c, text) for v in _values(c)], text)
    return _numeric_check(c, expr, [_int(v, c, text) for v in _values(c)], text)


def _operand(name: str, c: Check, text: str, env: _Env) -> tuple[pc.Expression, str]:
    """A field as an expression and its kind: string, numeric, bool or binary."""
    base = name.split("[", 1)[0]
    if name in DERIVED:
        return DERIVED[name][0](), "numeric" if name in NUMERIC_DERIVED else "string"
    if name in _COMPUTED:
        factory, kind, _ = _COMPUTED[name]
        return factory(), kind
    if base.startswith("evt.arg.") or base == "evt.arg":
        key: str | int = name[len("evt.arg."):] if base != "evt.arg" else _index(name, c, text)
        return env.column(lambda t: D.evt_arg(t, key)), "string"
    if base.startswith("evt.rawarg.") and len(base) > len("evt.rawarg."):
        arg = base[len("evt.rawarg."):]
        return env.column(lambda t: D.evt_rawarg(t, arg)), "numeric" if D.rawarg_is_numeric(arg) else "string"
    if base in ("proc.aname", "proc.apid") and name != base:
        level = _index(name, c, text)
        return env.column(lambda t: D.ancestor_at(t, base, level)), "string" if base == "proc.aname" else "numeric"
    typ = _TYPES.get(name)
    if typ is None:
        close = difflib.get_close_matches(name, list(_TYPES) + list(FIELDS), n=3)
        if name in FIELDS:
            raise _error(f"field '{name}' cannot be used in filters yet (it is derived when printing)", text, c.pos)
        hint = f"; did you mean {', '.join(dict.fromkeys(close))}?" if close else "; `sysnb -l` lists the fields"
        raise _error(f"unknown field '{name}'{hint}", text, c.pos)
    value_type = typ.value_type if pa.types.is_dictionary(typ) else typ
    field = pc.field(name)
    if pa.types.is_binary(value_type):
        return field, "binary"
    if pa.types.is_string(value_type):
        return (field.cast(pa.string()) if pa.types.is_dictionary(typ) else field), "string"
    return field, "bool" if pa.types.is_boolean(value_type) else "numeric"


def _index(name: str, c: Check, text: str) -> int:
    try:
        return int(name.split("[", 1)[1].rstrip("]"))
    except (IndexError, ValueError):
        raise _error(f"'{name}' needs a numeric index, e.g. {name.split('[')[0]}[1]", text, c.pos) from None


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


def _val_check(c: Check, left: pc.Expression, kind: str, text: str, env: _Env) -> pc.Expression:
    """``field OP val(other)``: compare two fields of the same event (sysnb extension, as Falco today)."""
    assert isinstance(c.value, FieldRef)
    if c.op not in _CMP:
        raise _error(f"operator '{c.op}' cannot compare with val(); use =, !=, <, <=, > or >=", text, c.pos)
    right, rkind = _operand(c.value.field, c, text, env)
    if (kind == "string") != (rkind == "string"):
        raise _error(f"'{c.field}' and '{c.value.field}' are not of the same kind", text, c.pos)
    return pc.Expression._call(_CMP[c.op], [left, right])


def _any_ancestor(c: Check, text: str, env: _Env) -> pc.Expression:
    """proc.aname / proc.apid without an index: any ancestor satisfies the check."""
    kind = "string" if c.field == "proc.aname" else "numeric"
    probe = _compare(Check("v", c.op, c.value, c.pos, ()), pc.field("v"), kind, text, env)

    def test(values: pa.Array) -> pa.Array:
        return project(pa.table({"v": values}), {"m": probe})["m"].combine_chunks()
    return env.column(lambda t: D.any_ancestor(t, c.field, test)) == pc.scalar(True)


def _net_check(c: Check, text: str, env: _Env) -> pc.Expression:
    if c.op not in ("=", "!=", "in"):
        raise _error(f"operator '{c.op}' does not apply to the network field '{c.field}'", text, c.pos)
    nets = list(_values(c))
    for v in nets:
        try:
            ipaddress.ip_network(v, strict=False)
        except ValueError:
            raise _error(f"unrecognized network {v!r} (write it as 10.0.0.0/8)", text, c.pos) from None
    inside = env.column(lambda t: D.in_networks(t, _NETS[c.field], nets))
    present = pc.field(_NETS[c.field]).is_valid()
    return present & (~inside if c.op == "!=" else inside)


def _check_ips(c: Check, text: str) -> None:
    if c.op not in ("=", "!=", "in", "intersects") or isinstance(c.value, FieldRef) or c.transforms:
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


def _values(c: Check) -> tuple[str, ...]:
    return c.value if isinstance(c.value, tuple) else (str(c.value),)


def _numeric_check(c: Check, field: pc.Expression, values: list[object], text: str) -> pc.Expression:
    if c.op not in _NUMERIC_OPS:
        raise _error(f"operator '{c.op}' does not apply to the numeric field '{c.field}'", text, c.pos)
    if c.op in ("in", "intersects"):
        return pc.Expression._call("is_in", [field], pc.SetLookupOptions(pa.array(values)))
    return pc.Expression._call(_CMP[c.op], [field, pc.scalar(values[0])])


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


def _bool(v: str, c: Check, text: str) -> bool:
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    raise _error(f"'{v}' is not true or false", text, c.pos)

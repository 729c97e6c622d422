"""Check a parsed filter against the field registry and compile it to a ``pyarrow.compute`` expression.

The expression is evaluated on whole columns (no per-row Python). A check on a field that has no
value for an event is false, so ``not`` of it is true, as in sysdig.
"""

from __future__ import annotations

import difflib
import re

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.derived import DERIVED, NUMERIC_DERIVED
from sysnb.errors import UsageError
from sysnb.fields import FIELDS
from sysnb.filter.parser import BoolOp, Check, FilterSyntaxError, Node, Not, parse
from sysnb.state.columns import SCHEMA
from sysnb.state.containers import COLUMNS as CONTAINER_COLUMNS

#: filterable columns and their types: the state engine's, plus those added when a capture is opened
_TYPES = {f.name: f.type for f in SCHEMA} | {c: pa.dictionary(pa.int32(), pa.string()) for c in CONTAINER_COLUMNS}
NUMERIC_COLUMNS = frozenset(n for n, t in _TYPES.items() if pa.types.is_integer(t) or pa.types.is_boolean(t)) | \
    NUMERIC_DERIVED
_STRING_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "contains", "icontains", "startswith", "endswith",
                         "glob", "iglob", "regex", "in", "exists"})
_NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "exists"})
_BINARY_OPS = frozenset({"contains", "bcontains", "startswith", "bstartswith", "exists"})
_CMP = {"=": "equal", "!=": "not_equal", "<": "less", "<=": "less_equal", ">": "greater",
        ">=": "greater_equal"}


class CompiledFilter:
    """A checked filter: ``expression`` for pyarrow datasets/tables, ``apply(table)`` to filter a table."""

    def __init__(self, text: str, node: Node, expression: pc.Expression) -> None:
        self.text, self.node, self.expression = text, node, expression

    def apply(self, table: pa.Table) -> pa.Table:
        return table.filter(self.expression)

    def mask(self, table: pa.Table) -> pa.ChunkedArray:
        """The filter as a boolean column over ``table`` (null counts as no match), reading only the
        columns the filter names: no copy of the table, unlike ``apply``."""
        import pyarrow.dataset as ds

        names = sorted(self.columns() & set(table.column_names))
        result = ds.dataset(table.select(names)).to_table(columns={"m": self.expression})["m"]
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
    try:
        node = parse(text)
    except FilterSyntaxError as e:
        raise UsageError(f"filter syntax error: {e}") from None
    return CompiledFilter(text, node, _compile(node, text))


def _fields(node: Node) -> list[str]:
    if isinstance(node, Check):
        return list(DERIVED[node.field][1]) if node.field in DERIVED else [node.field]
    if isinstance(node, Not):
        return _fields(node.operand)
    return [f for op in node.operands for f in _fields(op)]


def _compile(node: Node, text: str) -> pc.Expression:
    if isinstance(node, Not):
        return ~_compile(node.operand, text)
    if isinstance(node, BoolOp):
        exprs = [_compile(op, text) for op in node.operands]
        out = exprs[0]
        for e in exprs[1:]:
            out = (out & e) if node.op == "and" else (out | e)
        return out
    return pc.Expression._call("coalesce", [_check(node, text), pc.scalar(False)])


def _error(msg: str, text: str, pos: int) -> UsageError:
    return UsageError(f"{msg} at column {pos + 1}\n  {text}\n  {' ' * pos}^")


def _check(c: Check, text: str) -> pc.Expression:
    derived = DERIVED.get(c.field)
    if derived is not None:
        expr = derived[0]()
        if c.op == "exists":
            return expr.is_valid()
        if c.field in NUMERIC_DERIVED:
            return _numeric_check(c, expr, [_int(v, c, text) for v in _values(c)], text)
        return _string_check(c, expr, text)
    typ = _TYPES.get(c.field)
    if typ is None:
        if c.field in FIELDS or c.field.startswith(("evt.arg", "evt.rawarg")):
            raise _error(f"field '{c.field}' cannot be used in filters yet (it is derived when printing)", text,
                         c.pos)
        close = difflib.get_close_matches(c.field, list(_TYPES) + list(FIELDS), n=3)
        hint = f"; did you mean {', '.join(dict.fromkeys(close))}?" if close else "; `sysnb -l` lists the fields"
        raise _error(f"unknown field '{c.field}'{hint}", text, c.pos)
    base = typ.value_type if pa.types.is_dictionary(typ) else typ
    field = pc.field(c.field)
    if c.op == "exists":
        return field.is_valid()
    if pa.types.is_binary(base):
        return _binary_check(c, field, text)
    if pa.types.is_string(base):
        return _string_check(c, field.cast(pa.string()) if pa.types.is_dictionary(typ) else field, text)
    if pa.types.is_boolean(base):
        return _numeric_check(c, field, [_bool(v, c, text) for v in _values(c)], text)
    return _numeric_check(c, field, [_int(v, c, text) for v in _values(c)], text)


def _values(c: Check) -> tuple[str, ...]:
    return c.value if isinstance(c.value, tuple) else (str(c.value),)


def _numeric_check(c: Check, field: pc.Expression, values: list[object], text: str) -> pc.Expression:
    if c.op not in _NUMERIC_OPS:
        raise _error(f"operator '{c.op}' does not apply to the numeric field '{c.field}'", text, c.pos)
    if c.op == "in":
        return pc.Expression._call("is_in", [field], pc.SetLookupOptions(pa.array(values)))
    return pc.Expression._call(_CMP[c.op], [field, pc.scalar(values[0])])


def _string_check(c: Check, field: pc.Expression, text: str) -> pc.Expression:
    if c.op not in _STRING_OPS:
        raise _error(f"operator '{c.op}' is not supported on '{c.field}' yet", text, c.pos)
    if c.op == "in":
        return pc.Expression._call("is_in", [field], pc.SetLookupOptions(pa.array(list(_values(c)), pa.string())))
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
    return pc.Expression._call("match_substring_regex", [field],
                               pc.MatchSubstringOptions(pattern, ignore_case=c.op == "iglob"))


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
        return int(v, 0)
    except ValueError:
        raise _error(f"'{v}' is not a number (field '{c.field}' is numeric)", text, c.pos) from None


def _bool(v: str, c: Check, text: str) -> bool:
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    raise _error(f"'{v}' is not true or false", text, c.pos)

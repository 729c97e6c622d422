"""Render a checked filter AST as a DuckDB SQL condition (same semantics as the pyarrow compiler).

Columns are quoted identifiers named by their sysdig fields (``"proc.name"``); a check on a missing value
is false (``COALESCE(..., FALSE)``), so ``NOT`` of it is true, as in sysdig and in ``compile.py``. Each
field's SQL comes from the registry (sysnb.fields); fields without one (computed per event type, per
distinct value or in event order) make the whole filter Arrow-only.
"""

from __future__ import annotations

import socket

from sysnb.errors import UsageError
from sysnb.fields import EMPTY, FieldContext
from sysnb.fields import registry as R
from sysnb.filter.compile import EITHER, glob_regex
from sysnb.filter.parser import BoolOp, Check, FieldRef, MacroRef, Node, Not

_CMP = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SQL_TRANSFORMS = {"tolower": "lower({})", "toupper": "upper({})", "len": "length({})",
                   "basename": "regexp_replace({}, '^.*/', '')"}
_NO_SQL = frozenset({"fd.snet", "fd.cnet", "fd.lnet", "fd.rnet", "fd.net", "fd.cip.name", "fd.sip.name",
                     "fd.lip.name", "fd.rip.name"})


def renders(node: Node) -> bool:
    """Whether every check of the filter has a SQL rendering."""
    if isinstance(node, Not):
        return renders(node.operand)
    if isinstance(node, BoolOp):
        return all(renders(op) for op in node.operands)
    if isinstance(node, MacroRef):
        return False
    names = [node.field, *([node.value.field] if isinstance(node.value, FieldRef) else [])]
    return all(_field_renders(n) for n in names) and all(t in _SQL_TRANSFORMS for t in node.transforms)


def _field_renders(name: str) -> bool:
    base = name.split("[", 1)[0]
    if base == "evt.around" or name in ("proc.aname", "proc.apid") or base in ("proc.aname", "proc.apid"):
        return True
    if name in EITHER:  # raw connection ends (role-less sockets, connect enters): computed with Arrow
        return False
    ref = R.resolve(name)
    return ref is not None and name not in _NO_SQL and R.sql(ref, EMPTY) is not None


def to_sql(node: Node, ctx: FieldContext = EMPTY) -> str:
    """The WHERE condition of ``node``."""
    if isinstance(node, Not):
        return f"NOT ({to_sql(node.operand, ctx)})"
    if isinstance(node, BoolOp):
        return "(" + f" {node.op.upper()} ".join(to_sql(op, ctx) for op in node.operands) + ")"
    if isinstance(node, MacroRef):
        raise UsageError(f"undefined macro '{node.name}'")
    return f"COALESCE({_check(node, ctx)}, FALSE)"


def _lit(value: str, numeric: bool) -> str:
    if numeric:
        if value in ("true", "false"):
            return value
        try:
            return str(int(value, 0))
        except ValueError:
            try:
                return str(socket.getservbyname(value))  # a port given by its service name
            except OSError:
                raise UsageError(f"'{value}' is not a number") from None
    return "'" + value.replace("'", "''") + "'"


def _column(name: str, ctx: FieldContext) -> tuple[str, bool]:
    """A field as a SQL expression and whether its values are numbers (or booleans)."""
    base = name.split("[", 1)[0]
    if base in ("proc.aname", "proc.apid") and name != base:  # DuckDB lists are 1-based
        return f'"sysnb.{base.split(".")[1]}"[{int(name.split("[")[1].rstrip("]")) + 1}]', base == "proc.apid"
    ref = R.resolve(name)
    text = R.sql(ref, ctx) if ref is not None and name not in _NO_SQL else None
    if ref is None or text is None:
        raise UsageError(f"'{name}' is computed at evaluation time and has no SQL rendering; filter with "
                         "Capture.filter (Capture.sql applies such filters with Arrow)")
    return text, ref.kind in ("numeric", "bool")


def _check(c: Check, ctx: FieldContext) -> str:
    if c.field in EITHER:
        sides = [Check(f, c.op, c.value, c.pos, c.transforms) for f in EITHER[c.field]]
        sock = """"fd.type" IN ('ipv4', 'ipv6')"""
        if c.op != "!=":
            return f"({sock} AND (" + " OR ".join(f"COALESCE({_check(s, ctx)}, FALSE)" for s in sides) + "))"
        each = [f'("{s.field}" IS NULL OR COALESCE({_check(s, ctx)}, FALSE))' for s in sides]
        return f"""({sock} AND {each[0]} AND {each[1]})"""
    if c.field in ("proc.aname", "proc.apid"):  # any ancestor (levels 1 and up)
        probe = _probe(c, ctx).replace('"__a"', "x")
        return f'(len(list_filter("sysnb.{c.field.split(".")[1]}"[2:], lambda x: COALESCE({probe}, FALSE))) > 0)'
    if c.field.startswith("evt.around["):
        t, d = int(c.field[len("evt.around["):-1]), int(str(c.value)) * 1_000_000
        return f'("evt.rawtime" BETWEEN {max(t - d, 0)} AND {t + d})'
    col, num = _column(c.field, ctx)
    return _condition(c, col, num or "len" in c.transforms, ctx)


def _probe(c: Check, ctx: FieldContext) -> str:
    return _condition(Check("__a", c.op, c.value, c.pos), '"__a"', c.field == "proc.apid", ctx)


def _condition(c: Check, col: str, num: bool, ctx: FieldContext) -> str:
    for fn in c.transforms:
        if fn not in _SQL_TRANSFORMS:
            raise UsageError(f"{fn}() has no SQL rendering; filter with Capture.filter")
        col = _SQL_TRANSFORMS[fn].format(col)
    if isinstance(c.value, FieldRef):
        return f"({col} {_CMP[c.op]} {_column(c.value.field, ctx)[0]})"
    if c.op == "exists":
        return f"({col} IS NOT NULL)"
    if c.op in ("in", "intersects"):
        values = c.value if isinstance(c.value, tuple) else (str(c.value),)
        return f"({col} IN ({', '.join(_lit(v, num) for v in values)}))"
    if c.op == "pmatch":
        values = c.value if isinstance(c.value, tuple) else (str(c.value),)
        paths = [v.rstrip("/") or "/" for v in values]
        return "(" + " OR ".join(f"{col} = {_lit(p, False)} OR starts_with({col}, {_lit(p.rstrip('/') + '/', False)})"
                                 for p in paths) + ")"
    v = str(c.value)
    if c.field == "evt.buffer" and c.op in ("contains", "bcontains", "startswith", "bstartswith"):
        needle = bytes.fromhex(v).hex().upper() if c.op.startswith("b") else v.encode().hex().upper()
        if c.op.endswith("contains"):  # on the hex text, anchored to whole bytes: no match across a byte
            return f"regexp_matches(hex({col}), '^(..)*{needle}')"
        return f"starts_with(hex({col}), '{needle}')"
    if c.op in _CMP:
        return f"({col} {_CMP[c.op]} {_lit(v, num)})"
    if c.op == "contains":
        return f"contains({col}, {_lit(v, False)})"
    if c.op == "icontains":
        return f"contains(lower({col}), lower({_lit(v, False)}))"
    if c.op == "startswith":
        return f"starts_with({col}, {_lit(v, False)})"
    if c.op == "endswith":
        return f"ends_with({col}, {_lit(v, False)})"
    if c.op in ("glob", "iglob"):
        flags = ", 'i'" if c.op == "iglob" else ""
        return f"regexp_full_match({col}, {_lit(glob_regex(v), False)}{flags})"
    if c.op == "regex":
        return f"regexp_matches({col}, {_lit(v, False)})"
    raise UsageError(f"operator '{c.op}' has no SQL rendering yet")

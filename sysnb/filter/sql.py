"""Render a checked filter AST as a DuckDB SQL condition (same semantics as the pyarrow compiler).

Columns are quoted identifiers named by their sysdig fields (``"proc.name"``); a check on a missing value
is false (``COALESCE(..., FALSE)``), so ``NOT`` of it is true, as in sysdig and in ``compile.py``.
"""

from __future__ import annotations

from sysnb.errors import UsageError
from sysnb.filter.compile import EITHER, IO_TYPE_IDS, glob_regex
from sysnb.filter.parser import BoolOp, Check, FieldRef, MacroRef, Node, Not

BINARY_COLUMNS = frozenset({"evt.buffer"})
_CMP = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
#: derived fields as SQL expressions (the same rules as compile.DERIVED and the formatter)
_DERIVED = {
    "proc.cmdline": """(CASE WHEN "proc.args" = '' THEN "proc.name" ELSE "proc.name" || ' ' || "proc.args" END)""",
    "fd.directory": (
        """(CASE WHEN "fd.type" = 'file' OR "fd.type" IS NULL """
        """THEN COALESCE(NULLIF(regexp_replace("fd.name", '/[^/]*$', ''), ''), '/') """
        """WHEN "fd.type" = 'directory' THEN "fd.name" END)"""
    ),
    "fd.filename": """(CASE WHEN "fd.type" = 'file' THEN regexp_replace("fd.name", '^.*/', '') END)""",
    "proc.duration": """(CASE WHEN "sysnb.clone_ts" > 0 """
                     """THEN CAST("evt.rawtime" AS BIGINT) - CAST("sysnb.clone_ts" AS BIGINT) END)""",
}


#: fields computed from the table at evaluation (per event type, per distinct value): Arrow only
NO_SQL = ("evt.arg", "evt.rawarg.", "fd.net", "fd.snet", "fd.cnet")
_SQL_TRANSFORMS = {"tolower": "lower({})", "toupper": "upper({})", "len": "length({})",
                   "basename": "regexp_replace({}, '^.*/', '')"}
_NUMERIC_FIELDS = frozenset({"proc.apid", "fd.port"})


def to_sql(node: Node, numeric: frozenset[str]) -> str:
    """The WHERE condition of ``node``; ``numeric`` names the integer/boolean columns (values unquoted)."""
    if isinstance(node, Not):
        return f"NOT ({to_sql(node.operand, numeric)})"
    if isinstance(node, BoolOp):
        return "(" + f" {node.op.upper()} ".join(to_sql(op, numeric) for op in node.operands) + ")"
    if isinstance(node, MacroRef):
        raise UsageError(f"undefined macro '{node.name}'")
    return f"COALESCE({_check(node, numeric)}, FALSE)"


def _lit(value: str, numeric: bool) -> str:
    if numeric:
        return value.lower() if value.lower() in ("true", "false") else str(int(value, 0))
    return "'" + value.replace("'", "''") + "'"


def _column(name: str) -> str:
    """A field as a SQL expression."""
    base = name.split("[", 1)[0]
    if base.startswith(NO_SQL):
        raise UsageError(f"'{name}' is computed at evaluation time and has no SQL rendering; filter with "
                         "Capture.filter (Capture.sql applies such filters with Arrow)")
    if name in IO_TYPE_IDS:
        return f'("sysnb.type_id" IN ({", ".join(map(str, IO_TYPE_IDS[name]))}))'
    if name == "fd.sockfamily":
        return """(CASE WHEN "fd.type" IN ('ipv4', 'ipv6') THEN 'ip' WHEN "fd.type" = 'unix' THEN 'unix' END)"""
    if base in ("proc.aname", "proc.apid") and name != base:  # DuckDB lists are 1-based
        return f'"sysnb.{base.split(".")[1]}"[{int(name.split("[")[1].rstrip("]")) + 1}]'
    return _DERIVED.get(name) or '"' + name.replace('"', '""') + '"'


def _check(c: Check, numeric: frozenset[str]) -> str:
    if c.field in EITHER:
        sides = [Check(f, c.op, c.value, c.pos, c.transforms) for f in EITHER[c.field]]
        if c.op != "!=":
            return "(" + " OR ".join(f"COALESCE({_check(s, numeric)}, FALSE)" for s in sides) + ")"
        each = [f'("{s.field}" IS NULL OR COALESCE({_check(s, numeric)}, FALSE))' for s in sides]
        return f"""("fd.type" IN ('ipv4', 'ipv6') AND {each[0]} AND {each[1]})"""
    if c.field in ("proc.aname", "proc.apid"):  # any ancestor (levels 1 and up)
        probe = _check(Check("__a", c.op, c.value, c.pos), numeric | {"__a"} if c.field == "proc.apid" else numeric)
        probe = probe.replace('"__a"', "x")
        return f'(len(list_filter("sysnb.{c.field.split(".")[1]}"[2:], lambda x: COALESCE({probe}, FALSE))) > 0)'
    if c.field.startswith("evt.around["):
        t, d = int(c.field[len("evt.around["):-1]), int(str(c.value)) * 1_000_000
        return f'("evt.rawtime" BETWEEN {max(t - d, 0)} AND {t + d})'
    col = _column(c.field)
    for fn in c.transforms:
        if fn not in _SQL_TRANSFORMS:
            raise UsageError(f"{fn}() has no SQL rendering; filter with Capture.filter")
        col = _SQL_TRANSFORMS[fn].format(col)
    base = c.field.split("[", 1)[0]
    num = c.field in numeric or base in _NUMERIC_FIELDS or c.field in IO_TYPE_IDS or "len" in c.transforms
    if isinstance(c.value, FieldRef):
        return f"({col} {_CMP[c.op]} {_column(c.value.field)})"
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
    if c.field in BINARY_COLUMNS and c.op in ("contains", "bcontains", "startswith", "bstartswith"):
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

"""Condition text as Falco builds it before parsing: list names substituted, exceptions appended.

Both are textual in Falco (rule_loader_compiler.cpp) and so are they here, character for character: a list
name is replaced wherever it stands between delimiters (blanks, parentheses, commas, ``=``), including
``proc.name=my_list``; items with a space are double-quoted; an empty list also removes one adjacent comma.
"""

from __future__ import annotations

from sysnb.rules.model import Entry, ExceptionInfo

_BLANKS = " \t\n\r"
_DELIMS = _BLANKS + "(),="
LIST_OPERATORS = ("in", "intersects", "pmatch")


def quote_item(item: str) -> str:
    """Falco's quote_item: an item with a space gets double quotes unless it already starts with a quote."""
    if " " in item and item[:1] not in ("'", '"'):
        return f'"{item}"'
    return item


def _paren_item(item: str) -> str:
    return item if item.startswith("(") else f"({item})"


def resolve_list(cond: str, name: str, items: list[str]) -> tuple[str, bool]:
    """``cond`` with every delimited occurrence of the list ``name`` replaced by its items; and whether any was."""
    used = False
    start = cond.find(name)
    while start != -1:
        end = start + len(name)
        if (start == 0 or cond[start - 1] in _DELIMS) and (end >= len(cond) or cond[end] in _DELIMS):
            while start > 0 and cond[start - 1] in _BLANKS:
                start -= 1
            while end < len(cond) and cond[end] in _BLANKS:
                end += 1
            sub = ", ".join(quote_item(v) for v in items)
            if not sub:  # an empty list also takes one of the commas around it
                if start > 0 and cond[start - 1] == ",":
                    start -= 1
                elif end < len(cond) and cond[end] == ",":
                    end += 1
            cond = (cond[:start] + " " if start > 0 else "") + sub + " " + cond[end:]
            start += len(sub) + 1  # where Falco resumes its search (one past it, below)
            used = True
        start = cond.find(name, start + 1)
    return cond, used


def _values_text(values: list[Entry]) -> str:
    return "(" + ", ".join(quote_item(v) if isinstance(v, str) else "" for v in values) + ")"


def exception_condition(condition: str, exceptions: list[ExceptionInfo]) -> str:
    """The rule condition with ``and not (...)`` for every exception that has values (Falco's
    build_rule_exception_infos): one field gives ``field comp (v1, v2)``, several give one ``and``-ed
    comparison per value tuple, ``or``-ed together."""
    out = f"({condition})"
    for ex in exceptions:
        if isinstance(ex.fields, str):
            vals = [v for v in ex.values if isinstance(v, str)]
            if len(vals) != len(ex.values):
                raise ValueError("Expected values array to contain a list of strings")
            icond = f"({ex.fields} {ex.comps} {_values_text(list(vals))})" if vals else ""
        else:
            icond = _tuple_condition(ex)
        if icond:
            out += " and not " + icond
    return out


def _tuple_condition(ex: ExceptionInfo) -> str:
    fields = ex.fields if isinstance(ex.fields, list) else []
    comps = ex.comps if isinstance(ex.comps, list) else []
    alternatives = []
    for values in ex.values:
        if not isinstance(values, list) or len(values) != len(fields):
            raise ValueError("Fields and values lists must have equal length")
        parts = []
        for field, comp, value in zip(fields, comps, values, strict=True):
            if isinstance(value, list):
                rhs = "(" + ", ".join(quote_item(v) for v in value if isinstance(v, str)) + ")"
            elif comp in LIST_OPERATORS:
                rhs = _paren_item(value)
            else:
                rhs = quote_item(value)
            parts.append(f" {field} {comp} {rhs}")
        alternatives.append("(" + " and ".join(parts) + ")")
    return "(" + " or ".join(alternatives) + ")" if alternatives else ""

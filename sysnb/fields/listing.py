"""``sysnb -l``, ``-lv`` and ``--list-markdown``: the registry's classes and fields as sysdig prints them
(libsinsp's filter_fieldclass_info::as_string and list_fields_markdown), sysnb's extensions last."""

from __future__ import annotations

from collections.abc import Iterator

from sysnb.fields.registry import FIELD_CLASSES, FIELDS

_RIGHT = 30
_WIDTH = 120


def _wrap(text: str) -> str:
    """libsinsp's wrapstring: words followed by a space, new line (indented 30) past column 120."""
    out, used = [], 0
    for word in text.split():
        size = len(word) + 1
        if used + size <= _WIDTH - _RIGHT:
            used += size
        else:
            out.append("\n" + " " * _RIGHT)
            used = size
        out.append(word + " ")
    return "".join(out)


def listing(verbose: bool = False) -> Iterator[str]:
    """The lines of ``-l`` (``-lv`` with types)."""
    for name, short, desc, names in FIELD_CLASSES:
        block = ["-------------------------------\n", "Field Class:".ljust(_RIGHT) + name
                 + (f" ({short})" if short else "") + "\n"]
        if desc:
            block.append("Description:".ljust(_RIGHT) + _wrap(desc) + "\n")
        block.append("\n")
        for field_name in names:
            f = FIELDS[field_name]
            head = field_name + "\n" + " " * _RIGHT if len(field_name) > _RIGHT else field_name.ljust(_RIGHT)
            text = ("(FILTER ONLY) " if f.filter_only else "") + f.description
            if verbose:
                text = f"(Type: {f.type}) " + text
            block.append(head + _wrap(text) + "\n")
        yield from "".join(block).split("\n")


def markdown() -> Iterator[str]:
    """The lines of ``--list-markdown``."""
    for name, _, desc, names in FIELD_CLASSES:
        yield ""
        yield f"## Field Class: {name}"
        yield ""
        yield desc
        yield ""
        yield "Name | Type | Description"
        yield ":----|:-----|:-----------"
        for field_name in names:
            f = FIELDS[field_name]
            yield f"`{field_name}` | {f.type} | {f.description}"


def detail(name: str) -> Iterator[str]:
    """One field in detail (``sysnb -lv FIELD``): class, type, how it is computed and what it reads."""
    from sysnb.fields.registry import lookup

    f = lookup(name).field
    yield f"{f.name} ({f.type}) {f.description}"
    yield f"  class:    {f.cls or '(not listed by sysdig: ' + ('print/table only' if f.hidden else '?') + ')'}"
    how = ("filter only" if f.filter_only else "per-event state not tracked yet: evaluates to <NA>" if f.state
           else "Arrow expression" if f.expr else "computed from the table" if f.table else "-")
    yield f"  computed: {how}" + (" (in event order)" if f.ordered else "")
    if f.state:
        yield f"  needs:    {f.state}"
    if f.columns:
        yield f"  reads:    {', '.join(f.columns)}"
    if f.extension:
        yield "  note:     an extension (not in sysdig 0.29.3)"

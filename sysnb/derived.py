"""Fields that are one Arrow expression over stored columns, from the field registry (sysnb.fields).

``DERIVED[name] = (expression factory, stored columns read)``; kept for the chisels and views that build
these expressions themselves. The registry is the one place fields are defined.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow.compute as pc

from sysnb.fields import EMPTY, FIELDS, FieldRef, expression


def _factory(ref: FieldRef) -> Callable[[], pc.Expression]:
    def make() -> pc.Expression:
        expr = expression(ref, EMPTY)
        assert expr is not None
        return expr
    return make


#: field -> (expression factory, the stored columns it reads), for fields computed from other columns
DERIVED: dict[str, tuple[Callable[[], pc.Expression], tuple[str, ...]]] = {
    name: (_factory(FieldRef(f, name)), f.columns) for name, f in FIELDS.items()
    if f.expr is not None and not f.state and not f.arg and f.columns != (name,)
}
#: derived fields whose values are numbers (the others are strings)
NUMERIC_DERIVED = frozenset(name for name in DERIVED if FIELDS[name].kind in ("numeric", "bool"))

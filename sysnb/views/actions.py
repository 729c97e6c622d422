"""The explorer's row actions: a context-menu value as a filter, go to an event, the marks in view.

Browser -> Python messages (handled by :class:`sysnb.views.widget.Explorer`):

``{"kind": "ctx", "field": "proc.name", "value": "curl", "op": "and"}``  a value as a filter: ``apply`` (replace
                                                                       the filter box), ``and``, ``or``, ``not``
``{"kind": "ctx", "row": 3, "op": "apply"}``                           a lens row's drill-down filter, likewise
``{"kind": "exclude", "evt_num": 4711}``                               ``and not proc.pid=<its pid>``
``{"kind": "goto", "evt_num": 4711}``                                  scroll to and select an event of the view
``{"kind": "markjump", "from": 4711, "step": 1}``                      the next (-1: previous) marked event
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sysnb.errors import UsageError
from sysnb.views.explore import quote

#: table columns shown as text whose filterable field is another one
FILTER_ALIAS = {"evt.time": "evt.rawtime", "evt.datetime": "evt.rawtime", "evt.outputtime": "evt.rawtime",
                "evt.time.s": "evt.rawtime"}
#: aggregated text (several fields in one string): no single field to compare with
NOT_FILTERABLE = ("evt.info", "evt.args", "evt.buffer")
OPS = ("apply", "and", "or", "not")


def value_filter(field: str, value: str, raw: object = None) -> str:
    """``field=value`` for a shown value; time columns compare their raw timestamp (``raw``)."""
    if field in NOT_FILTERABLE or field.startswith("evt.arg"):
        raise UsageError(f"{field} is not one value to filter on; right-click a field in the detail pane "
                         "(e.g. fd.name, evt.res) instead")
    if field in FILTER_ALIAS:
        if raw is None:
            raise UsageError(f"{field}: no timestamp to filter on")
        return f"{FILTER_ALIAS[field]}={int(str(raw))}"
    if value in ("", "<NA>"):
        return f"not {field} exists"
    return f"{field}={quote(value)}"


def combine(current: str, expr: str, op: str) -> str:
    """The filter box after a context-menu action ``op`` with ``expr``."""
    if op not in OPS:
        raise UsageError(f"unknown filter action {op!r}; one of {', '.join(OPS)}")
    current = current.strip()
    if op == "apply" or (not current and op in ("and", "or")):
        return expr
    if op == "not":
        return f"({current}) and not ({expr})" if current else f"not ({expr})"
    return f"({current}) {op} ({expr})"


def position_of(nums: pa.Array, evt_num: int) -> int | None:
    """Where event ``evt_num`` is in the displayed order (``nums``: evt.num of each displayed row)."""
    hits = np.flatnonzero(np.asarray(nums.to_numpy(zero_copy_only=False), dtype=np.int64) == evt_num)
    return int(hits[0]) if len(hits) else None


def next_mark(marked: list[int], current: int | None, step: int) -> int | None:
    """The marked event after (``step`` 1) or before (-1) ``current``, wrapping around; None without marks."""
    ordered = sorted(marked)
    if not ordered:
        return None
    if current is None:
        return ordered[0] if step > 0 else ordered[-1]
    later = [m for m in ordered if (m > current if step > 0 else m < current)]
    if later:
        return later[0] if step > 0 else later[-1]
    return ordered[0] if step > 0 else ordered[-1]

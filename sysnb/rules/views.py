"""Falco alerts in the overview and the explorer: a "Falco alerts" tile and an ``alerts`` lens.

Both read the alerts last computed on the capture (``cap.alerts(rules=...)`` or ``%sysrules``); without them
the tile is absent and the lens is empty. The lens groups the events of the current view by the rule that
alerted on them; a double click drills down to that rule's events (``evt.num in (...)``), as every other
explorer step, a sysdig filter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.rules.result import Alerts, events_filter

TILE_TITLE = "Falco alerts"
TILE_GROUP = "Falco rules"
LENS = "alerts"
_LENS_SCHEMA = pa.schema([("rule", pa.string()), ("priority", pa.string()), ("events", pa.int64()),
                          ("mitre", pa.string())])


def alerts_of(cap: Any) -> Alerts | None:
    found = getattr(cap, "rule_alerts", None)
    return found if isinstance(found, Alerts) else None


def tiles(cap: Any) -> list[Any]:
    """The "Falco alerts" tile (its filter selects the alerted events) when the capture has alerts."""
    from sysnb.views.overview import Tile

    alerts = alerts_of(cap)
    if alerts is None:
        return []
    return [Tile(TILE_TITLE, alerts.filter_text(), "count", TILE_GROUP)]


def lens(rows: pa.Table, cap: Any) -> tuple[pa.Table, list[str], list[str]]:
    """One row per rule that alerted on events of ``rows`` (most severe first): its priority, how many of
    these events, its MITRE tags; the drill-down filter selects those events."""
    alerts = alerts_of(cap)
    if alerts is None or alerts.table.num_rows == 0 or "evt.num" not in rows.column_names:
        return _LENS_SCHEMA.empty_table(), [], []
    table = alerts.table
    inside = pc.is_in(table["evt.num"], value_set=rows["evt.num"].combine_chunks().drop_null())
    hits = table.filter(pc.fill_null(inside, False))
    if hits.num_rows == 0:
        return _LENS_SCHEMA.empty_table(), [], []
    grouped = hits.group_by(["rule", "priority", "priority_num"]).aggregate([("evt.num", "count_distinct")])
    order = np.lexsort((grouped["rule"].to_numpy(zero_copy_only=False),
                        -grouped["evt.num_count_distinct"].to_numpy(), grouped["priority_num"].to_numpy()))
    grouped = grouped.take(pa.array(order))
    names = grouped["rule"].to_pylist()
    mitre = {r: ", ".join(m) for r, m in zip(table["rule"].to_pylist(), table["mitre"].to_pylist(), strict=True)}
    out = pa.table({"rule": grouped["rule"], "priority": grouped["priority"],
                    "events": grouped["evt.num_count_distinct"].cast(pa.int64()),
                    "mitre": pa.array([mitre.get(n, "") for n in names], pa.string())}, schema=_LENS_SCHEMA)
    filters = [events_filter(hits.filter(pc.equal(hits["rule"], n))["evt.num"].to_pylist()) for n in names]
    return out, filters, names

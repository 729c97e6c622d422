"""Partition pruning: the ``evt.rawtime`` bounds and ``evt.hostname`` values a filter requires decide which
partition directories (``host=H/date=D/hour=N``) a query reads at all; the captures a filter cannot match
(:mod:`sysnb.datasets.contexts`) decide which files in them.

Only terms every matching row must satisfy are used: the filter itself or the operands of a top-level
``and``. A row's partition is the UTC hour of its own ``evt.rawtime`` (0 for rows without a timestamp), so
``evt.rawtime >= T`` implies partition hour >= hour(T) and ``evt.rawtime <= T`` partition hour <= hour(T).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sysnb.datasets.sources import host_label
from sysnb.filter.parser import BoolOp, Check, Node

_HOUR_NS = 3600 * 1_000_000_000
_LOWER, _UPPER = (">", ">=", "="), ("<", "<=", "=")
_EPOCH = dt.date(1970, 1, 1)


@dataclass
class Bounds:
    """The partitions a filter can match: hours since the epoch in [lo, hi], hosts in ``hosts`` (labels;
    None: any), captures in ``captures`` (None: any)."""

    lo: int = 0
    hi: int | None = None
    hosts: set[str] | None = field(default=None)
    captures: set[str] | None = field(default=None)

    def keeps(self, host: str, date: str, hour: int, capture: str | None = None) -> bool:
        if self.captures is not None and capture is not None and capture not in self.captures:
            return False
        try:
            index = (dt.date.fromisoformat(date) - _EPOCH).days * 24 + hour
        except ValueError:
            return True  # not a partition this sysnb wrote: read it
        if self.hosts is not None and host not in self.hosts:
            return False
        return index >= self.lo and (self.hi is None or index <= self.hi)


def conjuncts(node: Node) -> list[Node]:
    if isinstance(node, BoolOp) and node.op == "and":
        return [c for op in node.operands for c in conjuncts(op)]
    return [node]


def bounds(node: Node | None) -> Bounds:
    """What ``node`` implies about the partitions of the rows it matches."""
    b = Bounds()
    for c in conjuncts(node) if node is not None else []:
        if not isinstance(c, Check) or c.transforms:
            continue
        if c.field == "evt.rawtime" and isinstance(c.value, str):
            _time(b, c)
        elif c.field == "evt.hostname" and c.op in ("=", "in") and isinstance(c.value, str | tuple):
            values = {host_label(str(v)) for v in (c.value if isinstance(c.value, tuple) else (c.value,))}
            b.hosts = values if b.hosts is None else b.hosts & values
    return b


def _time(b: Bounds, c: Check) -> None:
    try:
        t = int(str(c.value), 0)
    except ValueError:
        return
    if t < 0:
        return
    hour = t // _HOUR_NS
    if c.op in _LOWER:
        b.lo = max(b.lo, hour)
    if c.op in _UPPER:
        b.hi = hour if b.hi is None else min(b.hi, hour)

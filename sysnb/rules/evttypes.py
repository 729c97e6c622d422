"""The event types a rule condition can match (libsinsp's ppm_event_codes, ported to names).

``and`` intersects, ``or`` unites, ``not`` is pushed down to the leaves (De Morgan), where it inverts only
checks on ``evt.type`` (``=``, ``!=``, ``in``, ``exists``) and the ``evt.num`` invariants (``evt.num=0`` never
holds); every other check is neutral (all types). Rules are evaluated only on rows of those types, and a
rule that matches (nearly) every type gets Falco's LOAD_NO_EVTTYPE warning.
"""

from __future__ import annotations

import functools

from sysnb.filter.parser import BoolOp, Check, MacroRef, Node, Not
from sysnb.scap.events import EVENTS, PPM_SC_NAMES, SYSCALL_INFO_2022

_EVTTYPE_OPS = ("=", "!=", "in")
#: Falco warns when a condition matches more event codes than this
TOO_MANY_CODES = 100


@functools.cache
def event_names() -> frozenset[str]:
    """Every event type name Falco knows: dedicated events (2022 and current tables) and every syscall
    (recorded as generic events when it has no dedicated one)."""
    names = {e.name for e in EVENTS} | {e.name_2022 for e in EVENTS if e.known_2022}
    names |= {n.lower() for n in PPM_SC_NAMES} | {n for _, n in SYSCALL_INFO_2022}
    return frozenset(n for n in names if n and n not in ("NA", "<unknown>", "unknown"))


@functools.cache
def _codes_per_name() -> dict[str, int]:
    """How many event codes each name stands for (enter + exit of each version; generic syscalls share 2)."""
    counts: dict[str, int] = {}
    for e in EVENTS:
        for name in {e.name, e.name_2022}:
            counts[name] = counts.get(name, 0) + 1
    return counts


def code_count(names: frozenset[str]) -> int:
    per = _codes_per_name()
    dedicated = sum(per.get(n, 0) for n in names)
    return dedicated + (2 if any(n not in per for n in names) else 0)


def evttypes(node: Node) -> frozenset[str]:
    """The names of the event types ``node`` can match (every known name when it is not restricted)."""
    return _codes(node, False)


def _codes(node: Node, negated: bool) -> frozenset[str]:
    if isinstance(node, Not):
        return _codes(node.operand, not negated)
    if isinstance(node, BoolOp):
        parts = [_codes(op, negated) for op in node.operands]
        conjunction = (node.op == "and") != negated
        out = parts[0]
        for p in parts[1:]:
            out = out & p if conjunction else out | p
        return out
    if isinstance(node, MacroRef):
        return event_names()
    return _leaf(node, negated)


def _leaf(c: Check, negated: bool) -> frozenset[str]:
    universe = event_names()
    fixed = _evt_num_invariant(c)
    if fixed is not None:
        value = universe if fixed else frozenset()
        return universe - value if negated else value
    if c.field != "evt.type" or c.transforms:
        return universe
    if c.op == "exists":
        return frozenset() if negated else universe
    if c.op not in _EVTTYPE_OPS or not isinstance(c.value, str | tuple):
        return universe
    names = frozenset(c.value) if isinstance(c.value, tuple) else frozenset({c.value})
    if negated:
        names = universe - names
    return universe - names if c.op == "!=" else names


def _evt_num_invariant(c: Check) -> bool | None:
    """evt.num starts at 1: True when the check always holds, False when it never does, else None."""
    if c.field != "evt.num" or c.transforms:
        return None
    if c.op == "in" and isinstance(c.value, tuple):
        return False if all(_uint(v) == 0 for v in c.value) else None
    n = _uint(c.value) if isinstance(c.value, str) else None
    if n is None:
        return None
    table = {"=": (n == 0, False), "!=": (n == 0, True), "<": (n <= 1, False), "<=": (n == 0, False),
             ">": (n == 0, True), ">=": (n <= 1, True)}
    hit = table.get(c.op)
    return hit[1] if hit is not None and hit[0] else None


def _uint(v: str) -> int | None:
    try:
        n = int(v, 0)
    except ValueError:
        return None
    return n % (1 << 64)


def type_ids(node: Node) -> list[int] | None:
    """The event type ids (of the capture format) whose rows ``node`` can match, or None when it can match
    nearly every type. Generic events (a syscall without a dedicated event) are always included."""
    names = evttypes(node)
    if len(names) >= len(event_names()) // 2:
        return None
    ids = {e.id for e in EVENTS if e.name in names or (e.known_2022 and e.name_2022 in names)}
    return sorted(ids | {0, 1})

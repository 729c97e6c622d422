"""Typed access to the generated event table (``event_table.py``).

Two views of every event type exist: the current libs table (454 types, used to
decode parameters) and the 2022 table embedded in sysdig 0.29.3 (336 types,
used to render output exactly as sysdig prints it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sysnb.scap import event_table as _t

Param = tuple[str, str, str, "str | int | None"]
"""(name, PT type without ``PT_``, print format without ``PF_``, info)."""

TABLE_SIZE = len(_t.EVENTS)



@dataclass(frozen=True, slots=True)
class EventInfo:
    id: int
    symbol: str
    name: str
    category: str
    flags: frozenset[str]
    params: tuple[Param, ...]
    known_2022: bool
    name_2022: str
    category_2022: str
    flags_2022: frozenset[str]
    params_2022: tuple[Param, ...]

    @property
    def direction(self) -> str:
        """``>`` for enter events (even ids), ``<`` for exit events."""
        return "<" if self.id & 1 else ">"


def _build(entry: tuple) -> EventInfo:  # type: ignore[type-arg]
    eid, sym, name, cat, flags, params, old = entry
    if old is None:
        return EventInfo(eid, sym, name, cat, frozenset(flags), params, False, name, cat, frozenset(flags), params)
    oname, ocat, oflags, oparams = old
    return EventInfo(eid, sym, name, cat, frozenset(flags), params, True, oname, ocat, frozenset(oflags), oparams)


EVENTS: tuple[EventInfo, ...] = tuple(_build(e) for e in _t.EVENTS)


@cache
def event_info(etype: int) -> EventInfo | None:
    """The table entry of an event type id, or None when the id is unknown."""
    return EVENTS[etype] if 0 <= etype < TABLE_SIZE else None


FLAG_TABLES: dict[str, tuple[tuple[str, int], ...]] = _t.FLAG_TABLES
DYN_TABLES: dict[str, tuple[tuple[str, str], ...]] = _t.DYN_TABLES
PPM_SC_NAMES: tuple[str, ...] = _t.PPM_SC_NAMES


SYSCALL_INFO_2022: tuple[tuple[str, str], ...] = _t.SYSCALL_INFO_2022


def syscall_name(code: int) -> str:
    """Syscall name of a PPM_SC code as sysdig 0.29.3 prints it (its syscall info table)."""
    if 0 <= code < len(SYSCALL_INFO_2022):
        return SYSCALL_INFO_2022[code][1]
    if 0 <= code < len(PPM_SC_NAMES):
        return PPM_SC_NAMES[code].lower()
    return "<unknown syscall>"


def syscall_category(code: int) -> str:
    """The event category of a syscall recorded as a generic event (2022 syscall info table)."""
    return SYSCALL_INFO_2022[code][0] if 0 <= code < len(SYSCALL_INFO_2022) else "OTHER"


# Ids used by the reader and the state engine.
GENERIC_E, GENERIC_X = 0, 1
CONTAINER_IDS = frozenset(e.id for e in EVENTS if e.name == "container")


def ids_with_flag(*flags: str) -> list[int]:
    """Event type ids carrying any of these flags (2022 flags where the type is known to 2022 libs), sorted:
    ``ids_with_flag("READS_FROM_FD")`` is evt.is_io_read, with "WRITES_TO_FD" evt.is_io."""
    return sorted(e.id for e in EVENTS if set(e.flags_2022 if e.known_2022 else e.flags) & set(flags))
NOTIFICATION_E, INFRASTRUCTURE_EVENT_E = 280, 286

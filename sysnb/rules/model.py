"""What a rules file defines, as collected in file order: lists, macros, rules and their exceptions.

These are the definitions *before* compilation (Falco's rule_loader collector infos): conditions are still
text, lists still name other lists. ``index`` is the position of the first definition (a redefinition keeps
it: load order is the order of first definition); ``visibility`` is the position of the latest definition,
append or override, and bounds what a list or macro may refer to (only what was defined before it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sysnb.rules.yamlsrc import Loc

#: Falco's priorities, most severe first (falco_common.cpp); the number is the index
PRIORITIES = ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug")
SYSCALL_SOURCE = "syscall"


def parse_priority(value: str) -> int | None:
    """Falco's priority parsing: case-insensitive names, "info" for Informational; None when unknown."""
    v = value.strip().lower()
    if v == "info":
        return PRIORITIES.index("Informational")
    for i, name in enumerate(PRIORITIES):
        if v == name.lower():
            return i
    return None


#: an exception's fields, comps or one of its values: a string, or a list of them (values nest one level)
Entry = str | list["Entry"]


@dataclass
class ExceptionInfo:
    name: str
    loc: Loc
    fields: Entry | None = None
    comps: Entry | None = None
    values: list[Entry] = field(default_factory=list)


@dataclass
class ListInfo:
    name: str
    items: list[str]
    loc: Loc
    index: int = 0
    visibility: int = 0


@dataclass
class MacroInfo:
    name: str
    condition: str
    loc: Loc
    cond_loc: Loc
    index: int = 0
    visibility: int = 0


@dataclass
class RuleInfo:
    name: str
    loc: Loc
    condition: str = ""
    output: str = ""
    desc: str = ""
    priority: int = PRIORITIES.index("Debug")
    source: str = SYSCALL_SOURCE
    enabled: bool = True
    tags: set[str] = field(default_factory=set)
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    capture: bool = False
    capture_duration: int = 0
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    cond_loc: Loc | None = None
    output_loc: Loc | None = None
    index: int = 0
    visibility: int = 0
    unknown_source: bool = False


@dataclass
class RuleUpdate:
    """An ``append: true`` or ``override:`` item for an existing rule: only the keys it sets."""

    name: str
    loc: Loc
    source: str = ""
    condition: str | None = None
    output: str | None = None
    desc: str | None = None
    tags: set[str] | None = None
    exceptions: list[ExceptionInfo] | None = None
    priority: int | None = None
    enabled: bool | None = None
    capture: bool | None = None
    capture_duration: int | None = None
    warn_evttypes: bool | None = None
    skip_if_unknown_filter: bool | None = None
    cond_loc: Loc | None = None

    def has_any_value(self) -> bool:
        return any(v is not None for v in (self.condition, self.output, self.desc, self.tags, self.exceptions,
                                           self.priority, self.enabled, self.capture, self.capture_duration,
                                           self.warn_evttypes, self.skip_if_unknown_filter))


@dataclass
class PluginRequirement:
    """One ``required_plugin_versions`` entry: the plugin and the alternatives that also satisfy it."""

    alternatives: list[tuple[str, str]]
    loc: Loc

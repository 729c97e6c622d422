"""Load-time errors and warnings, with Falco's codes and wording, and where they were written.

Falco stops loading at the first error (the whole ruleset is refused) and collects warnings. sysnb does the
same, and adds one kind of note of its own: a rule whose condition needs a field sysnb does not provide yet
is *not compiled* (skipped, with the reason) instead of refusing every other rule with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sysnb.rules.yamlsrc import Loc

#: Falco's error codes and their short descriptions (falco_load_result.cpp)
ERRORS = {
    "LOAD_ERR_FILE_READ": "File read error",
    "LOAD_ERR_YAML_PARSE": "YAML parse error",
    "LOAD_ERR_YAML_VALIDATE": "Error validating internal structure of YAML file",
    "LOAD_ERR_COMPILE_CONDITION": "Error compiling condition",
    "LOAD_ERR_COMPILE_OUTPUT": "Error compiling output",
    "LOAD_ERR_VALIDATE": "Error validating rule/macro/list/exception objects",
}
#: Falco's warning codes, plus sysnb's own (SYSNB_*)
WARNINGS = {
    "LOAD_UNKNOWN_SOURCE": "Unknown event source",
    "LOAD_NO_EVTTYPE": "Condition has no event-type restriction",
    "LOAD_UNKNOWN_FILTER": "Unknown field or event-type in condition or output",
    "LOAD_UNUSED_MACRO": "Unused macro",
    "LOAD_UNUSED_LIST": "Unused list",
    "LOAD_UNKNOWN_ITEM": "Unknown rules file item",
    "LOAD_DEPRECATED_ITEM": "Used deprecated item",
    "LOAD_APPEND_NO_VALUES": "Overriding/appending with no values",
    "LOAD_EXCEPTION_NAME_NOT_UNIQUE": "Multiple exceptions defined with the same name",
    "LOAD_INVALID_MACRO_NAME": "Invalid macro name",
    "LOAD_INVALID_LIST_NAME": "Invalid list name",
    "LOAD_UNKNOWN_KEY": "Unknown key in item definition",
    "LOAD_PLUGIN_REQUIREMENT": "Required plugin not available",
    "SYSNB_NOT_COMPILED": "Rule not compiled by sysnb (a field or operator it does not provide yet)",
    "SYSNB_OUTPUT_FIELD": "Output field sysnb does not provide yet (printed as <NA>)",
    "SYSNB_IGNORED_EVTTYPE": "Rule matches events Falco skips unless -A/--all-events",
}


@dataclass(frozen=True)
class LoadMessage:
    """One error or warning: Falco's code, the message, the item it is about and where it was written."""

    code: str
    message: str
    item_type: str = ""
    item_name: str = ""
    loc: Loc | None = None

    @property
    def is_error(self) -> bool:
        return self.code in ERRORS

    @property
    def description(self) -> str:
        return ERRORS.get(self.code) or WARNINGS.get(self.code, "")

    def __str__(self) -> str:
        where = f"{self.loc}: " if self.loc is not None else ""
        kind = "error" if self.is_error else "warning"
        item = f"{self.item_type} '{self.item_name}': " if self.item_name else \
            (f"{self.item_type}: " if self.item_type else "")
        return f"{where}{kind} {self.code} ({self.description}): {item}{self.message}"


class RuleLoadError(Exception):
    """Raised inside the loader at the first error; the loader records it and stops, as Falco does."""

    def __init__(self, code: str, message: str, item_type: str = "", item_name: str = "",
                 loc: Loc | None = None) -> None:
        self.msg = LoadMessage(code, message, item_type, item_name, loc)
        super().__init__(str(self.msg))

"""The collector: definitions, appends and overrides applied in file order (Falco's rule_loader::collector).

A redefinition replaces the earlier item in place (it keeps the earlier load position); an append extends
it (a condition with a space between, list items, exceptions by name); a ``replace`` override swaps the keys
it names. Every item bumps a counter that orders what may refer to what.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from sysnb.rules.messages import RuleLoadError
from sysnb.rules.model import ExceptionInfo, ListInfo, MacroInfo, PluginRequirement, RuleInfo, RuleUpdate
from sysnb.rules.yamlsrc import Loc

#: the rules language sysnb implements: Falco's engine 0.57.0 (Falco 0.42)
ENGINE_VERSION = (0, 57, 0)
#: list operators an exception value is put in parentheses for (libsinsp's list operators)
LIST_OPERATORS = ("in", "intersects", "pmatch")
OPERATORS = ("=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains", "bcontains", "startswith",
             "bstartswith", "endswith", "glob", "iglob", "regex", "exists", *LIST_OPERATORS)

_T = TypeVar("_T", ListInfo, MacroInfo, RuleInfo)


def _validate(code: str, cond: bool, message: str, loc: Loc | None, item_type: str = "",
              item_name: str = "") -> None:
    if cond:
        raise RuleLoadError(code, message, item_type, item_name, loc)


@dataclass
class Collector:
    lists: dict[str, ListInfo] = field(default_factory=dict)
    macros: dict[str, MacroInfo] = field(default_factory=dict)
    rules: dict[str, RuleInfo] = field(default_factory=dict)
    plugin_requirements: list[PluginRequirement] = field(default_factory=list)
    engine_version: tuple[int, int, int] = (0, 0, 0)
    counter: int = 0

    def _next(self) -> int:
        self.counter += 1
        return self.counter - 1

    @staticmethod
    def _define(table: dict[str, _T], info: _T, position: int) -> None:
        prev = table.get(info.name)
        info.index = prev.index if prev is not None else position
        info.visibility = position
        table[info.name] = info  # a redefinition keeps its place in load order (dicts keep the first key's)

    # -- versions -------------------------------------------------------------------------------------------

    def require_engine(self, version: tuple[int, int, int], loc: Loc) -> None:
        ours = ENGINE_VERSION
        compatible = version[0] == ours[0] and version[1:] <= ours[1:]
        _validate("LOAD_ERR_VALIDATE", not compatible,
                  f"Rules require engine version {'.'.join(map(str, version))}, but engine version is "
                  f"{'.'.join(map(str, ours))}", loc, "required_engine_version")
        self.engine_version = max(self.engine_version, version)

    def require_plugins(self, req: PluginRequirement) -> None:
        names = [n for n, _ in req.alternatives]
        dup = next((n for n in names if names.count(n) > 1), None)
        _validate("LOAD_ERR_VALIDATE", dup is not None,
                  f"Defined multiple alternative version requirements for plugin '{dup}'", req.loc,
                  "required plugin versions")
        self.plugin_requirements.append(req)

    # -- lists and macros -----------------------------------------------------------------------------------

    def define_list(self, info: ListInfo) -> None:
        self._define(self.lists, info, self._next())

    def _previous(self, table: dict[str, _T], info: _T, kind: str, key: str) -> _T:
        prev = table.get(info.name)
        _validate("LOAD_ERR_VALIDATE", prev is None, f"{kind.capitalize()} uses 'append' or 'override.{key}: "
                  f"append' but no {kind} by that name already exists", info.loc, kind, info.name)
        assert prev is not None
        prev.visibility = self._next()
        return prev

    def append_list(self, info: ListInfo) -> None:
        self._previous(self.lists, info, "list", "items").items.extend(info.items)

    def define_macro(self, info: MacroInfo) -> None:
        self._define(self.macros, info, self._next())

    def append_macro(self, info: MacroInfo) -> None:
        self._previous(self.macros, info, "macro", "condition").condition += " " + info.condition

    # -- rules ----------------------------------------------------------------------------------------------

    def _prev_rule(self, name: str, source: str, loc: Loc) -> RuleInfo | None:
        prev = self.rules.get(name)
        _validate("LOAD_ERR_VALIDATE", prev is not None and bool(prev.source) and bool(source)
                  and prev.source != source, "Rule has been re-defined with a different source", loc, "rule", name)
        return prev

    def define_rule(self, info: RuleInfo, source_known: bool) -> None:
        self._prev_rule(info.name, info.source, info.loc)
        info.unknown_source = not source_known
        for ex in info.exceptions:
            _validate("LOAD_ERR_VALIDATE", ex.fields is None,
                      "Rule exception item must have fields property with a list of fields", ex.loc, "exception",
                      ex.name)
            validate_exception(ex)
        self._define(self.rules, info, self._next())

    def enable_rule(self, name: str, enabled: bool, loc: Loc) -> None:
        prev = self.rules.get(name)
        _validate("LOAD_ERR_VALIDATE", prev is None,
                  "Rule has 'enabled' key but no rule by that name already exists", loc, "rule", name)
        assert prev is not None
        prev.enabled = enabled

    def _updated_rule(self, upd: RuleUpdate, no_rule: str, no_value: str) -> RuleInfo:
        """The rule an append/override item updates (Falco's errors when there is none or nothing to update)."""
        prev = self._prev_rule(upd.name, upd.source, upd.loc)
        _validate("LOAD_ERR_VALIDATE", prev is None, no_rule, upd.loc, "rule", upd.name)
        _validate("LOAD_ERR_VALIDATE", not upd.has_any_value(), no_value, upd.loc, "rule", upd.name)
        assert prev is not None
        return prev

    def append_rule(self, upd: RuleUpdate) -> None:
        prev = self._updated_rule(upd, "Rule uses 'append' or 'override.<key>: append' but no rule by that name "
                                  "already exists", "Appended rule must have exceptions or condition property")
        if upd.condition:
            prev.condition += " " + upd.condition
        if upd.output:
            prev.output += " " + upd.output
        if upd.desc:
            prev.desc += " " + upd.desc
        if upd.tags is not None:
            prev.tags |= upd.tags
        for ex in upd.exceptions or []:
            self._append_exception(prev, ex)
        prev.visibility = self._next()

    @staticmethod
    def _append_exception(prev: RuleInfo, ex: ExceptionInfo) -> None:
        same = next((e for e in prev.exceptions if e.name == ex.name), None)
        if same is None:
            _validate("LOAD_ERR_VALIDATE", ex.fields is None,
                      "Rule exception must have fields property with a list of fields", ex.loc, "exception", ex.name)
            _validate("LOAD_ERR_VALIDATE", not ex.values,
                      "Rule exception must have values property with a list of values", ex.loc, "exception", ex.name)
            validate_exception(ex)
            prev.exceptions.append(ex)
            return
        _validate("LOAD_ERR_VALIDATE", ex.fields is not None,
                  "Can not append exception fields to existing exception, only values", ex.loc, "exception", ex.name)
        _validate("LOAD_ERR_VALIDATE", ex.comps is not None,
                  "Can not append exception comps to existing exception, only values", ex.loc, "exception", ex.name)
        same.values.extend(ex.values)

    def replace_rule(self, upd: RuleUpdate) -> None:
        prev = self._updated_rule(upd, "An 'override.<key>: replace' to a rule was requested but no rule by that "
                                  "name already exists", "The rule must have at least one field that can be replaced")
        for ex in upd.exceptions or []:  # (Falco leaves replaced exceptions unchecked: comps stay unset)
            validate_exception(ex)
        for key in ("condition", "output", "desc", "tags", "exceptions", "priority", "enabled", "capture",
                    "capture_duration", "warn_evttypes", "skip_if_unknown_filter"):
            value = getattr(upd, key)
            if value is not None:
                setattr(prev, key, value)
        if upd.cond_loc is not None and upd.condition is not None:
            prev.cond_loc = upd.cond_loc
        prev.visibility = self._next()


def validate_exception(ex: ExceptionInfo) -> None:
    """Falco's checks of an exception's fields/comps (comps default to '=' per field, or 'in' for one field)."""
    def check(cond: bool, message: str) -> None:
        _validate("LOAD_ERR_VALIDATE", cond, message, ex.loc, "exception", ex.name)

    if isinstance(ex.fields, list):
        if ex.comps is None:
            ex.comps = ["=" for _ in ex.fields]
        check(not isinstance(ex.comps, list) or len(ex.comps) != len(ex.fields),
              "Fields and comps lists must have equal length")
        assert isinstance(ex.comps, list)
        ex.comps = [c.strip() if isinstance(c, str) else c for c in ex.comps]
        for comp in ex.comps:
            check(not isinstance(comp, str) or comp not in OPERATORS,
                  f"'{comp}' is not a supported comparison operator")
        return
    if ex.comps is None:
        ex.comps = "in"
    check(isinstance(ex.comps, list), "Fields and comps must both be strings")
    assert isinstance(ex.comps, str)
    ex.comps = ex.comps.strip()
    check(ex.comps not in LIST_OPERATORS,
          "When fields is a single value, comps must be one of (in, pmatch, intersects)")

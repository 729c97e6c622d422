"""The reader: every item of a rules file, checked and handed to the collector (Falco's rule_loader::reader).

Required keys, value types, ``append``/``override`` and exceptions are validated with Falco's messages; the
first error stops the file. Rules for other event sources (plugins such as k8s_audit, aws_cloudtrail) are
collected but marked, and skipped with a note.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import yaml

from sysnb.rules import yamlsrc as Y
from sysnb.rules.collector import Collector
from sysnb.rules.messages import LoadMessage, RuleLoadError
from sysnb.rules.model import (
    SYSCALL_SOURCE,
    Entry,
    ExceptionInfo,
    ListInfo,
    MacroInfo,
    PluginRequirement,
    RuleInfo,
    RuleUpdate,
    parse_priority,
)

_IDENTIFIER = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_BARESTR = re.compile(r"[^()\"'\s=,]+")
_SEMVER = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:[-+].*)?")
_RULE_APPENDABLE = ("condition", "output", "desc", "tags", "exceptions")
_RULE_REPLACEABLE = ("condition", "output", "desc", "priority", "capture", "capture_duration", "tags", "exceptions",
                     "enabled", "warn_evttypes", "skip-if-unknown-filter")
_RULE_KEYS = frozenset({"rule", "condition", "output", "desc", "priority", "source", "enabled", "capture",
                        "capture_duration", "warn_evttypes", "skip-if-unknown-filter", "tags", "exceptions",
                        "override", "append"})
WARNING_APPEND = ("'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under "
                  "'override' instead.")
WARNING_ENABLED = ("The standalone 'enabled' key usage is deprecated. The correct approach requires also a "
                   "'replace' entry under the 'override' key (i.e. 'enabled: replace').")
ERROR_OVERRIDE_APPEND = ("Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. "
                         "'condition: append') under 'override' instead.")


class Reader:
    """Reads the items of one rules file into ``collector``; warnings go to ``warn``."""

    def __init__(self, collector: Collector, file: str, warn: Callable[[LoadMessage], None],
                 sources: frozenset[str] = frozenset({SYSCALL_SOURCE})) -> None:
        self.col, self.file, self.warn, self.sources = collector, file, warn, sources

    # -- helpers ----------------------------------------------------------------------------------------------

    def loc(self, node: yaml.Node) -> Y.Loc:
        return Y.loc_of(node, self.file)

    def fail(self, cond: bool, message: str, node: yaml.Node, item_type: str = "", name: str = "") -> None:
        if cond:
            raise RuleLoadError("LOAD_ERR_YAML_VALIDATE", message, item_type, name, self.loc(node))

    def warning(self, code: str, message: str, node: yaml.Node, item_type: str = "", name: str = "") -> None:
        self.warn(LoadMessage(code, message, item_type, name, self.loc(node)))

    def scalar(self, item: yaml.Node, key: str, kind: str, name: str, *, optional: bool = False,
               empty_ok: bool = False) -> str | None:
        """A scalar value with Falco's checks (missing key, empty mapping, not a scalar, empty value)."""
        val = Y.get(item, key)
        if val is None and not Y.has(item, key):
            if optional:
                return None
            self.fail(True, f"Item has no mapping for key '{key}'", item, kind, name)
        if Y.is_null(val):
            if empty_ok:
                return None
            self.fail(True, f"Mapping for key '{key}' is empty", item, kind, name)
        assert val is not None
        self.fail(not isinstance(val, yaml.ScalarNode), "Value is not a scalar value", val, kind, name)
        value = Y.text(val)
        if not value and empty_ok:
            return None
        self.fail(not value, "Value must be non-empty", val, kind, name)
        return value

    def boolean(self, item: yaml.Node, key: str, kind: str, name: str) -> bool | None:
        value = self.scalar(item, key, kind, name, optional=True)
        if value is None:
            return None
        b = Y.to_bool(value)
        node = Y.get(item, key)
        assert node is not None
        self.fail(b is None, "Can't decode YAML scalar value", node, kind, name)
        return b

    def sequence(self, item: yaml.Node, key: str, kind: str, name: str) -> list[str] | None:
        val = Y.get(item, key)
        if val is None:
            return None
        self.fail(not Y.is_seq(val), "Value is not a sequence", val, kind, name)
        out = []
        for v in Y.items(val):
            self.fail(not isinstance(v, yaml.ScalarNode), "sequence value is not scalar", v, kind, name)
            out.append(Y.text(v))
        return out

    # -- items -------------------------------------------------------------------------------------------------

    def read(self, docs: list[yaml.Node | None], top: Y.Loc) -> None:
        for doc in docs:
            if Y.is_null(doc):
                continue
            assert doc is not None
            if not Y.is_seq(doc):
                msg = "Rules content is not yaml array of objects" if Y.is_map(doc) else "Rules content is not yaml"
                raise RuleLoadError("LOAD_ERR_YAML_VALIDATE", msg, "rules content", "", top)
            for item in Y.items(doc):
                if not Y.is_null(item):
                    self.item(item)

    def item(self, item: yaml.Node) -> None:
        self.fail(not Y.is_map(item), "Unexpected element type. Each element should be a yaml associative array.",
                  item, "rules content item")
        if Y.has(item, "required_engine_version"):
            self.engine_version(item)
        elif Y.has(item, "required_plugin_versions"):
            self.plugin_versions(item)
        elif Y.has(item, "list"):
            self.list_item(item)
        elif Y.has(item, "macro"):
            self.macro_item(item)
        elif Y.has(item, "rule"):
            self.rule_item(item)
        else:
            self.warning("LOAD_UNKNOWN_ITEM", "Unknown top level item", item, "rules content item")

    def unknown_keys(self, item: yaml.Node, expected: frozenset[str], kind: str, name: str) -> None:
        for key, node in Y.keys(item):
            if key not in expected:
                self.warning("LOAD_UNKNOWN_KEY", f"Unknown key '{key}'. The key will be ignored.", node, kind, name)

    def engine_version(self, item: yaml.Node) -> None:
        value = self.scalar(item, "required_engine_version", "required_engine_version", "")
        assert value is not None
        n = Y.to_uint(value)
        if n is not None:
            version = (0, n, 0)
        else:
            m = _SEMVER.fullmatch(value.strip())
            self.fail(m is None, f"Unable to parse engine version '{value}' as a semver string. Expected \"x.y.z\" "
                      "semver format.", item, "required_engine_version")
            assert m is not None
            version = (int(m[1]), int(m[2]), int(m[3]))
        self.col.require_engine(version, self.loc(item))
        self.unknown_keys(item, frozenset({"required_engine_version"}), "required_engine_version", "")

    def plugin_versions(self, item: yaml.Node) -> None:
        reqs = Y.get(item, "required_plugin_versions")
        assert reqs is not None
        self.fail(not Y.is_seq(reqs), "Value of required_plugin_versions must be a sequence", reqs,
                  "required plugin versions")
        for plugin in Y.items(reqs):
            self.fail(not Y.is_map(plugin), "Plugin version must be a mapping", plugin, "required plugin versions")
            alternatives = [self._plugin_version(plugin)]
            alt = Y.get(plugin, "alternatives")
            if alt is not None:
                self.fail(not Y.is_seq(alt), "Value of plugin version alternatives must be a sequence", alt,
                          "required plugin versions entry", alternatives[0][0])
                for a in Y.items(alt):
                    self.fail(not Y.is_map(a), "Plugin version alternative must be a mapping", a,
                              "required plugin versions alternative")
                    alternatives.append(self._plugin_version(a))
            self.col.require_plugins(PluginRequirement(alternatives, self.loc(plugin)))
        self.unknown_keys(item, frozenset({"required_plugin_versions"}), "required plugin versions", "")

    def _plugin_version(self, node: yaml.Node) -> tuple[str, str]:
        name = self.scalar(node, "name", "required plugin versions entry", "")
        version = self.scalar(node, "version", "required plugin versions entry", name or "")
        assert name is not None and version is not None
        self.fail(_SEMVER.fullmatch(version) is None, f"Invalid required version '{version}' for plugin '{name}'",
                  node, "required plugin versions entry", name)
        return name, version

    def overrides(self, item: yaml.Node, appendable: tuple[str, ...], replaceable: tuple[str, ...], kind: str,
                  name: str) -> tuple[set[str], set[str]]:
        """The ``override:`` mapping as the keys to append and the keys to replace."""
        node = Y.get(item, "override")
        append: set[str] = set()
        replace: set[str] = set()
        if node is None:
            return append, replace
        for k, v in Y.pairs(node):
            key = Y.text(k) if isinstance(k, yaml.ScalarNode) else ""
            op = Y.text(v) if isinstance(v, yaml.ScalarNode) else ""
            if op == "append":
                self.fail(key not in appendable, f"Key '{key}' cannot be appended to, use 'replace' instead", k,
                          kind, name)
                append.add(key)
            elif op == "replace":
                self.fail(key not in replaceable, f"Key '{key}' cannot be replaced", k, kind, name)
                replace.add(key)
            else:
                allowed = " ".join(x for x, ok in (("append", key in appendable), ("replace", key in replaceable))
                                   if ok)
                self.fail(True, f"Invalid override operation for key '{key}': '{op}'. Allowed values are: {allowed} ",
                          v, kind, name)
        return append, replace

    def _name(self, item: yaml.Node, kind: str, pattern: re.Pattern[str], expression: str) -> str:
        """The item's name; Falco warns when it is not a valid list/macro name for its grammar."""
        name = self.scalar(item, kind, kind, "")
        assert name is not None
        if not pattern.fullmatch(name):
            self.warning(f"LOAD_INVALID_{kind.upper()}_NAME", f"{kind.capitalize()} has an invalid name. "
                         f"{kind.capitalize()} names should match a regular expression: {expression}", item, kind,
                         name)
        return name

    def list_item(self, item: yaml.Node) -> None:
        name = self._name(item, "list", _BARESTR, "([^()\"'[:space:]=,]+)")
        values = self.sequence(item, "items", "list", name)
        self.fail(values is None, "Item has no mapping for key 'items'", item, "list", name)
        assert values is not None
        append = self._append_flag(item, "list", name)
        add, repl = self.overrides(item, ("items",), ("items",), "list", name)
        self.fail(append and bool(add or repl), ERROR_OVERRIDE_APPEND, item, "list", name)
        info = ListInfo(name, values, self.loc(item))
        if append or "items" in add:
            self.col.append_list(info)
        else:
            self.col.define_list(info)
        self.unknown_keys(item, frozenset({"list", "items", "append", "override"}), "list", name)

    def macro_item(self, item: yaml.Node) -> None:
        name = self._name(item, "macro", _IDENTIFIER, "([a-zA-Z]+[a-zA-Z0-9_]*)")
        cond = self.scalar(item, "condition", "macro", name)
        assert cond is not None
        cond_node = Y.get(item, "condition")
        assert cond_node is not None
        append = self._append_flag(item, "macro", name)
        add, repl = self.overrides(item, ("condition",), ("condition",), "macro", name)
        self.fail(append and bool(add or repl), ERROR_OVERRIDE_APPEND, item, "macro", name)
        info = MacroInfo(name, cond, self.loc(item), self.loc(cond_node))
        if append or "condition" in add:
            self.col.append_macro(info)
        else:
            self.col.define_macro(info)
        self.unknown_keys(item, frozenset({"macro", "condition", "append", "override"}), "macro", name)

    def _append_flag(self, item: yaml.Node, kind: str, name: str) -> bool:
        append = bool(self.boolean(item, "append", kind, name))
        if append:
            self.warning("LOAD_DEPRECATED_ITEM", WARNING_APPEND, item, kind, name)
        return append

    # -- rules -------------------------------------------------------------------------------------------------

    def rule_item(self, item: yaml.Node) -> None:
        name = self.scalar(item, "rule", "rule", "")
        assert name is not None
        source = self.scalar(item, "source", "rule", name, optional=True, empty_ok=True) or ""
        append = self._append_flag(item, "rule", name)
        add, repl = self.overrides(item, _RULE_APPENDABLE, _RULE_REPLACEABLE, "rule", name)
        self.fail(append and bool(add or repl), ERROR_OVERRIDE_APPEND, item, "rule", name)
        if add or repl:
            self.rule_overrides(item, name, source, add, repl)
        elif append:
            upd = RuleUpdate(name, self.loc(item), source)
            if Y.has(item, "condition"):
                upd.condition = self.scalar(item, "condition", "rule", name)
                upd.cond_loc = self.loc(Y.get(item, "condition") or item)
            if Y.has(item, "exceptions"):
                upd.exceptions = self.exceptions(item, name, append=True)
            self.col.append_rule(upd)
        elif not any(Y.has(item, k) for k in ("condition", "output", "desc", "priority")):
            enabled = self.boolean(item, "enabled", "rule", name)
            self.fail(enabled is None, "Item has no mapping for key 'enabled'", item, "rule", name)
            self.warning("LOAD_DEPRECATED_ITEM", WARNING_ENABLED, item, "rule", name)
            self.col.enable_rule(name, bool(enabled), self.loc(item))
        else:
            known = (source or SYSCALL_SOURCE) in self.sources
            if not known:
                self.warning("LOAD_UNKNOWN_SOURCE", f"Unknown source {source}, skipping", item, "rule", name)
            self.col.define_rule(self.full_rule(item, name), known)
        self.unknown_keys(item, _RULE_KEYS, "rule", name)

    def full_rule(self, item: yaml.Node, name: str) -> RuleInfo:
        info = RuleInfo(name, self.loc(item))
        info.condition = self.scalar(item, "condition", "rule", name) or ""
        info.cond_loc = self.loc(Y.get(item, "condition") or item)
        info.output = (self.scalar(item, "output", "rule", name) or "").strip()
        info.output_loc = self.loc(Y.get(item, "output") or item)
        info.desc = self.scalar(item, "desc", "rule", name) or ""
        info.priority = self.priority(item, name)
        info.source = self.scalar(item, "source", "rule", name, optional=True) or SYSCALL_SOURCE
        for key, attr in (("enabled", "enabled"), ("capture", "capture"), ("warn_evttypes", "warn_evttypes"),
                          ("skip-if-unknown-filter", "skip_if_unknown_filter")):
            value = self.boolean(item, key, "rule", name)
            if value is not None:
                setattr(info, attr, value)
        info.capture_duration = self.uint(item, "capture_duration", name) or 0
        info.tags = set(self.sequence(item, "tags", "rule", name) or [])
        info.exceptions = self.exceptions(item, name, append=False)
        return info

    def priority(self, item: yaml.Node, name: str) -> int:
        value = self.scalar(item, "priority", "rule", name) or ""
        p = parse_priority(value)
        self.fail(p is None, "Invalid priority", Y.get(item, "priority") or item, "rule priority", name)
        assert p is not None
        return p

    def uint(self, item: yaml.Node, key: str, name: str) -> int | None:
        value = self.scalar(item, key, "rule", name, optional=True)
        if value is None:
            return None
        n = Y.to_uint(value)
        self.fail(n is None, "Can't decode YAML scalar value", Y.get(item, key) or item, "rule", name)
        return n

    def rule_overrides(self, item: yaml.Node, name: str, source: str, add: set[str], repl: set[str]) -> None:
        defined = {k for k in (*_RULE_APPENDABLE, *_RULE_REPLACEABLE) if Y.has(item, k)}
        for key in sorted(add | repl):
            self.fail(key not in defined, f"An {'append' if key in add else 'replace'} override for '{key}' was "
                      f"specified but '{key}' is not defined", item, "rule", name)
        extra = sorted(defined - add - repl)
        if extra:
            key = extra[0]
            self.fail(True, f"Unexpected key '{key}': no corresponding entry under 'override' is defined.",
                      Y.get(item, key) or item, "rule", name)
        if add:
            self.col.append_rule(self._update(item, name, source, add, append=True))
        if repl:
            self.col.replace_rule(self._update(item, name, source, repl, append=False))

    def _update(self, item: yaml.Node, name: str, source: str, keys: set[str], append: bool) -> RuleUpdate:
        upd = RuleUpdate(name, self.loc(item), source)
        if "condition" in keys:
            upd.condition = self.scalar(item, "condition", "rule", name)
            upd.cond_loc = self.loc(Y.get(item, "condition") or item)
        if "exceptions" in keys:
            upd.exceptions = self.exceptions(item, name, append=append)
        if "output" in keys:
            upd.output = self.scalar(item, "output", "rule", name)
        if "desc" in keys:
            upd.desc = self.scalar(item, "desc", "rule", name)
        if "tags" in keys:
            upd.tags = set(self.sequence(item, "tags", "rule", name) or [])
        if "priority" in keys:
            upd.priority = self.priority(item, name)
        for key, attr in (("enabled", "enabled"), ("capture", "capture"), ("warn_evttypes", "warn_evttypes"),
                          ("skip-if-unknown-filter", "skip_if_unknown_filter")):
            if key in keys:
                setattr(upd, attr, self.boolean(item, key, "rule", name))
        if "capture_duration" in keys:
            upd.capture_duration = self.uint(item, "capture_duration", name)
        return upd

    # -- exceptions --------------------------------------------------------------------------------------------

    def exceptions(self, item: yaml.Node, rule: str, append: bool) -> list[ExceptionInfo]:
        exs = Y.get(item, "exceptions")
        if Y.is_null(exs):
            return []
        assert exs is not None
        self.fail(not Y.is_seq(exs), "Rule exceptions must be a sequence", exs, "exceptions", rule)
        out: list[ExceptionInfo] = []
        for ex in Y.items(exs):
            self.fail(not Y.is_map(ex), "Rule exception must be a mapping", ex, "exception", rule)
            name = self.scalar(ex, "name", "exception", "")
            assert name is not None
            if any(e.name == name for e in out):
                self.warning("LOAD_EXCEPTION_NAME_NOT_UNIQUE",
                             f"Multiple definitions of exception '{name}' in the same rule", ex, "exception", name)
            info = ExceptionInfo(name, self.loc(ex))
            info.fields = self.entry(ex, "fields", name, optional=append)
            info.comps = self.entry(ex, "comps", name, optional=True)
            values = Y.get(ex, "values")
            if values is not None:
                self.fail(not Y.is_seq(values), "Rule exception values must be a sequence", values, "exception", name)
                info.values = [self.value(v, name) for v in Y.items(values)]
            elif append:
                self.warning("LOAD_APPEND_NO_VALUES", "Overriding/appending exception with no values", ex,
                             "exception", name)
            out.append(info)
        return out

    def entry(self, ex: yaml.Node, key: str, name: str, optional: bool) -> Entry | None:
        node = Y.get(ex, key)
        if node is None:
            self.fail(not optional, f"Item has no mapping for key '{key}'", ex, "exception", name)
            return None
        return self.value(node, name)

    def value(self, node: yaml.Node, name: str, depth: int = 0) -> Entry:
        self.fail(depth > 2, "Exception values nest too deeply", node, "exception", name)
        if isinstance(node, yaml.ScalarNode):
            self.fail(Y.is_null(node) or not Y.text(node), "Value must be non-empty", node, "exception", name)
            return Y.text(node)
        self.fail(not Y.is_seq(node), "Exception value must be a string or a list", node, "exception", name)
        return [self.value(v, name, depth + 1) for v in Y.items(node)]

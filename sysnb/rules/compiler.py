"""The compiler: lists expanded, macros parsed and substituted, rule conditions built and compiled.

Falco's steps and checks (rule_loader_compiler.cpp) in Falco's order: lists (a list may name lists defined
before it, one level), macros (parsed with lists substituted as text; a macro may use macros defined before
it; reference loops are errors), then every rule of a known source (exceptions appended, lists substituted,
macros substituted, event types computed). Falco's errors stop the load. A rule whose condition needs a field
or operator sysnb's filter compiler does not provide is *not compiled*: it is kept with the reasons (the
check, and the macro it came from) and never evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from sysnb.errors import UsageError
from sysnb.filter import CompiledFilter, compile_node
from sysnb.filter.parser import BoolOp, Check, FilterSyntaxError, MacroRef, Node, Not, parse
from sysnb.rules.collector import Collector
from sysnb.rules.conditions import exception_condition, resolve_list
from sysnb.rules.evttypes import TOO_MANY_CODES, code_count, event_names, evttypes
from sysnb.rules.falco_fields import FALCO_FIELDS
from sysnb.rules.messages import LoadMessage, RuleLoadError
from sysnb.rules.model import RuleInfo
from sysnb.rules.yamlsrc import Loc

#: Falco 0.32's expansion of %container.info (without -pc/-pk)
CONTAINER_INFO = "%container.info"
CONTAINER_INFO_FORMAT = "%container.name (id=%container.id)"
_OUTPUT_TOKEN = re.compile(r"%([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z0-9_]+)*(?:\[[^\]]*\])?)")


@dataclass
class Problem:
    """Why sysnb cannot compile a rule: the check's message, the field or operator, and where it is used."""

    message: str
    where: str  # "rule 'X'" or "macro 'y'"
    field: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class CompiledRule:
    """A rule of the syscall source after compilation; ``filter`` is None when it could not be compiled."""

    info: RuleInfo
    condition: str
    ast: Node
    evttypes: frozenset[str]
    output: str
    filter: CompiledFilter | None = None
    problems: list[Problem] = field(default_factory=list)
    output_missing: list[str] = field(default_factory=list)
    skipped: bool = False  # skip-if-unknown-filter and a field Falco does not know either

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def compiled(self) -> bool:
        return self.filter is not None


@dataclass
class Compiled:
    rules: list[CompiledRule] = field(default_factory=list)
    skipped: list[RuleInfo] = field(default_factory=list)  # rules of another source (plugins)
    lists: dict[str, list[str]] = field(default_factory=dict)
    macros: dict[str, Node] = field(default_factory=dict)


class _Macros:
    """Parsed macro conditions, their references checked as Falco checks them, and their expansion (each macro
    expanded once), with the problems each macro's own checks have."""

    def __init__(self, col: Collector, lists: dict[str, list[str]], used_lists: set[str], check_fields: bool):
        self.col, self.check_fields = col, check_fields
        self.parsed: dict[str, Node] = {}
        self.problems: dict[str, list[Problem]] = {}
        self.used: set[str] = set()
        self._expanded: dict[str, tuple[Node, frozenset[str]]] = {}
        for m in col.macros.values():
            text = substitute_lists(m.condition, lists, used_lists)
            self.parsed[m.name] = parse_condition(text, "macro", m.name, m.cond_loc)
            if check_fields:
                self.problems[m.name] = check_problems(self.parsed[m.name], text, f"macro '{m.name}'")

    def check_all(self) -> None:
        """Falco resolves every macro, with its visibility, even when no rule uses it: a reference to a macro
        defined later (or not at all) is undefined, and a macro reaching itself is a reference loop."""
        for m in self.col.macros.values():
            for name in _macro_refs(self.parsed[m.name]):
                ref = self.col.macros.get(name)
                if ref is None or ref.index >= m.visibility:
                    raise RuleLoadError("LOAD_ERR_VALIDATE", f"Undefined macro '{name}' used in filter.", "macro",
                                        m.name, m.loc)
                self.used.add(name)
        state: dict[str, int] = {}  # 1: being visited, 2: done
        for m in self.col.macros.values():
            self._no_loop(m.name, state)

    def _no_loop(self, name: str, state: dict[str, int]) -> None:
        stack = [(name, iter(sorted(_macro_refs(self.parsed[name]))))]
        state[name] = 1
        while stack:
            current, refs = stack[-1]
            nxt = next(refs, None)
            if nxt is None:
                state[current] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                info = self.col.macros[nxt]
                raise RuleLoadError("LOAD_ERR_VALIDATE", f"reference loop in macro '{nxt}'", "macro", nxt, info.loc)
            elif state.get(nxt) is None:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(_macro_refs(self.parsed[nxt])))))

    def expand(self, node: Node, item: tuple[str, str, Loc], refs: set[str]) -> Node:
        """``node`` with every macro reference replaced by the macro's expanded condition (``refs`` collects
        the macros reached)."""
        if isinstance(node, MacroRef):
            if node.name not in self.col.macros:
                raise RuleLoadError("LOAD_ERR_VALIDATE", f"Undefined macro '{node.name}' used in filter.", *item)
            self.used.add(node.name)
            done = self._expanded.get(node.name)
            if done is None:
                inner: set[str] = set()
                done = self._expanded[node.name] = (self.expand(self.parsed[node.name], item, inner),
                                                    frozenset(inner))
            refs.add(node.name)
            refs.update(done[1])
            return done[0]
        if isinstance(node, Not):
            return Not(self.expand(node.operand, item, refs))
        if isinstance(node, BoolOp):
            return BoolOp(node.op, tuple(self.expand(op, item, refs) for op in node.operands))
        return node


def _macro_refs(node: Node) -> set[str]:
    if isinstance(node, MacroRef):
        return {node.name}
    if isinstance(node, Not):
        return _macro_refs(node.operand)
    if isinstance(node, BoolOp):
        return {r for op in node.operands for r in _macro_refs(op)}
    return set()


def expand_lists(col: Collector, used: set[str]) -> dict[str, list[str]]:
    """Every list with the lists it names expanded (only lists defined before it, one level, as Falco)."""
    out: dict[str, list[str]] = {}
    for lst in col.lists.values():
        items: list[str] = []
        for item in lst.items:
            ref = col.lists.get(item)
            if ref is not None and ref.index < lst.visibility:
                used.add(ref.name)
                items.extend(ref.items)
            else:
                items.append(item)
        out[lst.name] = items
    return out


def substitute_lists(cond: str, lists: dict[str, list[str]], used: set[str]) -> str:
    for name, items in lists.items():
        if name in cond:
            cond, hit = resolve_list(cond, name, items)
            if hit:
                used.add(name)
    return cond


def parse_condition(text: str, kind: str, name: str, loc: Loc | None) -> Node:
    try:
        return parse(text, falco=True)
    except FilterSyntaxError as e:
        first = str(e).split("\n", 1)[0]
        raise RuleLoadError("LOAD_ERR_COMPILE_CONDITION", first, kind, name, _offset_loc(loc, text, e.pos)) from None
    except RecursionError:
        raise RuleLoadError("LOAD_ERR_COMPILE_CONDITION", "condition nests too deeply", kind, name, loc) from None


def _offset_loc(loc: Loc | None, text: str, pos: int) -> Loc | None:
    """The file position of character ``pos`` of a condition (exact for plain scalars; folded YAML scalars
    and substituted lists move it, then it is the condition's first line)."""
    if loc is None:
        return None
    before = text[:pos]
    lines = before.count("\n")
    if lines == 0:
        return Loc(loc.file, loc.line, loc.column + pos)
    return Loc(loc.file, loc.line + lines, len(before) - before.rfind("\n"))


def _checks(node: Node) -> list[Check]:
    if isinstance(node, Check):
        return [node]
    if isinstance(node, Not):
        return _checks(node.operand)
    if isinstance(node, BoolOp):
        return [c for op in node.operands for c in _checks(op)]
    return []


_FIELD_IN_MESSAGE = re.compile(r"(?:unknown field|field|operator) '([^']+)'")


@cache
def _check_error(check: Check) -> str | None:
    """Why sysnb's filter compiler refuses this one check (None when it compiles)."""
    text = f"{check.field} {check.op}"
    try:
        compile_node(Check(check.field, check.op, check.value, 0, check.transforms), text)
    except UsageError as e:
        return str(e).split("\n", 1)[0]
    return _untracked(check.field)


def _untracked(name: str) -> str | None:
    """Fields sysnb lists but cannot evaluate yet (their per-event state is not tracked: always null, so a
    rule on them would silently never fire): the rule is reported not compiled, naming the field."""
    from sysnb.fields import registry as R

    ref = R.resolve(name)
    if ref is None or not ref.field.state:
        return None
    return f"field '{name}' needs state the engine does not track yet ({ref.field.state})"


def check_problems(node: Node, text: str, where: str) -> list[Problem]:
    """The checks of ``node`` (macro references left in place) that sysnb cannot compile."""
    out: dict[tuple[str, str], Problem] = {}
    for c in _checks(node):
        err = _check_error(c)
        if err is not None:
            m = _FIELD_IN_MESSAGE.search(err)
            message = re.sub(r" at column \d+$", "", err).split(";", 1)[0]
            out.setdefault((message, where), Problem(message, where, m[1] if m else c.field))
    return list(out.values())


def falco_knows(name: str) -> bool:
    """Whether Falco has this field (``evt.arg.flags``, ``proc.aname[2]``: the field with its argument)."""
    base = name.split("[", 1)[0]
    parts = base.split(".")
    return any(".".join(parts[:k]) in FALCO_FIELDS for k in range(len(parts), 1, -1))


def _falco_unknown(rule: RuleInfo, problems: list[Problem], output_missing: list[str],
                   warn: list[LoadMessage]) -> bool:
    """Falco's reaction to a field it does not know either: LOAD_ERR_COMPILE_OUTPUT/CONDITION, or with
    ``skip-if-unknown-filter: true`` a LOAD_UNKNOWN_FILTER warning and the rule skipped (True)."""
    bad_output = next((f for f in output_missing if not falco_knows(f)), None)
    bad_field = next((p.field for p in problems if p.message.startswith("unknown field")
                      and not falco_knows(p.field)), None)
    if bad_output is None and bad_field is None:
        return False
    if bad_output is not None:
        code, msg, loc = "LOAD_ERR_COMPILE_OUTPUT", f"invalid formatting token {bad_output}", rule.output_loc
    else:
        code, msg, loc = ("LOAD_ERR_COMPILE_CONDITION", f"filter_check called with nonexistent field {bad_field}",
                          rule.cond_loc)
    if rule.skip_if_unknown_filter:
        warn.append(LoadMessage("LOAD_UNKNOWN_FILTER", msg, "rule", rule.name, loc or rule.loc))
        return True
    raise RuleLoadError(code, msg, "rule", rule.name, loc or rule.loc)


def check_event_types(node: Node, kind: str, name: str, loc: Loc | None) -> None:
    """Falco refuses ``evt.type`` comparisons with names that are no event type ("unknown event type")."""
    known = event_names()
    for c in _checks(node):
        if c.field == "evt.type" and c.op in ("=", "!=", "in") and isinstance(c.value, str | tuple):
            values = c.value if isinstance(c.value, tuple) else (c.value,)
            bad = next((v for v in values if v not in known), None)
            if bad is not None:
                raise RuleLoadError("LOAD_ERR_COMPILE_CONDITION", f"unknown event type {bad}", kind, name, loc)


def rule_output(info: RuleInfo) -> str:
    return info.output.replace(CONTAINER_INFO, CONTAINER_INFO_FORMAT) if CONTAINER_INFO in info.output \
        else info.output


def output_fields(output: str) -> list[str]:
    return [m[1] for m in _OUTPUT_TOKEN.finditer(output)]


def missing_output_fields(output: str) -> list[str]:
    """Fields of an output format that sysnb cannot print yet (they print as <NA>)."""
    from sysnb.format.output import parse_format

    missing = []
    for name in dict.fromkeys(output_fields(output)):
        try:
            parse_format(f"%{name}")
        except UsageError:
            missing.append(name)
            continue
        if _untracked(name) is not None:
            missing.append(name)
    return missing


def compile_rules(col: Collector, warn: list[LoadMessage], check_fields: bool = True) -> Compiled:
    """Compile what ``col`` collected; Falco's errors raise :class:`RuleLoadError`, warnings go to ``warn``."""
    out = Compiled()
    used_lists: set[str] = set()
    out.lists = expand_lists(col, used_lists)
    try:
        macros = _Macros(col, out.lists, used_lists, check_fields)
        macros.check_all()
    except RecursionError:
        raise RuleLoadError("LOAD_ERR_COMPILE_CONDITION", "a macro nests too deeply", "macro", "", None) from None
    for info in col.rules.values():
        if info.unknown_source:
            out.skipped.append(info)
            continue
        try:
            out.rules.append(_compile_rule(info, out.lists, used_lists, macros, warn, check_fields))
        except RecursionError:  # a hostile nesting of macros or parentheses
            raise RuleLoadError("LOAD_ERR_COMPILE_CONDITION", "condition nests too deeply", "rule", info.name,
                                info.cond_loc or info.loc) from None
    for m in col.macros.values():
        if m.name not in macros.used:
            warn.append(LoadMessage("LOAD_UNUSED_MACRO", "Macro not referred to by any other rule/macro", "macro",
                                    m.name, m.loc))
    for lst in col.lists.values():
        if lst.name not in used_lists:
            warn.append(LoadMessage("LOAD_UNUSED_LIST", "List not referred to by any other rule/macro", "list",
                                    lst.name, lst.loc))
    out.macros = macros.parsed
    return out


def _compile_rule(info: RuleInfo, lists: dict[str, list[str]], used_lists: set[str], macros: _Macros,
                  warn: list[LoadMessage], check_fields: bool) -> CompiledRule:
    loc = info.cond_loc or info.loc
    try:
        condition = exception_condition(info.condition, info.exceptions) if info.exceptions else info.condition
    except ValueError as e:
        raise RuleLoadError("LOAD_ERR_VALIDATE", str(e), "rule", info.name, info.loc) from None
    text = substitute_lists(condition, lists, used_lists)
    own = parse_condition(text, "rule", info.name, loc)
    refs: set[str] = set()
    ast = macros.expand(own, ("rule", info.name, info.loc), refs)
    check_event_types(ast, "rule", info.name, loc)
    types = evttypes(ast)
    if info.warn_evttypes and code_count(types) > TOO_MANY_CODES:
        warn.append(LoadMessage("LOAD_NO_EVTTYPE", "Rule matches too many evt.type values. This has a significant "
                                "performance penalty.", "rule", info.name, info.loc))
    rule = CompiledRule(info, text, ast, types, rule_output(info))
    if not check_fields:
        return rule
    rule.output_missing = missing_output_fields(rule.output)
    rule.problems = check_problems(own, text, f"rule '{info.name}'")
    for name in sorted(refs):
        rule.problems.extend(macros.problems.get(name, []))
    if _falco_unknown(info, rule.problems, rule.output_missing, warn):
        rule.skipped = True
        return rule
    if not rule.problems:
        try:
            rule.filter = compile_node(ast, text)
        except UsageError as e:
            rule.problems.append(Problem(str(e).split("\n", 1)[0], f"rule '{info.name}'"))
        except RecursionError:
            rule.problems.append(Problem("condition nests too deeply to compile", f"rule '{info.name}'"))
    return rule

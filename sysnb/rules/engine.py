"""Evaluate rules over a capture's table: which event matches which rule, with Falco's options.

Falco hands each event to the rules of its event type, in load order, and (``rule_matching: first``, its
default) stops at the first rule that matches. Here every rule is evaluated once, over the whole column
subset of the rows of its event types (``evttypes``), never per event; in ``first`` mode a rule only sees the
rows no earlier rule has claimed. The rows are those Falco sees: the events libsinsp returns (numbered,
not state-only), minus, unless ``all_events``, those Falco 0.32 skips as a "simple consumer" (libsinsp's
simple_consumer_consider: event flags EF_DROP_SIMPLE_CONS/EF_UNUSED/EF_OLD_VERSION/EF_SKIPPARSERESET in the
2022 event table, and for generic events the same flags of the syscall in the 2022 syscall table).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.errors import UsageError
from sysnb.filter import CompiledFilter, compile_node
from sysnb.filter.parser import BoolOp, Node, Not
from sysnb.rules.args import RULE_MATCHING
from sysnb.rules.compiler import CompiledRule
from sysnb.rules.loader import RuleSet
from sysnb.rules.model import PRIORITIES, parse_priority
from sysnb.rules.skips import SKIPPED_SYSCALLS_2022
from sysnb.scap.events import CONTAINER_IDS, EVENTS, GENERIC_E, GENERIC_X, syscall_name

_SKIP_FLAGS = frozenset({"DROP_SIMPLE_CONS", "UNUSED", "OLD_VERSION", "SKIPPARSERESET"})
_STATE_ONLY = 1  # SCAP_DF_STATE_ONLY in sysnb.evt_flags


@dataclass
class Options:
    """Falco's options (long names: sysdig already uses the short letters)."""

    min_priority: str | int = "Debug"  # Falco's -o priority=...
    disable_rules: Sequence[str] = ()  # -D: substring (or regular expression) of rule names
    disable_tags: Sequence[str] = ()  # -T
    enable_tags: Sequence[str] = ()  # -t: only rules with one of these tags
    all_events: bool = False  # -A
    rule_matching: str = "first"  # rule_matching: first|all

    def priority_limit(self) -> int:
        if isinstance(self.min_priority, int):
            if not 0 <= self.min_priority < len(PRIORITIES):
                raise UsageError(f"priority {self.min_priority} is out of range (0-{len(PRIORITIES) - 1})")
            return self.min_priority
        p = parse_priority(self.min_priority)
        if p is None:
            raise UsageError(f"unknown priority {self.min_priority!r}; use one of {', '.join(PRIORITIES)}")
        return p

    def check(self) -> None:
        if (self.disable_rules or self.disable_tags) and self.enable_tags:
            raise UsageError("You can not specify both disabled (-D/-T) and enabled (-t) rules "
                             "(--disable-rules/--disable-tag with --enable-tag)")
        if self.rule_matching not in RULE_MATCHING:
            raise UsageError(f"rule matching {self.rule_matching!r}: use first or all")
        self.priority_limit()


def options_from(**kwargs: Any) -> Options:
    """Options from keyword arguments; an unknown one is a usage error naming the known ones."""
    known = [f.name for f in fields(Options)]
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise UsageError(f"unknown rules option(s) {', '.join(unknown)}; use {', '.join(known)}")
    opts = Options(**kwargs)
    opts.check()
    return opts


def _name_matches(pattern: str, name: str) -> bool:
    """Falco's -D matches a substring of the rule name; a pattern that is a regular expression matches too."""
    if pattern in name:
        return True
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


def active_rules(rs: RuleSet, opts: Options) -> list[tuple[int, CompiledRule]]:
    """The compiled rules that run, with their load-order index: at or above the minimum priority, enabled
    (by the file, then -D/-T disable, -t enables only rules with the tags, even those the file disabled)."""
    opts.check()
    limit = opts.priority_limit()
    out = []
    for i, r in enumerate(rs.rules):
        if not r.compiled or r.info.priority > limit:
            continue
        enabled = r.info.enabled
        if any(_name_matches(p, r.name) for p in opts.disable_rules) or set(opts.disable_tags) & r.info.tags:
            enabled = False
        if opts.enable_tags:
            enabled = bool(set(opts.enable_tags) & r.info.tags)
        if enabled:
            out.append((i, r))
    return out


def _per_type(flag: Any) -> np.ndarray:
    """A lookup over every possible type id (uint16): ids beyond the event table are False."""
    out = np.zeros(1 << 16, bool)
    for e in EVENTS:
        out[e.id] = bool(flag(e))
    return out


_SKIPPED_TYPES = _per_type(lambda e: e.id not in (GENERIC_E, GENERIC_X)  # generic: decided by the syscall
                           and (e.flags_2022 if e.known_2022 else e.flags) & _SKIP_FLAGS)
_SKIPPED_SYSCALLS = np.zeros(1 << 16, bool)
_SKIPPED_SYSCALLS[sorted(SKIPPED_SYSCALLS_2022)] = True
_CONTAINER_TYPES = _per_type(lambda e: e.id in CONTAINER_IDS)


def _np(col: pa.ChunkedArray | pa.Array, fill: int | bool) -> np.ndarray:
    return np.asarray(pc.fill_null(col, fill).to_numpy(zero_copy_only=False))


def candidate_rows(table: pa.Table, all_events: bool) -> np.ndarray:
    """Row positions of the events Falco evaluates rules on (see the module docstring)."""
    numbered = np.asarray(pc.is_valid(table["evt.num"]).to_numpy(zero_copy_only=False), bool)
    types = _np(table["sysnb.type_id"], 0)
    keep = numbered & ((_np(table["sysnb.evt_flags"], 0) & _STATE_ONLY) == 0)
    keep &= ~(_CONTAINER_TYPES[types] & ~_np(table["sysnb.visible"], False))  # container state consumed at open
    if not all_events:
        generic = (types == GENERIC_E) | (types == GENERIC_X)
        keep &= ~np.where(generic, _SKIPPED_SYSCALLS[_np(table["sysnb.syscall_id"], 0)], _SKIPPED_TYPES[types])
    return np.flatnonzero(keep)


@dataclass
class Matches:
    """Which row matched which rule: parallel arrays, in event order (then rule order)."""

    rows: np.ndarray
    rules: np.ndarray  # index into RuleSet.rules
    evaluated: dict[str, int] = field(default_factory=dict)  # rule -> rows it was evaluated on


class _TypeIndex:
    """Candidate rows grouped by event type name (the evt.type column), to hand each rule only its types."""

    def __init__(self, table: pa.Table, rows: np.ndarray) -> None:
        col = table["evt.type"].take(pa.array(rows)).combine_chunks()
        if pa.types.is_dictionary(col.type):  # chunks may bring their own (or repeated) dictionary entries
            col = col.dictionary_decode()
        col = col.dictionary_encode()  # one entry per name
        codes = _np(col.indices, -1).astype(np.int64)
        names = col.dictionary.to_pylist()
        self.codes, self.names = codes, names
        self.groups = frozenset(names)
        self.all = rows

    def rows(self, types: frozenset[str], everything: bool) -> np.ndarray:
        """The candidate rows of these types, ascending (a selection of the sorted rows: no sort per rule)."""
        if everything:
            return self.all
        wanted = np.fromiter((name in types for name in self.names), bool, len(self.names))
        if not wanted.any():
            return np.zeros(0, np.int64)
        selected: np.ndarray = self.all[np.append(wanted, False)[self.codes]]  # code -1 (no type): the last False
        return selected


def _conjuncts(node: Node) -> list[Node]:
    """The terms of a top-level ``and`` (nested ones flattened); the node itself otherwise."""
    if isinstance(node, BoolOp) and node.op == "and":
        return [t for op in node.operands for t in _conjuncts(op)]
    return [node]


class _Plan:
    """A rule's condition evaluated as sets of rows: its ``and`` terms cheap first, each on the rows the previous
    ones kept; an ``or`` whose branches read computed fields (evt.arg.*, ancestors, networks) branch by branch,
    each on the rows no earlier branch matched; ``not`` as the rows its operand does not match. A subtree that
    reads stored columns only is one vectorised evaluation. Each node is compiled once (shared macros share
    their compiled terms). Checks are two-valued (a missing field is false), so the sets are exact."""

    def __init__(self, rule: CompiledRule, cache: dict[Node, CompiledFilter]) -> None:
        self.cache, self.condition = cache, rule.condition
        self.terms = [self._compiled(n) for n in sorted(_conjuncts(rule.ast), key=self._cost)]
        self.node = rule.ast

    def _cost(self, node: Node) -> tuple[int, int]:
        """Cheap first: stored columns only (0); computed fields behind a stored-column check of the same
        ``and``, which keeps their rows down (1); computed fields on every row handed in (2). Then fewer
        columns first."""
        compiled = self._compiled(node)
        columns = len(compiled.columns())
        if not compiled.dynamic:
            return 0, columns
        if isinstance(node, Not):
            return self._cost(node.operand)[0], columns
        if isinstance(node, BoolOp):
            costs = [self._cost(n)[0] for n in _operands(node)]
            level = (1 if min(costs) == 0 else min(costs)) if node.op == "and" else max(costs)
            return level, columns
        return 2, columns

    def _compiled(self, node: Node) -> CompiledFilter:
        compiled = self.cache.get(node)
        if compiled is None:
            compiled = self.cache[node] = compile_node(node, self.condition)
        return compiled

    def rows(self, table: pa.Table, cand: np.ndarray) -> np.ndarray:
        return self._rows(self.node, table, cand, set(table.column_names), top=True)

    def _rows(self, node: Node, table: pa.Table, cand: np.ndarray, names: set[str], top: bool = False) -> np.ndarray:
        if not len(cand):
            return cand
        compiled = self._compiled(node)
        if isinstance(node, Not) and compiled.dynamic:
            return np.setdiff1d(cand, self._rows(node.operand, table, cand, names), assume_unique=True)
        if not isinstance(node, BoolOp) or not (compiled.dynamic or (top and node.op == "and")):
            sub = take_sorted(table.select(sorted(compiled.columns() & names)), cand)
            kept: np.ndarray = cand[np.asarray(compiled.mask(sub).to_numpy(zero_copy_only=False), bool)]
            return kept
        parts = sorted(_operands(node), key=self._cost)
        if node.op == "and":
            for part in parts:
                cand = self._rows(part, table, cand, names)
            return cand
        hits, rest = [], cand
        for part in parts:
            hit = self._rows(part, table, rest, names)
            hits.append(hit)
            rest = np.setdiff1d(rest, hit, assume_unique=True)
            if not len(rest):
                break
        return np.sort(np.concatenate(hits))


def _operands(node: BoolOp) -> list[Node]:
    """The operands of a boolean operator, nested operators of the same kind flattened."""
    return [t for op in node.operands
            for t in (_operands(op) if isinstance(op, BoolOp) and op.op == node.op else [op])]


def take_sorted(table: pa.Table, rows: np.ndarray) -> pa.Table:
    """``table.take(rows)`` for ascending ``rows``, batch by batch: Arrow's take on a table of many chunks
    concatenates each column first (the whole capture, for every term of every rule: half the match time
    on big50's 28 chunks): only the rows taken are copied."""
    if table.num_columns == 0 or table.column(0).num_chunks <= 1:
        return table.take(pa.array(rows))
    parts, start = [], 0
    for batch in table.to_batches():
        end = start + batch.num_rows
        lo, hi = np.searchsorted(rows, [start, end])
        if hi > lo:
            parts.append(batch.take(pa.array(rows[lo:hi] - start)))
        start = end
    # one chunk again (dictionaries unified): each dictionary check is then one evaluation, not one per chunk
    return pa.Table.from_batches(parts, table.schema).unify_dictionaries().combine_chunks()


#: the columns candidate_rows() and the event-type index read
CANDIDATE_COLUMNS = frozenset({"evt.num", "evt.type", "sysnb.type_id", "sysnb.syscall_id", "sysnb.evt_flags",
                               "sysnb.visible"})


def rule_columns(rs: RuleSet, opts: Options) -> set[str]:
    """Every table column the active rules' conditions read (a streamed read needs no other for matching)."""
    cache: dict[Node, CompiledFilter] = {}
    return set(CANDIDATE_COLUMNS).union(*(t.columns() for _, r in active_rules(rs, opts)
                                          for t in _Plan(r, cache).terms))


def match(table: pa.Table, rs: RuleSet, opts: Options | None = None,
          compiled: dict[Node, CompiledFilter] | None = None) -> Matches:
    """Evaluate every active rule; each rule's condition runs once over the rows of its event types.
    ``compiled`` keeps the compiled terms between calls (one per batch of a streamed read)."""
    opts = opts or Options()
    rules = active_rules(rs, opts)
    rows = candidate_rows(table, opts.all_events)
    index = _TypeIndex(table, rows)
    claimed = np.zeros(table.num_rows, bool)
    first = opts.rule_matching == "first"
    hit_rows, hit_rules = [], []
    evaluated = {}
    compiled = {} if compiled is None else compiled
    universe = frozenset(index.groups)
    for i, rule in rules:
        cand = index.rows(rule.evttypes, universe <= rule.evttypes)
        if first and len(cand):
            cand = cand[~claimed[cand]]
        evaluated[rule.name] = len(cand)
        if not len(cand):
            continue
        hit = _Plan(rule, compiled).rows(table, cand)
        if first:
            claimed[hit] = True
        hit_rows.append(hit)
        hit_rules.append(np.full(len(hit), i, np.int64))
    if not hit_rows:
        return Matches(np.zeros(0, np.int64), np.zeros(0, np.int64), evaluated)
    all_rows, all_rules = np.concatenate(hit_rows), np.concatenate(hit_rules)
    order = np.lexsort((all_rules, all_rows))
    return Matches(all_rows[order], all_rules[order], evaluated)


def ignored_event_types(rs: RuleSet, opts: Options) -> list[str]:
    """Event types the active rules match that Falco skips without -A (Falco warns about them at start)."""
    skipped = _skipped_names()
    names: set[str] = set()
    for _, r in active_rules(rs, opts):
        if len(r.evttypes) < 100:  # rules on (nearly) every type are what LOAD_NO_EVTTYPE is about
            names |= r.evttypes & skipped
    return sorted(names)


def _skipped_names() -> frozenset[str]:
    """Names whose current events are all skipped (old versions do not count), and syscalls without a
    dedicated event whose generic events are skipped."""
    current: dict[str, list[bool]] = {}
    for e in EVENTS:
        flags = e.flags_2022 if e.known_2022 else e.flags
        if e.id in (GENERIC_E, GENERIC_X) or flags & {"OLD_VERSION", "UNUSED"}:
            continue
        current.setdefault(e.name_2022 if e.known_2022 else e.name, []).append(bool(_SKIPPED_TYPES[e.id]))
    names = {n for n, skips in current.items() if all(skips)}
    names |= {syscall_name(c) for c in SKIPPED_SYSCALLS_2022 if syscall_name(c) not in current}
    return frozenset(names)

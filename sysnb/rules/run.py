"""The library entry points: rules (loaded or paths) and a capture in, alerts out."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from sysnb.errors import UsageError
from sysnb.rules.alerts import build_alerts
from sysnb.rules.engine import Options, match
from sysnb.rules.loader import RuleSet, engine_version, load_rules
from sysnb.rules.result import Alerts

RulesArg = RuleSet | str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def as_ruleset(rules: RulesArg) -> RuleSet:
    """A loaded RuleSet (paths are loaded); a ruleset with errors is refused, as Falco refuses it."""
    rs = rules if isinstance(rules, RuleSet) else load_rules(rules)
    if not rs.ok:
        errors = "\n".join(str(e) for e in rs.errors)
        raise UsageError(f"the rules could not be loaded:\n{errors}")
    return rs


def _table(capture: Any) -> pa.Table:
    table = getattr(capture, "table", capture)
    if not isinstance(table, pa.Table):
        raise UsageError("alerts need a Capture (sysnb.open_capture) or its Arrow table")
    return table


def alerts_table(capture: Any, rules: RulesArg, *, min_priority: str | int = "Debug",
                 disable_rules: Sequence[str] = (), disable_tags: Sequence[str] = (),
                 enable_tags: Sequence[str] = (), all_events: bool = False,
                 rule_matching: str = "first") -> pa.Table:
    """Evaluate Falco rules over a capture and return one row per alert (see ``sysnb.rules.ALERT_SCHEMA``):
    time, evt.num, rule, priority (+ priority_num, 0 = Emergency), source, tags, mitre, output (the rule's
    output as Falco formats it), output_fields (JSON), the event's type, process, container, byte offset
    and ``row`` (its position in ``capture.table``). The options are Falco's (-o priority=, -D, -T, -t, -A,
    rule_matching). Schema metadata records the rules files, the engine version and the options."""
    opts = Options(min_priority, list(disable_rules), list(disable_tags), list(enable_tags), all_events,
                   rule_matching)
    return _evaluate(_table(capture), as_ruleset(rules), opts)


def _evaluate(table: pa.Table, rs: RuleSet, opts: Options) -> pa.Table:
    alerts = build_alerts(table, rs, match(table, rs, opts))
    meta = {"sysnb.rules.files": "\n".join(rs.files), "sysnb.rules.engine_version": engine_version(),
            "sysnb.rules.options": repr(opts)}
    return alerts.replace_schema_metadata(meta)


def find_alerts(capture: Any, rules: RulesArg, options: Options | None = None) -> Alerts:
    """:func:`alerts_table` as an :class:`Alerts` (display, drill-down, Falco text/JSON), remembered on the
    capture (``capture.rule_alerts``) for the overview tile and the explorer's ``alerts`` lens."""
    opts = options or Options()
    rs = as_ruleset(rules)
    result = Alerts(_evaluate(_table(capture), rs, opts), rs, capture, opts)
    if hasattr(capture, "provenance"):
        capture.rule_alerts = result
    return result

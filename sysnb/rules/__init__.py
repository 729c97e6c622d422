"""Falco rules on a capture: load rules files with Falco's semantics, evaluate them over the capture's table.

::

    from sysnb.rules import alerts_table, load_rules
    rs = load_rules("falco_rules.yaml")        # RuleSet: rules (compiled or not, with reasons), messages
    alerts = alerts_table(cap, rs, min_priority="Notice")   # pyarrow.Table, one row per alert

The names load on first use (PEP 562), as sysnb's own: the command line imports ``sysnb.rules.args`` only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ALERT_SCHEMA": "sysnb.rules.alerts", "json_lines": "sysnb.rules.alerts", "text_lines": "sysnb.rules.alerts",
    "Options": "sysnb.rules.engine", "RuleSet": "sysnb.rules.loader", "load_rules": "sysnb.rules.loader",
    "load_text": "sysnb.rules.loader", "PRIORITIES": "sysnb.rules.model", "Alerts": "sysnb.rules.result",
    "alerts_table": "sysnb.rules.run", "as_ruleset": "sysnb.rules.run", "find_alerts": "sysnb.rules.run",
}

if TYPE_CHECKING:
    from sysnb.rules.alerts import ALERT_SCHEMA, json_lines, text_lines
    from sysnb.rules.engine import Options
    from sysnb.rules.loader import RuleSet, load_rules, load_text
    from sysnb.rules.model import PRIORITIES
    from sysnb.rules.result import Alerts
    from sysnb.rules.run import alerts_table, as_ruleset, find_alerts


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sysnb.rules' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = ["ALERT_SCHEMA", "PRIORITIES", "Alerts", "Options", "RuleSet", "alerts_table", "as_ruleset",
           "find_alerts", "json_lines", "load_rules", "load_text", "text_lines"]

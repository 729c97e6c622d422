"""Falco rules on a capture: load rules files with Falco's semantics, evaluate them over the capture's table.

::

    from sysnb.rules import alerts_table, load_rules
    rs = load_rules("falco_rules.yaml")        # RuleSet: rules (compiled or not, with reasons), messages
    alerts = alerts_table(cap, rs, min_priority="Notice")   # pyarrow.Table, one row per alert
"""

from sysnb.rules.alerts import ALERT_SCHEMA, json_lines, text_lines
from sysnb.rules.engine import Options
from sysnb.rules.loader import RuleSet, load_rules, load_text
from sysnb.rules.model import PRIORITIES
from sysnb.rules.result import Alerts
from sysnb.rules.run import alerts_table, as_ruleset, find_alerts

__all__ = ["ALERT_SCHEMA", "PRIORITIES", "Alerts", "Options", "RuleSet", "alerts_table", "as_ruleset",
           "find_alerts", "json_lines", "load_rules", "load_text", "text_lines"]

"""The alerts of a rules run on a capture, for notebooks: the table, the rules, Falco's text, a drill-down.

``cap.alerts(rules=...)`` and ``%sysrules`` return an :class:`Alerts`; it displays as a per-rule summary and
the first alert lines (every capture string escaped), and remembers itself on the capture so the overview
shows a "Falco alerts" tile and the explorer an ``alerts`` lens.
"""

from __future__ import annotations

import html
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.rules.alerts import json_lines, summary, text_lines
from sysnb.rules.engine import Options
from sysnb.rules.loader import RuleSet

#: a drill-down filter names at most this many event numbers
MAX_FILTER_EVENTS = 5000
SHOWN = 20
#: Falco priority -> the case's finding severity
SEVERITY = {"Emergency": "critical", "Alert": "critical", "Critical": "critical", "Error": "high", "Warning": "medium",
            "Notice": "low", "Informational": "info", "Debug": "info"}
_PRIORITY_COLOURS = {"Emergency": "#a40000", "Alert": "#c00000", "Critical": "#d9302b", "Error": "#e0632b",
                     "Warning": "#d9822b", "Notice": "#2f6fb0", "Informational": "#556", "Debug": "#889"}


def events_filter(evt_nums: list[int]) -> str:
    """A sysdig filter selecting exactly these events (``evt.num in (...)``)."""
    nums = sorted(set(evt_nums))[:MAX_FILTER_EVENTS]
    return f"evt.num in ({', '.join(map(str, nums))})" if nums else "evt.num=0"


@dataclass
class Alerts:
    """``table``: one row per alert (sysnb.rules.ALERT_SCHEMA); ``rules``: the RuleSet; ``capture``: the
    capture they were found in; ``options``: Falco's options used."""

    table: pa.Table
    rules: RuleSet
    capture: Any
    options: Options

    def __len__(self) -> int:
        return int(self.table.num_rows)

    def __repr__(self) -> str:
        return f"<Alerts {len(self)} from {len(self.summary())} rule(s) of {len(self.rules.compiled)} compiled>"

    def summary(self) -> list[tuple[str, str, int]]:
        """(rule, priority, alerts) for the rules that fired, in load order."""
        return summary(self.table, self.rules)

    def of(self, rule: str) -> pa.Table:
        """The alerts of one rule."""
        return self.table.filter(pc.equal(self.table["rule"], rule))

    def filter_text(self, rule: str | None = None) -> str:
        """The sysdig filter of the alerted events (of one rule): paste it into ``%sysfilter``."""
        rows = self.table if rule is None else self.of(rule)
        return events_filter(rows["evt.num"].drop_null().to_pylist())

    def events(self, rule: str | None = None) -> Any:
        """The alerted events (of one rule) as a Capture view, for ``%sysprint``, charts or ``explore()``."""
        rows = self.table if rule is None else self.of(rule)
        from sysnb.capture import Capture

        return Capture(self.capture.table.take(rows["row"]), self.capture.provenance)

    def text(self, iso: bool = False) -> Iterator[str]:
        """The alerts as ``falco -e`` prints them."""
        return text_lines(self.table, iso)

    def json(self, hostname: str | None = None, iso: bool = False) -> Iterator[str]:
        """Falco's JSON objects (hostname: the capture's host unless given)."""
        host = hostname or self.capture.provenance.hostname or socket.gethostname()
        return json_lines(self.table, host, iso)

    def to_findings(self) -> list[Any]:
        """One finding of kind "alert" per rule that fired, in the current case (``sysnb.case``): the rule's
        events (an ``evt.num`` filter), its priority as the severity, the rule and its tags as the source; the
        report lists them under "Alerts from rules". Recording them again replaces them (same titles)."""
        from sysnb.case.api import finding

        out = []
        for rule, priority, n in self.summary():
            tags = sorted(next(r.info.tags for r in self.rules.rules if r.name == rule))
            events = self.of(rule)["evt.num"].drop_null().to_pylist()
            cut = f"; the first {MAX_FILTER_EVENTS:,} of {len(set(events)):,} events" \
                if len(set(events)) > MAX_FILTER_EVENTS else ""
            out.append(finding(rule, self.filter_text(rule), severity=SEVERITY.get(priority, "medium"),
                               kind="alert", capture=self.capture,
                               note=f"{n:,} Falco alert(s), priority {priority}{cut}",
                               source={"rule": rule, "priority": priority, "tags": tags,
                                       "rules_files": list(self.rules.files)}))
        return out

    def to_pandas(self) -> Any:
        return self.table.to_pandas()

    def _repr_html_(self) -> str:
        rows = "".join(
            f'<tr><td style="text-align:left">{html.escape(rule)}</td>'
            f'<td style="text-align:left;color:{_PRIORITY_COLOURS.get(pri, "#222")}">{html.escape(pri)}</td>'
            f'<td style="text-align:right">{n:,}</td></tr>' for rule, pri, n in self.summary())
        lines = "\n".join(html.escape(line) for line in list(self.text())[:SHOWN])
        more = f"<div>… {len(self) - SHOWN:,} more (<code>.table</code> has all)</div>" if len(self) > SHOWN else ""
        rs = self.rules
        note = (f"{len(rs.rules)} rules loaded, {len(rs.compiled)} compiled"
                + (f", {len(rs.not_compiled)} not compiled (<code>sysnb rules validate</code> says why)"
                   if rs.not_compiled else ""))
        return (f'<div style="font-family:system-ui,sans-serif;font-size:13px"><b>Falco alerts</b>: {len(self):,} '
                f'<span style="color:#667">({note})</span>'
                f'<table><tr><th style="text-align:left">rule</th><th style="text-align:left">priority</th>'
                f"<th>alerts</th></tr>{rows}</table>"
                f'<pre style="font-size:12px;white-space:pre-wrap">{lines}</pre>{more}</div>')

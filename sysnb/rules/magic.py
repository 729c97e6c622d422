"""``%sysrules``: Falco's rules on the current capture view (registered by ``%load_ext sysnb``).

Usage::

    %sysrules PATH... [--min-priority P] [--disable-rules S] [--disable-tag T] [--enable-tag T]
              [--all-events] [--rule-matching first|all]

Examples::

    %sysrules /etc/falco/falco_rules.yaml                     # every rule; the result is bound to _alerts
    %sysrules rules.d/ my_rules.yaml --min-priority warning   # a directory, then a file that overrides it
    %sysrules falco_rules.yaml --enable-tag mitre_execution   # only rules with this tag
    _alerts.events("Terminal shell in container")             # that rule's events, as a Capture view
    %sysfilter {_alerts.filter_text()}                        # the alerted events as a sysdig filter

The result displays as a per-rule summary and the first alert lines; it is also remembered on the capture,
so its overview gets a "Falco alerts" tile and ``%sysexplore`` an ``alerts`` lens.
"""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING, Any

from sysnb.errors import UsageError
from sysnb.rules.args import RULE_MATCHING

if TYPE_CHECKING:
    from sysnb.rules.result import Alerts

USAGE = ("usage: %sysrules PATH... [--min-priority P] [--disable-rules S] [--disable-tag T] [--enable-tag T] "
         "[--all-events] [--rule-matching first|all]   e.g. %sysrules falco_rules.yaml --min-priority warning")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # a usage error, not SystemExit, in a notebook
        raise UsageError(f"{message}. {USAGE}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%sysrules", add_help=False)
    p.add_argument("paths", nargs="+")
    p.add_argument("--min-priority", default="debug")
    p.add_argument("--disable-rules", action="append", default=[])
    p.add_argument("--disable-tag", action="append", default=[])
    p.add_argument("--enable-tag", action="append", default=[])
    p.add_argument("--all-events", action="store_true")
    p.add_argument("--rule-matching", choices=RULE_MATCHING, default="first")
    return p


def sysrules_magic(line: str, shell: Any, capture: Any) -> Alerts:
    """Run the rules of ``line`` on ``capture``; bind the result to ``_alerts`` and return it."""
    from sysnb.rules.engine import options_from
    from sysnb.rules.run import find_alerts

    try:
        words = shlex.split(line)
    except ValueError as e:
        raise UsageError(f"{e}. {USAGE}") from None
    if not words:
        raise UsageError(USAGE)
    a = _parser().parse_args(words)
    opts = options_from(min_priority=a.min_priority, disable_rules=a.disable_rules, disable_tags=a.disable_tag,
                        enable_tags=a.enable_tag, all_events=a.all_events, rule_matching=a.rule_matching)
    result = find_alerts(capture, a.paths, opts)
    shell.user_ns["_alerts"] = result
    return result

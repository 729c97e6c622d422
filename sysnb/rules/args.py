"""The ``sysnb`` command's rules options (Falco's options under long names), kept free of heavy imports: every
``sysnb`` invocation builds its parser, most never evaluate rules."""

from __future__ import annotations

import argparse

RULE_MATCHING = ("first", "all")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The rules options of the ``sysnb`` command (Falco's, under long names)."""
    g = p.add_argument_group("Falco rules (evaluate rules on the capture read with -r)")
    g.add_argument("--rules", action="append", metavar="FILE_OR_DIR",
                   help="Falco rules file or directory (its .yaml files in alphabetical order); repeat to load "
                        "several in order, later files append to and override earlier ones")
    g.add_argument("--min-priority", metavar="PRIORITY", default="debug",
                   help="only rules at this priority or more severe (Falco's -o priority=): emergency, alert, "
                        "critical, error, warning, notice, info(rmational), debug")
    g.add_argument("--disable-rules", action="append", default=[], metavar="SUBSTRING",
                   help="disable rules whose name contains SUBSTRING or matches it as a regular expression "
                        "(Falco's -D); repeatable")
    g.add_argument("--disable-tag", action="append", default=[], metavar="TAG",
                   help="disable rules with this tag (Falco's -T); repeatable")
    g.add_argument("--enable-tag", action="append", default=[], metavar="TAG",
                   help="run only rules with this tag (Falco's -t); repeatable; not with --disable-*")
    g.add_argument("--all-events", action="store_true",
                   help="also evaluate the events Falco skips by default (read/write/close/poll/mmap/... flagged "
                        "EF_DROP_SIMPLE_CONS; Falco's -A)")
    g.add_argument("--rule-matching", choices=RULE_MATCHING, default="first",
                   help="first: one alert per event, for the first matching rule in load order (Falco's "
                        "default); all: one alert per matching rule")
    g.add_argument("--iso8601", action="store_true",
                   help="print alert times as ISO 8601 in UTC (Falco's time_format_iso_8601)")

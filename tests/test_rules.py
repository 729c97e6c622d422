"""Falco rules (sysnb.rules): the loader's semantics, evaluation and output, against Falco's own expectations.

Ground truth: Falco's regression suite (falcosecurity/falco test/falco_tests.yaml, falco_tests_exceptions.yaml
at 2583ea9b, and 0.32.2 where the 2022 behaviour differs) ran these scenarios on the bundled trace files
cat_write / open-multiple-files / connect_localhost; the rules below are written for these tests after those
scenarios, and the expected counts and output lines are Falco's (test/output_files/single_rule_with_cat_write.*).
"""

from __future__ import annotations

import collections
import json
import textwrap
from pathlib import Path

import pytest

import sysnb
from sysnb.errors import UsageError
from sysnb.filter.parser import parse
from sysnb.rules import alerts_table, json_lines, load_rules, load_text, text_lines
from sysnb.rules.conditions import exception_condition, resolve_list
from sysnb.rules.evttypes import evttypes
from sysnb.rules.model import ExceptionInfo
from sysnb.rules.yamlsrc import Loc

FIXTURES = Path(__file__).parent / "fixtures" / "falco"
CAT = FIXTURES / "cat_write.scap.gz"

SINGLE = """
- required_engine_version: 2
- list: cat_binaries
  items: [cat]
- list: cat_capable_binaries
  items: [cat_binaries]
- macro: is_cat
  condition: proc.name in (cat_capable_binaries)
- rule: open_from_cat
  desc: A process named cat does an open
  condition: evt.type=open and is_cat
  output: "An open was seen (command=%proc.cmdline)"
  priority: WARNING
  tags: [filesystem, process, testing]
"""
DOUBLE = """
- rule: exec_from_cat
  desc: A process named cat does execve
  condition: evt.type=execve and is_cat
  output: "An exec was seen (command=%proc.cmdline)"
  priority: ERROR
- rule: access_from_cat
  desc: A process named cat does an access
  condition: evt.type=access and is_cat
  output: "An access was seen (command=%proc.cmdline)"
  priority: INFO
"""
# Falco's test/output_files/single_rule_with_cat_write.txt and .json (time_format_iso_8601, hostname set)
_NS = ["881781397", "881785348", "881796705", "881799840", "882003104", "882008208", "882045694", "882054739"]
GOLDEN_TEXT = [f"2016-08-04T16:17:57.{ns}+0000: Warning An open was seen (command=cat /dev/null)" for ns in _NS]
GOLDEN_JSON = [
    f'{{"hostname":"test-falco-hostname","output":"{line}","priority":"Warning","rule":"open_from_cat",'
    f'"source":"syscall","tags":["filesystem","process","testing"],"time":"2016-08-04T16:17:57.{ns}Z", '
    f'"output_fields": {{"evt.time.iso8601":1470327477{ns},"proc.cmdline":"cat /dev/null"}}}}'
    for line, ns in zip(GOLDEN_TEXT, _NS, strict=True)]


@pytest.fixture(scope="module")
def cat() -> sysnb.Capture:
    return sysnb.open_capture(CAT)


def rules(text: str) -> sysnb.rules.RuleSet:
    rs = load_text(textwrap.dedent(text))
    assert rs.ok, [str(e) for e in rs.errors]
    return rs


def counts(cap: sysnb.Capture, text: str, **options: object) -> dict[str, int]:
    alerts = alerts_table(cap, rules(text), **options)  # type: ignore[arg-type]
    return dict(collections.Counter(alerts["rule"].to_pylist()))


def error_of(text: str) -> tuple[str, str]:
    rs = load_text(textwrap.dedent(text))
    assert not rs.ok, "expected a load error"
    return rs.errors[0].code, rs.errors[0].message


# -- output, byte for byte ----------------------------------------------------------------------------------------

def test_text_and_json_output_match_falcos_golden_files(cat: sysnb.Capture) -> None:
    alerts = alerts_table(cat, rules(SINGLE))
    assert list(text_lines(alerts, iso=True)) == GOLDEN_TEXT
    assert list(json_lines(alerts, "test-falco-hostname", iso=True)) == GOLDEN_JSON


def test_default_time_is_evt_time_and_missing_fields_print_na(cat: sysnb.Capture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    alerts = alerts_table(cat, rules("""
        - rule: open_from_cat
          desc: null output field (Falco's null_output_field test)
          condition: evt.type=open and proc.name=cat
          output: "An open was seen (cport=%fd.cport command=%proc.cmdline)"
          priority: WARNING
        """))
    lines = list(text_lines(alerts))
    assert lines[0] == "16:17:57.881781397: Warning An open was seen (cport=<NA> command=cat /dev/null)"
    first = json.loads(next(json_lines(alerts, "h")))
    assert first["output_fields"] == {"evt.time": 1470327477881781397, "fd.cport": None,
                                      "proc.cmdline": "cat /dev/null"}


def test_alerts_table_points_back_at_the_events(cat: sysnb.Capture) -> None:
    alerts = alerts_table(cat, rules(SINGLE))
    assert alerts.schema == sysnb.rules.ALERT_SCHEMA.with_metadata(alerts.schema.metadata)
    rows = alerts["row"].to_pylist()
    picked = cat.table.take(rows)
    assert picked["evt.num"].to_pylist() == alerts["evt.num"].to_pylist()
    assert set(picked["evt.type"].cast("string").to_pylist()) == {"open"}
    assert alerts["sysnb.offset"].to_pylist() == picked["sysnb.offset"].to_pylist()
    assert set(alerts["proc.name"].to_pylist()) == {"cat"} and alerts["priority_num"][0].as_py() == 4
    assert b"sysnb.rules.files" in alerts.schema.metadata


# -- options ------------------------------------------------------------------------------------------------------

def test_simple_consumer_events_are_skipped_unless_all_events(cat: sysnb.Capture) -> None:
    """Falco 0.32.2's catchall_order: open_dev_null 1, dev_null 0 (fstat/read/close are skipped); with -A the
    catch-all gets the six /dev/null events the first rule did not take (Falco 0.36's expectation)."""
    catchall = """
        - rule: open_dev_null
          desc: Any open of the file /dev/null
          condition: evt.type=open and fd.name=/dev/null
          output: An open of /dev/null was seen (command=%proc.cmdline evt=%evt.type %evt.args)
          priority: INFO
        - rule: dev_null
          desc: Anything related to /dev/null
          condition: fd.name=/dev/null
          output: Something related to /dev/null was seen (command=%proc.cmdline evt=%evt.type %evt.args)
          priority: INFO
          warn_evttypes: false
        """
    assert counts(cat, catchall) == {"open_dev_null": 1}
    assert counts(cat, catchall, all_events=True) == {"open_dev_null": 1, "dev_null": 6}
    assert counts(cat, catchall, all_events=True, rule_matching="all") == {"open_dev_null": 1, "dev_null": 7}


def test_min_priority_and_all_events(cat: sysnb.Capture) -> None:
    """Falco's multiple_rules_suppress_info: -A, priority WARNING -> open 8, exec 1, access 0."""
    both = SINGLE + DOUBLE
    assert counts(cat, both, all_events=True, min_priority="WARNING") == {"open_from_cat": 8, "exec_from_cat": 1}
    assert counts(cat, both, all_events=True) == {"open_from_cat": 8, "exec_from_cat": 1, "access_from_cat": 6}
    assert counts(cat, both) == {"open_from_cat": 8, "exec_from_cat": 1}  # access is skipped without -A
    assert counts(cat, both, min_priority=3) == {"exec_from_cat": 1}


def test_disable_rules_by_substring_or_regex(cat: sysnb.Capture) -> None:
    assert counts(cat, SINGLE, disable_rules=["open_from"]) == {}
    assert counts(cat, SINGLE, disable_rules=["open.*"]) == {}
    assert counts(cat, SINGLE, disable_rules=["exec"]) == {"open_from_cat": 8}


def _tagged() -> str:
    tags = {1: "[a]", 2: "[b]", 3: "[c]", 4: "[a, b]", 5: "[a, c]", 6: "[b, c]", 7: "[a, b, c]", 8: "[b, a]",
            9: "[c, a]", 10: "[b, c, a]", 11: "[d]", 12: "[]", 13: None}
    out = ["- macro: open_read\n  condition: evt.type in (open,openat,openat2) and evt.dir=< and fd.typechar='f'"]
    for n, t in tags.items():
        out.append(f"- rule: open_{n}\n  desc: open {n}\n  condition: open_read and fd.name=/tmp/file-{n}\n"
                   f"  output: Open {n} (file=%fd.name)\n  priority: WARNING" + (f"\n  tags: {t}" if t else ""))
    return "\n".join(out)


@pytest.mark.parametrize(("kind", "tags", "fired"), [
    ("disable_tags", ["a"], {2, 3, 6, 11, 12, 13}), ("disable_tags", ["b"], {1, 3, 5, 9, 11, 12, 13}),
    ("disable_tags", ["c"], {1, 2, 4, 8, 11, 12, 13}), ("disable_tags", ["a", "b"], {3, 11, 12, 13}),
    ("disable_tags", ["a", "b", "c"], {11, 12, 13}),
    ("enable_tags", ["a"], {1, 4, 5, 7, 8, 9, 10}), ("enable_tags", ["b"], {2, 4, 6, 7, 8, 10}),
    ("enable_tags", ["c"], {3, 5, 6, 7, 9, 10}), ("enable_tags", ["a", "b"], {1, 2, 4, 5, 6, 7, 8, 9, 10}),
    ("enable_tags", ["b", "c"], {2, 3, 4, 5, 6, 7, 8, 9, 10}), ("enable_tags", ["a", "b", "c"], set(range(1, 11))),
    ("enable_tags", ["d"], {11}),
])
def test_tags_select_rules_as_falcos_disabled_and_run_tags_tests(kind: str, tags: list[str], fired: set[int]) -> None:
    cap = sysnb.open_capture(FIXTURES / "open-multiple-files.scap.gz")
    got = counts(cap, _tagged(), **{kind: tags})
    assert got == {f"open_{n}": 1 for n in fired}


def test_conflicting_options_are_refused(cat: sysnb.Capture) -> None:
    with pytest.raises(UsageError, match=r"You can not specify both disabled \(-D/-T\) and enabled \(-t\) rules"):
        alerts_table(cat, rules(SINGLE), disable_tags=["a"], enable_tags=["a"])
    with pytest.raises(UsageError, match="You can not specify both"):
        alerts_table(cat, rules(SINGLE), disable_rules=["open.*"], enable_tags=["a"])
    with pytest.raises(UsageError, match="unknown priority"):
        alerts_table(cat, rules(SINGLE), min_priority="loud")


def test_enabled_key_and_enabled_only_items(cat: sysnb.Capture) -> None:
    disabled = SINGLE.replace("  priority: WARNING", "  priority: WARNING\n  enabled: false")
    assert counts(cat, disabled) == {}
    assert counts(cat, disabled + "\n- rule: open_from_cat\n  enabled: true\n") == {"open_from_cat": 8}
    assert counts(cat, SINGLE + "\n- rule: open_from_cat\n  enabled: false\n") == {}
    # -t enables a tagged rule even when its file disabled it, as Falco's enable_rule_by_tag does
    assert counts(cat, disabled, enable_tags=["testing"]) == {"open_from_cat": 8}
    code, msg = error_of("- rule: nobody\n  enabled: false\n")
    assert (code, msg) == ("LOAD_ERR_VALIDATE", "Rule has 'enabled' key but no rule by that name already exists")


def test_netmask_in_operator_on_connect_localhost() -> None:
    cap = sysnb.open_capture(FIXTURES / "connect_localhost.scap.gz")
    got = counts(cap, """
        - rule: Localhost connect
          desc: connect to the localhost network, using fd.net and the in operator
          condition: evt.type=connect and fd.net in ("127.0.0.1/24")
          output: Program connected to localhost network (connection=%fd.name)
          priority: INFO
        """)
    assert got == {"Localhost connect": 1}


# -- lists, macros, appends, overrides (Falco's list_*/macro_*/rule_* tests on cat_write) ----------------------------

@pytest.mark.parametrize(("name", "text", "fires"), [
    ("list_override", SINGLE + "- list: cat_capable_binaries\n  items: [not-cat]", False),
    ("nested_list_override", SINGLE + "- list: cat_binaries\n  items: [not-cat]", False),
    ("macro_override", SINGLE + "- macro: is_cat\n  condition: proc.name in (not-cat)", False),
    ("rule_override", SINGLE + "- rule: open_from_cat\n  desc: x\n  condition: evt.type=open and proc.name=nope\n"
                               "  output: x\n  priority: WARNING", False),
    ("list_substring", "- list: my_list\n  items: ['\"one string\"']\n- rule: r\n  desc: d\n  condition: "
                       "evt.type=open and fd.name in (file_my_list)\n  output: o\n  priority: INFO", False),
    ("list_sub_bare", "- list: cat_binaries\n  items: [cat]\n- rule: r\n  desc: d\n"
                      "  condition: evt.type=open and proc.name=cat_binaries\n  output: o\n  priority: WARNING", True),
    ("list_sub_whitespace", "- list: cat_binaries\n  items: [cat]\n- rule: r\n  desc: d\n  condition: "
                            "evt.type=open and (proc.name= cat_binaries or proc.name=nopey)\n  output: o\n"
                            "  priority: WARNING", True),
    ("list_sub_front", "- list: cat_binaries\n  items: [cat]\n- rule: r\n  desc: d\n  condition: evt.type=open "
                       "and proc.name in (cat_binaries, ps)\n  output: o\n  priority: WARNING", True),
    ("list_sub_mid", "- list: cat_binaries\n  items: [cat]\n- rule: r\n  desc: d\n  condition: evt.type=open "
                     "and proc.name in (ls, cat_binaries, ps)\n  output: o\n  priority: WARNING", True),
    ("list_sub_end", "- list: cat_binaries\n  items: [cat]\n- rule: r\n  desc: d\n  condition: evt.type=open "
                     "and proc.name in (ls, cat_binaries)\n  output: o\n  priority: WARNING", True),
    ("empty_list", "- list: none\n  items: []\n- rule: r\n  desc: d\n  condition: evt.type=open "
                   "and proc.name in (none, cat)\n  output: o\n  priority: WARNING", True),
    ("list_append", "- list: my_list\n  items: [not-cat]\n- list: my_list\n  append: true\n  items: [cat]\n"
                    "- rule: r\n  desc: d\n  condition: evt.type=open and proc.name in (my_list)\n  output: o\n"
                    "  priority: WARNING", True),
    ("list_override_append", "- list: my_list\n  items: [not-cat]\n- list: my_list\n  override:\n"
                             "    items: append\n  items: [cat]\n- rule: r\n  desc: d\n"
                             "  condition: evt.type=open and proc.name in (my_list)\n  output: o\n"
                             "  priority: WARNING", True),
    ("list_append_false", "- list: my_list\n  items: [cat]\n- list: my_list\n  append: false\n  items: [not-cat]\n"
                          "- rule: r\n  desc: d\n  condition: evt.type=open and proc.name in (my_list)\n  output: o\n"
                          "  priority: WARNING", False),
    ("macro_append", "- macro: my_macro\n  condition: proc.name=not-cat\n- macro: my_macro\n  append: true\n"
                     "  condition: or proc.name=cat\n- rule: r\n  desc: d\n  condition: evt.type=open and my_macro\n"
                     "  output: o\n  priority: WARNING", True),
    ("macro_override_append", "- macro: my_macro\n  condition: proc.name=not-cat\n- macro: my_macro\n"
                              "  override:\n    condition: append\n  condition: or proc.name=cat\n- rule: r\n  desc: d"
                              "\n  condition: evt.type=open and my_macro\n  output: o\n  priority: WARNING", True),
    ("macro_append_false", "- macro: my_macro\n  condition: proc.name=cat\n- macro: my_macro\n  append: false\n"
                           "  condition: proc.name=not-cat\n- rule: r\n  desc: d\n"
                           "  condition: evt.type=open and my_macro\n  output: o\n  priority: WARNING", False),
    ("rule_append", "- rule: r\n  desc: d\n  condition: (evt.type=open and fd.name=not-a-real-file)\n  output: o\n"
                    "  priority: WARNING\n- rule: r\n  append: true\n  condition: or (evt.type=open and "
                    "fd.name=/dev/null)", True),
    ("rule_append_false", "- rule: r\n  desc: d\n  condition: evt.type=open and fd.name=/dev/null\n  output: o\n"
                          "  priority: WARNING\n- rule: r\n  append: false\n  desc: d\n  condition: evt.type=open and "
                          "fd.name=not-a-real-file\n  output: o\n  priority: WARNING", False),
    ("rule_override_replace", "- rule: r\n  desc: d\n  condition: evt.type=open and fd.name=nope\n  output: o\n"
                              "  priority: WARNING\n- rule: r\n  override:\n    condition: replace\n"
                              "  condition: evt.type=open and fd.name=/dev/null", True),
    ("macro_order", "- macro: is_cat\n  condition: proc.name=cat\n- rule: r\n  desc: d\n"
                    "  condition: evt.type=open and is_cat\n  output: o\n  priority: WARNING\n- macro: is_cat\n"
                    "  condition: proc.name=cat or proc.name=ls", True),
])
def test_lists_macros_and_appends(cat: sysnb.Capture, name: str, text: str, fires: bool) -> None:
    assert bool(counts(cat, text)) is fires, name


def test_list_of_lists_only_expands_lists_defined_before() -> None:
    rs = rules("""
        - list: late
          items: [early, x]
        - list: early
          items: [a, b]
        - list: user
          items: [early, c]
        - rule: r
          desc: d
          condition: proc.name in (user, late)
          output: o
          priority: INFO
        """)
    assert rs.lists["user"] == ["a", "b", "c"]
    assert rs.lists["late"] == ["early", "x"]  # 'early' was not defined yet: a literal item, as in Falco
    assert rs.rules[0].condition.count("a, b") >= 1


def test_resolve_list_is_falcos_text_substitution() -> None:
    assert resolve_list("proc.name in (my_list)", "my_list", ["a", "b c"])[0] == 'proc.name in ( a, "b c" )'
    assert resolve_list("x in (my_list_2)", "my_list", ["a"]) == ("x in (my_list_2)", False)
    assert resolve_list("x in (a, my_list)", "my_list", [])[0] == "x in (a  )"
    assert resolve_list("x=my_list", "my_list", ["a"])[0] == "x= a "


def test_exception_conditions_are_built_as_falco_builds_them() -> None:
    one = ExceptionInfo("e", Loc("f"), fields="proc.name", comps="in", values=["a", "b c"])
    assert exception_condition("evt.type=open", [one]) == '(evt.type=open) and not (proc.name in (a, "b c"))'
    two = ExceptionInfo("e", Loc("f"), fields=["proc.name", "fd.name"], comps=["=", "pmatch"],
                        values=[["cat", "/tmp"], ["ls", ["/a", "/b"]]])
    assert exception_condition("c", [two]) == ("(c) and not (( proc.name = cat and  fd.name pmatch (/tmp)) or "
                                               "( proc.name = ls and  fd.name pmatch (/a, /b)))")


def test_exceptions_and_appended_values(cat: sysnb.Capture) -> None:
    base = """
        - list: cat_list
          items: [cat]
        - rule: r
          desc: d
          condition: evt.type=open and proc.name=cat
          output: o
          priority: WARNING
          exceptions:
            - name: proc_file
              fields: [proc.name, fd.name]
              values:
                - [cat, /dev/null]
            - name: only_file
              fields: fd.name
              comps: pmatch
              values: [/usr/lib]
        """
    assert counts(cat, base) == {"r": 6}  # the /dev/null open exit and the locale-archive open exit go
    more = base + """
        - rule: r
          append: true
          exceptions:
            - name: proc_file
              values:
                - [cat_list, /etc/ld.so.cache]
            - name: new_one
              fields: [proc.name, fd.name]
              comps: [=, startswith]
              values:
                - [cat, /lib/]
        """
    assert counts(cat, more) == {"r": 4}
    override = base + """
        - rule: r
          override:
            exceptions: replace
          exceptions:
            - name: everything
              fields: proc.name
              values: [cat]
        """
    assert counts(cat, override) == {}


@pytest.mark.parametrize(("text", "code", "message"), [
    ("- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  exceptions:\n"
     "    - name: e\n      fields: [proc.name, fd.name]\n      comps: [=]\n      values: []",
     "LOAD_ERR_VALIDATE", "Fields and comps lists must have equal length"),
    ("- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  exceptions:\n"
     "    - name: e\n      fields: [proc.name]\n      comps: [nope]\n      values: []",
     "LOAD_ERR_VALIDATE", "'nope' is not a supported comparison operator"),
    ("- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  exceptions:\n"
     "    - name: e\n      fields: [proc.name, fd.name]\n      values:\n        - [cat]",
     "LOAD_ERR_VALIDATE", "Fields and values lists must have equal length"),
    ("- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  exceptions:\n"
     "    - name: e\n      values: [a]", "LOAD_ERR_YAML_VALIDATE", "Item has no mapping for key 'fields'"),
    ("- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n- rule: r\n  append: true\n"
     "  exceptions:\n    - name: e\n      fields: proc.name", "LOAD_ERR_VALIDATE",
     "Rule exception must have values property with a list of values"),
])
def test_exception_errors(text: str, code: str, message: str) -> None:
    assert error_of(text) == (code, message)


# -- load errors and warnings, with file and line -----------------------------------------------------------------

@pytest.mark.parametrize(("text", "code", "message"), [
    ("this: [is, not", "LOAD_ERR_YAML_PARSE", None),
    ("just a string", "LOAD_ERR_YAML_VALIDATE", "Rules content is not yaml"),
    ("a: b", "LOAD_ERR_YAML_VALIDATE", "Rules content is not yaml array of objects"),
    ("- [not, an, object]", "LOAD_ERR_YAML_VALIDATE",
     "Unexpected element type. Each element should be a yaml associative array."),
    ("- list: bad_list\n  no_items: []", "LOAD_ERR_YAML_VALIDATE", "Item has no mapping for key 'items'"),
    ("- macro: bad_macro\n  nope: x", "LOAD_ERR_YAML_VALIDATE", "Item has no mapping for key 'condition'"),
    ("- rule: no output rule\n  desc: d\n  condition: evt.type=open\n  priority: INFO", "LOAD_ERR_YAML_VALIDATE",
     "Item has no mapping for key 'output'"),
    ("- rule:\n  desc: d", "LOAD_ERR_YAML_VALIDATE", "Mapping for key 'rule' is empty"),
    ("- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: LOUD", "LOAD_ERR_YAML_VALIDATE",
     "Invalid priority"),
    ("- required_engine_version: not-a-number", "LOAD_ERR_YAML_VALIDATE",
     "Unable to parse engine version 'not-a-number' as a semver string. Expected \"x.y.z\" semver format."),
    ("- required_engine_version: 9999999", "LOAD_ERR_VALIDATE",
     "Rules require engine version 0.9999999.0, but engine version is 0.57.0"),
    ("- macro: dangling append\n  condition: x\n  append: true", "LOAD_ERR_VALIDATE",
     "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists"),
    ("- list: my_list\n  items: [a]\n  append: true", "LOAD_ERR_VALIDATE",
     "List uses 'append' or 'override.items: append' but no list by that name already exists"),
    ("- rule: my_rule\n  condition: evt.type=open\n  append: true", "LOAD_ERR_VALIDATE",
     "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists"),
    ("- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n- rule: r\n  append: true",
     "LOAD_ERR_VALIDATE", "Appended rule must have exceptions or condition property"),
    ("- macro: m\n  condition: a\n  append: true\n  override:\n    condition: append", "LOAD_ERR_YAML_VALIDATE",
     "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') "
     "under 'override' instead."),
    ("- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n- rule: r\n  override:\n"
     "    priority: append\n  priority: INFO", "LOAD_ERR_YAML_VALIDATE",
     "Key 'priority' cannot be appended to, use 'replace' instead"),
    ("- macro: some macro\n  condition: evt.type=execve\n- rule: r\n  desc: d\n  condition: evt.type=open and foo\n"
     "  output: o\n  priority: INFO", "LOAD_ERR_VALIDATE", "Undefined macro 'foo' used in filter."),
    ("- macro: macro_a\n  condition: evt.type=open and macro_b\n- macro: macro_b\n  condition: macro_a",
     "LOAD_ERR_VALIDATE", "Undefined macro 'macro_b' used in filter."),
    ("- macro: m\n  condition: evt.type=open\n- macro: m\n  append: true\n  condition: and m", "LOAD_ERR_VALIDATE",
     "reference loop in macro 'm'"),
    ("- rule: r\n  desc: d\n  condition: evt.type=open and\n  output: o\n  priority: INFO",
     "LOAD_ERR_COMPILE_CONDITION", None),
    ("- list: list_a\n  items: [list_b]\n- list: list_b\n  items: [list_a]\n- rule: sample rule\n  desc: d\n"
     "  condition: evt.type in (list_a)\n  output: o\n  priority: INFO", "LOAD_ERR_COMPILE_CONDITION",
     "unknown event type list_b"),
    ("- rule: r\n  desc: d\n  condition: evt.type=open and proc.nobody=cat\n  output: o\n  priority: INFO",
     "LOAD_ERR_COMPILE_CONDITION", "filter_check called with nonexistent field proc.nobody"),
    ("- rule: rule_with_invalid_output\n  desc: d\n  condition: evt.type=open\n  output: \"%not_a_real_field\"\n"
     "  priority: INFO", "LOAD_ERR_COMPILE_OUTPUT", "invalid formatting token not_a_real_field"),
])
def test_load_errors(text: str, code: str, message: str | None) -> None:
    got_code, got_message = error_of(text)
    assert got_code == code, got_message
    if message is not None:
        assert got_message == message


def test_errors_carry_file_line_and_column(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("- list: ok\n  items: [a]\n\n- rule: r\n  desc: d\n  condition: evt.type=open and\n  output: o\n"
                 "  priority: INFO\n")
    rs = load_rules(f)
    err = rs.errors[0]
    assert (err.loc.file, err.loc.line) == (str(f), 6) if err.loc else False
    assert str(err).startswith(f"{f}:6:") and "rule 'r'" in str(err)
    parse_error = load_rules(_write(tmp_path / "p.yaml", "- rule: r\n  desc: [unclosed\n")).errors[0]
    assert parse_error.code == "LOAD_ERR_YAML_PARSE" and parse_error.loc is not None and parse_error.loc.line >= 2


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_warnings() -> None:
    rs = load_text(textwrap.dedent("""
        - required_engine_version: 0.40.0
        - required_plugin_versions:
            - name: container
              version: 0.3.0
            - name: k8saudit
              version: 0.1.0
        - list: unused_list
          items: [a]
        - macro: unused_macro
          condition: proc.name=x
        - macro: used
          condition: proc.name=y
        - rule: no_evttype
          desc: d
          condition: proc.name=cat and used
          output: o
          priority: INFO
          colour: red
        - rule: k8s thing
          desc: d
          condition: ka.verb=create
          output: o
          priority: INFO
          source: k8s_audit
        - something: else
        - rule: no_evttype
          append: true
          condition: and proc.pid > 0
        """))
    assert rs.ok
    by_code = collections.defaultdict(list)
    for w in rs.warnings:
        by_code[w.code].append(w.item_name)
    assert by_code["LOAD_NO_EVTTYPE"] == ["no_evttype"]
    assert by_code["LOAD_UNUSED_MACRO"] == ["unused_macro"] and by_code["LOAD_UNUSED_LIST"] == ["unused_list"]
    assert by_code["LOAD_UNKNOWN_KEY"] == ["no_evttype"] and by_code["LOAD_UNKNOWN_ITEM"] == [""]
    assert by_code["LOAD_UNKNOWN_SOURCE"] == ["k8s thing"] and by_code["LOAD_DEPRECATED_ITEM"] == ["no_evttype"]
    assert by_code["LOAD_PLUGIN_REQUIREMENT"] == ["k8saudit"]
    assert [r.name for r in rs.skipped] == ["k8s thing"] and [r.name for r in rs.rules] == ["no_evttype"]
    assert any("container 0.3.0: provided by sysnb" in n for n in rs.notes)
    assert rs.required_engine_version == (0, 40, 0)


def test_skip_if_unknown_filter_downgrades_to_a_warning(cat: sysnb.Capture) -> None:
    rs = load_text(textwrap.dedent("""
        - rule: Contains Unknown Event And Skipping
          desc: Contains an unknown event
          condition: evt.type=open and proc.nobody=cat
          output: Never
          skip-if-unknown-filter: true
          priority: INFO
        """))
    assert rs.ok and [w.code for w in rs.warnings] == ["LOAD_UNKNOWN_FILTER"]
    assert alerts_table(cat, rs).num_rows == 0


def test_a_field_falco_has_but_sysnb_lacks_leaves_the_rule_not_compiled(cat: sysnb.Capture) -> None:
    """Not Falco's error: the rule is kept, with the field and the macro it is used in, and never runs."""
    rs = rules(SINGLE + textwrap.dedent("""
        - macro: parent_is_shell
          condition: proc.vpgid.name startswith bash
        - rule: cat from a shell
          desc: d
          condition: evt.type=open and parent_is_shell
          output: "%proc.cmdline from %proc.vpgid.name"
          priority: NOTICE
        """))
    bad = rs.rule("cat from a shell")
    assert not bad.compiled and [(p.field, p.where) for p in bad.problems] == [("proc.vpgid.name",
                                                                              "macro 'parent_is_shell'")]
    assert rs.rule("open_from_cat").compiled
    assert counts(cat, SINGLE) == dict(collections.Counter(alerts_table(cat, rs)["rule"].to_pylist()))


def test_output_fields_sysnb_lacks_print_na(cat: sysnb.Capture) -> None:
    rs = rules("""
        - rule: r
          desc: d
          condition: evt.type=open and proc.name=cat and evt.dir=<
          output: "%proc.name parent=%proc.vpgid.name %container.info"
          priority: INFO
        """)
    assert rs.rules[0].output_missing == ["proc.vpgid.name"]
    alerts = alerts_table(cat, rs)
    assert alerts["output"][0].as_py() == "cat parent=<NA> host (id=host)"
    assert json.loads(alerts["output_fields"][0].as_py())["proc.vpgid.name"] is None


# -- event types (libsinsp's ppm_event_codes) --------------------------------------------------------------------

@pytest.mark.parametrize(("condition", "expected"), [
    ("evt.type=execve and proc.name=cat", {"execve"}),
    ("proc.name=cat", "all"),
    ("evt.type!=execve", "all-but"),
    ("not evt.type=execve and proc.name=cat", "all-but"),
    ("evt.type=execve and not proc.name=cat", {"execve"}),
    ("evt.type in (execve, open) or evt.type=connect", {"execve", "open", "connect"}),
    ("(evt.type=open or proc.name=cat) and evt.type=open", {"open"}),
    ("not (evt.type=open or evt.type=execve)", "all-but2"),
    ("not (evt.type!=open)", {"open"}),
    ("evt.type=open and evt.type=execve", set()),
    ("evt.num=0", set()),
    ("not evt.num=0 and evt.type=open", {"open"}),
    ("evt.type in ()", set()),
])
def test_event_types_of_a_condition(condition: str, expected: object) -> None:
    from sysnb.rules.evttypes import event_names

    got = evttypes(parse(condition, falco=True))
    universe = event_names()
    want = {"all": universe, "all-but": universe - {"execve"}, "all-but2": universe - {"open", "execve"}}.get(
        expected, expected) if isinstance(expected, str) else expected
    assert got == want


# -- files and directories ----------------------------------------------------------------------------------------

def test_directory_loads_yaml_files_in_order(tmp_path: Path, cat: sysnb.Capture) -> None:
    d = tmp_path / "rules.d"
    d.mkdir()
    (d / "a_base.yaml").write_text(textwrap.dedent(SINGLE))
    (d / "b_local.yml").write_text("- list: cat_binaries\n  items: [not-cat]\n")
    (d / "README").write_text("not rules")
    rs = load_rules(d)
    assert rs.ok and [Path(f).name for f in rs.files] == ["a_base.yaml", "b_local.yml"]
    assert any("README: not a .yaml/.yml file" in n for n in rs.notes)
    assert alerts_table(cat, rs).num_rows == 0
    rs = load_rules([d / "b_local.yml", d / "a_base.yaml"])  # the base redefines the list after the local file
    assert alerts_table(cat, rs).num_rows == 8
    empty = _write(tmp_path / "empty.yaml", "")
    assert alerts_table(cat, load_rules([empty, d / "a_base.yaml", empty])).num_rows == 8


def test_each_file_must_compile_with_the_files_before_it(tmp_path: Path) -> None:
    """Falco compiles after every file: a macro a later file defines is undefined for an earlier one."""
    first = _write(tmp_path / "1.yaml", "- rule: r\n  desc: d\n  condition: evt.type=open and later\n  output: o\n"
                                        "  priority: INFO\n")
    second = _write(tmp_path / "2.yaml", "- macro: later\n  condition: proc.name=cat\n")
    rs = load_rules([first, second])
    assert [e.message for e in rs.errors] == ["Undefined macro 'later' used in filter."]
    assert load_rules([second, first]).ok


def test_a_missing_file_is_a_read_error(tmp_path: Path) -> None:
    rs = load_rules(tmp_path / "nope.yaml")
    assert [e.code for e in rs.errors] == ["LOAD_ERR_FILE_READ"]
    with pytest.raises(UsageError, match="could not be loaded"):
        alerts_table(sysnb.open_capture(CAT), tmp_path / "nope.yaml")


def test_hostile_nesting_is_a_load_error_not_a_crash() -> None:
    deep = "- macro: m0\n  condition: evt.type=open\n" + "".join(
        f"- macro: m{i}\n  condition: m{i - 1} and proc.name=x\n" for i in range(1, 600))
    rs = load_text(deep + "- rule: r\n  desc: d\n  condition: m599\n  output: o\n  priority: INFO\n")
    assert [e.code for e in rs.errors] == ["LOAD_ERR_COMPILE_CONDITION"]
    paren = "(" * 5000 + "evt.type=open" + ")" * 5000
    rs = load_text(f"- rule: r\n  desc: d\n  condition: {paren}\n  output: o\n  priority: INFO\n")
    assert len(rs.errors) == 1 and "nests deeper than" in rs.errors[0].message
    bomb = "- list: a\n  items: &x [a1, a2, a3]\n" + "".join(f"- list: l{i}\n  items: *x\n" for i in range(50))
    assert load_text(bomb + "- rule: r\n  desc: d\n  condition: proc.name in (l1)\n  output: o\n"
                            "  priority: INFO\n").ok


def test_event_types_group_right_whatever_the_chunks_dictionaries(cat: sysnb.Capture) -> None:
    """A table whose evt.type chunks carry different (or repeated) dictionaries, as batches of the native core
    or a concatenation of captures do: every rule still sees all the rows of its types."""
    import pyarrow as pa

    t = cat.table
    halves = [t.slice(0, 150)["evt.type"], t.slice(150)["evt.type"].cast(pa.string()).dictionary_encode()]
    chunks = [c.combine_chunks().cast(pa.dictionary(pa.int32(), pa.string())) for c in halves]
    mixed = t.set_column(t.schema.get_field_index("evt.type"), "evt.type", pa.chunked_array(chunks))
    assert dict(collections.Counter(alerts_table(mixed, rules(SINGLE))["rule"].to_pylist())) == {"open_from_cat": 8}

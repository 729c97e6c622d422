"""Falco rules front ends: ``sysnb -r CAP --rules``, ``sysnb rules validate``, ``cap.alerts()``, ``%sysrules``, the
overview tile and the explorer's ``alerts`` lens."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

import sysnb
from sysnb.cli import main
from sysnb.filter import compile_filter
from sysnb.rules import Alerts
from sysnb.views.explore import LENS_COLUMNS, View, lens_table

FIXTURES = Path(__file__).parent / "fixtures" / "falco"
CAT = FIXTURES / "cat_write.scap.gz"
RULES = textwrap.dedent("""
    - list: cat_binaries
      items: [cat]
    - macro: is_cat
      condition: proc.name in (cat_binaries)
    - rule: open_from_cat
      desc: A process named cat does an open
      condition: evt.type=open and is_cat
      output: "An open was seen (command=%proc.cmdline)"
      priority: WARNING
      tags: [filesystem, mitre_discovery, T1083]
    - rule: exec_from_cat
      desc: A process named cat does execve
      condition: evt.type=execve and is_cat
      output: "An exec was seen (command=%proc.cmdline file=%fd.name)"
      priority: ERROR
    - rule: shell parent
      desc: needs a field sysnb lacks
      condition: evt.type=open and proc.vpgid.name contains bash
      output: "%proc.vpgid.name"
      priority: INFO
    """)


@pytest.fixture()
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return path


def test_cli_prints_alerts_like_falco_e_and_its_summary(rules_file: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    assert main(["-r", str(CAT), "--rules", str(rules_file)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "16:17:57.881730713: Error An exec was seen (command=cat /dev/null file=<NA>)"
    assert lines[1] == "16:17:57.881781397: Warning An open was seen (command=cat /dev/null)"
    assert lines[9:] == ["Events detected: 9", "Rule counts by severity:", "   ERROR: 1", "   WARNING: 8",
                         "Triggered rules by rule name:", "   open_from_cat: 8", "   exec_from_cat: 1"]
    assert "3 loaded from 1 file(s), 2 compiled, 1 not compiled" in err


def test_cli_json_and_options(rules_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-r", str(CAT), "--rules", str(rules_file), "-j", "--iso8601", "--min-priority", "error"]) == 0
    out, err = capsys.readouterr()
    objs = [json.loads(line) for line in out.splitlines()]
    assert [o["rule"] for o in objs] == ["exec_from_cat"] and objs[0]["hostname"] == "ubuntu"
    assert list(objs[0]) == ["hostname", "output", "priority", "rule", "source", "tags", "time", "output_fields"]
    assert objs[0]["output_fields"] == {"evt.time.iso8601": 1470327477881730713, "fd.name": None,
                                        "proc.cmdline": "cat /dev/null"}
    assert "Events detected: 1" in err  # the statistics stay out of the JSON lines
    assert main(["-r", str(CAT), "--rules", str(rules_file), "--disable-tag", "filesystem", "--enable-tag", "x"]) == 1
    assert "You can not specify both" in capsys.readouterr().err
    assert main(["--rules", str(rules_file)]) == 1
    assert main(["-r", str(CAT), "--rules", str(rules_file), "proc.name=cat"]) == 1


def test_cli_refuses_a_broken_rules_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- rule: r\n  desc: d\n  condition: evt.type=open and nope\n  output: o\n  priority: INFO\n")
    assert main(["-r", str(CAT), "--rules", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:1:3: error LOAD_ERR_VALIDATE" in err and "Undefined macro 'nope'" in err


def test_validate_reports_why_a_rule_is_not_compiled(rules_file: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "validate", str(rules_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{rules_file}: Ok\n")
    assert "rules: 3 loaded, 2 compiled, 1 not compiled" in out
    assert "could not compile: shell parent" in out
    assert "field 'proc.vpgid.name' needs state the engine does not track yet" in out
    assert "missing in sysnb (rules needing it):\n  proc.vpgid.name: 1" in out
    assert main(["rules", "validate", "--strict", str(rules_file)]) == 1
    capsys.readouterr()
    assert main(["rules", "validate", "--json", str(rules_file)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["missing"] == {"proc.vpgid.name": 1} and report["not_compiled_rules"][0]["rule"] == "shell parent"
    assert report["output_fields_missing"] == {"shell parent": ["proc.vpgid.name"]}
    bad = tmp_path / "bad.yaml"
    bad.write_text("- macro: m\n  condition: (evt.type=open\n")
    assert main(["rules", "validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}: Invalid" in out and "LOAD_ERR_COMPILE_CONDITION" in out
    assert main(["rules", "validate", str(tmp_path / "missing.yaml")]) == 2
    assert main(["rules", "check", str(bad)]) == 2


def test_capture_alerts_and_drill_down(rules_file: Path) -> None:
    cap = sysnb.open_capture(CAT)
    alerts = cap.alerts(rules=rules_file, min_priority="warning")
    assert isinstance(alerts, Alerts) and len(alerts) == 9 and cap.rule_alerts is alerts
    assert alerts.summary() == [("open_from_cat", "Warning", 8), ("exec_from_cat", "Error", 1)]
    assert alerts.events("exec_from_cat").table["evt.type"].cast("string").to_pylist() == ["execve"]
    assert compile_filter(alerts.filter_text("open_from_cat")).apply(cap.table).num_rows == 8
    assert alerts.table["mitre"][-1].as_py() == ["T1083", "mitre_discovery"]
    html = alerts._repr_html_()
    assert "open_from_cat" in html and "1 not compiled" in html
    with pytest.raises(sysnb.UsageError, match="unknown rules option"):
        cap.alerts(rules=rules_file, priority="warning")


def test_overview_tile_and_explorer_lens(rules_file: Path) -> None:
    cap = sysnb.open_capture(CAT)
    assert "Falco alerts" not in cap.overview()
    cap.alerts(rules=rules_file)
    assert "Falco alerts                       9   evt.num in (131, 140, 141," in cap.overview()
    rows = View(cap).rows(LENS_COLUMNS)
    table, filters, labels = lens_table(rows, "alerts", cap)
    assert table.to_pylist() == [
        {"rule": "exec_from_cat", "priority": "Error", "events": 1, "mitre": ""},
        {"rule": "open_from_cat", "priority": "Warning", "events": 8, "mitre": "T1083, mitre_discovery"}]
    assert labels == ["exec_from_cat", "open_from_cat"]
    for i, flt in enumerate(filters):  # the drill-down keeps exactly the alerted events
        assert compile_filter(flt).apply(View(cap).base).num_rows == table["events"][i].as_py()


def test_explorer_widget_alerts_lens(rules_file: Path) -> None:
    pytest.importorskip("anywidget", reason="the explorer needs the notebook extras")
    cap = sysnb.open_capture(CAT)
    cap.alerts(rules=rules_file)
    w = cap.explore()
    tile = next(i for i, t in enumerate(w.tiles) if t["title"] == "Falco alerts")
    w._on_msg(w, {"kind": "tile", "index": tile}, None)
    assert w.error == "" and w.lens == "alerts"
    w._on_msg(w, {"kind": "drill", "row": 0}, None)
    assert w.error == "" and w.lens == "syscalls" and [c["label"] for c in w.crumbs] == ["Falco alerts",
                                                                                        "exec_from_cat"]


def test_sysrules_magic(rules_file: Path) -> None:
    import IPython
    from IPython.testing.globalipapp import start_ipython

    start_ipython()  # None when another test module started the session's shell first
    ip = IPython.get_ipython()
    ip.run_line_magic("load_ext", "sysnb")
    ip.run_line_magic("sysopen", str(CAT))
    result = ip.run_line_magic("sysrules", f"{rules_file} --disable-rules exec")
    assert ip.user_ns["_alerts"] is result and result.summary() == [("open_from_cat", "Warning", 8)]
    from IPython.core.error import UsageError

    for bad in ("", f"{rules_file} --min-priority loud", f"{rules_file} --bogus", "/nonexistent.yaml"):
        with pytest.raises(UsageError, match="%sysrules"):
            ip.run_line_magic("sysrules", bad)
    doc = ip.find_line_magic("sysrules").__doc__
    assert "Examples::" in doc and "%sysrules /etc/falco/falco_rules.yaml" in doc


def test_alert_lines_on_a_terminal_show_control_characters_escaped(rules_file: Path) -> None:
    import argparse
    import io

    from sysnb.rules.cli import run_alerts, visible

    assert visible("evil\x1b]0;owned\x07 name\r\n") == "evil\\x1b]0;owned\\x07 name\\x0d\\x0a"

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    evil = rules_file.parent / "evil.yaml"
    evil.write_text('- rule: r\n  desc: d\n  condition: evt.type=execve and proc.name=cat\n'
                    '  output: "\\e[2J%proc.name"\n  priority: INFO\n')
    args = argparse.Namespace(read=str(CAT), rules=[str(evil)], min_priority="debug", disable_rules=[], disable_tag=[],
                              enable_tag=[], all_events=False, rule_matching="first", json=False, iso8601=False)
    out, err = Tty(), io.StringIO()
    assert run_alerts(args, out, err) == 0
    assert "\x1b" not in out.getvalue() and "Informational \\x1b[2Jcat" in out.getvalue()


def test_alerts_become_case_findings_for_the_report(rules_file: Path) -> None:
    from sysnb.case.session import active, reset

    reset()
    cap = sysnb.open_capture(CAT)
    found = cap.alerts(rules=rules_file).to_findings()
    assert [(f.title, f.kind, f.severity, f.count) for f in found] == [
        ("open_from_cat", "alert", "medium", 8), ("exec_from_cat", "alert", "high", 1)]
    assert found[0].source["priority"] == "Warning" and found[0].source["tags"] == ["T1083", "filesystem",
                                                                                    "mitre_discovery"]
    assert [r.evt_num for r in found[1].refs] == [131]
    assert [f.title for f in active().doc.findings if f.kind == "alert"] == ["open_from_cat", "exec_from_cat"]
    reset()


def test_the_cli_streams_batches_and_prints_what_the_whole_table_gives(rules_file: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """sysnb -r --rules reads the capture in batches (here of 50 events, evaluated 100 at a time) with only the
    columns the rules and their outputs need: the same alerts, in the same order, as alerts_table() over the
    whole table."""
    import argparse
    import io

    from sysnb import scan as scan_module
    from sysnb.rules import cli as rules_cli
    from sysnb.rules import text_lines

    real = scan_module.Scan
    monkeypatch.setattr(scan_module, "Scan", lambda path, **kw: real(path, batch_size=50, **kw))
    monkeypatch.setattr(rules_cli, "CHUNK_ROWS", 60)  # evaluated two batches at a time
    both = RULES + "- rule: catch all dev null\n  desc: d\n  condition: fd.name=/dev/null\n  output: \"%evt.type\"\n" \
                   "  priority: INFO\n  warn_evttypes: false\n"
    rules_file.write_text(both)
    args = argparse.Namespace(read=str(CAT), rules=[str(rules_file)], min_priority="debug", disable_rules=[],
                              disable_tag=[], enable_tag=[], all_events=True, rule_matching="first", json=False,
                              iso8601=True)
    out, err = io.StringIO(), io.StringIO()
    assert rules_cli.run_alerts(args, out, err) == 0
    whole = sysnb.rules.alerts_table(sysnb.open_capture(CAT), rules_file, all_events=True)
    assert out.getvalue().splitlines()[:whole.num_rows] == list(text_lines(whole, iso=True))
    assert whole.num_rows == 9 + 6  # open 8, exec 1, and the catch-all on the other /dev/null events

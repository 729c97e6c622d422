"""The case: evidence register and custody log filled by the capture API, findings, marks, how the case is
stored in a notebook and read back, escaping, and the Timesketch/CSV exports."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import sysnb
from sysnb.case import export
from sysnb.case.escape import esc
from sysnb.case.model import CaseDoc, utc
from sysnb.case.notebook import stored_case, sync_metadata
from sysnb.case.session import active, reset
from sysnb.errors import UsageError

SCAN = "proc.name=nmap and evt.type=connect and evt.dir=< and fd.sip=10.66.0.2"


@pytest.fixture
def cap(tmp_path: Path) -> sysnb.Capture:
    reset()
    copy = tmp_path / "incident.scap.gz"
    shutil.copy(sysnb.sample_path(), copy)
    return sysnb.open_capture(copy)


def test_opening_registers_the_evidence_and_logs_the_access(cap: sysnb.Capture) -> None:
    doc = active().doc
    [e] = doc.evidence
    assert (e.sha256, e.size, e.events, e.role) == (cap.provenance.sha256, cap.provenance.size, 27121, "opened")
    assert e.host == "vm" and utc(e.start_ns).startswith("2026-11-27T09:17:13.") and e.tool_version
    assert [c.action for c in doc.custody] == ["open"] and "@" in doc.custody[0].by
    sysnb.open_capture(cap.provenance.source)  # a second access: one entry more, no second evidence file
    assert len(doc.evidence) == 1 and [c.action for c in doc.custody] == ["open", "open"]


def test_a_finding_keeps_filter_count_and_references(cap: sysnb.Capture) -> None:
    f = sysnb.finding("Port scan", SCAN, severity="high", note="connect scan")
    truth = cap.filter(SCAN).events
    assert (f.id, f.count, f.filter, f.sha256) == ("F1", truth.num_rows, SCAN, cap.provenance.sha256)
    assert [r.evt_num for r in f.refs] == truth["evt.num"].to_pylist()
    assert [r.offset for r in f.refs] == truth["sysnb.offset"].to_pylist()
    assert f.first_ns == f.refs[0].ts_ns and f.refs[0].utc.endswith("Z")
    again = sysnb.finding("Port scan", SCAN + " and fd.sport=22", severity="critical")
    assert again.id == "F1" and len(active().doc.findings) == 1 and again.count == 1  # same title: replaced
    assert any(m.text == SCAN and m.kind == "filter" for m in active().doc.methods)


def test_a_finding_from_a_view_an_explorer_view_and_a_window(cap: sysnb.Capture) -> None:
    view = cap.filter("proc.name=curl").filter("evt.type=connect")
    f = sysnb.finding("curl connects", view)
    assert f.filter == "(proc.name=curl) and (evt.type=connect)" and f.count == view.events.num_rows > 0
    from sysnb.views.explore import View

    v = View(cap)
    v.push("curl", "proc.name=curl")
    v.set_filter("evt.type=connect")
    t0 = f.refs[0].ts_ns
    v.set_window(t0, t0 + 1)
    g = sysnb.finding("first curl connect", v)
    assert g.window == [t0, t0 + 1] and g.count >= 1 and g.refs[0].evt_num == f.refs[0].evt_num
    assert g.filter == "(proc.name=curl) and (evt.type=connect)"


def test_finding_mistakes_are_usage_errors(cap: sysnb.Capture) -> None:
    with pytest.raises(UsageError, match=r"did you mean proc\.name"):
        sysnb.finding("typo", "proc.nmae=cat")
    with pytest.raises(UsageError, match="severity"):
        sysnb.finding("bad", "proc.name=cat", severity="urgent")
    with pytest.raises(UsageError, match="title"):
        sysnb.finding(" ", "proc.name=cat")


def test_marks_copy_the_event_and_merge_tags(cap: sysnb.Capture) -> None:
    num = cap.filter("proc.name=curl and evt.type=sendto and evt.buffer contains api.twilio.com").events["evt.num"][0]
    m = sysnb.mark(num.as_py(), tags="c2, exfil", note="forged Host")
    assert m.tags == ["c2", "exfil"] and "curl" in m.line and "POST" in bytes.fromhex(m.buffer_hex).decode()
    assert m.fields["proc.name"] == "curl" and m.ref.offset > 0
    again = sysnb.mark(num.as_py(), tags=["c2", "twilio"])
    assert again is m and m.tags == ["c2", "exfil", "twilio"] and m.note == "forged Host"
    assert [x.key for x in sysnb.marks()] == [m.key]
    sysnb.unmark(num.as_py())
    assert sysnb.marks() == [] and active().doc.marks[0].deleted
    with pytest.raises(UsageError, match="no event 99999999"):
        sysnb.mark(99999999)


def test_saving_a_subset_registers_it_with_its_filter(cap: sysnb.Capture, tmp_path: Path) -> None:
    out = tmp_path / "nmap.scap"
    n = cap.filter("proc.name=nmap").save(out)
    e = active().doc.evidence[-1]
    assert (e.role, e.path, e.events, e.recording_filter) == ("written", str(out), n, "proc.name=nmap")
    assert e.source_sha256 == cap.provenance.sha256 and e.acquired_ns and e.size == out.stat().st_size
    assert active().doc.custody[-1].action == "write" and "E1" in active().doc.custody[-1].detail


def test_the_cli_write_registers_its_filter(tmp_path: Path) -> None:
    from sysnb.cli import main

    reset()
    out = tmp_path / "cat.scap"
    assert main(["-r", str(sysnb.sample_path()), "-w", str(out), "proc.name=cat"]) == 0
    assert active().doc.evidence[-1].recording_filter == "proc.name=cat"


def test_a_recording_is_registered_with_what_the_recorder_knows(tmp_path: Path) -> None:
    from sysnb.case.hooks import evidence_recorded
    from sysnb.record.recorder import RecordStats

    reset()
    path = tmp_path / "live.scap.gz"
    shutil.copy(sysnb.sample_path(), path)
    evidence_recorded(RecordStats(str(path), seconds=5.0, records=100, events=27121, drops_per_cpu=[3, 4],
                                  snaplen=256, latency=False, engine="bcc"))
    sysnb.open_capture(path)  # opened later: the same entry gains the capture's span
    [e] = active().doc.evidence
    assert (e.role, e.drops, e.snaplen, e.recording_filter) == ("recorded", 7, 256, "engine=bcc snaplen=256 no-latency")
    assert e.kernel and e.acquired_by and e.start_ns is not None
    assert [c.action for c in active().doc.custody] == ["record", "open"]


def test_the_newest_stored_case_wins_and_reaches_the_metadata(cap: sysnb.Capture) -> None:
    sysnb.case("IR-1", examiner="J. Doe")
    first = active().snapshot()
    sysnb.finding("scan", SCAN)
    second = active().snapshot()
    nb: dict[str, Any] = {"metadata": {}, "cells": [
        {"cell_type": "code", "outputs": [{"output_type": "display_data", "data": {"text/plain": ""},
                                          "metadata": {"sysnb": {"kind": "ledger", "case": second}}}]},
        {"cell_type": "code", "outputs": [{"output_type": "display_data", "data": {"text/plain": ""},
                                          "metadata": {"sysnb": {"kind": "ledger", "case": first}}}]},
        {"cell_type": "code", "outputs": [{"output_type": "display_data", "data": {},
                                          "metadata": {"sysnb": {"case": {"schema": "other"}}}}]}]}
    doc = sync_metadata(nb)
    assert doc is not None and doc.revision == second["revision"] and [f.title for f in doc.findings] == ["scan"]
    assert CaseDoc.from_json(nb["metadata"]["sysnb"]["case"]).info.examiner == "J. Doe"
    assert stored_case({"metadata": {}, "cells": []}) is None


def test_magics_start_the_case_and_store_it_after_each_cell(tmp_path: Path) -> None:
    IPython = pytest.importorskip("IPython")
    from IPython.core.error import UsageError as IPyUsageError
    from IPython.testing.globalipapp import start_ipython

    reset()
    start_ipython()
    ip = IPython.get_ipython()
    ip.run_line_magic("load_ext", "sysnb")
    published: list[dict[str, Any]] = []
    ip.display_pub.publish = lambda data, metadata=None, **kw: published.append(metadata or {})  # type: ignore[method-assign]
    with pytest.raises(IPyUsageError, match="no case yet"):
        ip.run_line_magic("syscase", "")
    ip.run_cell('%syscase --id IR-7 --examiner "J. Doe" --org "ACME CSIRT"')
    ip.run_cell(f"%sysopen {sysnb.sample_path()} -o cap")
    ip.run_cell("%sysfilter proc.name=nmap and evt.type=connect and evt.dir=<")
    f = ip.run_line_magic("finding", '-s high -n "from 10.66.0.3" Port scan')
    assert f.filter == "proc.name=nmap and evt.type=connect and evt.dir=<" and f.severity == "high"
    g = ip.run_line_magic("finding", "cat reads -- proc.name=cat and evt.type=read")
    assert g.title == "cat reads" and g.filter == "proc.name=cat and evt.type=read"
    m = ip.run_line_magic("mark", f'{f.refs[0].evt_num} -t scan,nmap -n "first probe"')
    assert m.tags == ["scan", "nmap"] and m.note == "first probe"
    with pytest.raises(IPyUsageError, match="usage: %mark"):
        ip.run_line_magic("mark", "first")
    with pytest.raises(IPyUsageError, match="did you mean"):
        ip.run_line_magic("finding", "bad -- proc.nme=cat")
    ip.run_cell("1")  # the post-cell hook stores the changed case
    stored = [p["sysnb"]["case"] for p in published if "sysnb" in p]
    assert stored and stored[-1]["info"]["id"] == "IR-7" and len(stored[-1]["findings"]) == 2
    assert stored[-1]["revision"] > stored[0]["revision"]


def test_capture_strings_are_escaped_and_invisibles_shown() -> None:
    assert esc('<img src=x onerror="a()">') == "&lt;img src=x onerror=&quot;a()&quot;&gt;"
    assert esc("/tmp/\u202egpj.exe") == "/tmp/\\u202egpj.exe" and esc("\x1b[31m") == "\\x1b[31m"
    from sysnb.case.display import finding_html
    from sysnb.case.model import Finding

    html = finding_html(Finding(id="F1", title="<script>x</script>", filter="fd.name=\"<b>\"", sha256="a" * 64,
                                capture="<i>.scap", count=1, note="\u202e"))
    assert "<script" not in html and "<i>" not in html and "\\u202e" in html
    assert "&lt;script&gt;" in html and "fd.name=&quot;&lt;b&gt;&quot;" in html


def test_timesketch_and_csv_exports(cap: sysnb.Capture, tmp_path: Path) -> None:
    sysnb.case("IR-9")
    sysnb.finding("Port scan", SCAN, severity="high")
    num = cap.filter(SCAN).events["evt.num"][0].as_py()
    sysnb.mark(num, tags=["scan"], note="first \u202e probe")
    jsonl, table = tmp_path / "case.jsonl", tmp_path / "case.csv"
    assert export.write_timesketch(active().doc, jsonl) == 2
    lines = jsonl.read_text().splitlines()
    rows = [export.check_timesketch_line(line) for line in lines]
    for row in rows:
        assert set(export.REQUIRED) <= set(row) and row["case_id"] == "IR-9"
        assert row["evidence_sha256"] == cap.provenance.sha256 and isinstance(row["tag"], list)
    assert {r["data_type"] for r in rows} == {"sysnb:finding", "sysnb:mark"}
    mark_row = next(r for r in rows if r["kind"] == "mark")
    assert mark_row["evt_num"] == num and mark_row["message"] == "first \\u202e probe"
    with pytest.raises(ValueError, match="timestamp_desc"):
        export.check_timesketch_line(json.dumps({"message": "m", "datetime": "2026-01-01T00:00:00+00:00"}))
    with pytest.raises(ValueError, match="time zone"):
        export.check_timesketch_line(json.dumps({"message": "m", "datetime": "2026-01-01T00:00:00",
                                                 "timestamp_desc": "t"}))
    assert export.write_csv(active().doc, table) == 2
    with open(table, newline="") as f:
        read = list(csv.DictReader(f))
    assert [r["timestamp_desc"] for r in read] == [r["timestamp_desc"] for r in rows]
    assert next(r for r in read if r["kind"] == "mark")["tag"] == "scan"


def test_the_explorer_marks_events_and_adds_findings(cap: sysnb.Capture) -> None:
    pytest.importorskip("anywidget", reason="the explorer needs the notebook extras (pip install 'sysnb[notebook]')")
    w = cap.explore()
    num = cap.filter(SCAN).events["evt.num"][0].as_py()
    w._on_msg(w, {"kind": "mark", "evt_num": num, "tags": "scan, nmap", "note": "first probe"}, None)
    assert w.marked == [num] and "marked event" in w.case_status and sysnb.marks()[0].tags == ["scan", "nmap"]
    w.view.set_filter(SCAN)
    w._on_msg(w, {"kind": "finding", "title": "Port scan (explorer)", "severity": "high"}, None)
    f = active().doc.findings[-1]
    assert (f.title, f.filter, f.severity, f.source) == ("Port scan (explorer)", SCAN, "high", {"via": "explorer"})
    w._on_msg(w, {"kind": "finding", "title": "", "severity": "high"}, None)
    assert "title" in w.error  # a mistake is shown in the widget
    w._on_msg(w, {"kind": "unmark", "evt_num": num}, None)
    assert w.marked == [] and sysnb.marks() == []


def test_a_new_kernel_resumes_what_code_does_not_recreate(cap: sysnb.Capture, tmp_path: Path) -> None:
    from sysnb.case.notebook import resume_from_notebook

    sysnb.case("IR-3")
    num = cap.filter(SCAN).events["evt.num"][0].as_py()
    sysnb.mark(num, tags=["scan"])
    sysnb.finding("clicked in the explorer", SCAN, source={"via": "explorer"})
    sysnb.finding("made by code", SCAN)
    nb_path = tmp_path / "nb.ipynb"
    nb_path.write_text(json.dumps({"metadata": {"sysnb": {"case": active().snapshot()}}, "cells": []}))
    old_custody = len(active().doc.custody)
    reset()  # a restarted kernel
    assert resume_from_notebook(nb_path)
    doc = active().doc
    assert [m.ref.evt_num for m in doc.live_marks()] == [num]
    assert [f.title for f in doc.findings] == ["clicked in the explorer"]  # code re-creates the other one
    assert len(doc.custody) == old_custody and doc.evidence[0].sha256 == cap.provenance.sha256


def test_a_view_of_unknown_filter_is_listed_by_evt_num(cap: sysnb.Capture) -> None:
    from sysnb.capture import visible_rows

    table = cap.table.slice(2000, 60)  # a view made from the table, not with Capture.filter
    f = sysnb.finding("some events", sysnb.Capture(table, cap.provenance))
    nums = visible_rows(table)["evt.num"].to_pylist()
    assert f.filter == "evt.num in (" + ", ".join(map(str, nums)) + ")" and f.count == len(nums)
    assert cap.filter(f.filter).events.num_rows == len(nums)  # the listed filter selects them again
    with pytest.raises(UsageError, match="filter is not known"):
        sysnb.finding("all visible", sysnb.Capture(cap.table.slice(0, 5000), cap.provenance))


def test_sysreport_magic_exports_the_live_case(cap: sysnb.Capture, tmp_path: Path) -> None:
    IPython = pytest.importorskip("IPython")
    pytest.importorskip("nbconvert")
    import nbformat
    from IPython.testing.globalipapp import start_ipython

    start_ipython()
    ip = IPython.get_ipython()
    ip.run_line_magic("load_ext", "sysnb")
    sysnb.case("IR-LIVE")
    sysnb.finding("scan", SCAN)
    nb = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# notes")]), nb)
    out = tmp_path / "live-report.html"
    ip.run_line_magic("sysreport", f"{nb} -o {out}")
    text = out.read_text()
    assert "IR-LIVE" in text and ">F1<" in text
    assert active().doc.custody[-1].action == "export"

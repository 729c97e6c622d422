"""How the case shows in a notebook: the case card, a finding, a mark, and the one-line note a cell gets
when it changed the case. Static HTML (no script, no network), every capture string escaped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sysnb.case.escape import esc
from sysnb.case.model import CaseDoc, Finding, Mark, utc

if TYPE_CHECKING:
    from sysnb.case.session import Case

BOX = ("font-family:system-ui,sans-serif;font-size:13px;border:1px solid #c9d3de;border-left:4px solid {color};"
       "border-radius:4px;padding:8px 12px;margin:6px 0;background:#f8fafc;color:#1d2733")
SEVERITY_COLORS = {"info": "#6b7a89", "low": "#3b82c4", "medium": "#d39b00", "high": "#d2561e", "critical": "#b3122e"}
CODE = "font-family:ui-monospace,monospace;white-space:pre-wrap;overflow-wrap:anywhere;background:#eef2f6;padding:0 3px"


def case_html(case: Case) -> str:
    doc = case.doc
    i = doc.info
    rows = [("Case", i.id), ("Title", i.title), ("Examiner", i.examiner), ("Organisation", i.org),
            ("Requested by", i.requester), ("Classification", i.classification), ("Description", i.description)]
    cells = "".join(f"<tr><th style='text-align:left;padding-right:12px'>{esc(k)}</th><td>{esc(v)}</td></tr>"
                    for k, v in rows if v)
    counts = (f"{len(doc.evidence)} evidence file(s), {len(doc.findings)} finding(s), {len(doc.live_marks())} "
              "mark(s) — stored in this notebook, listed in its report (<code>sysnb report</code>)")
    return (f"<div style='{BOX.format(color='#2f6fb0')}'><b>sysnb case</b><table style='margin:4px 0'>{cells}"
            f"</table><span style='color:#4a5866'>{counts}</span></div>")


def case_text(case: Case) -> str:
    i = case.doc.info
    named = (("examiner", i.examiner), ("org", i.org), ("requester", i.requester))
    parts = [f"case {i.id or '(no id)'}"] + [f"{k}: {v}" for k, v in named if v]
    return " · ".join(parts)


def finding_html(f: Finding) -> str:
    color = SEVERITY_COLORS.get(f.severity, "#6b7a89")
    window = f"<br>time window: {esc(utc(f.window[0]))} – {esc(utc(f.window[1]))}" if f.window else ""
    span = f"<br>first {esc(utc(f.first_ns))}, last {esc(utc(f.last_ns))} (UTC)" if f.first_ns is not None else ""
    refs = ", ".join(str(r.evt_num) for r in f.refs[:10]) + (" …" if f.count > 10 else "")
    note = f"<br>{esc(f.note)}" if f.note else ""
    return (f"<div style='{BOX.format(color=color)}'><b>{esc(f.kind)} {esc(f.id)}</b> "
            f"<span style='color:{color};font-weight:600'>[{esc(f.severity)}]</span> {esc(f.title)}{note}"
            f"<br>filter: <code style='{CODE}'>{esc(f.filter or '(all events)')}</code>{window}"
            f"<br>{f.count:,} event(s) in {esc(f.capture)} (sha256 {esc(f.sha256[:16])}…){span}"
            f"<br>events: {esc(refs or '—')}</div>")


def finding_text(f: Finding) -> str:
    return f"{f.kind} {f.id} [{f.severity}] {f.title}: {f.count} events, filter {f.filter or '(all events)'}"


def mark_html(m: Mark) -> str:
    tags = " ".join(f"<span style='background:#e3ecf6;border-radius:3px;padding:0 4px'>{esc(t)}</span>"
                    for t in m.tags)
    state = " (removed)" if m.deleted else ""
    note = f"<br>{esc(m.note)}" if m.note else ""
    return (f"<div style='{BOX.format(color='#7a4fb0')}'><b>mark</b>{esc(state)} event {m.ref.evt_num} of "
            f"{esc(m.capture)} at {esc(m.ref.utc)}, byte offset {m.ref.offset} {tags}{note}"
            f"<br><code style='{CODE}'>{esc(m.line)}</code></div>")


def mark_text(m: Mark) -> str:
    tags = f" [{', '.join(m.tags)}]" if m.tags else ""
    return f"mark on event {m.ref.evt_num} of {m.capture}{tags}: {m.line}"


def ledger_html(changes: list[str]) -> str:
    items = "; ".join(esc(c) for c in changes)
    return f"<div style='font:12px system-ui,sans-serif;color:#4a5866'>case: {items}</div>"


def doc_counts(doc: CaseDoc) -> str:
    return f"{len(doc.evidence)} evidence, {len(doc.findings)} findings, {len(doc.live_marks())} marks"

"""The report's sections, each a function of the report's data returning HTML. Every value that can come
from a capture or a notebook (names, filters, notes, tags, event lines, paths) goes through ``esc``."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

from sysnb.case.escape import esc
from sysnb.case.model import SEVERITIES, CaseDoc, Evidence, Finding, utc
from sysnb.format.values import buffer_hex

#: what sysnb does differently from sysdig 0.29.3 on purpose (README, "Agreement with sysdig 0.29.3")
INTENDED_DIFFERENCES = (
    "libs/curl_google_comments: sysdig 0.29.3 cannot open it (pcapng options after the header); sysnb reads it.",
    "502Error, haproxy's fd 8: sysdig reads a bound UDP socket's address back through a C union "
    "(192.168.128.156:55441->145.216.3.255:514); sysnb gives the real 127.0.0.1:55441->127.0.0.1:514.",
    "libs/sample, user.loginuid: sysdig misreads the 2023 process-list tail (-420151296); sysnb gives 1000.",
    "group.gid: sysdig reads the 32-bit gid as 64 bits (8589934591); sysnb gives the gid.",
    "Filter functions beyond sysdig 0.29.3 (Falco's grammar: tolower() toupper() b64() basename() len(), val(), "
    "a working intersects) are extensions; a filter using them does not run on sysdig 0.29.3.",
    "Subsets written by sysnb carry the source's state-changing events flagged state-only (as sysdig's fatfile "
    "mode), so sysdig names processes and fds of the chosen events; sysdig 0.29.3's own -w of a filtered read "
    "writes a file it cannot open.",
)


@dataclass
class EvidenceCheck:
    evidence: Evidence
    status: str  # verified | altered | missing
    found: str = ""
    sha256_now: str = ""


@dataclass
class ReportData:
    doc: CaseDoc
    notebook: str
    notebook_sha256: str
    generated_ns: int
    version: str
    checks: list[EvidenceCheck] = field(default_factory=list)
    tools: dict[str, str] = field(default_factory=dict)
    narrative: str = ""


def section(sid: str, title: str, body: str) -> str:
    """A section between markers: the manifest keeps one sha256 per section, so verify can say which."""
    return (f"<!--sysnb:section {sid}--><section id='{sid}'><h2>{esc(title)}</h2>{body}</section>"
            f"<!--/sysnb:section {sid}-->\n")


def table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """``rows`` are already HTML (escape values before); ``head`` is text."""
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table class='{cls}'><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def code(text: object) -> str:
    return f"<code class='wrap'>{esc(text)}</code>"


def ts(ns: int | None) -> str:
    """A UTC time for a table cell: date and time, each kept on one line (the line may break between)."""
    if ns is None:
        return "—"
    date, _, clock = utc(ns).partition("T")
    return f"<span class='ts'>{date}</span> <span class='ts'>{clock}</span>"


def cover(d: ReportData) -> str:
    i = d.doc.info
    rows = [("Case", i.id or "(no case id)"), ("Title", i.title), ("Examiner", i.examiner), ("Organisation", i.org),
            ("Requested by", i.requester), ("Classification", i.classification), ("Case opened", utc(i.opened_ns)),
            ("Report generated", utc(d.generated_ns)), ("Report version", d.version),
            ("Source notebook", f"{d.notebook} (sha256 {d.notebook_sha256})")]
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows if v)
    desc = f"<p>{esc(i.description)}</p>" if i.description else ""
    return (f"<!--sysnb:section cover--><header id='cover'><p class='kicker'>Forensic report</p>"
            f"<h1>{esc(i.title or i.id or 'Investigation')}</h1>{desc}<table class='cover'>{cells}</table>"
            f"<p class='small'>All times are UTC. Every evidence file is identified by its sha256; the manifest at "
            f"the end of this file lets <code>sysnb verify</code> check the report and the evidence.</p>"
            f"</header><!--/sysnb:section cover-->\n")


def _by_severity(findings: list[Finding]) -> list[Finding]:
    order = {s: n for n, s in enumerate(reversed(SEVERITIES))}
    return sorted(findings, key=lambda f: (order.get(f.severity, 99), f.first_ns or 0))


def _sev(f: Finding) -> str:
    return f"<span class='sev sev-{esc(f.severity)}'>{esc(f.severity)}</span>"


def summary(d: ReportData) -> str:
    found = [f for f in d.doc.findings if f.kind == "finding"]
    if not found:
        return section("summary", "Executive summary", "<p>No findings were recorded in this case.</p>")
    rows = [[f"<a href='#finding-{esc(f.id)}'>{esc(f.id)}</a>", _sev(f), esc(f.title), f"{f.count:,}",
             ts(f.first_ns), esc(f.capture)] for f in _by_severity(found)]
    counts = ", ".join(f"{sum(f.severity == s for f in found)} {s}" for s in reversed(SEVERITIES)
                       if any(f.severity == s for f in found))
    body = (f"<p>{len(found)} finding(s): {esc(counts)}. {len(d.doc.live_marks())} event(s) bookmarked; "
            f"{len(d.doc.evidence)} evidence file(s).</p>"
            + table(["id", "severity", "finding", "events", "first seen (UTC)", "evidence"], rows, "summary"))
    return section("summary", "Executive summary", body)


def alerts(d: ReportData) -> str:
    """Findings of kind "alert" (rules: ``sysnb.finding(title, view, kind="alert", source={"rule": ...})``).
    The section is left out when there are none."""
    found = [f for f in d.doc.findings if f.kind == "alert"]
    if not found:
        return ""
    rows = [[esc(f.id), _sev(f), esc(f.source.get("rule", f.title)), esc(f.source.get("priority", "")),
             f"{f.count:,}", ts(f.first_ns), code(f.filter)] for f in _by_severity(found)]
    return section("alerts", "Alerts from rules",
                   table(["id", "severity", "rule", "priority", "events", "first (UTC)", "condition"], rows))


def timeline(d: ReportData) -> str:
    items: list[tuple[int, str, str, str]] = []
    for f in d.doc.findings:
        if f.first_ns is not None:
            items.append((f.first_ns, f"{f.id} first", esc(f.title), _sev(f)))
            if f.last_ns != f.first_ns and f.last_ns is not None:
                items.append((f.last_ns, f"{f.id} last", esc(f.title), _sev(f)))
    for m in d.doc.live_marks():
        tags = ", ".join(m.tags)
        items.append((m.ref.ts_ns, f"mark #{m.ref.evt_num}", esc(m.note or m.line) + (f" <i>[{esc(tags)}]</i>" if tags
                                                                                     else ""), ""))
    if not items:
        return section("timeline", "Timeline (UTC)", "<p>Nothing to place on a timeline.</p>")
    rows = [[ts(at), esc(what), sev, text] for at, what, text, sev in sorted(items)]
    return section("timeline", "Timeline (UTC)", table(["time (UTC)", "what", "", "description"], rows, "timeline"))


ROLES = {"opened": "opened as found", "recorded": "recorded by sysnb", "written": "subset written by sysnb"}


def evidence(d: ReportData) -> str:
    checked = {c.evidence.sha256: c for c in d.checks}
    cards = [_evidence_card(n, e, checked.get(e.sha256), d.doc) for n, e in enumerate(d.doc.evidence, 1)]
    custody = [[ts(c.at_ns), esc(c.action), esc(_label(d.doc, c.sha256)), esc(c.by), esc(c.detail or c.path)]
               for c in d.doc.custody]
    body = ("".join(cards) or "<p>No evidence file was registered.</p>") + "<h3>Chain of custody</h3>" + \
        table(["time (UTC)", "action", "evidence", "by", "detail"], custody, "custody")
    return section("evidence", "Evidence register and chain of custody", body)


def _evidence_card(n: int, e: Evidence, check: EvidenceCheck | None, doc: CaseDoc) -> str:
    state = f"<span class='st-{esc(check.status)}'>{esc(check.status)}</span>" if check else "not checked"
    rows = [("path", esc(e.path)), ("sha256", f"<code class='hash'>{esc(e.sha256)}</code>"),
            ("size", f"{e.size:,} bytes"), ("host", esc(e.host or "?") + (f", kernel {esc(e.kernel)}" if e.kernel
                                                                          else "")),
            ("span (UTC)", f"{esc(utc(e.start_ns))} – {esc(utc(e.end_ns))}" if e.start_ns is not None else ""),
            ("events", f"{e.events:,}"), ("drops", "" if e.drops is None else f"{e.drops:,}"),
            ("snaplen", "" if e.snaplen is None else f"{e.snaplen} bytes"),
            ("recording options" if e.role == "recorded" else "filter", code(e.recording_filter)
             if e.recording_filter else ""),
            ("cut from", esc(_label(doc, e.source_sha256)) if e.source_sha256 else ""),
            ("damaged", f"{esc(e.error)} (byte offset {esc(e.error_offset)})" if e.error else ""),
            ("tool", f"{esc(e.tool)} {esc(e.tool_version)}"),
            ("acquired", f"by {esc(e.acquired_by)} at {esc(utc(e.acquired_ns))}" if e.acquired_ns else ""),
            ("at report time", state)]
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows if v)
    return (f"<article class='evidence'><h3>E{n} {esc(e.name)} <span class='small'>({esc(ROLES.get(e.role, e.role))})"
            f"</span></h3><table class='kv'>{cells}</table></article>")


def _label(doc: CaseDoc, sha256: str) -> str:
    for n, e in enumerate(doc.evidence, 1):
        if e.sha256 == sha256:
            return f"E{n} {e.name}"
    return sha256[:16]


def methods(d: ReportData) -> str:
    kinds: dict[str, list[str]] = {}
    for m in d.doc.methods:
        kinds.setdefault(m.text, []).append(m.kind)
    rows = [[esc(", ".join(dict.fromkeys(k))), code(text)] for text, k in kinds.items()]
    tools = ", ".join(f"{esc(k)} {esc(v)}" for k, v in d.tools.items())
    body = (f"<p>Events were read with sysnb, whose output and filter language follow sysdig 0.29.3 (checked "
            f"against it on 29 public captures). Tools: {tools}; Python {esc(platform.python_version())}.</p>"
            + (table(["used as", "filter, chisel or query"], rows, "methods") if rows else
               "<p>No filter, chisel or query was recorded.</p>"))
    return section("methods", "Methods", body)


def findings(d: ReportData) -> str:
    if not d.doc.findings:
        return ""
    parts = []
    for f in d.doc.findings:
        window = f"<tr><th>time window</th><td>{esc(utc(f.window[0]))} – {esc(utc(f.window[1]))}</td></tr>" \
            if f.window else ""
        source = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in f.source.items())
        refs = [[str(r.evt_num), ts(r.ts_ns), f"{r.offset:,}"] for r in f.refs]
        more = f"<p class='small'>first {len(f.refs)} of {f.count:,} events</p>" if f.count > len(f.refs) else ""
        parts.append(
            f"<article id='finding-{esc(f.id)}' class='finding'><h3>{esc(f.id)} {_sev(f)} {esc(f.title)}</h3>"
            + (f"<p>{esc(f.note)}</p>" if f.note else "")
            + f"<table class='kv'><tr><th>filter</th><td>{code(f.filter or '(all events)')}</td></tr>{window}"
            f"<tr><th>events</th><td>{f.count:,} in {esc(f.capture)}</td></tr>"
            f"<tr><th>evidence sha256</th><td><code class='hash'>{esc(f.sha256)}</code></td></tr>"
            f"<tr><th>first / last</th><td>{esc(utc(f.first_ns))} / {esc(utc(f.last_ns))}</td></tr>{source}"
            f"<tr><th>recorded by</th><td>{esc(f.created_by)} at {esc(utc(f.created_ns))}</td></tr></table>"
            + (table(["evt.num", "time (UTC)", "byte offset"], refs, "refs") if refs else "") + more + "</article>")
    return section("findings", "Findings in detail", "".join(parts))


def narrative(d: ReportData) -> str:
    return section("narrative", "Analysis", f"<div class='narrative'>{d.narrative}</div>")


def limitations(d: ReportData) -> str:
    items = []
    for n, e in enumerate(d.doc.evidence, 1):
        if e.drops:
            items.append(f"E{n} {esc(e.name)}: the recorder dropped {e.drops:,} system call(s); the capture is "
                         "incomplete and absence of an event proves nothing.")
        if e.error:
            items.append(f"E{n} {esc(e.name)} is damaged: {esc(e.error)}. Events after byte offset "
                         f"{esc(e.error_offset)} could not be read; everything before it was.")
        if e.snaplen:
            items.append(f"E{n} {esc(e.name)}: data buffers were recorded up to {e.snaplen} bytes (snaplen); "
                         "longer reads and writes are cut.")
    for c in d.checks:
        if c.status != "verified":
            items.append(f"{esc(c.evidence.name)}: {esc(c.status)} when this report was made"
                         + (f" (sha256 now {esc(c.sha256_now)})" if c.sha256_now else "") + ".")
    items.append("Byte offsets are positions in the uncompressed .scap stream (after gunzip for .scap.gz).")
    items.append("Intended differences from sysdig 0.29.3: <ul>"
                 + "".join(f"<li>{esc(x)}</li>" for x in INTENDED_DIFFERENCES) + "</ul>")
    return section("limitations", "Limitations", "<ul>" + "".join(f"<li>{x}</li>" for x in items) + "</ul>")


def appendix(d: ReportData) -> str:
    marks = sorted(d.doc.live_marks(), key=lambda m: (m.ref.sha256, m.ref.evt_num))
    if not marks:
        return section("appendix", "Appendix: bookmarked events", "<p>No event was bookmarked.</p>")
    parts = []
    for m in marks:
        data = bytes.fromhex(m.buffer_hex) if m.buffer_hex else b""
        cut = f" (first {len(data):,} of {m.buffer_len:,} bytes)" if m.buffer_len > len(data) else ""
        dump = (f"<pre class='hex'>{esc(buffer_hex(data, True).replace(chr(10) + chr(9), chr(10)).strip())}</pre>"
                if data else "<p class='small'>no data buffer</p>")
        fields = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in m.fields.items())
        tags = " ".join(f"<span class='tag'>{esc(t)}</span>" for t in m.tags)
        parts.append(
            f"<article class='mark'><h3>event {m.ref.evt_num} of {esc(m.capture)} {tags}</h3>"
            + (f"<p>{esc(m.note)}</p>" if m.note else "")
            + f"<pre class='line'>{esc(m.line)}</pre><table class='kv'>"
            f"<tr><th>time (UTC)</th><td>{esc(m.ref.utc)}</td></tr>"
            f"<tr><th>byte offset</th><td>{m.ref.offset:,}</td></tr>"
            f"<tr><th>evidence sha256</th><td><code class='hash'>{esc(m.ref.sha256)}</code></td></tr>{fields}"
            f"<tr><th>marked by</th><td>{esc(m.created_by)} at {esc(utc(m.created_ns))}</td></tr></table>"
            f"<p class='small'>data{esc(cut)}:</p>{dump}</article>")
    return section("appendix", "Appendix: bookmarked events", "".join(parts))


SECTIONS = (summary, alerts, timeline, evidence, methods, findings, narrative, limitations, appendix)

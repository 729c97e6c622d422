"""Assemble the report: read the notebook and its case, check the evidence files, render the sections,
embed the manifest, write the file (and the PDF)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sysnb import __version__
from sysnb.case.escape import esc
from sysnb.case.model import CaseDoc, Custody, now_ns, utc, who
from sysnb.case.notebook import stored_case
from sysnb.report import manifest as mf
from sysnb.report import narrative as nar
from sysnb.report import sections as sec

if TYPE_CHECKING:
    from sysnb.case.session import Case

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
       "script-src 'none'; connect-src 'none'; form-action 'none'; base-uri 'none'")
STYLE = (Path(__file__).parent / "report.css").read_text(encoding="utf-8")
TOC = (("summary", "Executive summary"), ("alerts", "Alerts from rules"), ("timeline", "Timeline"),
       ("evidence", "Evidence and custody"), ("methods", "Methods"), ("findings", "Findings in detail"),
       ("narrative", "Analysis"), ("limitations", "Limitations"), ("appendix", "Bookmarked events"))


def export(notebook: str | Path, out: str | Path, *, execute: bool = False, include_code: bool = False,
           pdf: str | Path | None = None, paper: str = "a4", sign_key: str | Path | None = None,
           live_case: Case | None = None, timesketch: str | Path | None = None,
           csv: str | Path | None = None) -> Path:
    """Write ``notebook`` as a forensic report to ``out`` (HTML, self-contained) and, with ``pdf``, print it
    to PDF through headless Chromium. ``live_case``: a running kernel's case, newer than the stored one.
    ``timesketch``/``csv``: also export the findings and bookmarked events (sysnb.case.export)."""
    src = Path(notebook)
    raw = src.read_bytes()
    nb = nar.read(src, execute)
    doc = _case_of(nb, live_case)
    generated = now_ns()
    checks = [check_evidence(e) for e in doc.evidence]
    _log_report_custody(doc, checks, generated, Path(out))
    data = sec.ReportData(doc=doc, notebook=src.name, notebook_sha256=hashlib.sha256(raw).hexdigest(),
                          generated_ns=generated, version=f"case revision {doc.revision}, sysnb {__version__}",
                          checks=checks, tools=nar.tool_versions(), narrative=nar.narrative_html(nb, include_code))
    manifest = _manifest(data, len(raw))
    body = page(data)
    if sign_key is not None:
        _sign_after_digest(body, manifest, Path(sign_key).read_bytes())
    dest = Path(out)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(mf.embed(body, manifest))
    if pdf is not None:
        from sysnb.report.pdf import print_pdf

        print_pdf(dest, Path(pdf), paper)
    from sysnb.case.export import write_csv, write_timesketch

    if timesketch is not None:
        write_timesketch(doc, timesketch)
    if csv is not None:
        write_csv(doc, csv)
    return dest


def _sign_after_digest(body: str, manifest: dict[str, Any], key: bytes) -> None:
    """Sign the manifest as it will be embedded (its digests are computed first, on the same body)."""
    data = body.encode("utf-8")
    manifest["body"] = {"sha256": mf.sha256(data), "covers": "every byte before the manifest tag"}
    manifest["sections"] = mf.section_digests(data)
    mf.sign(manifest, key)


def _case_of(nb: Any, live: Case | None) -> CaseDoc:
    """A copy of the running kernel's case when there is one (it is the newest), else the stored one."""
    if live is not None:
        doc = CaseDoc.from_json(live.doc.to_json())
        doc.saved_ns = now_ns()
        return doc
    return stored_case(nb) or CaseDoc()


def check_evidence(e: Any) -> sec.EvidenceCheck:
    """Re-hash an evidence file where the register says it is."""
    from sysnb.capture import sha256_file

    if not os.path.isfile(e.path):
        return sec.EvidenceCheck(e, "missing")
    now = sha256_file(e.path)
    return sec.EvidenceCheck(e, "verified" if now == e.sha256 else "altered", e.path, "" if now == e.sha256 else now)


def _log_report_custody(doc: CaseDoc, checks: list[sec.EvidenceCheck], at: int, out: Path) -> None:
    by = who()
    for c in checks:
        detail = f"re-hashed for the report: {c.status}" + (f" (sha256 now {c.sha256_now})" if c.sha256_now else "")
        doc.custody.append(Custody(at, "verify", c.evidence.sha256, c.evidence.path, by, detail))
    for e in doc.evidence:
        doc.custody.append(Custody(at, "export", e.sha256, e.path, by, f"listed in report {out.name}"))


def _manifest(d: sec.ReportData, notebook_size: int) -> dict[str, Any]:
    evidence = [{"label": f"E{n}", "name": e.name, "path": e.path, "size": e.size, "sha256": e.sha256, "role": e.role}
                for n, e in enumerate(d.doc.evidence, 1)]
    return {"format": mf.FORMAT, "generated": utc(d.generated_ns), "tool": f"sysnb {__version__}",
            "case": d.doc.info.id, "notebook": {"name": d.notebook, "size": notebook_size,
                                                "sha256": d.notebook_sha256}, "evidence": evidence}


def page(d: sec.ReportData) -> str:
    """Everything before the manifest: head (CSP, style), cover, contents, sections, footer."""
    title = esc(f"{d.doc.info.id or 'Investigation'} — forensic report")
    parts = [sec.cover(d), _toc(d)] + [s(d) for s in sec.SECTIONS]
    footer = (f"<footer>Generated {esc(utc(d.generated_ns))} by sysnb {esc(__version__)} from "
              f"{esc(d.notebook)} (sha256 {esc(d.notebook_sha256)}). Check this file and its evidence with "
              f"<code>sysnb verify {esc('<report.html>')} --captures DIR</code>.</footer>")
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{title}</title>"
            f"<style>{STYLE}</style></head><body>\n<!--sysnb:body-->\n{''.join(parts)}{footer}\n<!--/sysnb:body-->\n")


def _toc(d: sec.ReportData) -> str:
    has_alerts = any(f.kind == "alert" for f in d.doc.findings)
    items = "".join(f"<li><a href='#{sid}'>{esc(label)}</a></li>" for sid, label in TOC
                    if (sid != "alerts" or has_alerts) and (sid != "findings" or d.doc.findings))
    return f"<nav class='toc'><h2>Contents</h2><ol>{items}</ol></nav>"

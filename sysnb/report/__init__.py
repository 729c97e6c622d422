"""Export an investigation notebook as a forensic report (one self-contained HTML file, optionally a PDF),
and verify one.

    sysnb report notebooks/02-incident-investigation.ipynb -o report.html [--pdf report.pdf] [--execute]
                 [--include-code] [--paper a4|letter] [--sign examiner.pem] [--timesketch F.jsonl] [--csv F.csv]
    sysnb verify report.html [--captures DIR] [--notebook NB.ipynb] [--key examiner.pub]

The report is a deliverable: cover (case, examiner, dates, version), executive summary (the findings),
timeline in UTC, evidence register and chain of custody, methods, the analysis narrative (markdown and
outputs; code only with ``--include-code``), limitations, and an appendix of the bookmarked events in hex.
It opens without network access (its Content-Security-Policy forbids every fetch and script), prints to A4 or
Letter without clipped lines, and embeds a manifest (sha256 of the report body and each section, of the
notebook and of every evidence file; optionally an Ed25519 signature) that ``sysnb verify`` re-checks.
``python -m sysnb.report`` is the same as ``sysnb report``.
"""

from __future__ import annotations

import argparse
import sys

from sysnb.report.build import export
from sysnb.report.verify import render, verify

__all__ = ["export", "main", "verify", "verify_main"]


def main(argv: list[str] | None = None) -> int:
    """``sysnb report NOTEBOOK -o report.html ...``"""
    ap = argparse.ArgumentParser(prog="sysnb report", description="Export a notebook as a forensic report")
    ap.add_argument("notebook")
    ap.add_argument("-o", "--output", default=None, help="HTML file to write (default: NOTEBOOK-report.html)")
    ap.add_argument("--pdf", default=None, metavar="FILE", help="also print it to this PDF (headless Chromium)")
    ap.add_argument("--paper", choices=("a4", "letter"), default="a4", help="PDF paper size (default a4)")
    ap.add_argument("--execute", action="store_true", help="re-run the notebook first")
    ap.add_argument("--include-code", action="store_true", help="keep the code cells (hidden by default)")
    ap.add_argument("--sign", default=None, metavar="KEY.pem", help="sign the manifest with this Ed25519 private key")
    ap.add_argument("--timesketch", default=None, metavar="FILE.jsonl",
                    help="also write the findings and bookmarked events as Timesketch JSONL")
    ap.add_argument("--csv", default=None, metavar="FILE.csv", help="also write them as CSV")
    a = ap.parse_args(argv)
    out = a.output or a.notebook.removesuffix(".ipynb") + "-report.html"
    try:
        path = export(a.notebook, out, execute=a.execute, include_code=a.include_code, pdf=a.pdf, paper=a.paper,
                      sign_key=a.sign, timesketch=a.timesketch, csv=a.csv)
    except (OSError, ValueError) as e:
        print(f"sysnb report: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        from sysnb.errors import SysnbError

        if not isinstance(e, SysnbError):
            raise
        print(f"sysnb report: {e}", file=sys.stderr)
        return 1
    extra = [p for p in (a.pdf, a.timesketch, a.csv) if p]
    print(f"report written to {path}" + (f" (and {', '.join(extra)})" if extra else ""))
    return 0


def verify_main(argv: list[str] | None = None) -> int:
    """``sysnb verify report.html [--captures DIR] [--notebook NB] [--key PUB.pem]``"""
    ap = argparse.ArgumentParser(prog="sysnb verify", description="Check a sysnb report and its evidence")
    ap.add_argument("report")
    ap.add_argument("--captures", metavar="DIR", help="look for the evidence files in DIR (by name, or size + sha256)")
    ap.add_argument("--notebook", metavar="NB.ipynb", help="also check the source notebook")
    ap.add_argument("--key", metavar="PUB.pem", help="the examiner's Ed25519 public key the signature must match")
    a = ap.parse_args(argv)
    try:
        checks = verify(a.report, a.captures, a.notebook, a.key)
    except (OSError, ValueError) as e:
        print(f"sysnb verify: {e}", file=sys.stderr)
        return 2
    for line in render(checks):
        print(line)
    return 0 if all(c.ok for c in checks) else 1

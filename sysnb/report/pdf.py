"""Print a report to PDF with headless Chromium (the same engine a reader's browser prints with)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sysnb.errors import SysnbError

PAPERS = {"a4": "A4", "letter": "letter"}
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-extensions",
         "--disable-sync", "--no-first-run", "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw")


def chromium() -> str:
    """The Chromium binary: ``$SYSNB_CHROMIUM``, else chromium/chromium-browser/google-chrome on PATH."""
    for candidate in (os.environ.get("SYSNB_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise SysnbError("printing to PDF needs Chromium (apt-get install chromium, or set SYSNB_CHROMIUM)")


def print_pdf(report: Path, pdf: Path, paper: str = "a4", timeout: float = 180) -> Path:
    """``report`` (HTML) -> ``pdf`` on A4 or Letter. The report's @page rule sets A4; for Letter a copy
    with that rule changed is printed (the report itself is never modified)."""
    if paper not in PAPERS:
        raise SysnbError(f"paper {paper!r}: choose a4 or letter")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sysnb-pdf-") as tmp:
        source = report.resolve()
        if paper != "a4":
            source = Path(tmp) / report.name
            html = report.read_text(encoding="utf-8")
            source.write_text(html.replace("@page { size: A4;", f"@page {{ size: {PAPERS[paper]};", 1),
                              encoding="utf-8")
        cmd = [chromium(), *FLAGS, f"--user-data-dir={tmp}/profile", f"--print-to-pdf={pdf.resolve()}",
               source.as_uri()]
        try:
            run = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise SysnbError(f"Chromium did not finish printing {report} within {timeout:.0f} s") from None
    if run.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        err = run.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise SysnbError(f"Chromium could not print {report} to {pdf} (exit {run.returncode}): {' | '.join(err)}")
    return pdf

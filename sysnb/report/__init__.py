"""Export an investigation notebook as a self-contained forensic report (one HTML file).

The notebook's stored outputs are used as they are (charts are inline SVG, overviews static HTML), so the
report opens without network access; code cells are folded into <details> so findings read first, and a
header states the sysnb version, when the report was made, and the sha256 of the notebook it came from.

    python -m sysnb.report notebooks/02-incident-investigation.ipynb -o incident.html [--execute]
"""

from __future__ import annotations

import argparse
import hashlib
import html
import re
import sys
import time
from pathlib import Path
from typing import Any

from sysnb import __version__

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_EXTERNAL = re.compile(r'<script[^>]*src="https?://[^"]*"[^>]*>\s*</script>', re.S)
_HEAD = """<div style="font-family:system-ui,sans-serif;border:1px solid #ccd;border-radius:6px;padding:10px 14px;
margin:10px 0 20px 0;background:#f6f8fa"><b>sysnb forensic report</b><br>source notebook: <code>{name}</code>
(sha256 <code>{sha}</code>)<br>generated {when} by sysnb {version}. Evidence files and their sha256 are listed in
each capture's overview below.</div>"""


def export(notebook: str | Path, out: str | Path, execute: bool = False) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    src = Path(notebook)
    nb = nbformat.read(src, as_version=4)
    if execute:
        from nbclient import NotebookClient

        NotebookClient(nb, store_widget_state=False, timeout=900,
                       resources={"metadata": {"path": str(src.parent)}}).execute()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
            _static_widgets(cell)
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb)
    head = _HEAD.format(name=html.escape(src.name), sha=hashlib.sha256(src.read_bytes()).hexdigest(),
                        when=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), version=__version__)
    body = _EXTERNAL.sub("", body)  # require.js/MathJax from a CDN: the report must open offline
    i = body.find(">", body.find("<body")) + 1
    body = body[:i] + head + body[i:]
    dest = Path(out)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(body, encoding="utf-8")
    return dest


def _static_widgets(cell: Any) -> None:
    """Live widgets cannot run in a report: show their static HTML snapshot instead of an empty widget view."""
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if WIDGET_VIEW in data and "text/html" in data:
            del data[WIDGET_VIEW]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sysnb.report", description="Export a notebook as a report")
    ap.add_argument("notebook")
    ap.add_argument("-o", "--output", default=None, help="HTML file to write (default: NOTEBOOK.html)")
    ap.add_argument("--execute", action="store_true", help="re-run the notebook first")
    a = ap.parse_args(argv)
    out = a.output or str(Path(a.notebook).with_suffix(".html"))
    try:
        path = export(a.notebook, out, a.execute)
    except (OSError, ValueError) as e:
        print(f"sysnb.report: {e}", file=sys.stderr)
        return 1
    print(f"report written to {path}")
    return 0

"""The analysis narrative: the notebook's markdown cells and outputs as an HTML fragment.

Code cells are left out (their outputs stay) unless ``include_code``; test scaffolding (``# NBVAL_...``
lines) never appears; the invisible outputs that carry the case document are dropped; a live widget, which
cannot run in a report, is replaced by its static snapshot, and the explorer's by a note (its static table
shows what the explorer first showed, not what the analyst went on to filter: findings and marks record
that). Scripts in outputs are removed; the page's Content-Security-Policy would block them anyway.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sysnb.case.notebook import is_ledger

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_NBVAL = re.compile(r"^\s*#\s*NBVAL_\w+.*$\n?", re.M)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.S | re.I)
EXPLORER_NOTE = ("<p class='sysnb-note'>[interactive explorer: not reproducible in a static report. What the "
                 "analyst found with it is in the findings and the bookmarked events of this report.]</p>")


def read(path: str | Path, execute: bool = False) -> Any:
    import nbformat

    src = Path(path)
    nb = nbformat.read(src, as_version=4)
    if execute:
        from nbclient import NotebookClient

        NotebookClient(nb, store_widget_state=False, timeout=900,
                       resources={"metadata": {"path": str(src.parent)}}).execute()
    return nb


def narrative_html(nb: Any, include_code: bool = False) -> str:
    """The notebook's cells as HTML (nbconvert's basic template: no page, no scripts, no CDN)."""
    import copy

    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = _NBVAL.sub("", cell.source)
            cell.outputs = [_static(o) for o in cell.get("outputs", []) if not is_ledger(o)]
            if not include_code and not cell.outputs:
                continue
            if not include_code:
                cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
        cells.append(cell)
    nb.cells = cells
    exporter = HTMLExporter(template_name="basic")
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = True
    exporter.exclude_input = not include_code
    exporter.anchor_link_text = ""
    body, _ = exporter.from_notebook_node(nb)
    return str(_SCRIPT.sub("", body))


def _static(output: Any) -> Any:
    data = output.get("data", {})
    if WIDGET_VIEW in data:
        del data[WIDGET_VIEW]
        html = data.get("text/html", "")
        if "sysnb explorer" in html:
            data["text/html"] = EXPLORER_NOTE
            data["text/plain"] = "[interactive explorer]"
    for key in [k for k in data if "javascript" in k]:
        del data[key]
    return output


def tool_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("sysnb", "pyarrow", "duckdb", "numpy", "nbconvert", "nbformat", "altair"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out

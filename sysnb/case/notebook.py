"""How the case gets from the kernel into the notebook file, and back out of it.

A kernel cannot write its notebook's metadata (the notebook belongs to the front end), but its outputs are
saved with the notebook. So once a case is started, every cell that changed it gets one more, invisible
output (``text/plain`` empty) whose *output metadata* carries the whole case document:
``{"sysnb": {"kind": "ledger", "case": {...}}}``. nbval does not compare output metadata, and the report
leaves these outputs out of the narrative.

The notebook's own metadata, ``metadata["sysnb"]["case"]``, is the case's resting place: :func:`sync_metadata`
copies the newest document there (``tools/build_notebooks.py`` does it after executing a notebook, and
``sysnb report`` reads it). :func:`stored_case` picks the newest document among the notebook metadata and
all ledger outputs, by its save time and revision: the last state of the kernel that worked on it.

When the kernel knows its notebook (JupyterLab passes the path in ``JPY_SESSION_NAME``), ``sysnb.case()``
resumes what the notebook already holds that code cells do not re-create: the custody log of earlier
sessions, marks, evidence entries and findings added from the explorer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sysnb.case.model import CaseDoc
from sysnb.case.session import active

LEDGER = "ledger"
_hooked: list[Any] = []


def watch_cells() -> None:
    """In IPython: store the case after every cell that changed it (idempotent)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or shell in _hooked:
        return
    shell.events.register("post_run_cell", publish_if_changed)
    _hooked.append(shell)
    resume_from_notebook()


def publish_if_changed(*_args: Any) -> None:
    case = active()
    if not case.started or not case.dirty:
        return
    from IPython.display import display

    case.changes.clear()
    display({"text/plain": ""}, raw=True, metadata={"sysnb": {"kind": LEDGER, "case": case.snapshot()}})


def stored_case(nb: Any) -> CaseDoc | None:
    """The newest case document a notebook (an nbformat node or a dict) holds, or None."""
    candidates: list[dict[str, Any]] = []
    meta = (nb.get("metadata") or {}).get("sysnb") or {}
    if isinstance(meta.get("case"), dict):
        candidates.append(meta["case"])
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            doc = ((output.get("metadata") or {}).get("sysnb") or {}).get("case")
            if isinstance(doc, dict):
                candidates.append(doc)
    docs = []
    for data in candidates:
        try:
            docs.append(CaseDoc.from_json(data))
        except (ValueError, TypeError):
            continue  # a hand-edited or foreign document is skipped, not trusted
    return max(docs, key=lambda d: (d.saved_ns, d.revision), default=None)


def sync_metadata(nb: Any) -> CaseDoc | None:
    """Copy the newest case document into ``nb.metadata["sysnb"]["case"]``; returns it."""
    doc = stored_case(nb)
    if doc is not None:
        nb["metadata"].setdefault("sysnb", {})["case"] = doc.to_json()
    return doc


def is_ledger(output: Any) -> bool:
    return bool(((output.get("metadata") or {}).get("sysnb") or {}).get("kind") == LEDGER)


def notebook_path() -> Path | None:
    """The notebook this kernel runs, when the front end says (JupyterLab: ``JPY_SESSION_NAME``)."""
    name = os.environ.get("JPY_SESSION_NAME", "")
    if not name.endswith(".ipynb"):
        return None
    # an absolute path, or the server's URL path (relative to its root; the kernel runs in the notebook's folder)
    return next((p for p in (Path(name), Path.cwd() / Path(name).name) if p.is_file()), None)


def resume_from_notebook(path: Path | None = None) -> bool:
    """Bring back what the stored case holds and code does not re-create (see the module doc)."""
    path = path or notebook_path()
    if path is None:
        return False
    try:
        doc = stored_case(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return False
    if doc is None:
        return False
    merge_stored(doc)
    return True


def merge_stored(doc: CaseDoc) -> None:
    case = active()
    now = case.doc
    known = {(c.at_ns, c.action, c.sha256) for c in now.custody}
    now.custody = [c for c in doc.custody if (c.at_ns, c.action, c.sha256) not in known] + now.custody
    for e in doc.evidence:
        if now.evidence_by_sha(e.sha256) is None:
            now.evidence.append(e)
    for m in doc.marks:
        if case.find_mark(m.ref.sha256, m.ref.evt_num) is None:
            now.marks.append(m)
    titles = {f.title for f in now.findings}
    now.findings += [f for f in doc.findings if f.source.get("via") == "explorer" and f.title not in titles]
    case.dirty = True

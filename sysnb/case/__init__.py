"""The case: findings, marks (bookmarks), the evidence register and the chain of custody of an
investigation, kept in the notebook's metadata and exported as a verifiable report (``sysnb.report``).

    sysnb.case("IR-2026-014", examiner="J. Doe", org="ACME CSIRT", requester="Legal")
    sysnb.finding("Port scan", "proc.name=nmap and evt.type=connect", severity="high")
    sysnb.mark(4711, tags=["c2"], note="forged Host header")

The document's layout is in :mod:`sysnb.case.model`; how it is stored in :mod:`sysnb.case.notebook`;
exports for other tools (Timesketch JSONL, CSV) in :mod:`sysnb.case.export`.
"""

from __future__ import annotations

from sysnb.case.api import case, finding, findings, mark, marks, unmark
from sysnb.case.model import CaseDoc, EventRef, Evidence, Finding, Mark
from sysnb.case.session import Case, active

__all__ = ["Case", "CaseDoc", "EventRef", "Evidence", "Finding", "Mark", "active", "case", "finding", "findings",
           "mark", "marks", "unmark"]

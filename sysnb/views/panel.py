"""What JupyterLab's "Captures" side panel (labextension/) lists: the captures open in a kernel.

The panel asks the notebook's kernel with an execute request's ``user_expressions`` (nothing runs in the
notebook's history, nothing is bound): ``__import__('sysnb.views.panel').views.panel.captures_json()``.
Every string is a capture's own (host names, paths): the panel shows them only as text.
"""

from __future__ import annotations

import json
from typing import Any


class RawJson(str):
    """A JSON text whose ``repr`` is itself, so the ``text/plain`` of a user expression parses as JSON."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def captures(namespace: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per Capture bound to a public name in ``namespace``: its name, source, sha256, host, span,
    events and the recorder's drops (None when the capture does not say)."""
    from sysnb.capture import Capture

    rows = []
    for name, value in namespace.items():
        if name.startswith("_") or not isinstance(value, Capture):
            continue
        p = value.provenance
        recorder = p.extra.get("recorder")
        drops = recorder.get("drops") if isinstance(recorder, dict) else None
        span = (p.end_ns - p.start_ns) / 1e9 if p.start_ns is not None and p.end_ns is not None else None
        rows.append({"name": name, "source": str(p.source), "sha256": p.sha256, "host": p.hostname,
                     "span_s": span, "events": p.events, "drops": drops, "damaged": p.error is not None})
    return rows


def captures_json() -> RawJson:
    """:func:`captures` of the running IPython shell's namespace, as JSON."""
    from IPython import get_ipython

    shell = get_ipython()
    return RawJson(json.dumps(captures(shell.user_ns if shell is not None else {})))

"""Many captures at once: merged timelines (``open_captures``), Parquet datasets (``export``,
``open_dataset``) queried out of core with DuckDB, and the same on Ray (:mod:`sysnb.ray`).

The names are imported when first used, so the command line's check for ``sysnb export`` and ``-r DIR``
(:mod:`sysnb.datasets.cli`) costs nothing."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {"MergedCapture": "sysnb.datasets.merged", "open_captures": "sysnb.datasets.merged",
            "export": "sysnb.datasets.parquet", "Dataset": "sysnb.datasets.query",
            "open_dataset": "sysnb.datasets.query"}

if TYPE_CHECKING:
    from sysnb.datasets.merged import MergedCapture, open_captures
    from sysnb.datasets.parquet import export
    from sysnb.datasets.query import Dataset, open_dataset


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sysnb.datasets' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = ["Dataset", "MergedCapture", "export", "open_captures", "open_dataset"]

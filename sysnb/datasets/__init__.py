"""Many captures at once: merged timelines (``open_captures``), Parquet datasets (``export``,
``open_dataset``) queried out of core with DuckDB, and the same on Ray (:mod:`sysnb.ray`)."""

from sysnb.datasets.merged import MergedCapture, open_captures

__all__ = ["MergedCapture", "open_captures"]

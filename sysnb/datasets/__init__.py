"""Many captures at once: merged timelines (``open_captures``), Parquet datasets (``export``,
``open_dataset``) queried out of core with DuckDB, and the same on Ray (:mod:`sysnb.ray`)."""

from sysnb.datasets.merged import MergedCapture, open_captures
from sysnb.datasets.parquet import export
from sysnb.datasets.query import Dataset, open_dataset

__all__ = ["Dataset", "MergedCapture", "export", "open_captures", "open_dataset"]

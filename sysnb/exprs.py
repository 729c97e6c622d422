"""Evaluating pyarrow expressions over a table.

``pyarrow.dataset`` (which evaluates them) imports pandas, a second of start-up on a busy machine: it is
imported here on first use, so commands that evaluate no expression never pay for it.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa


def project(table: pa.Table, columns: dict[str, Any]) -> pa.Table:
    """The table of ``{name: expression}`` evaluated over ``table``."""
    import pyarrow.dataset as ds

    return ds.dataset(table).to_table(columns=columns)

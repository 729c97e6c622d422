"""container.name and container.image: the container table (from the capture's container events, which the
state engine collects into provenance) mapped onto every event's container.id.

libsinsp resolves them when a field is read: "host" for processes outside containers, null for a container
it has no metadata for or whose name/image is empty. The mapping uses the capture's final container table
(containers are announced before their processes' events in every capture we have seen).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

COLUMNS = ("container.name", "container.image")


def with_container_fields(table: pa.Table, containers: dict[str, dict[str, Any]]) -> pa.Table:
    """``table`` plus container.name and container.image (dictionary-encoded), unless already there."""
    if "container.id" not in table.column_names or "container.name" in table.column_names:
        return table
    ids = sorted(containers)
    cid = table["container.id"]
    if pa.types.is_dictionary(cid.type):
        cid = cid.cast(cid.type.value_type)
    where = pc.index_in(cid, value_set=pa.array(ids, pa.string()))
    host = pc.fill_null(pc.equal(cid, "host"), False)
    for column, key, on_host in (("container.name", "name", "host"), ("container.image", "image", None)):
        values = pa.array([str(containers[i].get(key) or "") or None for i in ids], pa.string())
        mapped = pc.take(values, where) if ids else pa.nulls(table.num_rows, pa.string())
        mapped = pc.if_else(host, pa.scalar(on_host, pa.string()), mapped)
        table = table.append_column(column, pc.dictionary_encode(mapped))
    return table

"""container.name and container.image: the container table (from the capture's container events, which the
state engine collects into provenance) mapped onto every event's container.id.

libsinsp resolves them when a field is read: "host" for processes outside containers, null for a container
it has no metadata for or whose name/image is empty. The mapping uses the capture's final container table
(containers are announced before their processes' events in every capture we have seen). It is computed on
the dictionary of container ids of each chunk (a handful of values), not per event: the result shares the
chunk's indices.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

COLUMNS = ("container.name", "container.image")


def _mapped(ids: list[str | None], containers: dict[str, dict[str, Any]], key: str, on_host: str | None) -> pa.Array:
    out: list[str | None] = []
    for cid in ids:
        if cid == "host":
            out.append(on_host)
        elif cid is not None and cid in containers:
            out.append(str(containers[cid].get(key) or "") or None)
        else:
            out.append(None)
    return pa.array(out, pa.string())


def _chunk(chunk: pa.Array, containers: dict[str, dict[str, Any]], key: str, on_host: str | None) -> pa.Array:
    if not pa.types.is_dictionary(chunk.type):
        chunk = pc.dictionary_encode(chunk)
    names = _mapped(chunk.dictionary.to_pylist(), containers, key, on_host)
    # distinct ids may map to the same name: re-encode the (few) mapped values so the dictionary is unique
    unique = pc.dictionary_encode(names)
    indices = pc.take(unique.indices, chunk.indices)
    return pa.DictionaryArray.from_arrays(indices, unique.dictionary)


def with_container_fields(table: pa.Table, containers: dict[str, dict[str, Any]]) -> pa.Table:
    """``table`` plus container.name and container.image (dictionary-encoded), unless already there."""
    if "container.id" not in table.column_names or "container.name" in table.column_names:
        return table
    cid = table["container.id"]
    for column, key, on_host in (("container.name", "name", "host"), ("container.image", "image", None)):
        chunks = [_chunk(c, containers, key, on_host) for c in cid.chunks]
        typ = pa.dictionary(pa.int32(), pa.string())
        table = table.append_column(column, pa.chunked_array(chunks, type=typ))
    return table

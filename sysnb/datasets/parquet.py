"""Captures to a hive-partitioned Parquet dataset (``DIR/host=H/date=YYYY-MM-DD/hour=HH/*.parquet``).

A capture is written batch by batch as the scan yields it (memory: one batch and the replayed state, not the
table). Every column of the capture table is kept, plus the row's origin (``host``, ``capture``) and its
place in the merged timeline: ``sysnb.merge_ts`` (the running maximum of the capture's timestamps, see
:mod:`sysnb.datasets.merged`) and ``sysnb.seq`` (the row's index in its capture). Rows are partitioned by
their own ``evt.rawtime`` (UTC), so a filter's time bounds prune partitions exactly; rows without a
timestamp (0) go to ``date=1970-01-01/hour=0``. ``manifest.json`` holds each capture's provenance (sha256,
span, events, drops, damage, containers) and field context, by capture (file) name; exporting a capture
again, or another file of the same name, replaces its rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.capture import Provenance, _provenance, sha256_file
from sysnb.datasets.contexts import metadata_json
from sysnb.datasets.merged import capture_label, merge_key, with_origin
from sysnb.datasets.sources import host_label, natural_key, resolve
from sysnb.errors import SysnbError, UsageError
from sysnb.fields.context import metadata
from sysnb.scan import Scan, ScanInfo

MANIFEST = "manifest.json"
FORMAT = "sysnb-dataset/1"
PARTITIONS = pa.schema([("host", pa.string()), ("date", pa.string()), ("hour", pa.int32())])
#: columns a dataset adds to the capture table (besides the partition columns host/date/hour)
ADDED = ("capture", "sysnb.merge_ts", "sysnb.seq")
_HOUR_NS = 3600 * 1_000_000_000


@dataclass
class _Span:
    """The capture's span as fill_span computes it, and its first event time (libsinsp's m_firstevent_ts,
    evt.reltime's origin), accumulated batch by batch."""

    shown: tuple[int, int] | None = None
    any: tuple[int, int] | None = None
    first_ts: int | None = None

    def first(self, t: pa.Table) -> None:
        if self.first_ts is None:
            from sysnb.fields.context import first_event_ts

            self.first_ts = first_event_ts(t) or None

    def add(self, ts: Any, visible: Any) -> None:
        real = ts > 0
        self.shown = _widen(self.shown, ts[real & visible])
        self.any = _widen(self.any, ts[real])

    def bounds(self) -> tuple[int | None, int | None]:
        span = self.shown or self.any
        return (span[0], span[1]) if span else (None, None)


def _widen(span: tuple[int, int] | None, ts: Any) -> tuple[int, int] | None:
    if not len(ts):
        return span
    lo, hi = int(ts.min()), int(ts.max())
    return (min(span[0], lo), max(span[1], hi)) if span else (lo, hi)


def dataset_schema(scan_schema: pa.Schema) -> pa.Schema:
    """The schema of the rows written: the capture table's, the origin, the merge key, the partition keys."""
    from sysnb.state.containers import COLUMNS

    names = set(scan_schema.names)
    extra = [pa.field(c, pa.dictionary(pa.int32(), pa.string())) for c in COLUMNS if c not in names]
    extra += [pa.field("capture", pa.dictionary(pa.int32(), pa.string())), pa.field("sysnb.merge_ts", pa.uint64()),
              pa.field("sysnb.seq", pa.uint64())]
    return pa.schema(list(scan_schema) + extra + list(PARTITIONS))


def export_capture(path: str, out: str, *, engine: str = "native") -> dict[str, Any]:
    """Write one capture into the dataset at ``out``; returns its manifest entry (not yet in the manifest)."""
    spath = os.path.abspath(path)
    scan = Scan(spath, engine=engine)
    sha = sha256_file(spath)
    label = capture_label(spath)
    span = _Span()
    remove_capture(out, label)  # a capture exported again replaces its rows (and an earlier file's)
    _write(_rows(scan, label, span), out, dataset_schema(scan.schema), f"{label}-{sha[:16]}-0.parquet")
    return _entry(spath, sha, scan.info, span, engine)


def _write(batches: Iterator[pa.RecordBatch], out: str, schema: pa.Schema, name: str) -> None:
    """Each batch into the file ``name`` of its partition directory, synchronously: one open writer per
    partition the capture reaches, nothing queued (pyarrow's dataset writer queues millions of rows when the
    scan outruns the disk)."""
    import pyarrow.parquet as pq

    stored = pa.schema([f for f in schema if f.name not in PARTITIONS.names])
    writers: dict[tuple[str, str, int], Any] = {}
    try:
        for batch in batches:
            t = pa.Table.from_batches([batch])
            for key, part in _by_partition(t):
                if key not in writers:
                    where = os.path.join(out, f"host={key[0]}", f"date={key[1]}", f"hour={key[2]}")
                    os.makedirs(where, exist_ok=True)
                    writers[key] = pq.ParquetWriter(os.path.join(where, name), stored)
                writers[key].write_table(part.select(stored.names))
    finally:
        for w in writers.values():
            w.close()


def _by_partition(t: pa.Table) -> Iterator[tuple[tuple[str, str, int], pa.Table]]:
    """The rows of ``t`` per (host, date, hour) (a batch spans one or two hours, rarely more)."""
    host = t["host"][0].as_py() if t.num_rows else ""
    keys = pc.binary_join_element_wise(t["date"], pc.cast(t["hour"], pa.string()), "/")
    for k in pc.unique(keys).to_pylist():
        date, hour = k.split("/")
        yield (host, date, int(hour)), t.filter(pc.equal(keys, k))


def remove_capture(out: str, label: str) -> None:
    """Delete the files of capture ``label`` from the dataset at ``out`` (LABEL-SHA16-N.parquet)."""
    import glob
    import re

    mine = re.compile(re.escape(label) + r"-[0-9a-f]{16}-\d+\.parquet")
    for f in glob.glob(os.path.join(glob.escape(out), "host=*", "date=*", "hour=*", "*.parquet")):
        if mine.fullmatch(os.path.basename(f)):
            os.remove(f)


def unique_names(paths: Sequence[str]) -> list[str]:
    """``paths``, refused when two share a file name (the name tells a dataset's captures apart)."""
    labels = [capture_label(p) for p in paths]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise UsageError(f"two captures share the name {', '.join(dup)}: rows are told apart by file name; rename "
                         "or copy one of them")
    return list(paths)


def _rows(scan: Scan, label: str, span: _Span) -> Iterator[pa.RecordBatch]:
    from sysnb.state.containers import with_container_fields

    carry, seq = 0, 0
    for batch in scan:
        t = with_container_fields(pa.Table.from_batches([batch]), scan.info.containers)
        n = t.num_rows
        ts = pc.fill_null(t["evt.rawtime"], 0).to_numpy()
        span.add(ts, pc.fill_null(t["sysnb.visible"], False).to_numpy(zero_copy_only=False))
        span.first(t)
        key = merge_key(t["evt.rawtime"], t["sysnb.visible"], carry)
        carry = int(key[-1]) if n else carry
        t = with_origin(t, "", label).drop_columns(["host"])
        t = t.append_column("sysnb.merge_ts", pa.array(key, pa.uint64()))
        t = t.append_column("sysnb.seq", pa.array(np.arange(seq, seq + n, dtype=np.uint64)))
        seq += n
        date, hour = _partition_keys(key)  # hidden rows' own stamps may be the time the file was written
        t = t.append_column("host", pa.array([host_label(scan.info.hostname)] * n, pa.string()))
        t = t.append_column("date", date).append_column("hour", hour)
        yield from t.to_batches()


def _partition_keys(ts: Any) -> tuple[pa.Array, pa.Array]:
    """date (YYYY-MM-DD) and hour (0-23) of each timestamp, UTC, computed once per distinct hour."""
    hours, inverse = np.unique(ts.astype(np.uint64) // np.uint64(_HOUR_NS), return_inverse=True)
    days = (hours // 24).astype("int64").astype("datetime64[D]")
    dates = pa.array(np.datetime_as_string(days, unit="D").tolist(), pa.string()).take(pa.array(inverse))
    return dates, pa.array((hours % 24).astype(np.int32)).take(pa.array(inverse))


def _entry(path: str, sha: str, info: ScanInfo, span: _Span, engine: str) -> dict[str, Any]:
    from sysnb.record.note import read_note

    prov = _provenance(path, sha, info)
    prov.start_ns, prov.end_ns = span.bounds()
    if (note := read_note(path)) is not None:
        prov.extra["recorder"] = note
    drops = prov.extra.get("recorder", {}).get("drops")
    context = {"first_ts": span.first_ts or 0, "meta": metadata_json(metadata(path, sha))}
    return {"capture": capture_label(path), "host": host_label(info.hostname), "engine": engine,
            "drops": drops, "provenance": asdict(prov), "context": context}


def provenance_of(entry: dict[str, Any]) -> Provenance:
    """A manifest entry's provenance as the Provenance the capture had when opened."""
    return Provenance(**entry["provenance"])


def read_manifest(out: str) -> dict[str, Any]:
    path = os.path.join(out, MANIFEST)
    if not os.path.isfile(path):
        raise UsageError(f"{out}: not a sysnb dataset (no {MANIFEST}); `sysnb export CAPTURE... --parquet {out}` "
                         "writes one")
    try:
        with open(path, encoding="utf-8") as f:
            manifest: dict[str, Any] = json.load(f)
    except (OSError, ValueError) as e:
        raise SysnbError(f"{path}: unreadable manifest ({e})") from None
    if manifest.get("format") != FORMAT:
        raise SysnbError(f"{path}: format {manifest.get('format')!r}, this sysnb reads {FORMAT!r}")
    return manifest


def write_manifest(out: str, entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Add ``entries`` to the manifest at ``out`` (an entry of the same capture name is replaced)."""
    try:
        captures = {e["capture"]: e for e in read_manifest(out)["captures"]}
    except UsageError:
        captures = {}
    for e in entries:
        captures[e["capture"]] = e
    ordered = sorted(captures.values(), key=lambda e: (e["provenance"]["start_ns"] or 0, natural_key(e["capture"])))
    manifest = {"format": FORMAT, "captures": ordered}
    tmp = os.path.join(out, MANIFEST + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(out, MANIFEST))
    return manifest


def export(spec: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], *,
           engine: str = "native") -> dict[str, Any]:
    """Write captures (paths, a directory, a glob) into the dataset at ``out``; returns the manifest."""
    dest = os.fspath(out)
    os.makedirs(dest, exist_ok=True)
    return write_manifest(dest, [export_capture(p, dest, engine=engine) for p in unique_names(resolve(spec))])


def export_view(cap: Any, out: str | os.PathLike[str], *, engine: str = "native") -> dict[str, Any]:
    """``Capture.to_parquet``: the capture's file (each member's, for a merged view) into the dataset."""
    from sysnb.datasets.merged import MergedCapture

    members = cap.members if isinstance(cap, MergedCapture) else [cap.provenance]
    if cap.table.num_rows != cap.provenance.events:
        raise UsageError("to_parquet writes whole captures, re-read from their files; this is a filtered view "
                         f"({cap.table.num_rows} of {cap.provenance.events} rows): export the capture and filter "
                         "the dataset (sysnb.open_dataset(DIR).filter(...))")
    return export([p.source for p in members], out, engine=engine)

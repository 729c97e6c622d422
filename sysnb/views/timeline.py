"""Timeline data: event density per process lane (threads on demand), time bin and category.

Aggregated server-side with one ``np.bincount`` over a composite key, so the browser receives at most
lanes x bins x categories cells (a few thousand), whatever the number of events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.format.escape import label

MAX_LANES = 24
#: the columns the timeline reads
TIMELINE_COLUMNS = ["evt.rawtime", "proc.pid", "thread.tid", "proc.name", "evt.category"]
MAX_THREADS = 12


@dataclass
class Lanes:
    """The lane of every row (-1: not shown) and a description of each lane."""

    index: np.ndarray
    labels: list[dict[str, object]]


def _ints(col: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(col, -1).to_numpy(), dtype=np.int64)


def _names(rows: pa.Table, first: np.ndarray) -> list[str]:
    names = rows["proc.name"].take(pa.array(first, pa.int64())).cast(pa.string())
    return [label(n) if n else "?" for n in names.to_pylist()]


def assign_lanes(rows: pa.Table, expanded: set[int], max_lanes: int = MAX_LANES) -> Lanes:
    """One lane per process (the busiest ``max_lanes``), followed by its threads when expanded."""
    pid, tid = _ints(rows["proc.pid"]), _ints(rows["thread.tid"])
    index = np.full(len(pid), -1, np.int64)
    if not len(pid):
        return Lanes(index, [])
    uniq, last, inv = np.unique(pid[::-1], return_index=True, return_inverse=True)
    inv = inv[::-1]
    counts = np.bincount(inv)
    top = np.argsort(-counts, kind="stable")[:max_lanes]
    names = _names(rows, len(pid) - 1 - last[top])  # the name a process ended with (after execve)
    labels: list[dict[str, object]] = []
    for rank, (u, name) in enumerate(zip(top.tolist(), names, strict=True)):
        p = int(uniq[u])
        mask = inv == u
        index[mask] = len(labels)
        labels.append({"label": f"{name} ({p})", "pid": p, "tid": None, "events": int(counts[u]),
                       "expanded": p in expanded, "rank": rank})
        if p in expanded:
            _thread_lanes(tid, mask, index, labels, p)
    return Lanes(index, labels)


def _thread_lanes(tid: np.ndarray, mask: np.ndarray, index: np.ndarray, labels: list[dict[str, object]],
                  pid: int) -> None:
    rows = np.flatnonzero(mask)
    tids, inv = np.unique(tid[rows], return_inverse=True)
    counts = np.bincount(inv)
    for t in np.argsort(-counts, kind="stable")[:MAX_THREADS].tolist():
        index[rows[inv == t]] = len(labels)
        labels.append({"label": f"thread {int(tids[t])}", "pid": pid, "tid": int(tids[t]),
                       "events": int(counts[t]), "expanded": False, "rank": -1})


def categories(rows: pa.Table) -> tuple[np.ndarray, list[str]]:
    """Category code of every row and the category names (sysdig's evt.category)."""
    col = rows["evt.category"].combine_chunks()
    if not pa.types.is_dictionary(col.type):
        col = col.dictionary_encode()
    names = [str(v) for v in col.dictionary.to_pylist()]
    codes = np.asarray(pc.fill_null(col.indices, len(names)).to_numpy(), dtype=np.int64)
    return codes, [*names, "none"]


def density(rows: pa.Table, t0: int, t1: int, bins: int, expanded: set[int]) -> tuple[pa.Table, dict[str, object]]:
    """Non-empty (lane, bin, category, events) cells for ``t0 <= evt.rawtime < t1`` and their legend."""
    ts = np.asarray(rows["evt.rawtime"].to_numpy(), dtype=np.int64)
    inside = (ts >= t0) & (ts < t1)
    sub = rows.select(TIMELINE_COLUMNS[1:]).filter(pa.array(inside))
    lanes = assign_lanes(sub, expanded)
    cats, names = categories(sub)
    span = max(t1 - t0, 1)
    b = ((ts[inside] - t0) * bins // span).clip(0, bins - 1)
    shown = lanes.index >= 0
    key = (lanes.index[shown] * bins + b[shown]) * len(names) + cats[shown]
    counts = np.bincount(key, minlength=max(len(lanes.labels), 1) * bins * len(names))
    nz = np.flatnonzero(counts)
    cells = pa.table({"lane": (nz // (bins * len(names))).astype(np.int32),
                      "bin": (nz // len(names) % bins).astype(np.int32),
                      "category": (nz % len(names)).astype(np.int32),
                      "events": counts[nz].astype(np.int32)})
    legend = {"lanes": lanes.labels, "categories": names, "bins": bins, "events": int(inside.sum()),
              "hidden": int((~shown).sum())}
    return cells, legend

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


#: a lane key of a merged view: host number * HOST_KEY + pid + 1 (pids are below 2**32)
HOST_KEY = 1 << 33


def assign_lanes(rows: pa.Table, expanded: set[int], max_lanes: int = MAX_LANES) -> Lanes:
    """One lane per process (the busiest ``max_lanes``), followed by its threads when expanded. On a view
    of captures from several hosts (a ``host`` column), one lane group per host: lanes are per (host, pid),
    grouped by host, busiest first within a host; a lane's ``pid`` is then its key, ``proc_pid`` the pid."""
    pid, tid = _ints(rows["proc.pid"]), _ints(rows["thread.tid"])
    index = np.full(len(pid), -1, np.int64)
    if not len(pid):
        return Lanes(index, [])
    hosts, host_of = _hosts(rows)
    key = pid if hosts is None else host_of * HOST_KEY + pid + 1
    uniq, last, inv = np.unique(key[::-1], return_index=True, return_inverse=True)
    inv = inv[::-1]
    counts = np.bincount(inv)
    top = np.argsort(-counts, kind="stable")[:max_lanes]
    if hosts is not None:  # grouped by host (in order of first appearance), busiest first inside a group
        top = top[np.argsort(uniq[top] // HOST_KEY, kind="stable")]
    names = _names(rows, len(pid) - 1 - last[top])  # the name a process ended with (after execve)
    labels: list[dict[str, object]] = []
    for rank, (u, name) in enumerate(zip(top.tolist(), names, strict=True)):
        k = int(uniq[u])
        p = k if hosts is None else k % HOST_KEY - 1
        mask = inv == u
        index[mask] = len(labels)
        lane: dict[str, object] = {"label": f"{name} ({p})", "pid": k, "tid": None, "events": int(counts[u]),
                                   "expanded": k in expanded, "rank": rank}
        if hosts is not None:
            host = hosts[k // HOST_KEY]
            lane.update(label=f"{host} · {name} ({p})", host=host, proc_pid=p)
        labels.append(lane)
        if k in expanded:
            _thread_lanes(tid, mask, index, labels, k)
    return Lanes(index, labels)


def _hosts(rows: pa.Table) -> tuple[list[str] | None, np.ndarray]:
    """The hosts of a merged view's rows (labels escaped) and each row's host number, or None for one host."""
    if "host" not in rows.column_names:
        return None, np.zeros(0, np.int64)
    col = rows["host"].combine_chunks()
    if not pa.types.is_dictionary(col.type):
        col = col.dictionary_encode()
    names = col.dictionary.to_pylist()
    codes = np.asarray(pc.fill_null(col.indices, len(names)).to_numpy(), dtype=np.int64)
    if len(set(codes.tolist())) < 2:
        return None, codes
    # number the hosts in order of first appearance, so lane groups follow the merged timeline
    present, first = np.unique(codes, return_index=True)
    appearance = present[np.argsort(first)]
    remap = np.zeros(len(names) + 1, np.int64)
    remap[appearance] = np.arange(len(appearance))
    labels = [label(str(names[c])) if c < len(names) and names[c] is not None else "?" for c in appearance.tolist()]
    return labels, remap[codes]


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
    sub = rows.select([c for c in rows.column_names if c != "evt.rawtime"]).filter(pa.array(inside))
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

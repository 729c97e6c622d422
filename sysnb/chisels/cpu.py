"""CPU chisels: topprocs_cpu, topcontainers_cpu (libsinsp's thread.cpu on procinfo events, summed per key).

thread.cpu of a procinfo event is the growth of the thread's user+system ticks since its previous procinfo
event (0 for the first one), capped at 100; the chisels sum ``thread.cpu * 10^7`` per key and print it as a
percentage of the capture's span (first to last event). Whole-column: the previous value per thread is one
stable sort by tid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.chisels.registry import ChiselResult, chisel
from sysnb.chisels.table import _key, render
from sysnb.scap.events import CONTAINER_IDS

PROCINFO = 234
_JSON_CONTAINERS = pa.array(sorted(CONTAINER_IDS - {228}), pa.uint16())


def thread_cpu(procinfo: pa.Table) -> np.ndarray:
    """thread.cpu for each procinfo row (rows in capture order)."""
    from sysnb.filter.dynamic import decode_ints

    params = procinfo["sysnb.params"].combine_chunks()
    usr, sys_ = (decode_ints(pc.list_element(params, k), "UINT64") if len(params) else pa.array([], pa.int64())
                 for k in (0, 1))
    tcpu = (np.asarray(usr.fill_null(0).to_numpy(), np.int64).view(np.uint64)
            + np.asarray(sys_.fill_null(0).to_numpy(), np.int64).view(np.uint64))
    tid = np.asarray(pc.fill_null(procinfo["thread.tid"], -1).to_numpy(), np.int64)
    order = np.argsort(tid, kind="stable")
    prev = np.zeros(len(tid), np.uint64)
    same = np.zeros(len(tid), bool)
    same[order[1:]] = tid[order[1:]] == tid[order[:-1]]
    prev[order[1:]] = tcpu[order[:-1]]
    counted = same & (prev != 0)
    with np.errstate(over="ignore"):
        delta = (tcpu - prev).astype(np.float64)  # wraps like uint64 when the ticks go down
    return np.where(counted, np.minimum(delta, 100.0), 0.0)


def capture_span(events: pa.Table) -> int:
    """m_lastevent_ts - m_firstevent_ts: from the first event that is not a container JSON event to the last."""
    if events.num_rows == 0:
        return 0
    ts = events["evt.rawtime"]
    counted = pc.invert(pc.is_in(events["sysnb.type_id"], value_set=_JSON_CONTAINERS))
    first = ts.filter(counted)
    return int(ts[-1].as_py()) - int(first[0].as_py()) if len(first) else 0


def _cpu_table(events: pa.Table, keys: Sequence[str]) -> pa.Table:
    rows = events.filter(pc.equal(events["sysnb.type_id"], PROCINFO))
    keyed = {k: _key(rows, k) for k in keys}
    valid = pa.chunked_array([pa.array(np.ones(rows.num_rows, bool))])
    for k in keys:
        valid = pc.and_(valid, pc.is_valid(keyed[k]))
    rows = rows.filter(valid)
    cpu = thread_cpu(rows) * 10_000_000
    table = pa.table({**{k: _key(rows, k) for k in keys}, "value": pa.array(cpu, pa.float64())})
    grouped = table.group_by(list(keys)).aggregate([("value", "sum")]).rename_columns([*keys, "value"])
    return grouped.sort_by([("value", "descending"), *[(k, "ascending") for k in keys]]).slice(0, 10)


@chisel("topprocs_cpu", category="CPU Usage", short="Top processes by CPU usage", raw=True,
        description="Show the top process defined by the highest CPU utilization. This chisel is compatible with "
                    "containers using the sysdig -pc or -pcontainer argument, otherwise no container information "
                    "will be shown.")
def topprocs_cpu(events: pa.Table) -> ChiselResult:
    keys = ["proc.name", "proc.pid"]
    table, span = _cpu_table(events, keys), capture_span(events)
    return ChiselResult(table, lambda: render(table, keys, ["Process", "PID"], "CPU%", "timepct", span))


@chisel("topcontainers_cpu", category="CPU Usage", short="Top containers by CPU usage", raw=True,
        description="Show the top containers defined by the highest CPU utilization.")
def topcontainers_cpu(events: pa.Table) -> ChiselResult:
    keys = ["container.name"]
    table, span = _cpu_table(events, keys), capture_span(events)
    return ChiselResult(table, lambda: render(table, keys, ["container.name"], "CPU%", "timepct", span))

"""One event in full (every field, the buffer three ways) and "follow fd" (an fd's whole I/O stream).

The buffer views are sysdig's: dotted ASCII (normal output), printable ASCII (``-A``) and hex with
ASCII and the offset column (``-X``); the stream is Wireshark's Follow Stream: every read and write
on the fd in order, each marked with its direction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.chisels.io import READ_TYPES
from sysnb.chisels.table import is_io
from sysnb.format.escape import label
from sysnb.format.output import NA, Formatter
from sysnb.format.values import buffer_ascii, buffer_dots, buffer_hex

MAX_CHUNKS = 2000
#: fields shown first in the detail pane, in this order; the rest follow alphabetically
LEADING = ("evt.num", "evt.datetime", "evt.type", "evt.dir", "evt.res", "evt.latency", "evt.info", "evt.args",
           "proc.name", "proc.pid", "thread.tid", "proc.cmdline", "proc.exe", "proc.cwd", "user.name",
           "fd.num", "fd.name", "fd.type")
_SKIP_PREFIX = ("evt.arg.", "evt.rawarg.", "sysnb.", "evt.reltime")


def find_event(base: pa.Table, evt_num: int) -> pa.Table:
    """The row with this evt.num (numbers ascend in capture order, so a binary search finds it)."""
    nums = np.asarray(base["evt.num"].to_numpy(), dtype=np.int64)
    i = int(np.searchsorted(nums, evt_num))
    if i >= len(nums) or nums[i] != evt_num:
        return base.slice(0, 0)
    return base.slice(i, 1)


def _shown_fields(row: pa.Table) -> list[str]:
    from sysnb.fields.registry import display_fields

    usable = [n for n in display_fields() if not n.startswith(_SKIP_PREFIX)]
    lead = [n for n in LEADING if n in usable]
    return lead + sorted(set(usable) - set(lead))


def event_detail(row: pa.Table) -> dict[str, Any]:
    """Every known field of one event as ``-p`` prints it (unknown ones left out) and its buffer."""
    if row.num_rows != 1:
        return {}
    fields = []
    names = _shown_fields(row)
    line = next(iter(Formatter("*" + "\x1f".join(f"%{n}" for n in names)).lines(row)), "")
    for name, value in zip(names, line.split("\x1f"), strict=False):
        if value != NA and value != "":
            fields.append([name, label(value)])
    data = row["evt.buffer"][0].as_py()
    detail: dict[str, Any] = {"evt_num": row["evt.num"][0].as_py(), "fields": fields, "buffer": None}
    if data is not None:
        detail["buffer"] = {"length": len(data), "dotted": buffer_dots(data), "ascii": buffer_ascii(data)[1:],
                            "hex": buffer_hex(data, True).replace("\n\t", "\n").strip("\n")}
    pid, fd = row["proc.pid"][0].as_py(), row["fd.num"][0].as_py()
    if pid is not None and fd is not None and fd >= 0:
        detail["fd"] = {"pid": pid, "fd": fd, "name": row["fd.name"][0].as_py()}
    return detail


def follow_fd(base: pa.Table, pid: int, fd: int, name: str | None, shown: Any = None) -> pa.Table:
    """Every read/write on ``fd`` of process ``pid`` (and the same fd name, as fd numbers are reused):
    capture order, direction ``in``/``out``, bytes, and the data as dotted ASCII. ``shown``: a boolean
    column of the rows to consider (the rows sysdig prints, when ``base`` is a whole capture table)."""
    mask = pc.and_(pc.equal(base["proc.pid"], pid), pc.equal(base["fd.num"], fd))
    if shown is not None:
        mask = pc.and_(mask, shown)
    mask = pc.and_(pc.fill_null(mask, False), pc.fill_null(is_io(base), False))
    if name is not None:
        mask = pc.and_(mask, pc.fill_null(pc.equal(base["fd.name"].cast(pa.string()), name), False))
    rows = base.filter(mask).filter(pc.is_valid(base.filter(mask)["evt.buffer"])).slice(0, MAX_CHUNKS)
    reads = pc.is_in(rows["sysnb.type_id"], value_set=READ_TYPES)
    text = [buffer_dots(b) for b in rows["evt.buffer"].to_pylist()]
    return pa.table({"evt.num": rows["evt.num"], "evt.type": rows["evt.type"].cast(pa.string()),
                     "direction": pc.if_else(reads, "in", "out"), "bytes": rows["evt.rawres"],
                     "captured": pc.binary_length(rows["evt.buffer"]),
                     "text": pa.array(text, pa.string())})

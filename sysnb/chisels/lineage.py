"""Process ancestry at any event (sysdig's ``proc.apid[j]`` / ``proc.aname[j]``), from the table.

For every pid the table's (ppid, name) only changes at a few events (fork, exec); those change points
are found with one sort over the whole table, and a lookup is a bisection in them. The start state
(the capture's process list) covers processes that made no syscall in the capture.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.scap.reader import Section


class Lineage:
    def __init__(self, events: pa.Table, section: Section | None = None) -> None:
        self._points: dict[int, tuple[list[int], list[int], list[str | None]]] = {}
        if section is not None:
            for t in section.threads:
                if t.tid == t.pid:
                    self._points[t.pid] = ([-1], [t.ptid], [t.comm])
        t = events.select(["evt.num", "proc.pid", "proc.ppid", "proc.name"]).filter(pc.is_valid(events["proc.pid"]))
        if t.num_rows:
            self._add_changes(t)

    def _add_changes(self, t: pa.Table) -> None:
        num = pc.fill_null(t["evt.num"], -1).to_numpy()
        pid = t["proc.pid"].to_numpy()
        ppid = pc.fill_null(t["proc.ppid"], -1).to_numpy()
        names = t["proc.name"].combine_chunks()
        if not pa.types.is_dictionary(names.type):
            names = names.dictionary_encode()
        codes = pc.fill_null(names.indices, -1).to_numpy(zero_copy_only=False)
        order = np.lexsort((num, pid))
        pid, num, ppid, codes = pid[order], num[order], ppid[order], codes[order]
        change = np.ones(len(pid), bool)
        change[1:] = (pid[1:] != pid[:-1]) | (ppid[1:] != ppid[:-1]) | (codes[1:] != codes[:-1])
        values = names.dictionary.to_pylist()
        for i in np.flatnonzero(change).tolist():
            nums, ppids, nms = self._points.setdefault(int(pid[i]), ([], [], []))
            nums.append(int(num[i]))
            ppids.append(int(ppid[i]))
            nms.append(values[codes[i]] if codes[i] >= 0 else None)

    def at(self, pid: int, num: int) -> tuple[int, str | None] | None:
        """(ppid, name) of ``pid`` as of event ``num`` (its earliest known state if it appears later)."""
        points = self._points.get(pid)
        if points is None:
            return None
        nums, ppids, names = points
        i = max(bisect_right(nums, num) - 1, 0)
        return ppids[i], names[i]

    def ancestors(self, pid: int, num: int, depth: int = 16) -> list[tuple[int, str | None]]:
        """[(apid[1], aname[1]), (apid[2], aname[2]), ...]: parent first, stopping at an unknown parent."""
        out: list[tuple[int, str | None]] = []
        cur = self.at(pid, num)
        while cur is not None and len(out) < depth:
            parent = cur[0]
            if parent <= 0:
                break
            up = self.at(parent, num)
            if up is None:
                break
            out.append((parent, up[1]))
            cur = up
        return out

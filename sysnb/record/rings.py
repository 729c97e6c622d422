"""Bulk consumer of one CPU's ring of fixed-size records, through the mmapped BPF arrays.

Each ring kind is an mmapable BPF array of records; CPU c owns ``nslots`` consecutive slots. Its positions
(counted in records) live in a second mmapable array: the BPF program writes ``head`` after writing a
record, we write ``tail`` after copying records out, and the program refuses a record (counting it lost)
when head - tail reaches nslots. Draining is a numpy view over [tail, head) (two spans when it wraps), one
copy out and a store of the new tail: no Python per record.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sysnb.record.layout import payload_width

POS_WORDS = 16  # struct snb_pos: head at word 0, tail at word 8 (separate cache lines)


class Ring:
    """``slots``: this CPU's slots as bytes (nslots * record.itemsize); ``pos``: its struct snb_pos as 16
    uint64 words. ``cut``: for records whose last field is a payload (``data``, its length in ``data_len``),
    the dtype factory of that record with the payload cut to N bytes (layout.mid_dtype, layout.big_dtype); a
    drain then copies each record's fixed prefix plus only as many payload bytes as the batch's longest
    payload needs."""

    def __init__(self, slots: np.ndarray, pos: np.ndarray, record: np.dtype,
                 cut: Callable[[int], np.dtype] | None = None) -> None:
        self.record = record
        self.cut = cut
        self.nslots = len(slots) // record.itemsize
        assert self.nslots & (self.nslots - 1) == 0, "ring slots must be a power of two"
        self._recs = slots.view(record)
        # positions are read and written as single aligned 8-byte words (a byte-wise store could show the
        # producer a torn tail)
        self._pos = pos
        self._tail = int(pos[8])

    def drain(self) -> np.ndarray:
        """Every record written and not consumed yet, copied out (their slots are released)."""
        head = int(self._pos[0])
        n = min(head - self._tail, self.nslots)
        if n <= 0:
            return np.zeros(0, self.record)
        start = self._tail & (self.nslots - 1)
        first = min(n, self.nslots - start)
        spans = [self._recs[start:start + first]]
        if n > first:
            spans.append(self._recs[:n - first])
        out = self._copy_out(spans)
        self._tail = head
        self._pos[8] = head
        return out

    def _copy_out(self, spans: list[np.ndarray]) -> np.ndarray:
        """The records of ``spans``, contiguous; mid and big records cut to the width the batch's longest
        payload needs."""
        dtype = self.record
        if self.cut is not None:
            lengths = np.concatenate([s["data_len"] for s in spans])
            dtype = self.cut(payload_width(lengths, self.record["data"].shape[0]))
        prefix = np.dtype({"names": ["rec"], "formats": [f"V{dtype.itemsize}"], "offsets": [0],
                           "itemsize": self.record.itemsize})
        out = np.empty(sum(len(s) for s in spans), f"V{dtype.itemsize}")
        at = 0
        for s in spans:
            out[at:at + len(s)] = s.view(prefix)["rec"]
            at += len(s)
        return out.view(dtype)

    def close(self) -> None:
        del self._recs, self._pos

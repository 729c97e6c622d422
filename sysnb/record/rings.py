"""Bulk consumer of a BPF ring buffer of fixed-size records, through its mmapped pages.

The kernel maps a ring as one consumer page (ours to write) followed by the producer page and the data
area mapped twice back to back, so a span of records is always contiguous. Each record is an 8-byte
header (length with BUSY/DISCARD bits, page offset) then the record, padded to 8 bytes. Draining is a
numpy view over [consumer, producer), a scan for the first record still being written, one copy out,
and a store of the new consumer position: no Python per record.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable

import numpy as np

from sysnb.record.layout import payload_width

PAGE = mmap.PAGESIZE
_BUSY = 1 << 31
_DISCARD = 1 << 30


class Ring:
    """``cut``: for records whose last field is a payload (``data``, its length in ``data_len``), the dtype
    factory of that record with the payload cut to N bytes (layout.mid_dtype, layout.big_dtype); a drain then
    copies each record's fixed prefix plus only as many payload bytes as the batch's longest payload needs."""

    def __init__(self, fd: int, size: int, record: np.dtype, cut: Callable[[int], np.dtype] | None = None) -> None:
        self.record = record
        self.cut = cut
        fields = record.fields
        # offset of the u16 payload length in the record
        self._len_at = int(fields["data_len"][1]) if cut is not None and fields is not None else 0
        self.slot = (8 + record.itemsize + 7) // 8 * 8
        self.mask = size - 1
        self._cons = mmap.mmap(fd, PAGE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self._prod = mmap.mmap(fd, PAGE + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=PAGE)
        self._data = np.frombuffer(self._prod, np.uint8)
        # the positions are read and written as single aligned 8-byte words: struct.pack_into zeroes its
        # destination before packing, and the kernel saw consumer_pos == 0 ("ring full") in between
        self._cons_pos = np.frombuffer(self._cons, np.uint64, count=1)
        self._prod_pos = np.frombuffer(self._prod, np.uint64, count=1)

    def _slots(self, fields: dict[str, tuple[str, int]]) -> np.dtype:
        """A dtype over one ring slot exposing ``fields`` (name: (format, offset)); numpy then moves each
        field as one element (a memcpy per record), where a uint8 column slice moves byte by byte."""
        names = list(fields)
        return np.dtype({"names": names, "formats": [fields[k][0] for k in names],
                         "offsets": [fields[k][1] for k in names], "itemsize": self.slot})

    def drain(self) -> np.ndarray:
        """Every committed record not consumed yet, copied out (the ring space is released)."""
        cons = int(self._cons_pos[0])
        prod = int(self._prod_pos[0])
        n = (prod - cons) // self.slot
        if n <= 0:
            return np.zeros(0, self.record)
        start = PAGE + (cons & self.mask)
        len_field = {"len": ("<u2", 8 + self._len_at)} if self.cut is not None else {}
        slots = self._data[start:start + n * self.slot].view(self._slots({"hdr": ("<u4", 0), **len_field}))
        headers = slots["hdr"]
        busy = (headers & _BUSY) != 0
        if busy.any():
            n = int(np.argmax(busy))
            slots, headers = slots[:n], headers[:n]
        keep = (headers & _DISCARD) == 0
        out = self._copy_out(slots, None if keep.all() else keep)
        self._cons_pos[0] = cons + n * self.slot
        return out

    def _copy_out(self, slots: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
        """The records of ``slots`` (those in ``keep``), contiguous; big records cut to the width the
        batch's longest payload needs."""
        size, dtype = self.record.itemsize, self.record
        if self.cut is not None:
            capacity = self.record["data"].shape[0]
            dtype = self.cut(payload_width(slots["len"], capacity))
            size = dtype.itemsize
        recs = slots.view(self._slots({"rec": (f"V{size}", 8)}))["rec"]
        if keep is not None:
            recs = recs[keep]
        return np.ascontiguousarray(recs).view(dtype).ravel()

    def close(self) -> None:
        del self._data, self._cons_pos, self._prod_pos
        self._prod.close()
        self._cons.close()

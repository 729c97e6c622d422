"""numpy mirrors of the record structs in ``bpf/record.h`` (keep the two in step)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SNB_DATA = 1024
SNB_DATA2 = 256
SNB_MID_DATA = 120
SNB_CG_LEVELS = 4
SNB_CG_NAME = 80
SNB_MAX_EXCLUDED = 8
SNB_SMALL_SLOTS = 1 << 16  # ring slots per CPU, in enum snb_ring order below
SNB_MID_SLOTS = 1 << 16
SNB_BIG_SLOTS = 1 << 14
SNB_PROCEXIT = 1
PROCEXIT_NR = 0xFFFF

BASE = np.dtype([
    ("ts", "<u8"), ("enter_ts", "<u8"), ("ret", "<i8"), ("args", "<u8", (6,)),
    ("tid", "<u4"), ("pid", "<u4"), ("ppid", "<u4"), ("uid", "<u4"), ("gid", "<u4"),
    ("nr", "<u2"), ("kind", "<u2"), ("comm", "S16"), ("lost", "<u4"), ("cpu", "<u4"),
])

def big_dtype(data_bytes: int = SNB_DATA) -> np.dtype:
    """The big record with its payload field cut to ``data_bytes`` (a drained batch keeps only the prefix
    its longest payload needs; the kernel side always reserves SNB_DATA)."""
    return np.dtype([
        ("b", BASE), ("data_len", "<u2"), ("data2_len", "<u2"), ("data_total", "<u4"),
        ("family", "u1"), ("sock_type", "u1"), ("proto", "u1"), ("pad", "u1"), ("sport", "<u2"), ("dport", "<u2"),
        ("saddr", "u1", (16,)), ("daddr", "u1", (16,)), ("cgroup", f"S{SNB_CG_NAME}", (SNB_CG_LEVELS,)),
        ("data2", "u1", (SNB_DATA2,)), ("data", "u1", (data_bytes,)),
    ])


BIG = big_dtype()
def mid_dtype(data_bytes: int = SNB_MID_DATA) -> np.dtype:
    """The mid record, its payload cut to ``data_bytes`` (the spill keeps only what a batch's payloads use)."""
    return np.dtype([("b", BASE), ("data_len", "<u2"), ("data2_len", "<u2"), ("data_total", "<u4"),
                     ("data", "u1", (data_bytes,))])


MID = mid_dtype()

SNB_NR_SYSCALLS = 1024
CONFIG = np.dtype([("enabled", "<u4"), ("snaplen", "<u4"), ("target_tgid", "<u4"),
                   ("excluded", "<u4", (SNB_MAX_EXCLUDED,)), ("syscall_filter", "<u4"),
                   ("target_cgroup", "<u8"), ("syscalls", "u1", (SNB_NR_SYSCALLS,)), ("enter_hook", "<u4"),
                   ("slots_shift", "<u4")])
assert CONFIG.itemsize == 1088, "bpf/record.h struct snb_config and layout.CONFIG disagree"

STATS = np.dtype([("seen", "<u8"), ("drops", "<u8"), ("pending_lost", "<u8")])

assert BASE.itemsize == 120 and BIG.itemsize == 1768 and MID.itemsize == 248, "bpf/record.h and layout.py disagree"


def raw_rows(recs: np.ndarray) -> np.ndarray:
    """Structured records as a (n, itemsize) byte matrix: numpy moves nested fields slowly, raw rows fast."""
    return np.ascontiguousarray(recs).view(np.uint8).reshape(len(recs), recs.dtype.itemsize)


def take_rows(recs: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """``recs[sel]`` (index array or boolean mask) through the raw byte rows."""
    out: np.ndarray = raw_rows(recs)[sel].view(recs.dtype).ravel()
    return out


def concat_cut(parts: list[np.ndarray], kind: Callable[[int], np.dtype]) -> np.ndarray:
    """Concatenate mid or big record batches (``kind`` is mid_dtype or big_dtype) whose payload fields were cut
    to different widths (the payload is the last field, so a narrower batch gets zero bytes at the end)."""
    parts = [p for p in parts if len(p)] or [np.zeros(0, kind(8))]
    width = max(p.dtype["data"].shape[0] for p in parts)
    wide = kind(width)
    if all(p.dtype == wide for p in parts):
        return concat_rows(parts)
    out = np.zeros((sum(len(p) for p in parts), wide.itemsize), np.uint8)
    at = 0
    for p in parts:
        out[at:at + len(p), :p.dtype.itemsize] = raw_rows(p)
        at += len(p)
    return out.view(wide).ravel()


def concat_rows(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate record batches of one dtype through their raw rows (numpy concatenates nested structured
    fields field by field, about 4x slower)."""
    if len(parts) == 1:
        return parts[0]
    out: np.ndarray = np.concatenate([raw_rows(p) for p in parts]).view(parts[0].dtype).ravel()
    return out


def concat_big(parts: list[np.ndarray]) -> np.ndarray:
    return concat_cut(parts, big_dtype)


def payload_width(lengths: np.ndarray, capacity: int) -> int:
    """Payload bytes (a multiple of 8, at least 8, at most ``capacity``) holding the longest of ``lengths``."""
    longest = int(lengths.max()) if len(lengths) else 0
    return min(max((longest + 7) // 8 * 8, 8), capacity)

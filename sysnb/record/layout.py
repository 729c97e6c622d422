"""numpy mirrors of the record structs in ``bpf/record.h`` (keep the two in step)."""

from __future__ import annotations

import numpy as np

SNB_DATA = 1024
SNB_DATA2 = 256
SNB_MAX_EXCLUDED = 8
SNB_PROCEXIT = 1
PROCEXIT_NR = 0xFFFF

BASE = np.dtype([
    ("ts", "<u8"), ("enter_ts", "<u8"), ("ret", "<i8"), ("args", "<u8", (6,)),
    ("tid", "<u4"), ("pid", "<u4"), ("ppid", "<u4"), ("uid", "<u4"), ("gid", "<u4"),
    ("nr", "<u2"), ("kind", "<u2"), ("comm", "S16"), ("lost", "<u4"), ("cpu", "<u4"),
])

BIG = np.dtype([
    ("b", BASE), ("data_len", "<u2"), ("data2_len", "<u2"), ("data_total", "<u4"),
    ("family", "u1"), ("sock_type", "u1"), ("proto", "u1"), ("pad", "u1"), ("sport", "<u2"), ("dport", "<u2"),
    ("saddr", "u1", (16,)), ("daddr", "u1", (16,)),
    ("data", "u1", (SNB_DATA,)), ("data2", "u1", (SNB_DATA2,)),
])

CONFIG = np.dtype([("enabled", "<u4"), ("snaplen", "<u4"), ("target_tgid", "<u4"),
                   ("excluded", "<u4", (SNB_MAX_EXCLUDED,))])

STATS = np.dtype([("seen", "<u8"), ("drops", "<u8"), ("pending_lost", "<u8")])

assert BASE.itemsize == 120 and BIG.itemsize == 1448, "bpf/record.h and layout.py disagree"

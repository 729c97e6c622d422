"""The ring consumer over plain numpy memory standing in for the mmapped BPF arrays: a fake producer
writes records and advances head as sysnb.bpf.c's claim()/publish() do; no BPF needed."""

from __future__ import annotations

import numpy as np

from sysnb.record import layout as L
from sysnb.record.rings import POS_WORDS, Ring


class Producer:
    def __init__(self, record: np.dtype, nslots: int) -> None:
        self.slots = np.zeros(nslots * record.itemsize, np.uint8)
        self.pos = np.zeros(POS_WORDS, np.uint64)
        self.recs = self.slots.view(record)
        self.nslots = nslots
        self.lost = 0

    def write(self, **fields: object) -> bool:
        head, tail = int(self.pos[0]), int(self.pos[8])
        if head - tail >= self.nslots:
            self.lost += 1
            return False
        slot = self.recs[head & (self.nslots - 1)]
        for k, v in fields.items():
            if k == "ts" and "b" in self.recs.dtype.names:  # mid/big records nest the base record
                slot["b"]["ts"] = v
            else:
                slot[k] = v
        self.pos[0] = head + 1
        return True


def test_drain_wraps_around_and_releases_slots() -> None:
    p = Producer(L.BASE, 8)
    ring = Ring(p.slots, p.pos, L.BASE)
    seen: list[int] = []
    ts = 0
    for batch in (5, 6, 8, 3):  # 5 + 6 wraps the 8-slot ring; 8 fills it exactly
        for _ in range(batch):
            ts += 1
            assert p.write(ts=ts, nr=ts % 300)
        out = ring.drain()
        assert out.dtype == L.BASE and len(out) == batch
        seen += out["ts"].tolist()
        assert int(p.pos[8]) == int(p.pos[0])  # tail released
    assert seen == list(range(1, ts + 1)) and p.lost == 0
    assert len(ring.drain()) == 0


def test_full_ring_refuses_records_until_drained() -> None:
    p = Producer(L.BASE, 4)
    ring = Ring(p.slots, p.pos, L.BASE)
    results = [p.write(ts=i) for i in range(6)]
    assert results == [True] * 4 + [False] * 2 and p.lost == 2
    assert ring.drain()["ts"].tolist() == [0, 1, 2, 3]
    assert p.write(ts=9) and ring.drain()["ts"].tolist() == [9]


def test_payload_records_are_cut_to_the_longest_payload() -> None:
    p = Producer(L.MID, 4)
    ring = Ring(p.slots, p.pos, L.MID, L.mid_dtype)
    p.write(ts=1, data_len=3, data=np.frombuffer(b"abc".ljust(L.SNB_MID_DATA, b"\0"), np.uint8))
    p.write(ts=2, data_len=11, data=np.frombuffer(b"hello world".ljust(L.SNB_MID_DATA, b"\0"), np.uint8))
    p.write(ts=3)  # no payload: data_len 0
    out = ring.drain()
    assert out.dtype == L.mid_dtype(16)  # 11 bytes round up to 16
    assert out["b"]["ts"].tolist() == [1, 2, 3]
    assert bytes(out["data"][1][:11]) == b"hello world" and bytes(out["data"][0][:3]) == b"abc"
    # wrapped batch: the cut covers both spans
    for i in range(3):
        p.write(ts=10 + i, data_len=100 if i == 2 else 1)
    out = ring.drain()
    assert out["b"]["ts"].tolist() == [10, 11, 12] and out.dtype == L.mid_dtype(104)


def test_rings_shrink_on_hosts_with_many_cpus() -> None:
    from sysnb.record.ring_engine import slots_shift

    assert slots_shift(2) == 0 and slots_shift(16) == 0  # 53 MB per CPU
    assert slots_shift(64) == 2  # 64 x 13 MB fits 1 GiB
    assert slots_shift(4096) == 4  # at most 16 times smaller

"""A recorder engine without BPF, for testing what the recorder does around its engine (spill, recovery, the
note in the .scap, free space) on any machine: each drain hands back a burst of getppid records and one
write whose payload is a known marker, and the counters say how many records were "lost"."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from sysnb.record import layout as L
from sysnb.scap import blocks as B
from sysnb.scap.reader import Section

FAKE_TID = 4242
MARKER = b"SYSNB-FAKE-MARKER"


class FakeEngine:
    name = "fake"

    def __init__(self, per_drain: int = 20, lost_per_drain: int = 0, **options: Any) -> None:
        self.per_drain = per_drain
        self.lost_per_drain = lost_per_drain
        self.paused = False
        self.closed = False
        self.seen = 0
        self.drops = 0

    def drain(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.paused:
            return np.zeros(0, L.BASE), np.zeros(0, L.MID), np.zeros(0, L.big_dtype(8))
        now = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        small = np.zeros(self.per_drain, L.BASE)
        small["ts"] = now - 1000 + np.arange(self.per_drain)
        small["enter_ts"] = small["ts"] - 100
        small["tid"] = small["pid"] = FAKE_TID
        small["ret"] = 1
        small["nr"] = 110  # getppid
        small["comm"] = b"fakeload"
        small["lost"][0] = self.lost_per_drain
        mid = np.zeros(1, L.MID)
        b = mid["b"]
        b["ts"] = now
        b["enter_ts"] = now - 50
        b["tid"] = b["pid"] = FAKE_TID
        b["nr"] = 1  # write
        b["args"][0, 0], b["args"][0, 2] = 3, len(MARKER)
        b["ret"] = len(MARKER)
        b["comm"] = b"fakeload"
        mid["data_len"] = mid["data_total"] = len(MARKER)
        mid["data"][0, :len(MARKER)] = np.frombuffer(MARKER, np.uint8)
        self.seen += self.per_drain + 1
        self.drops += self.lost_per_drain
        return small, mid, np.zeros(0, L.big_dtype(8))

    def pause(self) -> None:
        self.paused = True

    def stats(self) -> dict[str, list[int]]:
        return {"seen": [self.seen, 0], "drops": [self.drops, 0]}

    def close(self) -> None:
        self.closed = True


def fake_section() -> Section:
    section = Section(0, (1, 2))
    section.machine = B.MachineInfo(2, 1 << 30, 32768, "fakehost", 0)
    return section


def use_fake_engine(monkeypatch: pytest.MonkeyPatch, **options: Any) -> list[FakeEngine]:
    """Make Recording use FakeEngine (and a tiny /proc snapshot); returns the engines it opened."""
    from sysnb.record import recorder

    opened: list[FakeEngine] = []

    def open_engine(engine: str = "auto", **kw: Any) -> FakeEngine:
        opened.append(FakeEngine(**options))
        return opened[-1]

    monkeypatch.setattr(recorder, "open_engine", open_engine)
    monkeypatch.setattr(recorder, "take_snapshot", fake_section)
    return opened

"""What both recorder engines share once their BPF programs are loaded: the config map, the mmapped
per-CPU rings (bpf/record.h), draining, the per-CPU counters and teardown. Maps are read and written with
the bpf(2) system call itself, so neither engine needs libbpf for it."""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from sysnb.record import layout as L
from sysnb.record.libbpf import BpfError
from sysnb.record.rings import POS_WORDS, Ring

# (slot array, record, payload cut, slots per CPU), in bpf/record.h's enum snb_ring order
RING_KINDS = (("small_slots", L.BASE, None, L.SNB_SMALL_SLOTS), ("mid_slots", L.MID, L.mid_dtype, L.SNB_MID_SLOTS),
              ("big_slots", L.BIG, L.big_dtype, L.SNB_BIG_SLOTS))
RING_BUDGET = 1 << 30  # bytes of rings on hosts with many CPUs (2 CPUs take 104 MB at full size)
MAX_SLOTS_SHIFT = 4
_NR_BPF = 321  # x86-64
_BPF_MAP_LOOKUP_ELEM, _BPF_MAP_UPDATE_ELEM = 1, 2


def slots_shift(ncpu: int) -> int:
    """How far (a power of two) to shrink every CPU's rings so that ``ncpu`` CPUs' rings fit RING_BUDGET,
    at most 16 times (1,024 big and 4,096 small and mid records per CPU)."""
    per_cpu = sum(nslots * dtype.itemsize for _, dtype, _, nslots in RING_KINDS)
    shift = 0
    while shift < MAX_SLOTS_SHIFT and ncpu * (per_cpu >> shift) > RING_BUDGET:
        shift += 1
    return shift


def possible_cpus() -> list[int]:
    text = Path("/sys/devices/system/cpu/possible").read_text().strip()
    cpus: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


class _MapElemAttr(ctypes.Structure):
    _fields_ = [("map_fd", ctypes.c_uint32), ("pad", ctypes.c_uint32), ("key", ctypes.c_uint64),
                ("value", ctypes.c_uint64), ("flags", ctypes.c_uint64)]


def map_elem(cmd: int, fd: int, key: int, value: int, what: str) -> None:
    """BPF_MAP_LOOKUP_ELEM / BPF_MAP_UPDATE_ELEM on map ``fd`` (``key`` and ``value``: addresses)."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = _MapElemAttr(fd, 0, key, value, 0)
    if libc.syscall(_NR_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr)) < 0:
        raise BpfError(f"{what} failed: {os.strerror(ctypes.get_errno())}")


def make_config(snaplen: int, exclude: list[int], target: int, syscalls: Iterable[int] | None,
                target_cgroup: int, enter_hook: bool, shift: int) -> np.ndarray:
    """struct snb_config (disabled) for these options."""
    if not 0 <= snaplen <= L.SNB_DATA:
        raise BpfError(f"snaplen {snaplen} is out of range: 0 (no payloads)..{L.SNB_DATA} bytes")
    cfg = np.zeros(1, L.CONFIG)
    cfg["snaplen"], cfg["target_tgid"], cfg["target_cgroup"] = snaplen, target, target_cgroup
    cfg["excluded"][0, :len(exclude[:L.SNB_MAX_EXCLUDED])] = exclude[:L.SNB_MAX_EXCLUDED]
    if syscalls is not None:
        nrs = [nr for nr in syscalls if 0 <= nr < L.SNB_NR_SYSCALLS]
        cfg["syscall_filter"] = 1
        cfg["syscalls"][0, nrs] = 1
    cfg["enter_hook"], cfg["slots_shift"] = int(enter_hook), shift
    return cfg


class RingEngine:
    """A loaded recorder. Subclasses load the programs with maps sized by ``ring_entries()``, then call
    ``_start()`` before attaching and ``_write_config(enabled=1)`` after. ``drain()`` returns (small, mid,
    big) records copied out of the rings."""

    name = "?"

    def __init__(self) -> None:
        self._maps: list[mmap.mmap] = []
        self.small: list[Ring] = []
        self.mid: list[Ring] = []
        self.big: list[Ring] = []
        self._cpus = possible_cpus()
        self._ncpu = max(self._cpus) + 1  # per-CPU arrays are indexed by CPU number
        self._shift = slots_shift(self._ncpu)
        self._config = np.zeros(1, L.CONFIG)

    def ring_entries(self) -> dict[str, int]:
        """max_entries of each ring map on this host: its slots for every CPU, and ring_pos."""
        sizes = {name: self._ncpu * (nslots >> self._shift) for name, _, _, nslots in RING_KINDS}
        sizes["ring_pos"] = self._ncpu * len(RING_KINDS)
        return sizes

    def _map_fd(self, name: str) -> int:
        raise NotImplementedError

    def _start(self, config: np.ndarray) -> None:
        self._config = config
        self._write_config(enabled=0)
        self._make_rings()

    def _mmap(self, name: str, size: int, prot: int) -> np.ndarray:
        """The values of mmapable array ``name`` (``size`` bytes) as bytes shared with the kernel."""
        # populated now: a page fault per 4 KiB at the first drains (costly on this kind of VM) stalls the
        # drain thread while the rings fill
        m = mmap.mmap(self._map_fd(name), (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE,
                      mmap.MAP_SHARED | mmap.MAP_POPULATE, prot)
        self._maps.append(m)
        return np.frombuffer(m, np.uint8)

    def _write_config(self, enabled: int) -> None:
        self._config["enabled"] = enabled
        key = ctypes.c_uint32(0)
        map_elem(_BPF_MAP_UPDATE_ELEM, self._map_fd("snb_config_map"), ctypes.addressof(key),
                 self._config.ctypes.data, "configuring the recorder")

    def _make_rings(self) -> None:
        shape = (self._ncpu, len(RING_KINDS), POS_WORDS)  # struct snb_pos per CPU and ring kind
        pos = self._mmap("ring_pos", 8 * int(np.prod(shape)), mmap.PROT_READ | mmap.PROT_WRITE)
        pos = pos.view(np.uint64)[:int(np.prod(shape))].reshape(shape)  # the mapping is whole pages
        for kind, ((name, dtype, cut, nslots), rings) in enumerate(zip(RING_KINDS, (self.small, self.mid, self.big),
                                                                        strict=True)):
            per_cpu = (nslots >> self._shift) * dtype.itemsize
            slots = self._mmap(name, self._ncpu * per_cpu, mmap.PROT_READ)
            for cpu in self._cpus:
                rings.append(Ring(slots[cpu * per_cpu:(cpu + 1) * per_cpu], pos[cpu, kind], dtype, cut))

    def drain(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(small, mid, big) records copied out of every CPU's rings."""
        small = [r.drain() for r in self.small]
        mid = [r.drain() for r in self.mid]
        big = [r.drain() for r in self.big]
        return L.concat_rows(small), L.concat_cut(mid, L.mid_dtype), L.concat_big(big)

    def pause(self) -> None:
        """Stop producing records (the programs stay attached until close)."""
        self._write_config(enabled=0)

    def stats(self) -> dict[str, list[int]]:
        """Per-CPU counters: records produced (``seen``), records lost because a ring was full (``drops``) and,
        of those, the ones lost since the CPU's last record (``pending``: every other loss is carried by the
        record that followed it, in its ``lost`` field)."""
        buf = np.zeros(len(self._cpus), L.STATS)  # the kernel copies one value per possible CPU, in order
        key = ctypes.c_uint32(0)
        map_elem(_BPF_MAP_LOOKUP_ELEM, self._map_fd("stats"), ctypes.addressof(key), buf.ctypes.data,
                 "reading the drop counters")
        return {"seen": buf["seen"].tolist(), "drops": buf["drops"].tolist(), "pending": buf["pending_lost"].tolist()}

    def reset_counters(self) -> None:
        """Zero the per-CPU counters (a recorder that is used again)."""
        buf = np.zeros(len(self._cpus), L.STATS)
        key = ctypes.c_uint32(0)
        map_elem(_BPF_MAP_UPDATE_ELEM, self._map_fd("stats"), ctypes.addressof(key), buf.ctypes.data,
                 "resetting the drop counters")

    def close(self) -> None:
        for rings in (self.small, self.mid, self.big):
            for r in rings:
                r.close()
            rings.clear()
        for m in self._maps:
            # a setup error's traceback may still hold a view: the mapping then goes with that view, and the
            # error itself is what the caller should see
            with contextlib.suppress(BufferError):
                m.close()
        self._maps.clear()

"""The CO-RE engine: loads ``sysnb.bpf.o`` through libbpf with its rings sized to this machine's CPUs,
maps the rings, attaches the tracepoint programs, and hands out drained records. Only tracepoints are
used (tp_btf sys_enter, sys_exit, sched_process_exit)."""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import numpy as np

from sysnb.record import layout as L
from sysnb.record.libbpf import BpfError, check, check_ptr, lib
from sysnb.record.rings import POS_WORDS, Ring

PROGRAMS = ("snb_enter", "snb_exit", "snb_procexit")
# (slot array, record, payload cut, slots per CPU), in bpf/record.h's enum snb_ring order
RING_KINDS = (("small_slots", L.BASE, None, L.SNB_SMALL_SLOTS), ("mid_slots", L.MID, L.mid_dtype, L.SNB_MID_SLOTS),
              ("big_slots", L.BIG, L.big_dtype, L.SNB_BIG_SLOTS))
RING_BUDGET = 1 << 30  # bytes of rings on hosts with many CPUs (2 CPUs take 104 MB at full size)
MAX_SLOTS_SHIFT = 4


def slots_shift(ncpu: int) -> int:
    """How far (a power of two) to shrink every CPU's rings so that ``ncpu`` CPUs' rings fit RING_BUDGET,
    at most 16 times (1,024 big and 4,096 small and mid records per CPU)."""
    per_cpu = sum(nslots * dtype.itemsize for _, dtype, _, nslots in RING_KINDS)
    shift = 0
    while shift < MAX_SLOTS_SHIFT and ncpu * (per_cpu >> shift) > RING_BUDGET:
        shift += 1
    return shift


def bpf_object_path() -> Path:
    """The built BPF object shipped in the package (``make bpf`` builds it)."""
    return Path(str(resources.files("sysnb.record").joinpath("sysnb.bpf.o")))


def preflight() -> None:
    """Raise :class:`BpfError` naming what is missing for live capture on this machine."""
    if os.geteuid() != 0:
        raise BpfError("live capture needs root (or CAP_BPF + CAP_PERFMON): run it with sudo; "
                       "reading .scap files needs no privilege")
    if not Path("/sys/kernel/btf/vmlinux").exists():
        raise BpfError("this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): the CO-RE recorder "
                       "needs CONFIG_DEBUG_INFO_BTF=y")
    if not bpf_object_path().exists():
        raise BpfError(f"the BPF object is not built ({bpf_object_path()} is missing): run `make bpf` "
                       "(needs clang, llvm, bpftool and libbpf-dev: apt-get install clang llvm bpftool libbpf-dev)")
    lib()


def possible_cpus() -> list[int]:
    text = Path("/sys/devices/system/cpu/possible").read_text().strip()
    cpus: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


class CoreEngine:
    """A loaded, attached recorder. ``drain()`` returns (small, mid, big) records copied out of the rings."""

    def __init__(self, snaplen: int = 80, exclude: list[int] | None = None, target_tgid: int = 0,
                 enter_hook: bool = True, syscalls: Iterable[int] | None = None, target_cgroup: int = 0) -> None:
        """``enter_hook=False`` leaves sys_enter untraced: records then carry no entry time (enter events get
        the exit timestamp, evt.latency is 0) and each syscall costs one program instead of two.
        ``syscalls``: record only these syscall numbers (process exits are always recorded).
        ``target_cgroup``: record only tasks in the cgroup with this kernfs id (its inode number) or below it."""
        preflight()
        if not 0 <= snaplen <= L.SNB_DATA:
            raise BpfError(f"snaplen {snaplen} is out of range: 0 (no payloads)..{L.SNB_DATA} bytes")
        self._lib = lib()
        self._obj = check_ptr(self._lib.bpf_object__open_file(str(bpf_object_path()).encode(), None),
                              "opening the BPF object")
        self._links: list[int] = []
        self._maps: list[mmap.mmap] = []
        self.small: list[Ring] = []
        self.mid: list[Ring] = []
        self.big: list[Ring] = []
        try:
            self._cpus = possible_cpus()
            self._ncpu = max(self._cpus) + 1  # per-CPU arrays are indexed by CPU number
            self._shift = slots_shift(self._ncpu)
            for name, _, _, nslots in RING_KINDS:
                check(self._lib.bpf_map__set_max_entries(self._map(name), self._ncpu * (nslots >> self._shift)),
                      f"sizing {name}")
            check(self._lib.bpf_map__set_max_entries(self._map("ring_pos"), self._ncpu * len(RING_KINDS)),
                  "sizing ring_pos")
            check(self._lib.bpf_object__load(self._obj), "loading the BPF programs (verifier)")
            self._config = self._make_config(snaplen, exclude or [os.getpid()], target_tgid, syscalls, target_cgroup)
            self._config["enter_hook"] = int(enter_hook)
            self._config["slots_shift"] = self._shift
            self._write_config(enabled=0)
            self._make_rings()
            for name in PROGRAMS if enter_hook else PROGRAMS[1:]:
                prog = check_ptr(self._lib.bpf_object__find_program_by_name(self._obj, name.encode()), name)
                self._links.append(check_ptr(self._lib.bpf_program__attach(prog), f"attaching {name}"))
            self._write_config(enabled=1)
        except BaseException:
            self.close()
            raise

    def _map(self, name: str) -> int:
        return check_ptr(self._lib.bpf_object__find_map_by_name(self._obj, name.encode()), f"map {name}")

    def _map_fd(self, name: str) -> int:
        return check(self._lib.bpf_map__fd(self._map(name)), f"map {name}")

    def _mmap(self, name: str, size: int, prot: int) -> np.ndarray:
        """The values of mmapable array ``name`` (``size`` bytes) as bytes shared with the kernel."""
        # populated now: a page fault per 4 KiB at the first drains (costly on this kind of VM) stalls the
        # drain thread while the rings fill
        m = mmap.mmap(self._map_fd(name), (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE,
                      mmap.MAP_SHARED | mmap.MAP_POPULATE, prot)
        self._maps.append(m)
        return np.frombuffer(m, np.uint8)

    @staticmethod
    def _make_config(snaplen: int, exclude: list[int], target: int, syscalls: Iterable[int] | None,
                     target_cgroup: int) -> np.ndarray:
        cfg = np.zeros(1, L.CONFIG)
        cfg["snaplen"], cfg["target_tgid"], cfg["target_cgroup"] = snaplen, target, target_cgroup
        cfg["excluded"][0, :len(exclude[:L.SNB_MAX_EXCLUDED])] = exclude[:L.SNB_MAX_EXCLUDED]
        if syscalls is not None:
            nrs = [nr for nr in syscalls if 0 <= nr < L.SNB_NR_SYSCALLS]
            cfg["syscall_filter"] = 1
            cfg["syscalls"][0, nrs] = 1
        return cfg

    def _write_config(self, enabled: int) -> None:
        self._config["enabled"] = enabled
        key = ctypes.c_uint32(0)
        check(self._lib.bpf_map_update_elem(self._map_fd("snb_config_map"), ctypes.byref(key),
                                            self._config.ctypes.data, 0), "configuring the recorder")

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
        return np.concatenate(small), L.concat_cut(mid, L.mid_dtype), L.concat_big(big)

    def pause(self) -> None:
        """Stop producing records (the programs stay attached until close)."""
        self._write_config(enabled=0)

    def stats(self) -> dict[str, list[int]]:
        """Per-CPU counters: records produced (``seen``) and records lost because a ring was full."""
        buf = np.zeros(len(self._cpus), L.STATS)  # the kernel copies one value per possible CPU, in order
        key = ctypes.c_uint32(0)
        check(self._lib.bpf_map_lookup_elem(self._map_fd("stats"), ctypes.byref(key), buf.ctypes.data),
              "reading the drop counters")
        return {"seen": buf["seen"].tolist(), "drops": buf["drops"].tolist()}

    def close(self) -> None:
        for link in self._links:
            self._lib.bpf_link__destroy(link)
        self._links.clear()
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
        if self._obj:
            self._lib.bpf_object__close(self._obj)
            self._obj = 0

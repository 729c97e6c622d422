"""The recorder engines and the choice between them.

The CO-RE engine (default) loads ``sysnb.bpf.o`` through libbpf: no compiler or headers at run time, but the
kernel must expose BTF. The bcc engine (bcc_engine.py) compiles the same logic at start with bcc, for kernels
without BTF. Both attach tracepoints only (sys_enter, sys_exit, sched_process_exit)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from sysnb.record.libbpf import BpfError, check, check_ptr, lib
from sysnb.record.ring_engine import MAX_SLOTS_SHIFT, RingEngine, make_config, slots_shift

__all__ = ["ENGINES", "MAX_SLOTS_SHIFT", "BpfError", "CoreEngine", "RingEngine", "open_engine", "preflight",
           "slots_shift", "start_message"]

PROGRAMS = ("snb_enter", "snb_exit", "snb_procexit")
ENGINES = ("auto", "core", "bcc")


def bpf_object_path() -> Path:
    """The built BPF object shipped in the package (``make bpf`` builds it)."""
    return Path(str(resources.files("sysnb.record").joinpath("sysnb.bpf.o")))


def _need_root() -> None:
    if os.geteuid() != 0:
        raise BpfError("live capture needs root (or CAP_BPF + CAP_PERFMON): run it with sudo; "
                       "reading .scap files needs no privilege")


def _core_preflight() -> None:
    if not Path("/sys/kernel/btf/vmlinux").exists():
        raise BpfError("this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): the CO-RE recorder "
                       "needs CONFIG_DEBUG_INFO_BTF=y; the bcc engine (--engine bcc) records without it")
    if not bpf_object_path().exists():
        raise BpfError(f"the BPF object is not built ({bpf_object_path()} is missing): run `make bpf` "
                       "(needs clang, llvm, bpftool and libbpf-dev: apt-get install clang llvm bpftool libbpf-dev)")
    lib()


def preflight(engine: str = "auto") -> str:
    """The engine that will record here (``core`` or ``bcc``), or :class:`BpfError` naming what is missing."""
    from sysnb.record.bcc_engine import bcc_preflight

    if engine not in ENGINES:
        raise BpfError(f"unknown recorder engine {engine!r}: choose one of {', '.join(ENGINES)}")
    _need_root()
    if engine == "core":
        _core_preflight()
        return "core"
    if engine == "bcc":
        bcc_preflight()
        return "bcc"
    try:
        _core_preflight()
        return "core"
    except BpfError as core_error:
        try:
            bcc_preflight()
        except BpfError as bcc_error:
            raise BpfError(f"{core_error}\nthe bcc fallback is not available either: {bcc_error}") from None
        return "bcc"


def start_message(engine: str = "auto") -> str | None:
    """What to tell the user before starting ``engine`` (the bcc one compiles for a few seconds), or None."""
    if preflight(engine) == "bcc":
        return "building the recorder with bcc (no BTF here, or --engine bcc): a few seconds"
    return None


def open_engine(engine: str = "auto", **options: Any) -> RingEngine:
    """A loaded, attached recorder (``options``: see CoreEngine)."""
    if preflight(engine) == "bcc":
        from sysnb.record.bcc_engine import BccEngine

        return BccEngine(**options)
    return CoreEngine(**options)


class CoreEngine(RingEngine):
    """The CO-RE recorder: ``sysnb.bpf.o`` loaded through libbpf, its rings sized to this machine's CPUs."""

    name = "core"

    def __init__(self, snaplen: int = 80, exclude: list[int] | None = None, target_tgid: int = 0,
                 enter_hook: bool = True, syscalls: Iterable[int] | None = None, target_cgroup: int = 0) -> None:
        """``enter_hook=False`` leaves sys_enter untraced: records then carry no entry time (enter events get
        the exit timestamp, evt.latency is 0) and each syscall costs one program instead of two.
        ``syscalls``: record only these syscall numbers (process exits are always recorded).
        ``target_cgroup``: record only tasks in the cgroup with this kernfs id (its inode number) or below it."""
        _need_root()
        _core_preflight()
        super().__init__()
        config = make_config(snaplen, exclude or [os.getpid()], target_tgid, syscalls, target_cgroup, enter_hook,
                             self._shift)
        self._lib = lib()
        self._obj = check_ptr(self._lib.bpf_object__open_file(str(bpf_object_path()).encode(), None),
                              "opening the BPF object")
        self._links: list[int] = []
        try:
            for name, entries in self.ring_entries().items():
                check(self._lib.bpf_map__set_max_entries(self._map(name), entries), f"sizing {name}")
            check(self._lib.bpf_object__load(self._obj), "loading the BPF programs (verifier)")
            self._start(config)
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

    def close(self) -> None:
        for link in self._links:
            self._lib.bpf_link__destroy(link)
        self._links.clear()
        super().close()
        if self._obj:
            self._lib.bpf_object__close(self._obj)
            self._obj = 0

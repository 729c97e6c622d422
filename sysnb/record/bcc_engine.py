"""The bcc engine: the fallback recorder for kernels without BTF. bcc compiles ``bpf/sysnb_bcc.c`` (the same
logic as the CO-RE program, ``bpf/recorder.h``) at start against the installed kernel headers.

Header struct layouts can silently differ from the running kernel's (../shared/docs/recorder-study.md: 6.1
headers on a 6.18 kernel gave pid 4294936705), so the offsets of the kernel fields the program reads are
resolved from the kernel's BTF when it has some, and taken from the headers only when it has none: then the
headers must be the running kernel's own, which this module checks."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from sysnb.record.btf import VMLINUX, Btf, BtfError
from sysnb.record.libbpf import BpfError
from sysnb.record.ring_engine import RingEngine, make_config

_INSTALL_BCC = "apt-get install python3-bpfcc (Debian/Ubuntu) or dnf install python3-bcc (Fedora)"
_FIELD = re.compile(r"^#define F_(\w+) (\w+), ([\w.\[\]]+)", re.M)
_ALTERNATIVES = {"kn_parent": ("parent",)}  # kernfs_node.__parent was `parent` before 6.15


def source_dir() -> Path:
    """Where sysnb_bcc.c, recorder.h and record.h are: the checkout's bpf/, or the wheel's copy of it."""
    for d in (Path(__file__).with_name("bpf_src"), Path(__file__).resolve().parents[2] / "bpf"):
        if (d / "sysnb_bcc.c").exists():
            return d
    raise BpfError("the recorder's C sources (bpf/sysnb_bcc.c) are not installed with this copy of sysnb")


def import_bcc() -> ModuleType:
    """bcc's Python module. Distributions install it for their own Python only (dist-packages), so when a
    venv cannot import it, it is loaded from there (bcc is pure Python over ctypes and libbcc)."""
    with contextlib.suppress(ImportError):
        import bcc  # type: ignore[import-not-found, unused-ignore]

        return bcc  # type: ignore[no-any-return, unused-ignore]
    for d in distro_python_dirs():
        init = d / "bcc" / "__init__.py"
        if init.exists():
            return _load_package("bcc", init)
    raise BpfError(f"bcc is not installed: {_INSTALL_BCC}")


def distro_python_dirs() -> list[Path]:
    """Where distributions install Python packages for their own interpreter."""
    minor = f"python3.{sys.version_info.minor}"
    return [Path("/usr/lib/python3/dist-packages"), Path(f"/usr/lib/{minor}/site-packages"),
            Path(f"/usr/lib64/{minor}/site-packages"), Path(f"/usr/local/lib/{minor}/dist-packages")]


def _load_package(name: str, init: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise BpfError(f"bcc ({init.parent}) cannot be loaded: {e}; reinstall it: {_INSTALL_BCC}") from None
    return module


def headers_dir() -> Path | None:
    """The kernel headers bcc compiles against (it looks in the same places), or None."""
    if os.environ.get("BCC_KERNEL_SOURCE"):
        return Path(os.environ["BCC_KERNEL_SOURCE"])
    build = Path("/lib/modules") / os.uname().release / "build"
    return build if build.exists() else None


def _headers_release(build: Path) -> str | None:
    for rel in ("include/generated/utsrelease.h", "include/config/kernel.release"):
        with contextlib.suppress(OSError):
            m = re.search(r'"?([^"\s]+)"?\s*$', (build / rel).read_text())
            if m:
                return m.group(1)
    return None


MIN_KERNEL = (5, 8)  # mmapable arrays (5.5), bpf_probe_read_user/kernel (5.5), bpf_ktime_get_boot_ns (5.8)


def kernel_version(release: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", release)
    return (int(m[1]), int(m[2])) if m else (0, 0)


def bcc_preflight() -> None:
    """Raise :class:`BpfError` naming what the bcc engine misses here."""
    if kernel_version(os.uname().release) < MIN_KERNEL:
        raise BpfError(f"the recorder needs Linux {MIN_KERNEL[0]}.{MIN_KERNEL[1]} or later (this is "
                       f"{os.uname().release}): it uses mmapable BPF arrays and the boot-time clock helper")
    import_bcc()
    source_dir()
    build = headers_dir()
    if build is None:
        raise BpfError(f"bcc needs kernel headers and /lib/modules/{os.uname().release}/build is missing: "
                       f"apt-get install linux-headers-{os.uname().release} (or point BCC_KERNEL_SOURCE at them)")
    if not VMLINUX.exists() and _headers_release(build) != os.uname().release:
        raise BpfError(f"the kernel headers in {build} are for {_headers_release(build) or 'another kernel'}, not "
                       f"the running {os.uname().release}, and without BTF their struct layouts cannot be "
                       f"checked: install linux-headers-{os.uname().release}")


def kernel_fields(recorder_h: Path) -> dict[str, tuple[str, str]]:
    """recorder.h's table of kernel fields: name -> (struct, field path)."""
    return {name: (st, path) for name, st, path in _FIELD.findall(recorder_h.read_text())}


def offset_flags(fields: dict[str, tuple[str, str]], btf: Btf | None) -> list[str]:
    """-DOFF_<name>=<byte offset> for every field, from BTF; without BTF, offsetof() in the headers."""
    if btf is None:
        return ["-DSNB_HEADER_OFFSETS", *(f"-DOFF_{name}=__builtin_offsetof(struct {st}, {path})"
                                          for name, (st, path) in _as_in_headers(fields).items())]
    flags = [f"-DOFF_{name}={_btf_offset(btf, name, st, path)}" for name, (st, path) in fields.items()]
    memory = btf.enum_value("cgroup_subsys_id", "memory_cgrp_id")
    flags.append(f"-DMEMORY_SUBSYS={-1 if memory is None else memory}")
    return flags


def _btf_offset(btf: Btf, name: str, st: str, path: str) -> int:
    for candidate in (path, *_ALTERNATIVES.get(name, ())):
        with contextlib.suppress(BtfError):
            return btf.field_offset(st, candidate)
    raise BpfError(f"this kernel's struct {st} has no field {path}: the recorder does not support it yet")


def _as_in_headers(fields: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """The field table with kernfs_node's parent under the name the installed headers give it."""
    build = headers_dir()
    kernfs = [d / "include/linux/kernfs.h" for d in ((build, build.parent / "source") if build else ())
              if (d / "include/linux/kernfs.h").exists()]
    if "kn_parent" in fields and kernfs and "*__parent;" not in kernfs[0].read_text().replace(" ", ""):
        return {**fields, "kn_parent": ("kernfs_node", "parent")}
    return fields


@contextlib.contextmanager
def _stderr_to(path: str) -> Iterator[None]:
    """Send fd 2 (where bcc's compiler writes its diagnostics) to ``path`` for the duration."""
    saved = os.dup(2)
    try:
        with open(path, "wb") as f:
            os.dup2(f.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# Compiled recorders kept between recordings of one process (keep_compiled), most recently used last: cflags
# -> (the bcc module, its raw tracepoints). Only the options compiled in (ring sizes, offsets, entry hook) are
# in the key; everything else is in the config map, written for each recording.
_KEPT: dict[tuple[str, ...], tuple[Any, list[bytes]]] = {}
MAX_KEPT = 2
_keep = [os.environ.get("SYSNB_BCC_KEEP") == "1"]


def keep_compiled(on: bool = True) -> None:
    """Keep the bcc recorder compiled after a recording (at most MAX_KEPT variants), so that the next one in
    this process starts at once instead of compiling for seconds (tens of seconds on a loaded host). What is
    kept holds its rings: 104 MB of kernel memory per variant on 2 CPUs, up to 1 GB on many. Off by default
    (``SYSNB_BCC_KEEP=1`` turns it on); ``keep_compiled(False)`` also releases what is kept."""
    _keep[0] = on
    if not on:
        while _KEPT:
            _KEPT.pop(next(iter(_KEPT)))[0].cleanup()


class BccEngine(RingEngine):
    """The recorder compiled by bcc, with the options of CoreEngine."""

    name = "bcc"

    def __init__(self, snaplen: int = 80, exclude: list[int] | None = None, target_tgid: int = 0,
                 enter_hook: bool = True, syscalls: Iterable[int] | None = None, target_cgroup: int = 0) -> None:
        bcc_preflight()
        super().__init__()
        config = make_config(snaplen, exclude or [os.getpid()], target_tgid, syscalls, target_cgroup, enter_hook,
                             self._shift)
        self._bpf: Any = None
        self._started = False
        self._key = tuple(self._cflags(enter_hook))
        kept = _KEPT.pop(self._key, None)
        if kept is None:
            self._bpf = self._compile(list(self._key))  # attaches the raw tracepoints (recording is off)
            self._tracepoints = list(self._bpf.raw_tracepoint_fds)
        else:
            self._bpf, self._tracepoints = kept
        try:
            if kept is not None:
                self._rearm()
            self._start(config)
            if kept is not None:
                self.drain()  # what programs still running when the last recording paused wrote: not ours
            self._write_config(enabled=1)
            self._started = True
        except BaseException:
            self.close()
            raise

    def _rearm(self) -> None:
        """A kept recorder, ready to record again: no counts or entry state of the last recording, attached.
        (The rings' positions carry on where the last recording's final drain left them.)"""
        self.reset_counters()
        self._bpf[b"task_state"].clear()
        for tp in self._tracepoints:
            self._bpf.attach_raw_tracepoint(tp=tp, fn_name=b"raw_tracepoint__" + tp)

    def _cflags(self, enter_hook: bool) -> list[str]:
        src = source_dir()
        btf = Btf.from_file() if VMLINUX.exists() else None
        n = self.ring_entries()
        sizes = {"SMALL_ENTRIES": n["small_slots"], "MID_ENTRIES": n["mid_slots"], "BIG_ENTRIES": n["big_slots"],
                 "POS_ENTRIES": n["ring_pos"]}
        return [f"-I{src}", *(f"-D{k}={v}" for k, v in sizes.items()),
                *offset_flags(kernel_fields(src / "recorder.h"), btf), *(["-DSNB_ENTER_HOOK"] if enter_hook else [])]

    @staticmethod
    def _compile(cflags: list[str]) -> Any:
        bcc = import_bcc()
        with tempfile.NamedTemporaryFile(prefix="sysnb-bcc-", suffix=".log") as log:
            try:
                with _stderr_to(log.name):
                    return bcc.BPF(src_file=str(source_dir() / "sysnb_bcc.c").encode(), cflags=cflags)
            except Exception as e:
                diagnostics = Path(log.name).read_text(errors="replace").strip().splitlines()[-15:]
                raise BpfError(f"bcc could not build the recorder: {e}\n" + "\n".join(diagnostics)) from None

    def _map_fd(self, name: str) -> int:
        fd: int = self._bpf[name.encode()].map_fd
        return fd

    def close(self) -> None:
        super().close()
        if self._bpf is None:
            return
        if _keep[0] and self._started:
            self._write_config(enabled=0)
            for tp in list(self._bpf.raw_tracepoint_fds):
                self._bpf.detach_raw_tracepoint(tp=tp)
            _KEPT[self._key] = (self._bpf, self._tracepoints)
            while len(_KEPT) > MAX_KEPT:
                _KEPT.pop(next(iter(_KEPT)))[0].cleanup()
        else:
            self._bpf.cleanup()
        self._bpf = None

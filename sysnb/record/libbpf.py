"""A small ctypes binding to ``libbpf.so.1``: open/load a BPF object, size its maps, attach its programs. No
compiler and no kernel headers are needed at run time (the object is CO-RE)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any

from sysnb.errors import SysnbError


class BpfError(SysnbError):
    """The recorder cannot run here; the message says what is missing and how to get it."""


_lib: Any = None
_log: list[str] = []


def lib() -> Any:
    """The loaded libbpf, with argument types declared (loaded once)."""
    global _lib
    if _lib is not None:
        return _lib
    name = ctypes.util.find_library("bpf") or "libbpf.so.1"
    try:
        L = ctypes.CDLL(name, use_errno=True)
    except OSError:
        raise BpfError("libbpf is not installed: `apt-get install libbpf1` (Debian/Ubuntu) or "
                       "`dnf install libbpf` (Fedora)") from None
    vp, cp, i, u32 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint32
    for fn, res, args in [
        ("bpf_object__open_file", vp, [cp, vp]), ("bpf_object__load", i, [vp]), ("bpf_object__close", None, [vp]),
        ("bpf_object__find_map_by_name", vp, [vp, cp]), ("bpf_map__fd", i, [vp]),
        ("bpf_map__set_max_entries", i, [vp, u32]),
        ("bpf_object__find_program_by_name", vp, [vp, cp]), ("bpf_program__attach", vp, [vp]),
        ("bpf_link__destroy", i, [vp]),
        ("libbpf_set_print", vp, [vp]),
    ]:
        f = getattr(L, fn)
        f.restype, f.argtypes = res, args
    _install_log(L)
    _lib = L
    return L


_PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)


def _install_log(L: Any) -> None:
    """Collect libbpf's messages (verifier log included) instead of letting them reach stderr."""
    libc = ctypes.CDLL(None)
    vsnprintf = libc.vsnprintf
    vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]

    def log(level: int, fmt: bytes, args: int) -> int:
        buf = ctypes.create_string_buffer(4096)
        vsnprintf(buf, len(buf), fmt, args)
        _log.append(buf.value.decode("utf-8", "replace"))
        del _log[:-200]
        return 0

    global _print_cb
    _print_cb = _PRINT_FN(log)
    L.libbpf_set_print(ctypes.cast(_print_cb, ctypes.c_void_p))


_print_cb: Any = None


def last_log(lines: int = 12) -> str:
    return "".join(_log[-lines:]).rstrip()


def check(ret: int, what: str) -> int:
    if ret < 0:
        err = -ret if ret != -1 else ctypes.get_errno()
        raise BpfError(f"{what} failed: {os.strerror(err)}{_hint(err)}\n{last_log()}".rstrip())
    return ret


def check_ptr(ptr: int | None, what: str) -> int:
    if not ptr:
        err = ctypes.get_errno()
        raise BpfError(f"{what} failed: {os.strerror(err) if err else 'unknown error'}{_hint(err)}\n"
                       f"{last_log()}".rstrip())
    return ptr


def _hint(err: int) -> str:
    if err in (1, 13):  # EPERM, EACCES
        return " (live capture needs root, or CAP_BPF + CAP_PERFMON: run with sudo)"
    return ""

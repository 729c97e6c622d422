"""The native record converter (``sysnb._core.RecordConverter``) against the numpy reference
(``convert_reference``): every column of every event equal, on hand-made records of every syscall sysnb has a
spec for and on hypothesis-generated records (random registers, payloads, sockets, cgroups, widths)."""

from __future__ import annotations

import functools
import socket
import struct

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sysnb.record import layout as L
from sysnb.record.convert import SPECS, convert, convert_reference
from sysnb.record.syscall_table import SYSCALLS

BOOT = 1_700_000_000_000_000_000
NUMBERS = {name: nr for nr, (name, *_rest) in SYSCALLS.items()}
SPEC_NRS = sorted(NUMBERS[n] for n in SPECS if n in NUMBERS)
GENERIC_NRS = [110, 39, 9999 % 1024, 1000]


def _rows(table: pa.Table) -> list[dict[str, object]]:
    return table.select(["evt.cpu", "sysnb.evt_flags", "evt.rawtime", "thread.tid", "sysnb.type_id",
                         "sysnb.params"]).to_pylist()


def same(small: np.ndarray, mid: np.ndarray, big: np.ndarray) -> None:
    native, reference = convert(small, mid, big, BOOT), convert_reference(small, mid, big, BOOT)
    if reference.num_rows == 0:
        assert native.num_rows == 0
        return
    assert _rows(native) == _rows(reference)


@functools.cache
def _works(kind: str, nr: int) -> bool:
    """Whether the reference converts a record of this kind for this syscall (the recorder never sends the
    kinds it cannot: a socket syscall as a small record, say)."""
    recs = _blank(kind, 1)
    _base(recs, kind)["nr"] = nr
    try:
        convert_reference(*_kinds(kind, recs), BOOT)
    except (AssertionError, ValueError, KeyError, IndexError):
        return False
    return True


def _blank(kind: str, n: int, width: int = 64) -> np.ndarray:
    return np.zeros(n, {"small": L.BASE, "mid": L.mid_dtype(width), "big": L.big_dtype(width)}[kind])


def _base(recs: np.ndarray, kind: str) -> np.ndarray:
    return recs if kind == "small" else recs["b"]


def _kinds(kind: str, recs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    empty = (_blank("small", 0), _blank("mid", 0, 8), _blank("big", 0, 8))
    at = ("small", "mid", "big").index(kind)
    return tuple(recs if i == at else e for i, e in enumerate(empty))  # type: ignore[return-value]


def _sockaddr_in(port: int, addr: bytes) -> bytes:
    return struct.pack("<H", socket.AF_INET) + struct.pack(">H", port) + addr + b"\0" * 8


@pytest.mark.parametrize("nr", SPEC_NRS + GENERIC_NRS + [L.PROCEXIT_NR])
def test_every_spec_as_a_big_record(nr: int) -> None:
    big = _blank("big", 3, 128)
    b = big["b"]
    b["ts"] = [3000, 1000, 2000]
    b["enter_ts"] = [2500, 0, 2500]  # an enter after the exit is taken as the exit's time
    b["ret"] = [0, -2, 7]
    b["args"] = np.arange(18, dtype=np.uint64).reshape(3, 6) * 0x10001 + 0o100101
    b["tid"], b["pid"], b["ppid"], b["uid"], b["gid"] = 11, 10, 1, 1000, 1000
    b["nr"] = nr
    b["comm"] = [b"bash", b"0123456789abcdef", b""]
    b["cpu"] = [0, 1, 65537]
    payload = b"/usr/bin/ls\0-la\0/tmp\0"
    big["data"][0, :len(payload)] = list(payload)
    big["data_len"] = [len(payload), 200, 5]
    big["data"][2, :5] = list(b"hello")
    addr = _sockaddr_in(8080, bytes([10, 0, 0, 1]))
    big["data2"][0, :len(addr)] = list(addr)
    big["data2"][1, :12] = list(struct.pack("<iiI", 5, 6, 0))
    big["data2_len"] = [len(addr), 12, 0]
    big["data_total"] = [4096, 0x80 | 0x400, 5]
    big["family"] = [socket.AF_INET, socket.AF_INET6, socket.AF_UNIX]
    big["sock_type"] = [1, 3, 2]
    big["sport"], big["dport"] = [[40000, 0, 0], [0, 443, 0]]
    big["saddr"][:, :4] = [127, 0, 0, 1]
    big["daddr"][1, :] = list(range(16))
    big["cgroup"][0] = [b"abc123", b"docker", b"system.slice", b""]
    big["cgroup"][1] = [b"\xff\xfe bad utf8", b"", b"", b""]
    same(_blank("small", 0), _blank("mid", 0, 8), big)


@pytest.mark.parametrize("nr", SPEC_NRS + GENERIC_NRS)
def test_small_and_mid_records(nr: int) -> None:
    small = _blank("small", 2)
    small["nr"], small["ts"], small["ret"], small["tid"] = nr, [20, 10], [-1, 3], [5, 6]
    mid = _blank("mid", 2, 16)
    mid["b"]["nr"], mid["b"]["ts"], mid["b"]["ret"] = nr, [15, 10], [4, 0]
    mid["data_len"], mid["data_total"] = [4, 40], [4, 40]
    mid["data"][:, :4] = list(b"abcd")
    if not _works("small", nr):
        small = _blank("small", 0)
    if not _works("mid", nr):
        mid = _blank("mid", 0, 8)
    same(small, mid, _blank("big", 0, 8))


def test_empty_batch() -> None:
    native = convert(_blank("small", 0), _blank("mid", 0, 8), _blank("big", 0, 8), BOOT)
    assert native.num_rows == 0
    assert native.column_names == ["evt.cpu", "sysnb.evt_flags", "evt.rawtime", "thread.tid", "sysnb.type_id",
                                   "sysnb.params"]


_NRS = st.sampled_from(SPEC_NRS + GENERIC_NRS + [L.PROCEXIT_NR])
_U64 = st.integers(0, 2**64 - 1)


@st.composite
def big_records(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(1, 6))
    width = draw(st.sampled_from([8, 64, 1024]))
    big = _blank("big", n, width)
    for i in range(n):
        b = big["b"][i]
        b["ts"], b["enter_ts"] = draw(st.integers(0, 50)), draw(st.integers(0, 60))
        b["ret"] = draw(st.integers(-2**63, 2**63 - 1))
        b["args"] = [draw(_U64) for _ in range(6)]
        b["tid"], b["pid"], b["ppid"] = (draw(st.integers(0, 2**32 - 1)) for _ in range(3))
        b["nr"] = draw(_NRS)
        b["comm"] = draw(st.binary(max_size=16))
        b["cpu"] = draw(st.integers(0, 2**32 - 1))
        data, data2 = draw(st.binary(max_size=width)), draw(st.binary(max_size=L.SNB_DATA2))
        big["data"][i, :len(data)] = list(data)
        big["data2"][i, :len(data2)] = list(data2)
        big["data_len"][i] = draw(st.sampled_from([len(data), 0xFFFF]))
        big["data2_len"][i] = draw(st.sampled_from([len(data2), 0xFFFF]))
        big["data_total"][i] = draw(st.integers(0, 2**32 - 1))
        big["family"][i] = draw(st.sampled_from([0, 1, 2, 10, 16]))
        big["sock_type"][i] = draw(st.integers(0, 5))
        big["sport"][i], big["dport"][i] = draw(st.integers(0, 65535)), draw(st.integers(0, 65535))
        big["saddr"][i] = list(draw(st.binary(min_size=16, max_size=16)))
        big["daddr"][i] = list(draw(st.binary(min_size=16, max_size=16)))
        big["cgroup"][i] = [draw(st.binary(max_size=L.SNB_CG_NAME)) for _ in range(L.SNB_CG_LEVELS)]
    return big


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(big_records())
def test_hypothesis_big_records(big: np.ndarray) -> None:
    same(_blank("small", 0), _blank("mid", 0, 8), big)


@pytest.mark.parametrize("ret", [0, -1, 5])
def test_ptrace_requests_and_their_dynamic_parameters(ret: int) -> None:
    requests = [*range(40), *range(0x4200, 0x4210), 2**63 + 1]
    small = _blank("small", len(requests))
    small["nr"], small["ret"], small["ts"] = NUMBERS["ptrace"], ret, np.arange(len(requests))
    small["args"][:, 0] = requests
    small["args"][:, 1:4] = [[4242, 0xDEAD, 0x1FF]]
    same(small, _blank("mid", 0, 8), _blank("big", 0, 8))


def test_setuid_family_records_their_ids() -> None:
    names = ["setuid", "setgid", "setresuid", "setresgid", "getuid", "geteuid", "getgid", "getegid"]
    small = _blank("small", len(names))
    small["nr"] = [NUMBERS[n] for n in names]
    small["args"][:, :3] = [[1000, 1001, 2**32 - 1]]
    small["ret"] = 1000
    same(small, _blank("mid", 0, 8), _blank("big", 0, 8))
    types = convert(small, _blank("mid", 0, 8), _blank("big", 0, 8), 0)["sysnb.type_id"].to_pylist()
    assert 0 not in types and 1 not in types  # dedicated event types, not generic ones

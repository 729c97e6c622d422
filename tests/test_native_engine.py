"""The native core (Rust) against the reference engine (Python): every column of every row equal.

On every bundled and shared capture, and on damaged variants of them (truncations, flipped bytes, bad
lengths), the two engines must produce the same table, the same damage offset and the same containers.
A difference is a bug in one of them: the golden tests say which one agrees with sysdig.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import FIXTURES, SHARED, capture_params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sysnb.errors import CaptureFormatError
from sysnb.scan import Scan, ScanInfo
from sysnb.state.columns import SCHEMA

SMALL = [FIXTURES / "falco" / "cat_write.scap.gz", FIXTURES / "libs" / "single_ipv6_conn.scap.gz",
         FIXTURES / "falco" / "connect_localhost.scap.gz"]


def raw_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def scan(path: Path, engine: str) -> tuple[pa.Table | None, ScanInfo | None, str | None]:
    """(table, info, error) of one engine; the error when the capture cannot be read at all."""
    try:
        s = Scan(path, engine=engine, batch_size=997)  # odd batch size: state must carry across batches
        table = pa.Table.from_batches(list(s), schema=SCHEMA)
    except CaptureFormatError as e:
        return None, None, f"offset {e.offset}"
    return table, s.info, None


def _plain(col: pa.ChunkedArray) -> pa.ChunkedArray:
    return col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col


def differences(path: Path) -> list[str]:
    """Where the two engines disagree on ``path`` (empty: nowhere)."""
    a, ia, ea = scan(path, "reference")
    b, ib, eb = scan(path, "native")
    if ea or eb:
        return [] if ea == eb else [f"unreadable: reference {ea}, native {eb}"]
    assert a is not None and b is not None and ia is not None and ib is not None
    out = []
    if a.num_rows != b.num_rows:
        out.append(f"rows: reference {a.num_rows}, native {b.num_rows}")
    da, db = ia.damage, ib.damage
    if (da and da.offset) != (db and db.offset):
        out.append(f"damage offset: reference {da and da.offset}, native {db and db.offset}")
    if ia.containers != ib.containers:
        out.append("containers differ")
    if (ia.sections, ia.hostname, ia.num_cpus) != (ib.sections, ib.hostname, ib.num_cpus):
        out.append(f"sections/host: reference {ia.sections, ia.hostname}, native {ib.sections, ib.hostname}")
    n = min(a.num_rows, b.num_rows)
    for name in SCHEMA.names:
        x, y = _plain(a[name].slice(0, n)), _plain(b[name].slice(0, n))
        if not x.equals(y):
            xs, ys = x.to_pylist(), y.to_pylist()
            bad = [i for i in range(n) if xs[i] != ys[i]]
            out.append(f"{name}: {len(bad)} rows differ, first at row {bad[0]}: {xs[bad[0]]!r} vs {ys[bad[0]]!r}")
    return out


@pytest.mark.parametrize("capture", capture_params())
def test_native_and_reference_engines_agree(capture: Path) -> None:
    assert differences(capture) == []


@pytest.mark.parametrize("capture", capture_params())
def test_every_dictionary_holds_each_value_once(capture: Path) -> None:
    """pyarrow's group_by, value_counts and to_pandas take dictionary indices as identities."""
    for batch in Scan(capture, batch_size=4096):
        for name, col in zip(batch.schema.names, batch.columns, strict=True):
            if pa.types.is_dictionary(col.type):
                values = col.dictionary.to_pylist()
                assert len(values) == len(set(values)), f"{name}: {values}"


STATELESS = ["evt.num", "evt.rawtime", "evt.cpu", "evt.dir", "evt.type", "evt.rawres", "evt.res", "evt.failed",
             "evt.buffer", "thread.tid", "sysnb.type_id", "sysnb.syscall_id", "sysnb.visible", "sysnb.offset",
             "sysnb.evt_flags", "sysnb.params"]


@pytest.mark.parametrize("capture", capture_params())
def test_projected_columns_equal_the_full_table(capture: Path) -> None:
    """Asking for a subset of the columns gives those columns of the full table: the work skipped for the
    others (the whole state replay when no asked-for column depends on state) changes nothing in them."""
    full = pa.Table.from_batches(list(Scan(capture, batch_size=4096)), schema=SCHEMA)
    for cols in (STATELESS, ["evt.num", "sysnb.visible"], ["proc.name", "fd.name", "evt.category"],
                 ["evt.args", "user.name", "fd.cport", "sysnb.info"], ["evt.latency", "evt.buflen", "fd.num"]):
        part = Scan(capture, columns=cols, batch_size=4096)
        table = pa.Table.from_batches(list(part), schema=part.schema)
        assert table.column_names == [c for c in SCHEMA.names if c in cols]
        for c in cols:
            assert _plain(table[c]).equals(_plain(full[c])), c


def _variant(tmp_path: Path, data: bytes, name: str) -> Path:
    f = tmp_path / name
    f.write_bytes(data)
    return f


@pytest.mark.parametrize("capture", SMALL, ids=lambda p: p.name)
def test_engines_agree_on_every_truncation_point(tmp_path: Path, capture: Path) -> None:
    """Truncated at 120 points, among them inside headers, trailers and parameter lengths."""
    data = raw_bytes(capture)
    rng = random.Random(capture.name)
    cuts = sorted({rng.randrange(len(data)) for _ in range(110)} | {1, 7, 8, 12, 27, 28, 100, 1000, 4096, 9999})
    for cut in cuts:
        f = _variant(tmp_path, data[:cut], f"cut{cut}.scap")
        assert differences(f) == [], f"truncated at {cut}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_engines_agree_on_damaged_bytes(tmp_path: Path, data: st.DataObject) -> None:
    """Flipped bytes and overwritten 32-bit words (lengths, types, counts) anywhere in the file."""
    capture = data.draw(st.sampled_from(SMALL))
    raw = bytearray(raw_bytes(capture))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 4))
        if data.draw(st.booleans()):
            raw[at] ^= data.draw(st.integers(1, 255))
        else:
            word = data.draw(st.sampled_from([0, 1, 12, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
            raw[at:at + 4] = word.to_bytes(4, "little")
    f = _variant(tmp_path, bytes(raw), "damaged.scap")
    assert differences(f) == []


def test_gzip_damage_keeps_what_was_decompressed(tmp_path: Path) -> None:
    """A gzip capture cut short: the native core keeps every whole event decompressed before the cut and
    says where the compressed stream ended."""
    data = (FIXTURES / "falco" / "cat_write.scap.gz").read_bytes()
    f = _variant(tmp_path, data[: len(data) * 9 // 10], "cut.scap.gz")
    s = Scan(f)
    rows = sum(b.num_rows for b in s)
    assert 0 < rows < 345
    assert s.info.damage is not None and s.info.damage.offset is not None
    assert "compressed" in str(s.info.damage)


# -- per-thread state of newer drivers' events, on a capture written here (no shared capture has them) ---------

_WIDTH = {"PID": 8, "INT64": 8, "UINT64": 8, "ABSTIME": 8, "ERRNO": 8, "UINT32": 4, "UID": 4, "GID": 4,
          "FLAGS32": 4}


def _params(type_id: int, values: dict[str, object]) -> list[bytes]:
    """The raw parameters of an event: text and byte values as given, numbers little-endian by type."""
    from sysnb.scap import events as E

    out = []
    for name, typ in ((p[0], p[1]) for p in E.EVENTS[type_id].params):
        v = values.get(name)
        if isinstance(v, bytes):
            out.append(v)
        elif isinstance(v, str):
            out.append(v.encode() + b"\0")
        elif typ in _WIDTH:
            out.append(int(v or 0).to_bytes(_WIDTH[typ], "little", signed=True))
        else:
            out.append(b"\0")
    return out


def _newer_driver_capture(path: Path) -> Path:
    """bash (100, session 50) execs x with capabilities and PPM_EXE_* flags, clones 101, which calls setsid."""
    from sysnb.scap.blocks import ThreadEntry
    from sysnb.scap.reader import Section
    from sysnb.scap.writer import ScapWriter

    bash = ThreadEntry(100, 100, 1, sid=50, vpgid=100, comm="bash", exe="/bin/bash", args=["-i"], vtid=100,
                       vpid=100, cgroups=["cpu,cpuacct=/user.slice", "io=/user.slice"])
    sys_admin_and_chown = (1 << 21) | 1
    execve = dict(res=0, exe="x", args=b"--flag\0", tid=100, pid=100, ptid=1, comm="x", tty=34816, vpgid=100,
                  flags=2 | 4, cap_inheritable=0, cap_permitted=sys_admin_and_chown, cap_effective=sys_admin_and_chown,
                  env=b"A=1\0B=2\0", cgroups=b"cpu=/user.slice\0io=/user.slice\0")
    clone = dict(res=101, exe="x", args=b"--flag\0", tid=100, pid=100, ptid=1, comm="x", vtid=100, vpid=100)
    rows = [(292, 100, dict(filename="/bin/x")), (293, 100, execve), (223, 100, clone), (274, 101, {}),
            (275, 101, dict(res=101))]
    events = pa.table({"evt.cpu": pa.array([0] * len(rows), pa.uint16()),
                       "sysnb.evt_flags": pa.array([0] * len(rows), pa.uint32()),
                       "evt.rawtime": pa.array([1000 + 100 * i for i in range(len(rows))], pa.uint64()),
                       "thread.tid": pa.array([r[1] for r in rows], pa.int64()),
                       "sysnb.type_id": pa.array([r[0] for r in rows], pa.uint16()),
                       "sysnb.params": pa.array([_params(t, v) for t, _, v in rows], pa.list_(pa.binary()))})
    with ScapWriter(str(path)) as w:
        w.write_section(Section(0, (1, 2), threads=[bash]))
        w.write_events(events)
    return path


def test_newer_driver_thread_state_in_both_engines(tmp_path: Path) -> None:
    """Capabilities, executable flags, tty/vpgid/env/cgroups of execve, vtid/vpid of a clone, setsid's session:
    both engines agree, and the registry prints them as Falco's libsinsp does."""
    import sysnb

    path = _newer_driver_capture(tmp_path / "newer.scap")
    assert differences(path) == []
    cap = sysnb.open_capture(path)
    t = cap.table.to_pydict()
    assert t["proc.tty"][1] == 34816 and t["proc.vpgid"][1] == 100 and t["proc.sid"][1] == 50
    assert t["proc.env"][1] == "A=1 B=2" and t["proc.pcmdline"][1] is None  # bash's parent is not in the table
    assert t["thread.cgroups"][1] == "cpu=/user.slice blkio=/user.slice"  # libsinsp's v1 name for io
    assert (t["thread.vtid"][4], t["proc.vpid"][4], t["proc.sid"][4]) == (101, 101, 101)  # setsid: its own session
    assert t["proc.pcmdline"][4] == "x --flag" and t["proc.pexe"][4] == "x" and t["proc.sname"][4] == "x"
    assert cap.filter("thread.cap_effective contains CAP_SYS_ADMIN").events.num_rows == 4
    assert cap.filter("thread.cap_permitted = 'CAP_CHOWN CAP_SYS_ADMIN'").events.num_rows == 4
    assert cap.filter("proc.is_exe_upper_layer = true and proc.is_exe_from_memfd = true").events.num_rows == 4
    assert cap.filter("proc.is_exe_writable = false").events.num_rows == 5
    assert cap.filter("thread.cap_effective exists").events.num_rows == 4  # unknown before the execve exit


def test_fd_nameraw_is_the_path_as_the_open_received_it() -> None:
    """fd.nameraw (Falco's extension): openat's relative name as passed, where fd.name is resolved."""
    import sysnb

    path = SHARED / "sf-collector" / "filesat.scap"
    if not path.exists():
        pytest.skip(f"{path} not found (the shared captures)")
    rows = sysnb.open_capture(path).filter("evt.num=587").events.to_pydict()
    assert (rows["fd.name"], rows["fd.nameraw"]) == (["/tmp/tested_file.txt"], ["tested_file.txt"])

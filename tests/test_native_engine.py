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
from conftest import FIXTURES, capture_params
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

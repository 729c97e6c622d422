from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from conftest import FIXTURES, capture_params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sysnb
from sysnb.errors import CaptureFormatError
from sysnb.scap.reader import Section, read_scap

CAT = FIXTURES / "falco" / "cat_write.scap.gz"


def raw_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


@pytest.mark.parametrize("capture", capture_params())
def test_every_capture_reads_completely(capture: Path) -> None:
    cap = sysnb.open_capture(capture, cache=False)
    assert cap.provenance.error is None
    assert cap.provenance.events == len(cap) > 0
    assert cap.table.column_names[0] == "evt.num"


def test_event_count_and_provenance() -> None:
    cap = sysnb.open_capture(CAT, cache=False)
    p = cap.provenance
    assert (p.events, p.hostname, p.num_cpus) == (345, "ubuntu", 2)  # SOURCES.md: 345 event blocks
    assert len(p.sha256) == 64 and p.start_ns is not None and p.end_ns is not None
    assert cap.table["evt.num"].to_pylist()[:3] == [1, 2, 3]


def test_gzip_and_plain_give_the_same_table(tmp_path: Path) -> None:
    plain = tmp_path / "cat.scap"
    plain.write_bytes(raw_bytes(CAT))
    a = sysnb.open_capture(CAT, cache=False).table.drop_columns(["sysnb.offset"])
    b = sysnb.open_capture(plain, cache=False).table.drop_columns(["sysnb.offset"])
    assert a.equals(b)


def test_concatenated_sections(tmp_path: Path) -> None:
    data = raw_bytes(CAT)
    f = tmp_path / "twice.scap"
    f.write_bytes(data + data)
    cap = sysnb.open_capture(f, cache=False)
    assert cap.provenance.sections == 2 and len(cap) == 2 * 345


@pytest.mark.parametrize("frac", [i / 40 for i in range(1, 40)])
def test_truncation_keeps_every_event_before_the_damage(tmp_path: Path, frac: float) -> None:
    data = raw_bytes(CAT)
    cut = int(len(data) * frac)
    f = tmp_path / "cut.scap"
    f.write_bytes(data[:cut])
    full = sysnb.open_capture(CAT, cache=False).table
    first_event = full["sysnb.offset"][0].as_py()
    try:
        cap = sysnb.open_capture(f, cache=False)
    except CaptureFormatError as e:  # cut inside the metadata: no event could be read
        assert cut < first_event + 40 and e.offset is not None and e.offset <= cut
        return
    n = len(cap)
    assert cap.table["evt.rawtime"].to_pylist() == full["evt.rawtime"].to_pylist()[:n]
    if n < len(full):
        assert cap.provenance.error is not None and "byte offset" in cap.provenance.error
        assert cap.provenance.error_offset is not None and cap.provenance.error_offset <= cut


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(min_value=0, max_value=104403), val=st.integers(min_value=0, max_value=255))
def test_flipped_byte_never_crashes(tmp_path: Path, pos: int, val: int) -> None:
    data = bytearray(raw_bytes(CAT))
    data[pos % len(data)] = val
    f = tmp_path / "flip.scap"
    f.write_bytes(bytes(data))
    try:
        cap = sysnb.open_capture(f, cache=False)
    except CaptureFormatError as e:  # refused up front (header damaged): a clear message
        assert "offset" in str(e)
        return
    assert len(cap) <= 345 + 1


def test_not_a_capture(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("hello world\n")
    with pytest.raises(CaptureFormatError, match=r"not a \.scap capture"):
        sysnb.open_capture(f)


def test_major_version_refused(tmp_path: Path) -> None:
    data = bytearray(raw_bytes(CAT))
    data[12:14] = (2).to_bytes(2, "little")  # SHB major version
    f = tmp_path / "v2.scap"
    f.write_bytes(bytes(data))
    with pytest.raises(CaptureFormatError, match="version 2"):
        list(read_scap(str(f)))


def test_reader_yields_section_before_events() -> None:
    items = list(read_scap(str(CAT)))
    assert isinstance(items[0], Section)
    assert items[0].machine is not None and items[0].machine.hostname == "ubuntu"
    assert len(items[0].threads) == 73  # SOURCES.md: 73 threads in the table


def test_undecodable_process_names_survive_in_ancestor_chains() -> None:
    """A comm with bytes that are not UTF-8 (the fuzz test found it in sysnb.aname) is stored with U+FFFD."""
    import pyarrow as pa

    from sysnb.state.columns import _safe_array

    arr = _safe_array([["\udc80ystemd", "systemd"], [], None], pa.list_(pa.string()))
    assert arr.to_pylist() == [["\ufffdystemd", "systemd"], [], None]


@pytest.mark.parametrize(("pos", "val"), [(90341, 128), (93913, 221), (97490, 211), (97882, 194)],
                         ids=["span-uint64", "latency-beyond-int64", "uid-short", "gid-short"])
def test_damaged_bytes_found_by_fuzzing(tmp_path: Path, pos: int, val: int) -> None:
    """Flips the flipped-byte test (and 7,000 more seeded trials) found: a timestamp beyond int64 broke the time
    span and evt.latency, a cut uid/gid parameter broke argument rendering."""
    data = bytearray(raw_bytes(CAT))
    data[pos] = val
    f = tmp_path / "flip.scap"
    f.write_bytes(bytes(data))
    try:
        cap = sysnb.open_capture(f, cache=False)
    except CaptureFormatError as e:
        assert "offset" in str(e)
        return
    assert len(cap) <= 345 + 1

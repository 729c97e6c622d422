"""Damaged .scap.gz files keep every event before the damage (the bundled capture and every -z recording are
gzip). ``gzip.read`` used to raise and drop what it had decompressed, so any damage lost every event.

Both engines are held to it: the native core (default) and the Python reference reader (sysnb/scap/gzstream.py).
"""

from __future__ import annotations

import gzip
import io
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from conftest import FIXTURES

import sysnb
from sysnb.errors import CaptureFormatError
from sysnb.scap.gzstream import GzipStream

SAMPLE = Path(sysnb.sample_path())
CAT = FIXTURES / "falco" / "cat_write.scap.gz"


ENGINES = pytest.mark.parametrize("engine", ["native", "reference"])
#: where the native core (native/, the lead's) does not yet do what the reference reader does: strict xfails,
#: so the day it does, the test says to remove the entry
NATIVE_GAPS: dict[str, str] = {}


def native_gap(request: pytest.FixtureRequest, engine: str, gap: str) -> None:
    if engine == "native" and gap in NATIVE_GAPS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=NATIVE_GAPS[gap]))


@pytest.fixture(scope="module")
def full() -> sysnb.Capture:
    return sysnb.open_capture(SAMPLE)


def _read_all(data: bytes, size: int) -> tuple[bytes, object]:
    s = GzipStream(io.BytesIO(data))
    out = []
    while chunk := s.read(size):
        out.append(chunk)
    return b"".join(out), s.damage


@ENGINES
def test_a_truncated_bundled_capture_keeps_its_first_nine_tenths(tmp_path: Path, full: sysnb.Capture,
                                                                 engine: str) -> None:
    """`head -c 300000 storefront_incident.scap.gz`: sysdig reads ~90 % of the events; sysnb read none."""
    cut = tmp_path / "cut.scap.gz"
    cut.write_bytes(SAMPLE.read_bytes()[:300_000])
    cap = sysnb.open_capture(cut, engine=engine)
    assert cap.events.num_rows >= 0.85 * full.events.num_rows
    n = cap.table.num_rows
    assert cap.table["evt.rawtime"].equals(full.table["evt.rawtime"].slice(0, n))
    err = cap.provenance.error or ""
    assert "truncated" in err and re.search(r"compressed byte (offset )?300000\b", err) and "byte offset 1799" in err
    assert "byte offset 0" not in err and cap.provenance.error_offset and cap.provenance.error_offset > 1_000_000
    with pytest.raises(CaptureFormatError, match=r"compressed byte (offset )?300000"):
        sysnb.open_capture(cut, strict=True, engine=engine)


@pytest.mark.sysdig
@pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig 0.29.3 is not installed")
def test_the_truncated_capture_prints_what_sysdig_prints(tmp_path: Path) -> None:
    cut = tmp_path / "cut.scap.gz"
    cut.write_bytes(SAMPLE.read_bytes()[:300_000])
    want = subprocess.run(["sysdig", "-r", str(cut)], capture_output=True).stdout.count(b"\n")
    got = subprocess.run([sys.executable, "-m", "sysnb", "-r", str(cut)], capture_output=True)
    assert got.stdout.count(b"\n") == want > 20_000
    assert got.returncode == 1 and b"Traceback" not in got.stderr


def _corrupt_after(raw: bytes, half: int) -> tuple[bytes, int]:
    """``raw`` gzip-compressed with a full flush after ``half`` bytes and an invalid deflate block right after
    it (block type 3, reserved): zlib refuses exactly there. Returns the file and the compressed offset."""
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    first = c.compress(raw[:half]) + c.flush(zlib.Z_FULL_FLUSH)
    rest = c.compress(raw[half:]) + c.flush()
    return first + b"\x07" + rest[1:], len(first)


@ENGINES
def test_corrupt_compressed_data_is_a_format_error_after_the_good_events(tmp_path: Path, engine: str,
                                                                         request: pytest.FixtureRequest) -> None:
    native_gap(request, engine, "corrupt")
    raw = gzip.decompress(CAT.read_bytes())
    full = sysnb.open_capture(CAT)
    half = (int(full.table["sysnb.offset"][0].as_py()) + len(raw)) // 2  # among the events (after 82 KB of state)
    bad, at = _corrupt_after(raw, half)
    with pytest.raises(zlib.error):
        zlib.decompress(bad, 31)
    out, damage = _read_all(bad, 1000)
    assert out == raw[:half]
    assert damage is not None and "corrupt compressed data (invalid block type)" in damage.reason  # type: ignore[attr-defined]
    assert (damage.compressed_offset, damage.uncompressed_offset) == (at, len(out))  # type: ignore[attr-defined]
    f = tmp_path / "bad.scap.gz"
    f.write_bytes(bad)
    cap = sysnb.open_capture(f, engine=engine)
    assert 100 < len(cap) < len(full)
    assert cap.table["evt.rawtime"].equals(full.table["evt.rawtime"].slice(0, len(cap)))
    assert re.search(rf"compressed byte (offset )?{at}\b", cap.provenance.error or "")
    with pytest.raises(CaptureFormatError, match="invalid block type"):
        sysnb.open_capture(f, strict=True, engine=engine)


@ENGINES
def test_a_checksum_mismatch_is_reported(tmp_path: Path, engine: str) -> None:
    raw = gzip.decompress(CAT.read_bytes())
    gz = bytearray(gzip.compress(raw, 6, mtime=0))
    gz[-8] ^= 1  # the CRC-32 of the trailer
    f = tmp_path / "crc.scap.gz"
    f.write_bytes(bytes(gz))
    cap = sysnb.open_capture(f, engine=engine)
    assert len(cap) == 345 and re.search("checksum|data check|crc", cap.provenance.error or "", re.I)


@ENGINES
@pytest.mark.parametrize(("tail", "events", "damaged"), [
    ("member", 690, False), ("zeros", 345, False), ("garbage", 345, True)])
def test_what_follows_a_gzip_member(tmp_path: Path, tail: str, events: int, damaged: bool, engine: str,
                                    request: pytest.FixtureRequest) -> None:
    if tail != "member":
        native_gap(request, engine, tail)
    data = CAT.read_bytes()
    extra = {"member": data, "zeros": b"\0" * 1000, "garbage": b"not gzip at all"}[tail]
    f = tmp_path / "tail.scap.gz"
    f.write_bytes(data + extra)
    cap = sysnb.open_capture(f, engine=engine)
    assert len(cap) == events and (cap.provenance.error is not None) == damaged
    if damaged:
        assert re.search(rf"compressed byte (offset )?{len(data)}\b", cap.provenance.error or "")


@ENGINES
def test_damage_before_any_event_is_refused_with_both_offsets(tmp_path: Path, engine: str) -> None:
    f = tmp_path / "short.scap.gz"
    f.write_bytes(CAT.read_bytes()[:200])
    with pytest.raises(CaptureFormatError, match=r"truncated.*compressed byte (offset )?200\b"):
        sysnb.open_capture(f, engine=engine)


@pytest.mark.parametrize("size", [1, 7, 4096, 1 << 20])
def test_any_read_size_gives_the_same_bytes(size: int) -> None:
    data = CAT.read_bytes()
    out, damage = _read_all(data, size)
    assert out == gzip.decompress(data) and damage is None
    assert GzipStream(io.BytesIO(data)).read() == out  # read() reads to the end, as a file does

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES
from goldens import GOLDEN, run_cli

import sysnb

CAT = FIXTURES / "falco" / "cat_write.scap.gz"


def test_opening_writes_nothing_to_the_cache() -> None:
    """Tables are rebuilt by the native core, not cached: opening leaves no files (recordings made by other
    tests may be in captures/)."""
    d = sysnb.cache_dir()
    before = set(d.rglob("*")) if d.exists() else set()
    sysnb.open_capture(CAT)
    after = set(d.rglob("*")) if d.exists() else set()
    assert after == before


def test_clear_cache_removes_old_tables_but_never_recordings() -> None:
    d = sysnb.cache_dir()
    (d / "captures").mkdir(parents=True, exist_ok=True)
    recording = d / "captures" / "live-20261203-101010.scap.gz"
    recording.write_bytes(b"evidence")
    stale = [d / ("a" * 64 + ".v5.arrows"), d / ("a" * 64 + ".v5.json"), d / ("b" * 64 + ".v4.arrows.tmp123")]
    for f in stale:
        f.write_bytes(b"x" * 10)
    assert sysnb.clear_cache() == 30
    assert recording.read_bytes() == b"evidence"
    assert not any(f.exists() for f in stale)


def test_list_events_matches_sysdig() -> None:
    code, out = run_cli(["-L"])
    assert code == 0
    assert out == (GOLDEN / "list_events.txt").read_text()


def test_list_fields() -> None:
    code, out = run_cli(["-l"])
    assert code == 0 and "proc.name" in out and "fd.name" in out


def test_bad_format_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from sysnb.cli import main

    assert main(["-r", str(CAT), "-p", "%proc.nmae"]) == 1  # sysdig exits 1 on every error
    err = capsys.readouterr().err
    assert "proc.nmae" in err and "did you mean proc.name" in err and "Traceback" not in err


def test_missing_file_and_not_a_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sysnb.cli import main

    assert main(["-r", str(tmp_path / "nope.scap")]) == 1
    f = tmp_path / "x.txt"
    f.write_text("not a capture")
    assert main(["-r", str(f)]) == 1
    err = capsys.readouterr().err
    assert "no such file" in err and "not a .scap capture" in err and "Traceback" not in err


def test_truncated_file_prints_events_then_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gzip

    from sysnb.cli import main

    data = gzip.decompress(CAT.read_bytes())
    f = tmp_path / "cut.scap"
    f.write_bytes(data[: len(data) - 1000])
    assert main(["-r", str(f)]) == 1
    out, err = capsys.readouterr()
    assert out.count("\n") > 50 and "byte offset" in err and "Traceback" not in err


def test_numevents_counts_like_sysdig() -> None:
    _, out = run_cli(["-r", str(CAT), "-n", "140"])
    assert out.splitlines()[-1].startswith("140 ")

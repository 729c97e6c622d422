from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from conftest import FIXTURES
from goldens import GOLDEN, run_cli

import sysnb

# the module, not sysnb.capture (the live-capture function the package exports under that name)
capmod = importlib.import_module("sysnb.capture")

CAT = FIXTURES / "falco" / "cat_write.scap.gz"


def test_second_open_comes_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    first = sysnb.open_capture(CAT)
    cached = list(sysnb.cache_dir().glob(f"{first.provenance.sha256}*"))
    assert cached, "the table was not cached"
    assert not any(str(p).startswith(str(CAT.parent)) for p in cached)  # never beside the evidence

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("rebuilt instead of using the cache")

    monkeypatch.setattr(capmod, "_build", boom)
    second = sysnb.open_capture(CAT)
    assert second.table.equals(first.table)
    assert second.provenance.sha256 == first.provenance.sha256


def test_cache_can_be_disabled_and_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    sysnb.clear_cache()
    monkeypatch.setenv("SYSNB_CACHE", "0")
    sysnb.open_capture(CAT)
    assert not sysnb.cache_dir().exists() or not any(sysnb.cache_dir().iterdir())
    monkeypatch.delenv("SYSNB_CACHE")
    sysnb.open_capture(CAT)
    assert sysnb.clear_cache() > 0
    assert not sysnb.cache_dir().exists()


def test_list_events_matches_sysdig() -> None:
    code, out = run_cli(["-L"])
    assert code == 0
    assert out == (GOLDEN / "list_events.txt").read_text()


def test_list_fields() -> None:
    code, out = run_cli(["-l"])
    assert code == 0 and "proc.name" in out and "fd.name" in out


def test_bad_format_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from sysnb.cli import main

    assert main(["-r", str(CAT), "-p", "%proc.nmae"]) == 2
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

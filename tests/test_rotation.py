"""``-w`` with sysdig's rotation options (-C, -G, -W, -e) on a capture read with -r."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from goldens import run_cli

import sysnb
from sysnb.cli import main

SAMPLE = sysnb.sample_path()
FMT = "%evt.rawtime %evt.type %proc.name %evt.args"


def _lines(path: Path | str) -> list[str]:
    return run_cli(["-r", str(path), "-p", FMT])[1].splitlines()


def _files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir(), key=lambda p: int(p.name.rsplit("scap", 1)[1]))


def test_event_limit_cuts_files_that_read_back_as_the_capture(tmp_path: Path) -> None:
    assert main(["-r", str(SAMPLE), "-w", str(tmp_path / "trace.scap"), "-e", "10000"]) == 0
    files = _files(tmp_path)
    assert [p.name for p in files] == ["trace.scap0", "trace.scap1", "trace.scap2"]
    per_file = [len(_lines(p)) for p in files]
    assert sum(per_file) == 27121 and max(per_file) <= 10000
    whole = _lines(SAMPLE)
    merged = run_cli(["-r", str(tmp_path), "-p", FMT])[1].splitlines()
    # every event, in order; only fds opened in an earlier file lose their names (as in sysdig's files)
    assert [x.split()[:2] for x in merged] == [x.split()[:2] for x in whole]
    same = sum(a == b for a, b in zip(merged, whole, strict=True))
    assert same / len(whole) > 0.99


def test_file_size_keeps_each_file_near_the_limit_and_names_processes(tmp_path: Path) -> None:
    raw = tmp_path / "sample.scap"  # sizes count uncompressed bytes
    raw.write_bytes(gzip.decompress(SAMPLE.read_bytes()))
    out = tmp_path / "out"
    out.mkdir()
    assert main(["-r", str(raw), "-w", str(out / "t.scap"), "-C", "1"]) == 0
    files = _files(out)
    assert len(files) >= 3
    assert all(p.stat().st_size <= 1_100_000 for p in files), [p.stat().st_size for p in files]
    last = _lines(files[-1])
    assert last and sum(x.split()[2] == "<NA>" for x in last) < len(last) // 10  # processes carried over


def test_limit_keeps_a_ring_of_the_last_files(tmp_path: Path) -> None:
    assert main(["-r", str(SAMPLE), "-w", str(tmp_path / "t.scap"), "-e", "5000", "-W", "2"]) == 0
    files = _files(tmp_path)
    assert [p.name for p in files] == ["t.scap0", "t.scap1"]
    newest = max(files, key=lambda p: _lines(p)[-1].split()[0])
    assert _lines(newest)[-1] == _lines(SAMPLE)[-1]  # the ring ends with the capture's last event


def test_seconds_name_files_by_a_strftime_pattern(tmp_path: Path) -> None:
    assert main(["-r", str(SAMPLE), "-w", str(tmp_path / "t-%H%M%S.scap"), "-G", "1"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) >= 3 and all(n.startswith("t-") and n.endswith(".scap") for n in names)
    assert sum(len(_lines(tmp_path / n)) for n in names) == 27121


def test_rotation_options_without_w_and_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-r", str(SAMPLE), "-C", "1", "-q"]) == 0
    assert "without -w they are ignored" in capsys.readouterr().err
    assert main(["-r", str(SAMPLE), "-w", str(tmp_path / "x.scap"), "-W", "3"]) == 1
    assert "give one of them too" in capsys.readouterr().err
    assert main(["-r", str(SAMPLE), "-w", str(tmp_path / "x.scap"), "-C", "0"]) == 1
    assert not list(tmp_path.iterdir())

"""The real recorder when things go wrong: killed with SIGKILL (its spill is recovered with sysnb --recover)
and recording onto a disk that fills up (it stops by itself and keeps what it recorded)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import sysnb
from live.harness import Scope, task_scope
from sysnb.record.note import read_note
from sysnb.record.recover import scan
from sysnb.record.spill import replay

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("can_record")]


@pytest.fixture
def scope() -> Iterator[Scope]:
    with task_scope() as s:
        yield s


def _sysnb(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "sysnb", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _announced(proc: subprocess.Popen[str]) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:
        if "recording to" in line:
            return
        assert "building the recorder" in line or "free on" in line, line
    raise AssertionError("sysnb ended before it started recording")


def _spilled(spill: Path, needle: bytes) -> bool:
    """Whether a record whose payload holds ``needle`` is in the spill's whole frames."""
    with spill.open("rb") as f:
        for _, mid, big in replay(f):
            for recs in (mid, big):
                if len(recs) and any(needle in bytes(d[:n]) for d, n in zip(recs["data"], recs["data_len"],
                                                                            strict=True)):
                    return True
    return False


def test_a_killed_recording_is_recovered(tmp_path: Path, scope: Scope) -> None:
    out = tmp_path / "killed.scap.gz"
    spill = Path(f"{out}.spill")
    needle = f"KILLED-MARKER-{os.getpid()}".encode()
    proc = _sysnb("-w", str(out), *scope.cli())
    try:
        _announced(proc)
        subprocess.run(scope.wrap(["sh", "-c", f"echo {needle.decode()} > {tmp_path}/m.txt"]), check=True)
        for _ in range(600):  # the spill thread writes each drain a moment after it
            if _spilled(spill, needle):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the marker write never reached the spill")
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists() and spill.exists()
    with spill.open("rb") as f:
        assert scan(f).end is None  # killed: no final counters
    done = subprocess.run([sys.executable, "-m", "sysnb", "--recover", str(spill)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "recovered" in done.stderr and not spill.exists()
    cap = sysnb.open_capture(out, strict=True)
    assert len(cap.filter(f"evt.type=write and evt.buffer contains {needle.decode()}").events) == 1
    assert cap.provenance.extra["recorder"]["recovered"] is True
    if shutil.which("sysdig"):
        lines = subprocess.run(["sysdig", "-r", str(out), "-p", "%evt.buffer",
                                f"evt.type=write and evt.buffer contains {needle.decode()}"],
                               capture_output=True, text=True, check=True).stdout.split()
        assert lines == [needle.decode() + "."]


@contextlib.contextmanager
def _small_disk(folder: Path, size_mb: int) -> Iterator[Path]:
    folder.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "sysnb-test-disk", str(folder)],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"cannot mount a small tmpfs to fill: {e}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


BURST = "import os\nfor _ in range(5_000_000): os.getppid()"


def test_a_filling_disk_stops_the_recording_and_keeps_what_was_recorded(tmp_path: Path, scope: Scope) -> None:
    """On an 80 MB file system a burst of getppid fills the spill: the recorder stops by itself, says so,
    and writes a whole capture (never a 0-byte one after a traceback)."""
    with _small_disk(tmp_path / "disk", 80) as disk:
        out = disk / "full.scap"
        proc = _sysnb("-w", str(out), "-M", "120", *scope.cli())
        _announced(proc)
        burst = subprocess.Popen(scope.wrap([sys.executable, "-c", BURST]))
        try:
            _, err = proc.communicate(timeout=300)
        finally:
            burst.kill()
            burst.wait()
        assert proc.returncode == 0, err
        assert "recording stopped to keep room" in err and "Traceback" not in err
        assert not Path(f"{out}.spill").exists()
        assert out.stat().st_size > 1 << 20
        cap = sysnb.open_capture(out, strict=True)
        assert len(cap.filter("evt.type=getppid").events) > 10_000
        assert "stopped to keep room" in (read_note(str(out)) or {}).get("stop_reason", "")
        if shutil.which("sysdig"):
            head = subprocess.run(["sysdig", "-r", str(out), "-n", "10", "evt.type=getppid"], capture_output=True,
                                  text=True, check=True).stdout
            assert "getppid" in head

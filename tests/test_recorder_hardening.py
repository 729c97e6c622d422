"""The recorder around its engine, on a fake engine (no BPF, no root): the spill is a named file that a killed
recorder leaves behind and ``sysnb --recover`` turns into the capture; the drop count is stored in the
capture (in a block sysdig 0.29.3 skips) and shown on every open; free space is checked before and during
the recording; the "recording to" message comes before the clock starts."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fake_recorder import MARKER, fake_section, use_fake_engine

import sysnb
from sysnb.cli import main
from sysnb.errors import SysnbError
from sysnb.record import recover as recover_mod
from sysnb.record import space
from sysnb.record.note import NOTE_TYPE, note_block, parse_note, read_note
from sysnb.record.recorder import Recording, RecordingNotWritten, record
from sysnb.record.recover import recover, scan

HERE = Path(__file__).parent
MARKER_FILTER = f"evt.type=write and evt.buffer contains {MARKER.decode()}"


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _record(tmp_path: Path, name: str = "out.scap", seconds: float = 0.3, **kw: object) -> Path:
    out = tmp_path / name
    record(str(out), seconds, **kw)  # type: ignore[arg-type]
    return out


# -- the spill ---------------------------------------------------------------------------------------------------

def test_spill_is_a_named_file_next_to_the_output_removed_after_stop(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_engine(monkeypatch)
    out = tmp_path / "out.scap.gz"
    rec = Recording(str(out))
    assert rec.spill_path == f"{out}.spill" and os.path.getsize(rec.spill_path) > 0  # start frame: at once
    stats = rec.stop()
    assert not os.path.exists(rec.spill_path)
    assert stats.records > 0
    cap = sysnb.open_capture(out)
    assert len(cap.filter(MARKER_FILTER).events) >= 1


def test_a_spill_left_behind_is_never_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = use_fake_engine(monkeypatch)
    out = tmp_path / "out.scap"
    Path(f"{out}.spill").write_bytes(b"an interrupted recording")
    with pytest.raises(SysnbError, match=r"--recover .*out\.scap\.spill"):
        Recording(str(out))
    assert Path(f"{out}.spill").read_bytes() == b"an interrupted recording"
    assert not opened  # refused before the engine was loaded


KILLED = textwrap.dedent("""
    import os, signal, sys, time
    sys.path.insert(0, {tests!r})
    import pytest
    from fake_recorder import use_fake_engine
    from sysnb.record.recorder import Recording
    mp = pytest.MonkeyPatch()
    use_fake_engine(mp, lost_per_drain=2)
    rec = Recording({out!r})
    while rec.stats.records < 5000:
        time.sleep(0.01)
    time.sleep(0.2)  # the spill thread writes what was drained
    print("recording", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def _killed_recording(tmp_path: Path, name: str = "killed.scap.gz") -> Path:
    out = tmp_path / name
    proc = subprocess.run([sys.executable, "-c", KILLED.format(tests=str(HERE), out=str(out))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not out.exists() and Path(f"{out}.spill").exists()
    return out


def test_killed_recording_is_recovered_with_sysnb_recover(tmp_path: Path) -> None:
    out = _killed_recording(tmp_path)
    spill = f"{out}.spill"
    code, _, err = run_cli(["--recover", spill])
    assert code == 0, err
    assert "recovered" in err and "at least" in err  # no end frame: the drops the records carry
    assert not os.path.exists(spill)
    cap = sysnb.open_capture(out)
    assert len(cap.filter(MARKER_FILTER).events) >= 1
    note = cap.provenance.extra["recorder"]
    assert note["recovered"] is True and note["drops_exact"] is False
    assert note["drops"] > 0 and note["drops"] % 2 == 0  # 2 lost per drain, carried by the records
    assert note["syscalls"] >= 5000
    code, _, err = run_cli(["-r", str(out), "-q"])
    assert code == 0 and "at least" in err and "recovered from the spill" in err


def test_recover_writes_elsewhere_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = _killed_recording(tmp_path, "k.scap")
    spill = f"{out}.spill"
    out.write_bytes(b"")  # the 0-byte file of a recorder killed while it wrote the capture
    code, _, err = run_cli(["--recover", spill])
    assert code == 1 and "exists" in err and "-w" in err and os.path.exists(spill)
    other = tmp_path / "other.scap.gz"
    code, _, err = run_cli(["--recover", spill, "-w", str(other)])
    assert code == 0, err
    assert len(sysnb.open_capture(other).filter(MARKER_FILTER).events) >= 1


def test_recover_keeps_whole_frames_of_a_spill_cut_mid_frame(tmp_path: Path) -> None:
    out = _killed_recording(tmp_path, "cut.scap")
    spill = Path(f"{out}.spill")
    with spill.open("rb") as f:
        found = scan(f)
    with spill.open("r+b") as f:
        f.truncate(found.whole_bytes - 100)  # the last frame is now incomplete
    done = recover(str(spill))
    assert 0 < done.records < found.records and done.partial_bytes > 0
    assert len(sysnb.open_capture(out).filter(MARKER_FILTER).events) >= 1


def test_recover_refuses_what_is_not_an_abandoned_spill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    junk = tmp_path / "junk.spill"
    junk.write_bytes(os.urandom(5000))
    with pytest.raises(SysnbError, match="not a sysnb spill"):
        recover(str(junk))
    with pytest.raises(SysnbError, match="cannot read"):
        recover(str(tmp_path / "missing.spill"))
    use_fake_engine(monkeypatch)
    rec = Recording(str(tmp_path / "running.scap"))
    try:
        with pytest.raises(SysnbError, match="still running"):
            recover(rec.spill_path)
    finally:
        rec.stop()


# -- the drop count in the capture --------------------------------------------------------------------------------

def test_drop_count_is_stored_in_the_capture_and_shown_on_every_open(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    opened = use_fake_engine(monkeypatch, lost_per_drain=3)
    out = _record(tmp_path, "drops.scap.gz")
    note = read_note(str(out))
    assert note is not None
    assert note["drops"] == opened[0].drops > 0 and note["drops_exact"] is True
    assert note["drops_per_cpu"] == [opened[0].drops, 0] and note["engine"] == "fake"
    for _ in range(2):  # built, then from the cache
        cap = sysnb.open_capture(out)
        assert cap.provenance.extra["recorder"]["drops"] == opened[0].drops
        code, _, err = run_cli(["-r", str(out), "-q"])
        assert code == 0 and f"dropped {opened[0].drops:,} of" in err
    assert "drops" in cap._repr_html_()


def test_a_recording_without_drops_opens_without_a_note_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_engine(monkeypatch)
    out = _record(tmp_path)
    assert read_note(str(out))["drops"] == 0  # type: ignore[index]
    code, _, err = run_cli(["-r", str(out), "-q"])
    assert code == 0 and "note" not in err


def _without_note(data: bytes) -> bytes:
    """The capture bytes with the note block cut out."""
    pos = struct.unpack_from("<I", data, 4)[0]
    while True:
        btype, blen = struct.unpack_from("<II", data, pos)
        if btype == NOTE_TYPE:
            return data[:pos] + data[pos + blen:]
        pos += blen


def test_sysdig_prints_a_capture_with_the_note_exactly_as_without(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    sysdig = shutil.which("sysdig")
    if sysdig is None:
        pytest.skip("sysdig 0.29.3 is not installed (apt-get install sysdig)")
    use_fake_engine(monkeypatch, lost_per_drain=1)
    out = _record(tmp_path)
    bare = tmp_path / "bare.scap"
    bare.write_bytes(_without_note(out.read_bytes()))
    assert read_note(str(bare)) is None and read_note(str(out)) is not None
    for args in ([], ["-S", "-q"], ["-j"]):
        want = subprocess.run([sysdig, "-r", str(bare), *args], capture_output=True, check=True).stdout
        got = subprocess.run([sysdig, "-r", str(out), *args], capture_output=True, check=True)
        assert got.stdout == want and got.stderr == b"" and len(want) > 100, args
    assert run_cli(["-r", str(out)])[1] == run_cli(["-r", str(bare)])[1]


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"kind": "other"}', b"\xff" * 100,
                                  json.dumps({"kind": "sysnb-recorder", "drops": -5, "syscalls": "many",
                                              "drops_per_cpu": [1, "x"], "stop_reason": "<b>x</b>" * 1000,
                                              "seconds": float("inf")}).encode()])
def test_a_hostile_note_is_ignored_or_checked(body: bytes) -> None:
    note = parse_note(body)
    if note is not None:
        assert "drops" not in note and "syscalls" not in note and "drops_per_cpu" not in note
        assert "seconds" not in note and len(note.get("stop_reason", "")) <= 500


def test_a_note_claiming_to_be_huge_is_not_read(tmp_path: Path) -> None:
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 2, -1) + struct.pack("<I", 28)
    bad = tmp_path / "bad.scap"
    bad.write_bytes(shb + struct.pack("<II", NOTE_TYPE, 0xFFFFFFF0) + b"{}")
    assert read_note(str(bad)) is None
    good = tmp_path / "good.scap"
    good.write_bytes(shb + note_block({"drops": 1}))
    assert read_note(str(good)) == {"drops": 1}


# -- free space ---------------------------------------------------------------------------------------------------

def test_too_little_space_refuses_to_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = use_fake_engine(monkeypatch)
    monkeypatch.setattr(space, "free_bytes", lambda folder: 10 << 20)
    with pytest.raises(space.NotEnoughSpace, match="10 MB free"):
        Recording(str(tmp_path / "x.scap"))
    assert not opened and not list(tmp_path.iterdir())


def test_recording_into_a_missing_folder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = use_fake_engine(monkeypatch)
    with pytest.raises(SysnbError, match=r"cannot record into .*nowhere: No such file"):
        Recording(str(tmp_path / "nowhere" / "x.scap"))
    assert not opened


def test_recording_stops_before_the_disk_is_full_and_keeps_what_it_recorded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The free space shrinks as the spill grows; the recording stops by itself, says why, and writes the
    capture of everything recorded until then."""
    use_fake_engine(monkeypatch)
    disk = 96 << 20
    spills: list[Path] = []

    def free_bytes(folder: str) -> int:
        used = sum(p.stat().st_size for p in spills if p.exists()) * 40  # as if the disk were 40x busier
        return max(disk - used, 0)

    monkeypatch.setattr(space, "free_bytes", free_bytes)
    said: list[str] = []
    out = tmp_path / "full.scap"
    rec = Recording(str(out), notify=said.append)
    spills.append(Path(rec.spill_path))
    deadline = 600
    while not rec.stopping and deadline:
        __import__("time").sleep(0.05)
        deadline -= 1
    stats = rec.stop()
    assert rec.stopping and stats.stop_reason and "recording stopped to keep room" in stats.stop_reason
    assert any("what was recorded is kept" in s for s in said)
    assert not Path(rec.spill_path).exists()
    cap = sysnb.open_capture(out)
    assert len(cap.filter(MARKER_FILTER).events) >= 1
    assert "stopped to keep room" in read_note(str(out))["stop_reason"]  # type: ignore[index]
    assert "stopped early" in run_cli(["-r", str(out), "-q"])[2]


def test_a_capture_that_cannot_be_written_leaves_the_spill_not_a_broken_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_engine(monkeypatch)
    out = tmp_path / "enospc.scap"
    rec = Recording(str(out))
    __import__("time").sleep(0.2)

    def full(self: object, table: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(recover_mod.ScapWriter, "write_events", full)
        with pytest.raises(RecordingNotWritten, match=r"No space left.*--recover"):
            rec.stop()
    assert not out.exists() and os.path.exists(rec.spill_path)
    done = recover(rec.spill_path)  # room again
    assert done.drops_exact and done.records == rec.stats.records
    assert len(sysnb.open_capture(out).filter(MARKER_FILTER).events) >= 1


def test_a_spill_that_cannot_be_written_stops_the_recording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sysnb.record import spill as spill_mod

    use_fake_engine(monkeypatch)
    real = spill_mod.write_frame
    frames = [0]

    def fails_later(f, *frame):  # type: ignore[no-untyped-def]
        frames[0] += 1
        if frames[0] > 20:
            f.write(b"partial frame")
            raise OSError(errno.ENOSPC, "No space left on device")
        real(f, *frame)

    monkeypatch.setattr(spill_mod, "write_frame", fails_later)
    out = tmp_path / "spillfull.scap"
    rec = Recording(str(out), notify=lambda s: None)
    while not rec.stopping:
        __import__("time").sleep(0.02)
    stats = rec.stop()
    assert "writing the spill" in (stats.stop_reason or "")
    assert len(sysnb.open_capture(out).filter(MARKER_FILTER).events) == 20


# -- the announcement --------------------------------------------------------------------------------------------

def test_recording_is_announced_before_the_clock_and_the_snapshot(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Under load the /proc snapshot takes seconds: the message must not wait for it, and the duration must
    count from the message."""
    from fake_recorder import fake_section

    from sysnb.record import recorder

    use_fake_engine(monkeypatch)
    order: list[str] = []
    clock = [1000.0]
    monkeypatch.setattr(recorder, "_clock", lambda: clock[0])

    def slow_snapshot() -> object:
        order.append("snapshot")
        clock[0] += 3.0  # the snapshot takes 3 s
        return fake_section()

    monkeypatch.setattr(recorder, "take_snapshot", slow_snapshot)
    rec = Recording(str(tmp_path / "a.scap"), announce=lambda r: order.append("announce"))
    try:
        assert order == ["announce", "snapshot"]
        assert rec.elapsed() == 3.0  # the clock started at the announcement, not after the snapshot
    finally:
        rec.stop()


def test_a_process_reserving_terabytes_does_not_break_the_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen on CI beside chromium: VmSize above 2^32 kB made the process list unwritable (struct.error), at the
    start of every recording."""
    from sysnb.record import snapshot
    from sysnb.scap.writer import section_bytes

    status = {"Name": "chrome", "PPid": "1", "Uid": "0 0 0 0", "Gid": "0 0 0 0", "VmSize": "17592186044416 kB",
              "VmRSS": "123 kB", "VmSwap": "0 kB"}
    monkeypatch.setattr(snapshot, "_status", lambda pid, tid: status)
    t = snapshot._thread(os.getpid(), os.getpid())
    assert t is not None and t.vmsize_kb == 0xFFFFFFFF and t.vmrss_kb == 123
    section = fake_section()
    section.threads.append(t)
    assert section_bytes(section)


@pytest.mark.skipif(shutil.which("sysdig") is None, reason="needs sysdig 0.29.3 (apt-get install sysdig)")
def test_a_process_with_a_rewritten_command_line_does_not_make_the_capture_unreadable(tmp_path: Path) -> None:
    """A browser rewrites its command line without NULs: its exe (argv[0]) was 1,366 bytes and sysdig 0.29.3
    refused the whole recording ("invalid exelen 1366"). Strings are cut to libscap's limits, as libscap cuts
    what it reads from /proc."""
    from dataclasses import replace

    from sysnb.scap.blocks import ThreadEntry
    from sysnb.scap.writer import section_bytes

    section = fake_section()
    base = ThreadEntry(tid=4242, pid=4242, ptid=1, comm="chromium", exe="x" * 1366, exepath="/" + "p" * 2000,
                       args=["--type=renderer " * 500], cwd="/" + "c" * 1500)
    section.threads.append(replace(base, root="/" + "r" * 1500, env=["A=" + "v" * 9000]))
    out = tmp_path / "long.scap"
    out.write_bytes(section_bytes(section))
    proc = subprocess.run(["sysdig", "-r", str(out)], capture_output=True, text=True, timeout=120)
    # the metadata is accepted (it used to be "invalid exelen 1366"); the file simply has no event
    assert "invalid" not in proc.stderr and "no events in file" in proc.stderr, proc.stderr
    assert sysnb.open_capture(out).provenance.error is None

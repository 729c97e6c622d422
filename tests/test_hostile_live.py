"""A hostile program recorded by the eBPF recorder (root + BTF; skipped with the reason elsewhere): the names,
paths, arguments and bytes it chooses reach the table exactly, and every display shows them escaped.

The program runs as python through a symlink named with an OSC title sequence and markup (its comm, as the
kernel sets it at execve), creates a file whose name holds an <img onerror> tag, CSI and a bidi override,
writes a script tag and terminal sequences into it, and execs /bin/true with hostile arguments. The committed
fixture (tests/hostile/) covers the same payloads without root; this shows the recorder's own output is
displayed as safely.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_hostile import Parsed, as_html, check_html, run_tty

import sysnb

pytestmark = pytest.mark.live

COMM = b"\x1b]0;pw\x07<b>bold"  # the comm the kernel takes from the executable's name: at most 15 bytes, no "/"
FILE = b"x<img src=x onerror=alert(1)>\x1b[2J\xe2\x80\xaetxt.sh"
DATA = b"<script>alert(2)</script>\x1b]0;title\x07\r\nfake line"
ARGS = [b"arg\x1b]0;t\x07", b"<img src=y onerror=alert(3)>"]
PROGRAM = f"""
import json, os, subprocess, sys
path = os.path.join(sys.argv[1].encode(), {FILE!r})
fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, {DATA!r})
os.close(fd)
os.unlink(path)
child = subprocess.run([b"/bin/true", *{ARGS!r}])
print(json.dumps({{"pid": os.getpid()}}))
"""


def _unavailable() -> str | None:
    try:
        from sysnb.record.engine import preflight

        preflight("core")
    except Exception as e:  # any reason the recorder cannot run is the skip reason
        return str(e)
    return None


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[sysnb.Capture, int, Path]:
    reason = _unavailable()
    if reason:
        pytest.skip(f"live capture unavailable here: {reason}")
    from sysnb.record.recorder import Recording

    work = tmp_path_factory.mktemp("hostile-live")
    path = work / "hostile-live.scap"
    program = os.path.join(os.fsencode(work), COMM)
    os.symlink(sys.executable, program)
    rec = Recording(str(path), syscalls=["openat", "write", "unlinkat", "execve"])  # and what state needs
    try:
        out = subprocess.run([program, b"-c", PROGRAM.encode(), os.fsencode(work)], capture_output=True,
                             check=True, timeout=120).stdout
    finally:
        rec.stop()
    pid = int(json.loads(out)["pid"])
    mine = sysnb.open_capture(path).filter(f"proc.pid={pid} or proc.ppid={pid}")
    subset = work / "mine.scap"
    mine.save(subset)  # the program's events (+ state), small enough for every display path
    return sysnb.open_capture(subset), pid, subset


def test_the_recorder_keeps_the_hostile_strings(recorded: tuple[sysnb.Capture, int, Path]) -> None:
    cap, pid, _ = recorded
    names = set(cap.filter(f"proc.pid={pid}").events["proc.name"].cast("string").to_pylist())
    assert COMM.decode() in names
    writes = cap.filter(f"proc.pid={pid} and evt.type=write and evt.dir=<").events
    assert any(DATA in (b or b"") for b in writes["evt.buffer"].to_pylist())
    opened = cap.filter(f"proc.pid={pid} and evt.type=openat and evt.dir=<").events["fd.name"].cast("string")
    assert any("onerror=alert(1)" in (n or "") for n in opened.to_pylist())
    args = cap.filter("evt.type=execve and evt.dir=< and proc.exe=/bin/true").events["proc.args"].to_pylist()
    assert any("<img src=y onerror=alert(3)>" in (a or "") for a in args)


def test_the_terminal_shows_the_recording_escaped(recorded: tuple[sysnb.Capture, int, Path]) -> None:
    _, pid, subset = recorded
    out = run_tty("-r", str(subset), "-p", "*%proc.name %proc.args %fd.name %evt.buffer",
                  f"proc.pid={pid} or proc.ppid={pid}")
    assert "^[]0;pw^G<b>bold" in out and "<img src=y onerror=alert(3)>" in out
    assert not set(out) & {"\x1b", "\x07", "\r", "\u202e"}


def test_html_views_of_the_recording_have_no_live_elements(recorded: tuple[sysnb.Capture, int, Path]) -> None:
    from sysnb.views.widget import Explorer

    cap, _, _ = recorded
    docs = [cap._repr_html_(), cap.chisel("topfiles_bytes")._repr_html_(), cap.chisel("spy_file")._repr_html_(),
            Explorer(cap).static_html()]
    for doc in docs:
        out = as_html(doc)
        assert isinstance(out.parsed, Parsed)
        for name, payload in (("script", DATA), ("osc-title", COMM), ("bidi", FILE)):
            check_html(out, name, payload)
    shown = " ".join(docs)
    assert "^[]0;pw^G&lt;b&gt;bold" in shown

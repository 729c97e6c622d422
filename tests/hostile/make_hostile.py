"""Generate ``hostile.scap``: a small capture whose every attacker-chosen string is a hostile payload.

An attacker on the recorded host chooses process names, executable paths, arguments, working directories,
file names and the bytes a process writes. This capture puts one payload (``PAYLOADS``) in each of those
places, for one process per payload, so every display path (the CLI, -p, -A, -X, -j, chisels, the
overview, the explorer, charts, the exported report) can be checked against all of them:

* pid 1000+i starts (process list) as ``init<i>`` with a hostile exe, args and cwd;
* it execs: execve exit with comm, exe, args and cwd = the payload (so proc.name is the payload);
* it opens ``/tmp/<payload>`` (openat), writes the payload plus control bytes to it, and closes it;
* it unlinks ``/tmp/<payload>``;
* the host name (machine info) is ``HOSTNAME``, shown by the overview.

Written with sysnb's own writer (``sysnb/scap/writer.py``), using the 2022 parameter lists so sysdig
0.29.3 reads the file too. Deterministic: running it again gives the same bytes.

    python tests/hostile/make_hostile.py      # rewrites tests/hostile/hostile.scap
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pyarrow as pa

from sysnb.scap import blocks as B
from sysnb.scap.events import EVENTS
from sysnb.scap.reader import Section
from sysnb.scap.writer import ScapWriter

HERE = Path(__file__).parent
OUT = HERE / "hostile.scap"

#: (name, raw bytes): what an attacker can put in a name, an argument or a buffer
PAYLOADS: tuple[tuple[str, bytes], ...] = (
    ("script", b"x</script><img src=x onerror=alert(document.domain)>"),
    ("attr", b"\"'><svg onload=alert(1)>"),
    ("osc-title", b"\x1b]0;pwned\x07title"),
    ("csi", b"\x1b[2J\x1b[31mred\x1b[0m"),
    ("c1-csi", b"\xc2\x9b31mc1"),
    ("bell-cr", b"ok\x07\rfake\x08\x7f"),
    ("bidi", "exe\u202etxt.sh".encode()),
    ("not-utf8", b"bad\xff\xfe\x9bbytes"),
    ("newline", b"a\nb 1 fake line"),
    ("json", b"\"}</script><!--]]>"),
)

HOSTNAME = "h</script><img src=x onerror=alert(document.domain)>\x1b]0;pwned\x07"
START_NS = 1_700_000_000_000_000_000
_INT = {"FD": "<q", "ERRNO": "<q", "PID": "<q", "INT64": "<q", "UINT64": "<Q", "ABSTIME": "<Q", "UINT32": "<I",
        "INT32": "<i", "FLAGS32": "<I", "UID": "<I", "GID": "<I", "MODE": "<I", "UINT16": "<H", "FLAGS16": "<H",
        "UINT8": "<B", "FLAGS8": "<B", "SIGTYPE": "<B", "ENUMFLAGS8": "<B"}
_TYPE_IDS = {(e.name_2022, e.direction): e.id for e in EVENTS if e.known_2022 and "OLD_VERSION" not in e.flags_2022}


def encode(etype: int, **values: int | bytes) -> list[bytes]:
    """The raw parameters of an event, in its 2022 order: integers packed, strings NUL-terminated."""
    out = []
    for name, ptype, _fmt, _info in EVENTS[etype].params_2022:
        v = values.get(name, 0)
        if isinstance(v, bytes):
            out.append(v if ptype == "BYTEBUF" else v + b"\0")
        elif ptype in _INT:
            out.append(struct.pack(_INT[ptype], v))
        else:
            out.append(b"\0" if ptype in ("CHARBUF", "FSPATH", "FSRELPATH") else b"")
    return out


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def section() -> Section:
    s = Section(0, (1, 2), machine=B.MachineInfo(num_cpus=1, memory_bytes=1 << 30, max_pid=32768,
                                                   hostname=HOSTNAME))
    for i, (_, p) in enumerate(PAYLOADS):
        pid = 1000 + i
        s.threads.append(B.ThreadEntry(pid, pid, 1, sid=0, vpgid=0, comm=f"init{i}", exe=_text(b"/usr/bin/" + p),
                                       exepath=_text(b"/usr/bin/" + p), args=[_text(p)], cwd=_text(b"/tmp/" + p),
                                       fdlimit=1024, vtid=pid, vpid=pid))
    s.threads.append(B.ThreadEntry(1, 1, 0, sid=0, vpgid=0, comm="init", exe="/sbin/init", exepath="/sbin/init",
                                   cwd="/", fdlimit=1024, vtid=1, vpid=1))
    s.users.append(B.UserEntry(0, 0, "root", "/root", "/bin/sh"))
    s.groups[0] = "root"
    return s


def events() -> list[tuple[int, int, list[bytes]]]:
    """(tid, type, params) of every event, in order."""
    ev = _TYPE_IDS
    out: list[tuple[int, int, list[bytes]]] = []
    for i, (_, p) in enumerate(PAYLOADS):
        tid = 1000 + i
        path = b"/tmp/" + p
        data = p + b"\0\x1b[0m<b>bold</b>\r\n" + p
        out += [
            (tid, ev["execve", ">"], encode(ev["execve", ">"], filename=b"/usr/bin/" + p)),
            (tid, ev["execve", "<"], encode(ev["execve", "<"], exe=b"/usr/bin/" + p, args=p + b"\0--x=" + p + b"\0",
                                            tid=tid, pid=tid, ptid=1, cwd=path, fdlimit=1024, comm=p,
                                            env=b"HOME=" + p + b"\0", loginuid=-1)),
            (tid, ev["openat", ">"], encode(ev["openat", ">"], dirfd=-100, name=path, flags=0x206, mode=0o644)),
            (tid, ev["openat", "<"], encode(ev["openat", "<"], fd=3, dirfd=-100, name=path, flags=0x206,
                                            mode=0o644)),
            (tid, ev["write", ">"], encode(ev["write", ">"], fd=3, size=len(data))),
            (tid, ev["write", "<"], encode(ev["write", "<"], res=len(data), data=data)),
            (tid, ev["close", ">"], encode(ev["close", ">"], fd=3)),
            (tid, ev["close", "<"], encode(ev["close", "<"], res=0)),
            (tid, ev["unlinkat", ">"], encode(ev["unlinkat", ">"])),
            (tid, ev["unlinkat", "<"], encode(ev["unlinkat", "<"], res=0, dirfd=-100, name=path)),
        ]
    return out


def table() -> pa.Table:
    rows = events()
    return pa.table({
        "evt.cpu": pa.array([0] * len(rows), pa.uint16()),
        "sysnb.evt_flags": pa.array([0] * len(rows), pa.uint32()),
        "evt.rawtime": pa.array([START_NS + 1000 * n for n in range(len(rows))], pa.uint64()),
        "thread.tid": pa.array([tid for tid, _, _ in rows], pa.int64()),
        "sysnb.type_id": pa.array([t for _, t, _ in rows], pa.uint16()),
        "sysnb.params": pa.array([p for _, _, p in rows], pa.list_(pa.binary())),
    })


def write(path: Path = OUT) -> Path:
    with ScapWriter(str(path), compress=False) as w:
        w.write_section(section())
        w.write_events(table())
    return path


if __name__ == "__main__":
    print(write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))

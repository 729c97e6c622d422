#!/usr/bin/env python3
"""Live printing under a syscall-heavy host (root, BPF): does ``sysnb -M SECONDS FILTER`` keep up?

The host load is the one #14 names: two ``benchmarks/syscall_loop.c`` loops (getppid in a tight loop) plus an
opener (``cat /etc/hostname`` every 20 ms), from the recorder's announcement to the recording's end (-M).
sysnb prints the opener's ``openat`` events. For each round the table gives:

* syscalls recorded per second and the drops the recorder counted (its own counters, from ``-v``);
* the printing lag: how long after the recording's end (-M) the last line was printed;
* the exit: how long after the recording's end sysnb exited (the evidence .scap is written after printing);
* the CPU time (user + system) of the sysnb process alone (``os.wait4``) and its peak RSS.

Wall-clock figures depend on the load of this shared VM; the loops take both of its CPUs, so the printer
competes with the load it records. Timings are reported, never asserted.

Usage: sudo .venv/bin/python benchmarks/bench_live.py [--rounds 3] [--seconds 8] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_core import emit

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
FILTER = "evt.type=openat and proc.name=cat"
_SUMMARY = re.compile(r"([\d,]+) syscalls recorded in ([\d.]+) s .* dropped ([\d,]+)")


def build_loop(tmp: str) -> str:
    cc = shutil.which("cc") or shutil.which("clang")
    if cc is None:
        raise SystemExit("needs cc or clang to build benchmarks/syscall_loop.c")
    out = os.path.join(tmp, "syscall_loop")
    subprocess.run([cc, "-O2", "-o", out, str(HERE / "syscall_loop.c")], check=True)
    return out


def load(loop: str, stop: threading.Event) -> None:
    """Two loops and an opener until ``stop`` (the loops are sized to outlast the recording)."""
    loops = [subprocess.Popen([loop, "100000000"]) for _ in range(2)]
    try:
        while not stop.wait(0.02):
            subprocess.run(["cat", "/etc/hostname"], stdout=subprocess.DEVNULL, check=False)
    finally:
        for p in loops:
            p.kill()
            p.wait()


def round_(loop: str, seconds: float) -> dict[str, float]:
    cmd = [os.environ.get("SYSNB_BIN", str(BIN / "sysnb")), "-v", "-M", str(seconds), FILTER]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started: list[float] = []
    summary: list[str] = []
    stop = threading.Event()

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "recording (" in line and not started:
                started.append(time.monotonic())
                threading.Thread(target=load, args=(loop, stop), daemon=True).start()
                threading.Timer(seconds, stop.set).start()
            if "syscalls recorded" in line:
                summary.append(line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    last, lines = 0.0, 0
    assert proc.stdout is not None
    for _line in proc.stdout:
        last, lines = time.monotonic(), lines + 1
    stop.set()
    _, status, usage = os.wait4(proc.pid, 0)
    ended = time.monotonic()
    reader.join(5)
    m = _SUMMARY.search(summary[0]) if summary else None
    if not started or m is None or status != 0:
        raise SystemExit(f"sysnb did not record (status {status}): {summary}")
    recorded, took, dropped = int(m[1].replace(",", "")), float(m[2]), int(m[3].replace(",", ""))
    end = started[0] + seconds
    return {"rate": recorded / took, "dropped": dropped / max(recorded + dropped, 1), "lines": lines,
            "lag": max(last - end, 0.0), "exit": ended - end, "cpu": usage.ru_utime + usage.ru_stime,
            "rss": usage.ru_maxrss / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_live: needs root (BPF)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        loop = build_loop(tmp)
        rows = [round_(loop, args.seconds) for _ in range(args.rounds)]
    lines = [f"# bench_live {datetime.date.today()}: `sysnb -v -M {args.seconds:g} \"{FILTER}\"`, "
             f"2 syscall loops + an opener, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", "",
             "| round | recorded/s | dropped | lines | printing lag s | exit after s | sysnb CPU s | peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(rows, 1):
        lines.append(f"| {i} | {r['rate'] / 1e6:.2f} M | {r['dropped']:.2%} | {r['lines']:.0f} | {r['lag']:.1f} | "
                     f"{r['exit']:.1f} | {r['cpu']:.1f} | {r['rss']:.0f} |")
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

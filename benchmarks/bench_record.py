#!/usr/bin/env python3
"""Recorder benchmark (root, BPF): what recording costs a syscall-heavy workload and how many syscalls per
second it records without drops. Every configuration runs in this one process, side by side, so the numbers
are ratios against the same baseline (this VM is noisy: +-10 % run to run; the median of --runs is shown).

Workloads (pinned to the last CPU; the recorder's drain thread is free to use the others):
  dd       dd if=/dev/zero of=/dev/null bs=1 count=N   (read+write of 1 byte: 2 syscalls with payload each)
  loop     benchmarks/syscall_loop.c: N getppid()      (built with cc/clang when one is installed)

Configurations: untraced; programs attached but disabled (they return after one map lookup: the cost of
tracing at all); recording without payloads (-s 0); recording with sysdig's default 80-byte payloads; the
same without the sys_enter hook (--no-latency).
Then the rate test: one workload per CPU, everything recorded with payloads: syscalls/s and drops.

    sudo .venv/bin/python benchmarks/bench_record.py [--count 5000000] [--runs 3] [--engine bcc]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from sysnb.record.engine import open_engine
from sysnb.record.recorder import Recording, RecordStats

HERE = Path(__file__).resolve().parent
CPUS = sorted(os.sched_getaffinity(0))


def build_loop(tmp: str) -> str | None:
    cc = shutil.which("cc") or shutil.which("clang")
    if cc is None:
        return None
    out = os.path.join(tmp, "syscall_loop")
    subprocess.run([cc, "-O2", "-o", out, str(HERE / "syscall_loop.c")], check=True)
    return out


def workload(name: str, count: int, loop: str | None) -> list[str]:
    if name == "dd":
        return ["dd", "if=/dev/zero", "of=/dev/null", "bs=1", f"count={count // 2}"]
    assert loop is not None
    return [loop, str(count)]


def settle() -> None:
    """Flush the previous run's files to disk first, so their writeback does not land in this run's time."""
    os.sync()
    time.sleep(0.5)


class Timing(NamedTuple):
    wall: float  # seconds from start to the last command's exit
    cpu: float   # user + system CPU seconds of the commands (BPF program time included; the VM's steal time not)


def run(cmds: list[list[str]]) -> Timing:
    """The commands started together, each pinned to its own CPU (from the last one down)."""
    settle()
    t = time.perf_counter()
    procs = [subprocess.Popen(["taskset", "-c", str(CPUS[-1 - i % len(CPUS)]), *c], stderr=subprocess.DEVNULL)
             for i, c in enumerate(cmds)]
    cpu = 0.0
    for p in procs:
        _, _, usage = os.wait4(p.pid, 0)
        p.returncode = 0
        cpu += usage.ru_utime + usage.ru_stime
    return Timing(time.perf_counter() - t, cpu)


def recorded(cmds: list[list[str]], snaplen: int, tmp: str, engine: str,
             latency: bool = True) -> tuple[Timing, RecordStats, float]:
    rec = Recording(os.path.join(tmp, "bench.scap"), snaplen=snaplen, latency=latency, engine=engine)
    try:
        took = run(cmds)
    finally:
        rec.halt()
    t = time.perf_counter()
    stats = rec.stop()
    return took, stats, time.perf_counter() - t


def attached_disabled(cmds: list[list[str]], engine_name: str) -> Timing:
    engine = open_engine(engine_name)
    engine.pause()
    try:
        return run(cmds)
    finally:
        engine.close()


RECORDINGS = (("recording, no payloads (-s 0)", 0, True), ("recording, 80-byte payloads (default)", 80, True),
              ("recording, 80-byte payloads, --no-latency", 80, False))


def overhead_table(name: str, cmd: list[str], runs: int, tmp: str, engine: str) -> None:
    """Every configuration once per round, ``runs`` rounds: a slow spell of this noisy VM then hits all of
    them alike instead of one configuration's consecutive runs."""
    base: list[Timing] = []
    empty: list[Timing] = []
    results: list[list[tuple[Timing, RecordStats, float]]] = [[] for _ in RECORDINGS]
    for _ in range(runs):
        base.append(run([cmd]))
        empty.append(attached_disabled([cmd], engine))
        for out, (_, snaplen, latency) in zip(results, RECORDINGS, strict=True):
            out.append(recorded([cmd], snaplen, tmp, engine, latency))
    print(f"\n{name}: `{' '.join(cmd)}` (median of {runs} rounds; slowdown = time / untraced time, wall clock "
          "and the workload's CPU time)\n")
    print("| configuration | workload s | slowdown (wall) | per round | slowdown (CPU time) | per round | "
          "syscalls recorded/s | dropped |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| untraced | {statistics.median(t.wall for t in base):.2f} | 1.00x | - | 1.00x | - | - | - |")
    print(f"| programs attached, disabled | {_row(empty, base)} | - | - |")
    for (label, _, _), rs in zip(RECORDINGS, results, strict=True):
        took = [r[0] for r in rs]
        rate = statistics.median(r[1].records / r[0].wall for r in rs)
        drops = "/".join(str(r[1].drops) for r in rs)
        print(f"| {label} | {_row(took, base)} | {rate / 1e6:.2f} M | {drops} |")


def _row(took: list[Timing], base: list[Timing]) -> str:
    """Median wall time, then the median slowdown and each round's (over that round's untraced run), for
    wall clock and CPU time."""
    cells = [f"{statistics.median(t.wall for t in took):.2f}"]
    for kind in ("wall", "cpu"):
        ratios = [getattr(t, kind) / getattr(b, kind) for t, b in zip(took, base, strict=True)]
        cells += [f"{statistics.median(ratios):.2f}x", " ".join(f"{r:.2f}" for r in ratios)]
    return " | ".join(cells)


def rate_table(name: str, cmd: list[str], runs: int, tmp: str, engine: str) -> None:
    cmds = [cmd] * len(CPUS)
    print(f"\nrate: {len(cmds)} x `{' '.join(cmd)}` at once, one per CPU, recorded with 80-byte payloads "
          "(default settings)\n")
    print("| run | workload s | syscalls recorded | recorded/s | dropped | writing the .scap took |")
    print("|---|---|---|---|---|---|")
    for i in range(runs):
        timing, stats, tail = recorded(cmds, 80, tmp, engine)
        took = timing.wall
        pct = 100 * stats.drops / max(stats.drops + stats.records, 1)
        print(f"| {i + 1} | {took:.2f} | {stats.records:,} | {stats.records / took / 1e6:.2f} M | "
              f"{stats.drops:,} ({pct:.2f} %) | {tail:.1f} s |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10_000_000, help="syscalls per workload (default 10 M)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", choices=("dd", "loop"), help="one workload only")
    ap.add_argument("--tables", default="overhead,rate", help="which tables: overhead, rate (default both)")
    ap.add_argument("--engine", choices=("core", "bcc"), default="core", help="the recorder engine (default core)")
    ap.add_argument("--dir", help="where the spill and the .scap go (default: a temporary directory on the "
                                  "disk; /dev/shm takes the disk out of the measurement)")
    args = ap.parse_args()
    tables = args.tables.split(",")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        loop = build_loop(tmp)
        names = [n for n in ("dd", "loop") if args.only in (None, n) and (n == "dd" or loop)]
        print(f"sysnb recorder benchmark ({args.engine} engine): {len(CPUS)} CPUs, {os.uname().release}, "
              f"{args.count:,} syscalls per workload")
        print(f"files in {tmp}")
        for name in names if "overhead" in tables else []:
            overhead_table(name, workload(name, args.count, loop), args.runs, tmp, args.engine)
        for name in names if "rate" in tables else []:
            rate_table(name, workload(name, args.count, loop), args.runs, tmp, args.engine)


if __name__ == "__main__":
    main()

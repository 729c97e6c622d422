#!/usr/bin/env python3
"""Recorder overhead (root): how much slower a syscall-heavy workload runs while sysnb records, and
whether anything was dropped. "0 drops" alone can hide throttling, so the slowdown is printed with it.

    sudo python benchmarks/bench_record.py [--count 1000000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time

from sysnb.record.recorder import Recording


def dd(count: int, bs: int) -> float:
    t = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", "of=/dev/null", f"bs={bs}", f"count={count}"], check=True,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1_000_000)
    args = ap.parse_args()
    for bs in (1, 4096):
        base = min(dd(args.count, bs) for _ in range(3))
        with tempfile.TemporaryDirectory() as tmp:
            rec = Recording(os.path.join(tmp, "bench.scap"))
            traced = dd(args.count, bs)
            t = time.perf_counter()
            stats = rec.stop()
            tail = time.perf_counter() - t
            size = os.path.getsize(os.path.join(tmp, "bench.scap"))
        rate = stats.records / traced
        print(f"dd bs={bs} count={args.count}: {base:.2f} s alone, {traced:.2f} s recorded "
              f"({traced / base:.2f}x); {stats.records} syscalls ({rate / 1e6:.2f} M/s), drops {stats.drops} "
              f"({100 * stats.drops / max(stats.drops + stats.records, 1):.2f} %); finishing the file took "
              f"{tail:.2f} s; {size / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()

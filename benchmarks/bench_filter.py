"""Filtering the 128 MiB benchmark capture: sysdig 0.29.3 vs sysnb (first open and cached), side by side.

Ratios are sysdig time / sysnb time (above 1: sysnb is faster). The CLI pays Python start-up and opening the
cached table on every run; "in-process" is the filter on an opened capture, as in a notebook.
Each command prints the matching event numbers (``-p %evt.num FILTER``) to /dev/null. Uses the input of
bench_core.py (mpm-event_full_capture.scap x 50). Timings are reported, never asserted.
Usage: python benchmarks/bench_filter.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench_core import make_input

FILTERS = [
    "proc.name=httpd and evt.type=accept",
    "fd.typechar=4 and fd.sport=80",
    "evt.type in (open, openat) and fd.name startswith /usr",
    "evt.failed=true and not evt.type=futex",
]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main() -> int:
    if shutil.which("sysdig") is None:
        print("needs sysdig 0.29.3", file=sys.stderr)
        return 1
    f = str(make_input(50))
    cache = tempfile.mkdtemp(prefix="sysnb-bench-cache-")
    env = dict(os.environ, TZ="UTC", SYSNB_CACHE_DIR=cache)
    sysnb = [sys.executable, "-m", "sysnb", "-r", f, "-p", "%evt.num"]
    cold = timed([*sysnb, FILTERS[0]], env)
    print(f"sysnb first open (builds and caches the table) with {FILTERS[0]!r}: {cold:.2f} s")
    os.environ["SYSNB_CACHE_DIR"] = cache
    import sysnb as lib
    from sysnb.filter import compile_filter

    t = time.perf_counter()
    cap = lib.open_capture(f)
    print(f"sysnb.open_capture (cached: sha256 + memory map): {time.perf_counter() - t:.2f} s")
    print(f"{'filter':58s} {'sysdig s':>9s} {'sysnb CLI s':>12s} {'ratio':>6s} {'in-process ms':>14s} {'ratio':>6s}")
    for flt in FILTERS:
        ref = timed(["sysdig", "-r", f, "-p", "%evt.num", flt], env)
        ours = timed([*sysnb, flt], env)
        c = compile_filter(flt)
        runs = []
        for _ in range(3):  # best of three: the first call also pages the memory-mapped columns in
            t = time.perf_counter()
            cap.table["evt.num"].filter(c.mask(cap.table))  # the matching evt.num, what the CLI prints
            runs.append(time.perf_counter() - t)
        lib_s = min(runs)
        print(f"{flt:58s} {ref:9.2f} {ours:12.2f} {ref / ours:6.1f} {lib_s * 1000:14.1f} {ref / lib_s:6.0f}")
    shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

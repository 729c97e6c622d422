"""sysnb vs sysdig 0.29.3 on a ~134 MB capture, side by side in one run.

Builds ``benchmarks/data/mpm-event-x50.scap`` by concatenating
``../shared/captures/public/sf-collector/mpm-event_full_capture.scap`` 50 times
(sysdig reads concatenated files), then times, with peak RSS:

* ``sysdig -r FILE -S -q``                  (reference)
* ``sysnb -r FILE -S -q`` cold              (table built, cache empty)
* ``sysnb -r FILE -S -q`` warm              (table from the cache)
* ``sysdig -r FILE`` and ``sysnb -r FILE``     (every line printed, to /dev/null; sysnb warm)

and prints ratios (sysnb / sysdig). Timings are reported, never asserted.
Usage: python benchmarks/bench_read.py [--copies N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
SRC = HERE.parent.parent / "shared" / "captures" / "public" / "sf-collector" / "mpm-event_full_capture.scap"


def make_input(copies: int) -> Path:
    out = HERE / "data" / f"mpm-event-x{copies}.scap"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        data = SRC.read_bytes()
        with open(out, "wb") as f:
            for _ in range(copies):
                f.write(data)
    return out


_WRAP = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
         "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one command (measured by a wrapper process of its own)."""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _WRAP, *cmd], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    return wall, int(out.stdout.strip()) / 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=50)
    args = ap.parse_args()
    if not SRC.exists():
        print(f"needs {SRC}", file=sys.stderr)
        return 1
    if shutil.which("sysdig") is None:
        print("needs sysdig 0.29.3: apt-get install --no-install-recommends sysdig", file=sys.stderr)
        return 1
    f = make_input(args.copies)
    size = f.stat().st_size / 2**20
    cache = tempfile.mkdtemp(prefix="sysnb-bench-cache-")
    env = dict(os.environ, TZ="UTC", SYSNB_CACHE_DIR=cache)
    sysnb = [sys.executable, "-m", "sysnb"]
    rows = []
    rows.append(("sysdig -S -q", *timed(["sysdig", "-r", str(f), "-S", "-q"], env)))
    rows.append(("sysnb -S -q (cold)", *timed([*sysnb, "-r", str(f), "-S", "-q"], env)))
    rows.append(("sysnb -S -q (warm)", *timed([*sysnb, "-r", str(f), "-S", "-q"], env)))
    rows.append(("sysdig -r (print all)", *timed(["sysdig", "-r", str(f)], env)))
    rows.append(("sysnb -r (print, warm)", *timed([*sysnb, "-r", str(f)], env)))
    shutil.rmtree(cache, ignore_errors=True)
    refs = {"-S": rows[0][1], "-r": rows[3][1]}
    print(f"input: {f} ({size:.0f} MiB)")
    print(f"{'command':24s} {'wall s':>8s} {'ratio':>7s} {'peak RSS MiB':>13s}")
    for name, wall, rss in rows:
        ref = refs["-S"] if "-S" in name else refs["-r"]
        print(f"{name:24s} {wall:8.2f} {wall / ref:7.2f} {rss:13.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Queries on a capture against sysdig 0.29.3 (#16): the commands of the issue, side by side, in one run.

Same inputs and method as bench_core.py (big50 = ``mpm-event_full_capture.scap`` x50, 134 MB, 1.79 M
events; interleaved rounds; CPU time of the child and its peak RSS; min and median):

* ``-S -q``                    count event types
* filter                       ``evt.type=openat and fd.name contains etc`` (printed to /dev/null)
* ``-p``                       ``-p "%evt.num %proc.name %fd.name"`` for every event (to /dev/null)
* ``-c topfiles_bytes``        a chisel (sysnb opens the table with only the columns it reads)

Usage: python benchmarks/bench_queries.py [--rounds 3] [--copies 50] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import BIN, emit, make_input, measure, missing_inputs

QUERIES = {
    "-S -q": ["-S", "-q"],
    "filter": ["evt.type=openat and fd.name contains etc"],
    "-p 3 fields": ["-p", "%evt.num %proc.name %fd.name"],
    "-c topfiles_bytes": ["-c", "topfiles_bytes"],
}


def run(copies: int, rounds: int) -> list[str]:
    path = make_input(copies)
    sysnb = str(BIN / "sysnb")
    cmds = {(q, tool): [exe, "-r", str(path), *argv] for q, argv in QUERIES.items()
            for tool, exe in (("sysdig", "sysdig"), ("sysnb", sysnb))}
    results: dict[tuple[str, str], list[tuple[float, float]]] = {k: [] for k in cmds}
    for _ in range(rounds):
        for key, cmd in cmds.items():
            results[key].append(measure(cmd))
    lines = [f"### {path.name}: {path.stat().st_size / 1e6:.0f} MB, {rounds} rounds", "",
             "| query | sysdig CPU s (min/median) | sysnb CPU s (min/median) | sysnb / sysdig | "
             "peak RSS MiB sysdig / sysnb |", "|---|---|---|---|---|"]
    for q in QUERIES:
        sd, sn = results[(q, "sysdig")], results[(q, "sysnb")]
        sd_cpu, sn_cpu = [c for c, _ in sd], [c for c, _ in sn]
        lines.append(f"| `{q}` | {min(sd_cpu):.2f} / {statistics.median(sd_cpu):.2f} | "
                     f"{min(sn_cpu):.2f} / {statistics.median(sn_cpu):.2f} | "
                     f"{statistics.median(sn_cpu) / statistics.median(sd_cpu):.2f}x | "
                     f"{max(r for _, r in sd):.0f} / {max(r for _, r in sn):.0f} |")
    return [*lines, ""]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--copies", type=int, nargs="+", default=[50])
    ap.add_argument("--out", type=Path, help="also write the results to this markdown file")
    args = ap.parse_args()
    if (missing := missing_inputs()) is not None:
        print(missing, file=sys.stderr)
        return 1
    lines = [f"# Queries vs sysdig 0.29.3, {datetime.date.today()}", "",
             f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; CPU time of the child.", ""]
    for copies in args.copies:
        lines += run(copies, args.rounds)
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

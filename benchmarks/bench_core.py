"""The native core against sysdig 0.29.3: opening a capture, in one run, side by side.

Inputs are made from ``../shared/captures/public/sf-collector/mpm-event_full_capture.scap`` concatenated
N times (sysdig reads concatenated captures): big50 (134 MB, 1.79 M events) and big200 (537 MB, 7.2 M).
For each input the commands run in interleaved rounds (A B C ... A B C ...), each as a child of a small
wrapper that reports the child's CPU time (user + system, ``resource.getrusage``) and peak RSS; the table
gives min and median over the rounds and the ratio of medians to sysdig's. Timings are reported, never
asserted (wall time on shared VMs varies 3-7x; CPU time much less).

* ``sysdig -S -q``      sysdig 0.29.3 replays the capture and counts event types (the reference)
* ``sysnb -S -q``        the same with sysnb: the native core streams the columns -S needs (event types
                         depend on no replayed state: the core skips the replay)
* ``sysnb -S -q FILTER``  with ``proc.name exists or fd.name exists``: the whole state replayed (threads,
                         processes, fds and their snapshots) to evaluate the filter, nothing printed
* ``sysnb open``         ``sysnb.open_capture(F)``: the whole table in memory, every column (a notebook)
* ``sysnb open (ref)``   the same with the Python reference engine (big50 only; --reference)

Usage: python benchmarks/bench_core.py [--rounds 3] [--copies 50 200] [--reference] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent.parent / "shared" / "captures" / "public" / "sf-collector" / "mpm-event_full_capture.scap"
BIN = Path(sys.executable).parent

_WRAP = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
         "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
         "print(u.ru_utime + u.ru_stime, u.ru_maxrss, r.returncode)")


def make_input(copies: int) -> Path:
    out = HERE / "data" / f"mpm-event-x{copies}.scap"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        data = SRC.read_bytes()
        with open(out, "wb") as f:
            for _ in range(copies):
                f.write(data)
    return out


def measure(cmd: list[str]) -> tuple[float, float]:
    """CPU seconds and peak RSS (MiB) of one run of ``cmd``."""
    out = subprocess.run([sys.executable, "-c", _WRAP, *cmd], capture_output=True, text=True, check=True)
    cpu, rss, code = out.stdout.split()
    if code != "0":
        raise SystemExit(f"{' '.join(cmd)} exited with {code}")
    return float(cpu), int(rss) / 1024


def commands(path: Path, reference: bool) -> dict[str, list[str]]:
    sysnb = str(BIN / "sysnb")
    opener = "import sys, sysnb; sysnb.open_capture(sys.argv[1], engine=sys.argv[2])"
    cmds = {
        "sysdig -S -q": ["sysdig", "-r", str(path), "-S", "-q"],
        "sysnb -S -q": [sysnb, "-r", str(path), "-S", "-q"],
        "sysnb -S -q (state replayed)": [sysnb, "-r", str(path), "-S", "-q", "proc.name exists or fd.name exists"],
        "sysnb open (all columns)": [sys.executable, "-c", opener, str(path), "native"],
    }
    if reference:
        cmds["sysnb open, reference engine"] = [sys.executable, "-c", opener, str(path), "reference"]
    return cmds


def run(copies: int, rounds: int, reference: bool) -> list[str]:
    path = make_input(copies)
    cmds = commands(path, reference and copies <= 50)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
    for _ in range(rounds):
        for name, cmd in cmds.items():
            results[name].append(measure(cmd))
    base = statistics.median(c for c, _ in results["sysdig -S -q"])
    size = path.stat().st_size / 1e6
    lines = [f"### {path.name}: {size:.0f} MB, {copies} copies, {rounds} rounds", "",
             "| command | CPU s min | CPU s median | vs sysdig -S -q | peak RSS MiB (max) |", "|---|---|---|---|---|"]
    for name, runs in results.items():
        cpu = [c for c, _ in runs]
        rss = max(r for _, r in runs)
        lines.append(f"| {name} | {min(cpu):.2f} | {statistics.median(cpu):.2f} | "
                     f"{statistics.median(cpu) / base:.2f}x | {rss:.0f} |")
    return [*lines, ""]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--copies", type=int, nargs="+", default=[50, 200])
    ap.add_argument("--reference", action="store_true", help="also the Python reference engine (slow)")
    ap.add_argument("--out", type=Path, help="also write the results to this markdown file")
    args = ap.parse_args()
    if (missing := missing_inputs()) is not None:
        print(missing, file=sys.stderr)
        return 1
    load = os.getloadavg()[0]
    lines = [f"# Native core vs sysdig 0.29.3, {datetime.date.today()}", "",
             f"{os.cpu_count()} CPUs, load average {load:.1f} at start; CPU time of the child process.", ""]
    for copies in args.copies:
        lines += run(copies, args.rounds, args.reference)
    emit(lines, args.out)
    return 0


def missing_inputs() -> str | None:
    """What a benchmark beside sysdig needs and this machine lacks (None: nothing)."""
    if not SRC.exists():
        return f"needs {SRC} (../shared beside the repository)"
    if shutil.which("sysdig") is None:
        return "needs sysdig 0.29.3 (apt-get install --no-install-recommends sysdig)"
    return None


def emit(lines: list[str], out: Path | None) -> None:
    """Print the results and, with --out, write them to that markdown file too."""
    text = "\n".join(lines)
    print(text)
    if out:
        out.write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())

"""Parquet datasets out of core: 10 x big50 through ``open_dataset`` (DuckDB) and ``sysnb.ray``, against the
same query on one big50 table in memory run 10 times, and sysdig 0.29.3 on one big50, in one run.

big50 is ``../shared/captures/public/sf-collector/mpm-event_full_capture.scap`` concatenated 50 times (134 MB,
1.79 M events; /work/data/big50.scap or benchmarks/data/mpm-event-x50.scap as bench_core.py makes it). The
dataset holds 10 copies under different names (big50_0.scap ... big50_9.scap: 10 captures, 17.9 M events),
written by ``sysnb export`` (measured once: CPU and peak RSS of the child). Then, in interleaved rounds, each
query runs as a child of a wrapper reporting its CPU time (user + system, getrusage) and peak RSS:

* ``dataset count``       ``open_dataset(DIR).count(FILTER)``: DuckDB over the Parquet files, out of core
* ``dataset topfiles``    ``open_dataset(DIR).topfiles_bytes()``
* ``table x10 count``     ``open_capture(big50)`` once, then the filter 10 times on the table in memory
* ``table x10 topfiles``  the same with ``cap.chisel("topfiles_bytes")`` 10 times
* ``sysdig count (x1)``   ``sysdig -r big50 FILTER`` on ONE big50 (x10 for the dataset's size is 10 times it)
* ``ray count``, ``ray topfiles`` (``--ray``): a local Ray cluster (2 CPUs) started by the child; its workers
  are separate processes the child does not wait for, so for Ray the child's wall time of the query (after
  ray.init) is reported, not CPU

For the in-memory rows the child also prints the CPU time of the queries alone (without opening the
capture). Timings are reported, never asserted; the results of the paths are checked equal.

Usage: python benchmarks/bench_datasets.py [--rounds 3] [--copies 10] [--ray] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from bench_core import emit

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
CANDIDATES = [Path("/work/data/big50.scap"), HERE / "data" / "mpm-event-x50.scap"]
FILTER = "evt.is_io=true and fd.type=file and proc.name=httpd"

_WRAP = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
         "u = resource.getrusage(resource.RUSAGE_CHILDREN); sys.stderr.write(r.stderr); "
         "print(u.ru_utime + u.ru_stime, u.ru_maxrss, r.returncode); print(r.stdout.strip().splitlines()[-1:])")

DATASET = """
import sys, time, sysnb
d = sysnb.open_dataset(sys.argv[1])
t = time.process_time()
out = d.count(sys.argv[3]) if sys.argv[2] == "count" else d.topfiles_bytes().table.to_pylist()
print("RESULT", time.process_time() - t, repr(out))
"""
TABLE = """
import sys, time, sysnb
from sysnb.capture import visible_rows
cap = sysnb.open_capture(sys.argv[1])
t = time.process_time()
for _ in range(int(sys.argv[4])):
    out = (visible_rows(cap.filter(sys.argv[3]).table).num_rows if sys.argv[2] == "count"
           else cap.chisel("topfiles_bytes").table.to_pylist())
print("RESULT", time.process_time() - t, repr(out))
"""
RAY = """
import sys, time, ray, sysnb.ray as sr
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
t = time.perf_counter()
out = sr.count(sys.argv[1], sys.argv[3]) if sys.argv[2] == "count" else sr.topfiles_bytes(sys.argv[1]).table.to_pylist()
print("RESULT", time.perf_counter() - t, repr(out))
ray.shutdown()
"""


def big50() -> Path:
    for p in CANDIDATES:
        if p.exists():
            return p
    raise SystemExit(f"needs big50: one of {', '.join(map(str, CANDIDATES))} (benchmarks/bench_core.py makes it)")


def measure(cmd: list[str]) -> tuple[float, float, str]:
    """CPU seconds and peak RSS (MiB) of one run of ``cmd``, and the last line it printed."""
    out = subprocess.run([sys.executable, "-c", _WRAP, *cmd], capture_output=True, text=True, check=True)
    first, last = out.stdout.strip().splitlines()[-2:]
    cpu, rss, code = first.split()
    if code != "0":
        raise SystemExit(f"{' '.join(cmd[:4])} exited with {code}: {out.stderr[-2000:]}")
    lines = eval(last)  # the wrapper printed a list of at most one line
    return float(cpu), int(rss) / 1024, lines[0] if lines else ""


def make_dataset(src: Path, copies: int) -> tuple[Path, tuple[float, float, str]]:
    links = HERE / "data" / f"big50-x{copies}"
    out = HERE / "data" / f"big50-x{copies}-dataset"
    shutil.rmtree(links, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    links.mkdir(parents=True)
    for i in range(copies):
        (links / f"big50_{i}.scap").symlink_to(src)
    export = measure([str(BIN / "sysnb"), "export", str(links), "--parquet", str(out)])
    return out, export


def commands(src: Path, ds: Path, copies: int, with_ray: bool) -> dict[str, list[str]]:
    py = sys.executable
    cmds = {
        "dataset count": [py, "-c", DATASET, str(ds), "count", FILTER],
        "table x10 count": [py, "-c", TABLE, str(src), "count", FILTER, str(copies)],
        "dataset topfiles_bytes": [py, "-c", DATASET, str(ds), "topfiles", FILTER],
        "table x10 topfiles_bytes": [py, "-c", TABLE, str(src), "topfiles", FILTER, str(copies)],
        "sysdig count (ONE big50)": ["sh", "-c", f"sysdig -r {src} '{FILTER}' | wc -l | sed 's/^/RESULT 0 /'"],
    }
    if with_ray:
        cmds["ray count"] = [py, "-c", RAY, str(ds), "count", FILTER]
        cmds["ray topfiles_bytes"] = [py, "-c", RAY, str(ds), "topfiles", FILTER]
    return cmds


def results_table(runs: dict[str, list[tuple[float, float, str]]]) -> list[str]:
    lines = ["| query | child CPU s min | median | query only s (median) | peak RSS MiB (max) |",
             "|---|---|---|---|---|"]
    for name, rs in runs.items():
        cpu = [c for c, _, _ in rs]
        inner = [float(r.split()[1]) for _, _, r in rs if r.startswith("RESULT")]
        rss = max(r for _, r, _ in rs)
        inner_s = f"{statistics.median(inner):.2f}" if inner and not name.startswith("sysdig") else "-"
        wall = " (wall)" if name.startswith("ray") else ""
        lines.append(f"| {name} | {min(cpu):.2f} | {statistics.median(cpu):.2f} | {inner_s}{wall} | {rss:.0f} |")
    return lines


def answers(runs: dict[str, list[tuple[float, float, str]]]) -> dict[str, str]:
    return {name: rs[-1][2].split(" ", 2)[2] if rs and rs[-1][2].count(" ") >= 2 else "" for name, rs in runs.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--ray", action="store_true", help="also the queries on a local Ray cluster")
    ap.add_argument("--out", type=Path, help="also write the results to this markdown file")
    args = ap.parse_args()
    if shutil.which("sysdig") is None:
        print("needs sysdig 0.29.3", file=sys.stderr)
        return 1
    src = big50()
    load = os.getloadavg()[0]
    ds, export = make_dataset(src, args.copies)
    size = sum(p.stat().st_size for p in ds.rglob("*.parquet")) / 1e6
    events = sum(e["provenance"]["events"] for e in json.loads((ds / "manifest.json").read_text())["captures"])
    cmds = commands(src, ds, args.copies, args.ray)
    runs: dict[str, list[tuple[float, float, str]]] = {name: [] for name in cmds}
    for _ in range(args.rounds):
        for name, cmd in cmds.items():
            runs[name].append(measure(cmd))
    got = answers(runs)
    lines = [f"# Parquet datasets: {args.copies} x big50 out of core, {datetime.date.today()}", "",
             f"{os.cpu_count()} CPUs, load average {load:.1f} at start; {args.rounds} interleaved rounds.", "",
             f"`sysnb export` of {args.copies} x {src.name} ({src.stat().st_size / 1e6:.0f} MB each, {events:,} rows "
             f"in all): {export[0]:.1f} s CPU, peak RSS {export[1]:.0f} MiB; the dataset is {size:.0f} MB of Parquet.",
             "", f"Filter: `{FILTER}`", "", *results_table(runs), "",
             "Answers (last round): " + "; ".join(f"{k}: {v[:120]}" for k, v in got.items()), ""]
    dataset_count = int(got["dataset count"])
    table_count = int(got["table x10 count"]) * args.copies
    lines.append(f"dataset count {dataset_count:,} = {args.copies} x one table's count {table_count:,}: "
                 f"{dataset_count == table_count}")
    if args.ray:
        lines.append(f"ray count = dataset count: {got['ray count'] == got['dataset count']}; ray topfiles_bytes = "
                     f"dataset topfiles_bytes: {got['ray topfiles_bytes'] == got['dataset topfiles_bytes']}")
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

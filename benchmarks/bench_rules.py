"""Falco rules over big50 (134 MB, 1.73 M events) against sysdig 0.29.3 reading the same file once.

Builds ``benchmarks/data/mpm-event-x50.scap`` as bench_core.py does (50 copies of the sf-collector
mpm-event_full_capture.scap), then runs, interleaved, ``--rounds`` times:

* ``sysdig -r FILE -S -q``                                 the reference: sysdig reads the file once
* ``sysnb -r FILE -S -q``                                  what any sysnb command pays to read the capture
* ``sysnb -r FILE --rules RULES``                          the whole command: read, load the rules, evaluate, print
* the evaluation alone, in a child process: load the rules, match every rule, build the alerts table

for the current default rules (falco_rules.yaml) and the 2022 ruleset (falco_rules-0.32.2.yaml), with and
without ``--all-events``. Reported: CPU seconds (user+system) of each child process (resource.getrusage), peak
RSS, min and median. Timings are printed, never asserted.

Usage: python benchmarks/bench_rules.py [--rounds N] [--copies N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
SHARED = Path(os.environ.get("SYSNB_SHARED", HERE.parent.parent / "shared"))
SRC = SHARED / "captures" / "public" / "sf-collector" / "mpm-event_full_capture.scap"
RULES = {"current": SHARED / "rules" / "current" / "falco_rules.yaml",
         "2022": SHARED / "rules" / "2022" / "falco_rules-0.32.2.yaml"}

_WRAP = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
         "stderr=subprocess.DEVNULL, check=True); r = resource.getrusage(resource.RUSAGE_CHILDREN); "
         "print(r.ru_utime + r.ru_stime, r.ru_maxrss)")
_EVALUATE = """
import sys, resource
import sysnb
from sysnb.rules import load_rules
from sysnb.rules.alerts import build_alerts
from sysnb.rules.engine import Options, match
cap = sysnb.open_capture(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF)
rs = load_rules(sys.argv[2])
alerts = build_alerts(cap.table, rs, match(cap.table, rs, Options(all_events=sys.argv[3] == "1")))
after = resource.getrusage(resource.RUSAGE_SELF)
print(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, alerts.num_rows, len(rs.compiled),
      len(rs.rules))
"""


def make_input(copies: int) -> Path:
    out = HERE / "data" / f"mpm-event-x{copies}.scap"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        data = SRC.read_bytes()
        with open(out, "wb") as f:
            for _ in range(copies):
                f.write(data)
    return out


def child(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """CPU seconds and peak RSS (MiB) of one command, measured by a wrapper process of its own."""
    out = subprocess.run([sys.executable, "-c", _WRAP, *cmd], env=env, capture_output=True, text=True, check=True)
    cpu, rss = out.stdout.split()
    return float(cpu), int(rss) / 1024


def evaluation(f: Path, rules: Path, all_events: bool, env: dict[str, str]) -> tuple[float, str]:
    out = subprocess.run([sys.executable, "-c", _EVALUATE, str(f), str(rules), "1" if all_events else "0"],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), f"{out[1]} alerts, {out[2]}/{out[3]} rules compiled"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--copies", type=int, default=50)
    args = ap.parse_args()
    missing = [p for p in (SRC, *RULES.values()) if not p.exists()]
    if missing or shutil.which("sysdig") is None:
        print(f"needs sysdig 0.29.3 and ../shared ({', '.join(map(str, missing)) or 'sysdig'} missing)",
              file=sys.stderr)
        return 1
    f = make_input(args.copies)
    cache = tempfile.mkdtemp(prefix="sysnb-bench-rules-")
    env = dict(os.environ, TZ="UTC", SYSNB_CACHE_DIR=cache)
    sysnb = [sys.executable, "-m", "sysnb", "-r", str(f)]
    runs: dict[str, list[tuple[float, float]]] = {}
    notes: dict[str, str] = {}
    for _ in range(args.rounds):
        runs.setdefault("sysdig -r -S -q", []).append(child(["sysdig", "-r", str(f), "-S", "-q"], env))
        runs.setdefault("sysnb -r -S -q", []).append(child([*sysnb, "-S", "-q"], env))
        for name, rules in RULES.items():
            for all_events in (False, True):
                flag = ["--all-events"] if all_events else []
                tag = f"{name}{' -A' if all_events else ''}"
                runs.setdefault(f"sysnb --rules {tag}", []).append(child([*sysnb, "--rules", str(rules), *flag], env))
                cpu, note = evaluation(f, rules, all_events, env)
                runs.setdefault(f"  evaluation {tag}", []).append((cpu, 0.0))
                notes[f"  evaluation {tag}"] = note
    shutil.rmtree(cache, ignore_errors=True)
    ref = statistics.median(c for c, _ in runs["sysdig -r -S -q"])
    print(f"input: {f} ({f.stat().st_size / 2**20:.0f} MiB), {args.rounds} interleaved rounds, CPU seconds")
    print(f"{'run':34s} {'min':>7s} {'median':>7s} {'vs sysdig':>9s} {'peak RSS MiB':>13s}")
    for name, values in runs.items():
        cpus = [c for c, _ in values]
        rss = max(r for _, r in values)
        med = statistics.median(cpus)
        print(f"{name:34s} {min(cpus):7.2f} {med:7.2f} {med / ref:8.2f}x {rss:13.0f}  {notes.get(name, '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

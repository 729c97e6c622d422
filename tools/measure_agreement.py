#!/usr/bin/env python3
"""Measure how many output lines of sysnb differ from the sysdig 0.29.3 goldens, per capture and mode.

Usage: python tools/measure_agreement.py [--write] [MODE ...]
  --write   record the numbers in tests/golden/KNOWN_DIFFS.json (the regression baseline of tests)
Needs ../shared/captures/public (or SYSNB_SHARED_CAPTURES). Prints one line per capture and the totals.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "tests"))

from goldens import FORMATS, GOLDEN, argv_for, diff_lines, expected, golden_name, run_cli  # noqa: E402

#: captures sysdig 0.29.3 cannot open (pcapng options after the section header): sysnb reads them on purpose
INTENDED = {"libs__curl_google_comments"}


def main() -> int:
    args = sys.argv[1:]
    write = "--write" in args
    modes = [a for a in args if a != "--write"] or ["default", "summary", *FORMATS, "A", "X", "j"]
    shared = Path(os.environ.get("SYSNB_SHARED_CAPTURES", HERE.parent / "shared" / "captures" / "public"))
    known_path = GOLDEN / "KNOWN_DIFFS.json"
    known = json.loads(known_path.read_text()) if known_path.exists() else {}
    totals = {m: [0, 0] for m in modes}
    readable = {m: [0, 0] for m in modes}
    for capture in sorted(shared.rglob("*.scap*")):
        name = golden_name(capture)
        row = known.setdefault(name, {})
        for m in modes:
            _, out = run_cli(argv_for(m, capture))
            want = expected(name, m)
            n, bad = diff_lines(want, out)
            row[m] = bad
            totals[m][0] += n
            totals[m][1] += max(bad, 0)
            if name not in INTENDED:
                readable[m][0] += n
                readable[m][1] += max(bad, 0)
        print(name, {m: row[m] for m in modes}, flush=True)
    for m, (n, bad) in totals.items():
        pct = 100 * (n - bad) / n if n else 100.0
        rn, rbad = readable[m]
        rpct = 100 * (rn - rbad) / rn if rn else 100.0
        print(f"{m:8s} {n - bad:7d}/{n:7d} identical ({pct:.1f} %); "
              f"on captures sysdig can open: {rn - rbad}/{rn} ({rpct:.2f} %)")
    if write:
        known_path.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

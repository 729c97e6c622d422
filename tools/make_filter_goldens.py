#!/usr/bin/env python3
"""Record which events sysdig 0.29.3 selects for each filter of tests/golden/filters.txt on every shared capture.

tests/golden/filters/NAME.tsv.gz: one line per filter, ``FILTER<TAB>evt.num list`` (space-separated), or
``FILTER<TAB>!MESSAGE`` when sysdig rejects the filter (then sysnb must reject it too).
Usage: tools/make_filter_goldens.py [CAPTURES_DIR] [JOBS]   (default ../shared/captures/public, 2 jobs)
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
OUT = HERE / "tests" / "golden" / "filters"


def select(capture: Path, flt: str) -> str:
    proc = subprocess.run(["sysdig", "-r", str(capture), "-p", "%evt.num", flt], capture_output=True,
                          env={**os.environ, "TZ": "UTC"}, check=False)
    if proc.returncode:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return "!" + (message[-1] if message else f"exit status {proc.returncode}")
    return " ".join(proc.stdout.decode().split())


def main() -> int:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "shared" / "captures" / "public"
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    filters = [f for f in (HERE / "tests" / "golden" / "filters.txt").read_text().split("\n") if f]
    OUT.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(jobs) as pool:
        for capture in sorted(src.rglob("*.scap*")):
            name = f"{capture.parent.name}__{capture.name.split('.scap')[0]}"
            results = list(pool.map(lambda f, c=capture: select(c, f), filters))  # type: ignore[misc]
            with gzip.open(OUT / f"{name}.tsv.gz", "wt", compresslevel=9) as fh:
                fh.write("".join(f"{f}\t{r}\n" for f, r in zip(filters, results, strict=True)))
            print(name, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Record what sysdig 0.29.3 prints with its reading and output options, for tests/test_options.py.

tests/golden/options/NAME.CASE.txt.gz: stdout of ``sysdig -r CAPTURE ARGS`` for every CASE below on a few
shared captures (TZ=UTC). Usage: tools/make_option_goldens.py [CAPTURES_DIR]
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
OUT = HERE / "tests" / "golden" / "options"
sys.path.insert(0, str(HERE / "tests"))
from optiongoldens import CAPTURES, CASES  # noqa: E402  (the cases the tests compare)


def main() -> int:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "shared" / "captures" / "public"
    OUT.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TZ": "UTC"}
    for rel in CAPTURES:
        capture = src / rel
        name = f"{capture.parent.name}__{capture.name.split('.scap')[0]}"
        for case, args in CASES.items():
            proc = subprocess.run(["sysdig", "-r", str(capture), *args], capture_output=True, env=env, check=False)
            with gzip.open(OUT / f"{name}.{case}.txt.gz", "wb", compresslevel=9) as f:
                f.write(proc.stdout)
        print(name, flush=True)
    for case, args in {"pp": ["-pp"], "libs_version": ["--libs-version"]}.items():
        proc = subprocess.run(["sysdig", *args], capture_output=True, env=env, check=False)
        (OUT / f"{case}.txt").write_bytes(proc.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

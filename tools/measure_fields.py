#!/usr/bin/env python3
"""Measure how many printed field values of sysnb differ from sysdig 0.29.3's (tests/golden/fields), per field
and capture, in -p text and -j JSON.

Usage: python tools/measure_fields.py [--write] [--kind txt|json] [CAPTURE_NAME_PART ...]
  --write   record the differing counts in tests/golden/fields/KNOWN.json (the baseline tests/test_fields.py
            holds sysnb to; every entry needs a reason there)
Prints the differing fields per capture and the agreement per field class.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "tests"))

from fieldgoldens import FIELD_GOLDEN, differing, field_names, golden_columns, sysnb_columns  # noqa: E402
from goldens import golden_name  # noqa: E402

#: captures sysdig 0.29.3 cannot open (its golden is empty): nothing to compare (as tests/test_fields.py)
UNREADABLE = {"libs__curl_google_comments"}


def field_class(name: str) -> str:
    from sysnb.fields import resolve

    ref = resolve(name)
    return (ref.field.cls or "hidden") if ref is not None else "?"


def main() -> int:
    args = sys.argv[1:]
    write = "--write" in args
    kinds = ["txt", "json"]
    if "--kind" in args:
        kinds = [args[args.index("--kind") + 1]]
    parts = [a for a in args if not a.startswith("--") and a not in kinds]
    shared = Path(os.environ.get("SYSNB_SHARED_CAPTURES", HERE.parent / "shared" / "captures" / "public"))
    known_path = FIELD_GOLDEN / "KNOWN.json"
    known = json.loads(known_path.read_text()) if known_path.exists() else {}
    names = field_names()
    per_class: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for capture in sorted(shared.rglob("*.scap*")):
        cname = golden_name(capture)
        if (parts and not any(p in cname for p in parts)) or cname in UNREADABLE:
            continue
        for kind in kinds:
            want = golden_columns(cname, kind)
            if want is None:
                continue
            fields = [f for f in names if f in want]
            got = sysnb_columns(capture, fields, kind)
            row = {}
            for f in fields:
                bad = differing(want[f], got.get(f, []), prefix=kind == "json")
                per_class[field_class(f)][0] += len(want[f])
                per_class[field_class(f)][1] += bad
                if bad:
                    row[f] = bad
            known.setdefault(cname, {})[kind] = row
            print(cname, kind, row, flush=True)
    for cls, (n, bad) in sorted(per_class.items()):
        print(f"{cls:12s} {n - bad:9d}/{n:9d} values identical ({100 * (n - bad) / max(n, 1):.2f} %)")
    if write:
        known_path.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""sysnb's CLI output against sysdig 0.29.3 goldens (tools/make_goldens.sh), capture by capture.

Agreement is exact where KNOWN_DIFFS.json records 0 differing lines. Where it records more, the
number is the measured gap (see the closing note of issue #2 and DIFFERENCES below); the test
fails if sysnb gets worse, and tells you to lower the number when it gets better.

DIFFERENCES (intended or not yet closed):
- libs/curl_google_comments: sysdig 0.29.3 cannot open it (pcapng options after the section
  header); sysnb reads it, so every line "differs" from sysdig's empty output. Intended.
- -S: sysdig sorts with an unstable sort, so rows with equal counts are compared as sets.
- Remaining gaps: syslog decoding in evt.info (writes to /dev/log), parent-side clone exits
  resolving the child's name, some -p fields (user.name/fd.num/evt.latency/evt.res on events
  where libsinsp keeps per-thread state sysnb does not yet model), -A/-X on non-data buffers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import capture_params
from goldens import FORMATS, GOLDEN, argv_for, diff_lines, expected, golden_name, run_cli, summary_groups

KNOWN = json.loads((GOLDEN / "KNOWN_DIFFS.json").read_text())
MODES = ["default", "summary", *FORMATS, "A", "X", "j"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("capture", capture_params())
def test_matches_sysdig(capture: Path, mode: str) -> None:
    name = golden_name(capture)
    if name not in KNOWN:
        pytest.skip(f"no golden for {name}; run tools/make_goldens.sh")
    _, got = run_cli(argv_for(mode, capture))
    want = expected(name, mode)
    allowed = KNOWN[name][mode]
    if mode == "summary":
        same = summary_groups(want) == summary_groups(got)
        assert same or allowed < 0, f"{name}: -S differs from sysdig"
        return
    total, bad = diff_lines(want, got)
    assert bad <= allowed, f"{name} {mode}: {bad} of {total} lines differ from sysdig (known: {allowed})"
    if bad < allowed:
        pytest.fail(f"{name} {mode}: improved to {bad} differing lines; lower KNOWN_DIFFS.json ({allowed})")

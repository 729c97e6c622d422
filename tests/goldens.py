"""Helpers to compare sysnb's CLI output with the sysdig 0.29.3 goldens in tests/golden/."""

from __future__ import annotations

import contextlib
import gzip
import io
from pathlib import Path

from sysnb.cli import main

GOLDEN = Path(__file__).parent / "golden"
FORMATS = dict(line.split("|", 1) for line in (GOLDEN / "FORMATS").read_text().splitlines() if line)


def golden_name(capture: Path) -> str:
    """``falco/cat_write.scap.gz`` -> ``falco__cat_write`` (as tools/make_goldens.sh names them)."""
    return f"{capture.parent.name}__{capture.name.split('.scap')[0]}"


def argv_for(mode: str, capture: Path) -> list[str]:
    base = ["-r", str(capture)]
    if mode == "default":
        return base
    if mode == "summary":
        return [*base, "-S", "-q"]
    if mode in FORMATS:
        return [*base, "-p", FORMATS[mode]]
    return [*base, f"-{mode}", "-n", "3000"]


def run_cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(argv)
    return code, out.getvalue()


def expected(name: str, mode: str) -> str:
    with gzip.open(GOLDEN / f"{name}.{mode}.txt.gz", "rt", encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    return _mask_gid(text) if mode == "p7" else text


def _mask_gid(text: str) -> str:
    """sysdig 0.29.3 extracts the 32-bit group.gid as a 64-bit value: the upper half is whatever memory follows
    the field (e.g. 8589934591 = 0x1_FFFFFFFF). Only the low 32 bits are the gid."""
    out = []
    for line in text.split("\n"):
        num, _, gid = line.partition(" ")
        out.append(f"{num} {int(gid) & 0xFFFFFFFF}" if gid.isdigit() else line)
    return "\n".join(out)


def diff_lines(want: str, got: str) -> tuple[int, int]:
    """(lines in the golden, lines that differ), position by position."""
    a, b = want.split("\n"), got.split("\n")
    bad = sum(1 for x, y in zip(a, b, strict=False) if x != y) + abs(len(a) - len(b))
    return len(a) - 1, bad

"""Which capture files a user means: paths, directories and globs, with rotated sets in their order.

``sysdig -C/-W`` writes ``name.scap0``, ``name.scap1``, ... (``-W`` reuses the numbers in a ring) and ``-G``
names files with a strftime pattern: inside a directory every ``*.scap*`` file counts, and the files are
ordered by name with numbers compared as numbers (``scap2`` before ``scap10``). The merged view then orders
the captures by their first timestamp, which is what puts a wrapped ``-W`` ring back in time order.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable
from urllib.parse import quote

from sysnb.errors import UsageError

_DIGITS = re.compile(r"(\d+)")
#: file names a directory contributes: .scap, .scap.gz and the rotated .scapN / .scapN.gz
CAPTURE_NAME = re.compile(r"\.scap\d*(\.gz)?$")


def natural_key(path: str) -> tuple[object, ...]:
    """Sort key comparing the digit runs of a name as numbers."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(os.path.basename(path)))


def resolve(spec: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str]:
    """The capture files named by ``spec``: a path, a directory, a glob, or a list of them (duplicates once)."""
    items = [spec] if isinstance(spec, str | os.PathLike) else list(spec)
    out: list[str] = []
    for item in items:
        out.extend(_expand(os.fspath(item)))
    unique = list(dict.fromkeys(os.path.abspath(p) for p in out))
    if not unique:
        raise UsageError(f"no capture files in {', '.join(os.fspath(i) for i in items) or 'the empty list'}")
    return unique


def _expand(item: str) -> list[str]:
    if os.path.isdir(item):
        names = [os.path.join(item, n) for n in os.listdir(item) if CAPTURE_NAME.search(n)]
        found = sorted((p for p in names if os.path.isfile(p)), key=natural_key)
        if not found:
            raise UsageError(f"{item}: a directory without capture files (*.scap, *.scap.gz, *.scapN)")
        return found
    if glob.has_magic(item) and not os.path.exists(item):
        found = sorted((p for p in glob.glob(item) if os.path.isfile(p)), key=natural_key)
        if not found:
            raise UsageError(f"{item}: the pattern matches no capture file")
        return found
    return [item]  # open_capture says what is wrong with a missing or special file


def host_label(hostname: str) -> str:
    """The ``host`` value of a capture: its recorded hostname, percent-encoded where it is not a plain DNS
    label (the recorded host chose it: it becomes a directory name in datasets), "unknown" when empty."""
    if not hostname:
        return "unknown"
    label = quote(hostname, safe="-_.")[:255]
    return "%2E" + label[1:] if label.startswith(".") else label

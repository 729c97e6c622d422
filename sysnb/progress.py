"""Progress for long work: a bar that appears only when the work takes longer than a second.

``open_progress(path)`` returns the callback :class:`sysnb.scan.Scan` calls while it reads (bytes read,
file size, events so far) and shows bytes, events and the event rate, on a terminal's stderr or as a
notebook widget (tqdm.auto). Nothing is shown for quick opens, nor when stderr is not a terminal outside a
notebook (pipes and logs stay clean).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

#: the callback of a scan: (bytes read, total bytes of the file, events so far)
ProgressFn = Callable[[int, int, int], None]

DELAY_S = 1.0


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None) if shell is not None else None
    ip = get() if get is not None else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class ReadProgress:
    """A bar over the file's bytes with the event count and rate, shown after :data:`DELAY_S`."""

    def __init__(self, path: str, desc: str = "reading") -> None:
        self.total = os.path.getsize(path) if os.path.isfile(path) else 0
        self.desc = desc
        self.started = time.monotonic()
        self.bar: Any = None

    def __call__(self, done: int, total: int, events: int) -> None:
        elapsed = time.monotonic() - self.started
        if self.bar is None:
            if elapsed < DELAY_S:
                return
            self.bar = _bar(total or self.total, self.desc)
        self.bar.n = done
        rate = events / elapsed if elapsed > 0 else 0.0
        self.bar.set_postfix_str(f"{events:,} events, {rate / 1e6:.2f} M events/s", refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _bar(total: int, desc: str) -> Any:
    if _in_notebook():
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(total=total, unit="B", unit_scale=True, desc=desc, file=sys.stderr, leave=False)


def read_progress(path: str, *, force: bool = False) -> ReadProgress | None:
    """A progress callback for reading ``path``: in notebooks and on terminals (``force``: always)."""
    if force or _in_notebook() or sys.stderr.isatty():
        return ReadProgress(path)
    return None


class CountProgress:
    """A bar over a count of items (records converted after a recording), shown after :data:`DELAY_S`."""

    def __init__(self, total: int, desc: str, unit: str) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.started = time.monotonic()
        self.bar: Any = None

    def __call__(self, done: int) -> None:
        if self.bar is None:
            if time.monotonic() - self.started < DELAY_S:
                return
            self.bar = _count_bar(self.total, self.desc, self.unit)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _count_bar(total: int, desc: str, unit: str) -> Any:
    if _in_notebook():
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(total=total, unit=unit, unit_scale=True, desc=desc, file=sys.stderr, leave=False)

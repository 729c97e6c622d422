"""Time to display the explorer on the 128 MiB benchmark capture (mpm-event_full_capture.scap x 50).

Measures, in-process with the table in memory (as in a notebook after the open): the explorer's first render
(tiles + timeline cells + first page) on its own, the static overview (17 tiles) and the explorer after it
(the tiles' values are computed once per capture), a drill-down click, brushing
a window, sorting 1M+ events by latency, scrolling to a page deep in the table, and what the browser
receives (bytes of Arrow IPC). sysdig has no counterpart; as a scale, it prints the time sysdig 0.29.3 takes to
read the file once (`sysdig -r FILE evt.num=0`). Timings are reported, never asserted.
Usage: python benchmarks/bench_explorer.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from bench_core import make_input


def timed(label: str, fn: Callable[[], Any]) -> Any:
    t = time.perf_counter()
    out = fn()
    print(f"  {label:<44}{(time.perf_counter() - t) * 1e3:9.0f} ms")
    return out


def main() -> int:
    import sysnb
    from sysnb.views.overview import overview_html

    path = str(make_input(50))
    print(f"{path}: {os.path.getsize(path) / 2**20:.0f} MiB")
    timed("open (read + state engine)", lambda: sysnb.open_capture(path))
    cap = timed("open again (no cache: rebuilt)", lambda: sysnb.open_capture(path))
    print(f"  {cap}")
    timed("explorer first render, nothing shown before", lambda: cap.explore())
    cap._tile_values = None  # type: ignore[attr-defined]  # the tiles' values are computed once per capture
    timed("overview (static HTML, 17 tiles)", lambda: overview_html(cap))
    w = timed("explorer first render after the overview", lambda: cap.explore())
    sizes = {"timeline": len(w.timeline), "page": len(w.grid)}
    timed("click tile 'Processes' (processes lens)", lambda: w._on_msg(w, {"kind": "tile", "index": 0}, None))
    timed("double-click busiest process (files lens)", lambda: w._on_msg(w, {"kind": "drill", "row": 0}, None))
    timed("back to all events", lambda: (w._on_msg(w, {"kind": "crumb", "depth": 0}, None),
                                         w._on_msg(w, {"kind": "lens", "name": "syscalls"}, None)))
    span = w.span[1]
    timed("brush 10% of the timeline", lambda: w._on_msg(w, {"kind": "window", "t0": span * .4, "t1": span * .5},
                                                          None))
    timed("zoom the timeline to it", lambda: w._on_msg(w, {"kind": "zoom", "t0": span * .4, "t1": span * .5}, None))
    timed("clear the window", lambda: w._on_msg(w, {"kind": "window"}, None))
    timed("sort all events by latency", lambda: w._on_msg(w, {"kind": "sort", "column": "evt.latency"}, None))
    timed("scroll to row 1,000,000", lambda: w._on_msg(w, {"kind": "page", "start": 1_000_000}, None))
    timed("filter box: proc.name=httpd and evt.type=accept",
          lambda: w._on_msg(w, {"kind": "filter", "text": "proc.name=httpd and evt.type=accept"}, None))
    print(f"  sent to the browser: timeline {sizes['timeline'] / 1024:.1f} KiB, "
          f"one page {sizes['page'] / 1024:.1f} KiB")
    if shutil.which("sysdig"):
        t = time.perf_counter()
        subprocess.run(["sysdig", "-r", path, "evt.num=0"], stdout=subprocess.DEVNULL, check=True)
        print(f"  reference: sysdig -r FILE evt.num=0 (one read pass){(time.perf_counter() - t) * 1e3:13.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

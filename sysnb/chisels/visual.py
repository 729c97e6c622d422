"""Terminal visualisations: spectrogram (latency frequencies) and subsecoffset (sub-second offsets).

Both are one 2-D histogram (time interval x bucket) computed with ``np.bincount``. The table goes to
notebooks (``result.chart()`` draws it as an Altair heat map); the CLI draws sysdig's ANSI rows on a
terminal and, like sysdig, refuses anywhere else ("This chisel only works on ANSI terminals").
"""

from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.chisels.registry import Arg, ChiselResult, chisel
from sysnb.chisels.table import format_time

COLPALETTE = (22, 28, 64, 34, 2, 76, 46, 118, 154, 191, 227, 226, 11, 220, 209, 208, 202, 197, 9, 1)
CHARPALETTE = (" ", "░", "▒", "░")
NOT_A_TTY = "This chisel only works on ANSI terminals. Aborting."


def _mkcol(n: int, per_sec: float) -> tuple[int, int, str]:
    col = min(max(math.log10(n * per_sec + 1) / math.log10(1.6), 1), len(COLPALETTE))
    low, high = math.floor(col), math.ceil(col)
    delta = col - low
    ch = CHARPALETTE[min(math.floor(1 + delta * len(CHARPALETTE)), len(CHARPALETTE)) - 1]
    if delta > .75:
        return COLPALETTE[high - 1], COLPALETTE[low - 1], ch
    return COLPALETTE[low - 1], COLPALETTE[high - 1], ch


def histogram(ts: np.ndarray, bucket: np.ndarray, start: int, interval: int, width: int) -> pa.Table:
    """Non-empty (interval, bucket, events) cells; buckets run 1..width as in the Lua tables."""
    row = (ts - start) // interval
    keep = (bucket >= 1) & (bucket <= width)
    key = row[keep] * (width + 1) + bucket[keep]
    counts = np.bincount(key) if len(key) else np.zeros(0, np.int64)
    nz = np.flatnonzero(counts)
    return pa.table({"interval_start_ns": (start + nz // (width + 1) * interval).astype(np.int64),
                     "bucket": (nz % (width + 1)).astype(np.int32), "events": counts[nz].astype(np.int64)})


def _ansi_rows(cells: pa.Table, width: int, per_sec: float, axis: str) -> Iterable[str]:
    """One colored row per interval (empty intervals included), each followed by the axis line."""
    if cells.num_rows == 0:
        return
    starts = cells["interval_start_ns"].to_numpy()
    first, last = int(starts.min()), int(starts.max())
    by_row: dict[int, dict[int, int]] = {}
    for s, b, n in zip(starts.tolist(), cells["bucket"].to_pylist(), cells["events"].to_pylist(), strict=True):
        by_row.setdefault(s, {})[b] = n
    step = int(np.min(np.diff(np.unique(starts)))) if len(np.unique(starts)) > 1 else 1
    for s in range(first, last + 1, step):
        out = ["\x1b[1F"]
        for x in range(1, width + 1):
            fr = by_row.get(s, {}).get(x, 0)
            if not fr:
                out.append("\x1b[38;5;0m\x1b[48;5;0m ")
            else:
                fg, bg, ch = _mkcol(fr, per_sec)
                out.append(f"\x1b[38;5;{fg}m\x1b[48;5;{bg}m{ch}")
        yield "".join(out) + "\x1b[0m"
        yield axis


def _latency_axis(width: int) -> str:
    out, x = [], 0
    while x < width:
        cur, prev = math.floor(x * 11 / width), math.floor((x - 1) * 11 / width)
        if cur != prev:
            label = "|" + format_time(10 ** cur)
            out.append(label)
            x += len(label)
        else:
            out.append(" ")
            x += 1
    return "".join(out)


def _offset_axis(width: int, refresh: int) -> str:
    max_label = len(f"|{0.9 * refresh / 10_000_000:g}ms")
    out, x = [], 0
    while x < width:
        cur, prev = math.floor(x * 10 / width), math.floor((x - 1) * 10 / width)
        if cur != prev and x <= width - max_label:
            label = f"|{math.floor(10 * x / width) * refresh / 10_000_000:g}ms"
            out.append(label)
            x += len(label)
        else:
            out.append(" ")
            x += 1
    return "".join(out)


def _terminal_text(name: str, rows: Callable[[], Iterable[str]]) -> Callable[[], Iterable[str]]:
    def text() -> Iterable[str]:
        if not sys.stdout.isatty():
            print(f"init() for chisel {name} failed.", file=sys.stderr)
            yield NOT_A_TTY
            return
        yield "\x1b[?25l"
        yield from rows()
        yield "\x1b[0m\x1b[?25h"
    return text


def _heatmap(cells: pa.Table, x_title: str) -> Any:
    import altair as alt

    data = cells.rename_columns(["interval_start_ns", "bucket", "events"]).to_pandas()
    data["interval_s"] = (data["interval_start_ns"] - data["interval_start_ns"].min()) / 1e9
    return alt.Chart(data).mark_rect().encode(
        x=alt.X("bucket:O", title=x_title, axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("interval_s:O", title="seconds since the first event"),
        color=alt.Color("events:Q", scale=alt.Scale(type="log", scheme="redyellowgreen", reverse=True)),
        tooltip=["interval_s", "bucket", "events"]).properties(width=600)


def _visual(name: str, ts: np.ndarray, keep: np.ndarray, bucket: np.ndarray, refresh: int, width: int,
            axis: str, x_title: str) -> ChiselResult:
    """The histogram of the kept events by (interval, bucket), as a table, terminal rows and a heat map."""
    cells = histogram(ts[keep], bucket, int(ts[0]) if len(ts) else 0, refresh, width)
    return ChiselResult(cells, _terminal_text(name, lambda: _ansi_rows(cells, width, 1e9 / refresh, axis)),
                        chart=lambda: _heatmap(cells, x_title), terminal=True)


_REFRESH = Arg("refresh_time", "Chart refresh time in milliseconds", "int", True)


@chisel("spectrogram", category="CPU Usage", short="Visualize OS latency in real time.", args=[_REFRESH],
        description="This console visualization shows the frequency of system call latencies. The Y axis unit is "
                    "time. By default, a new line is created twice a second, but that can be changed by specifying "
                    "a different refresh time argument. The X axis shows a range of latencies. Each latency value "
                    "has a color that can be black (no calls), green (tens of calls/s), yellow (hundreds of "
                    "calls/s) or red (Thousands of calls/s). In other words, red areas mean that there are many "
                    "system calls taking the specified time to return. Use this chisel in conjunction with filters "
                    "to visualize latencies for certain processes, types of I/O activity, file systems, etc.")
def spectrogram(events: pa.Table, refresh_time: int | None = None) -> ChiselResult:
    """Exit events per interval by log10(latency) bucket (1 ns .. 100 s across the terminal width)."""
    refresh = (refresh_time or 500) * 1_000_000
    width = shutil.get_terminal_size((80, 24)).columns
    rows = events.filter(pc.equal(events["evt.dir"].cast(pa.string()), "<"))
    lat = np.asarray(pc.fill_null(rows["evt.latency"], 0).to_numpy(), np.float64)
    ts = np.asarray(rows["evt.rawtime"].to_numpy(), np.int64)
    keep = lat > 0
    llat = np.minimum(np.log10(lat[keep]), 11)
    bucket = (np.floor(llat * width / 11) + 1).astype(np.int64)
    return _visual("spectrogram", ts, keep, bucket, refresh, width, _latency_axis(width),
                   "latency (log10 buckets, 1 ns .. 100 s)")


@chisel("subsecoffset", category="CPU Usage", short="Visualize subsecond offset execution time.",
        args=[Arg("refresh_time", "chart refresh time in milliseconds", "int", True)],
        description="This visualizes the subsecond offset time of system call execution. This allows repetitive "
                    "patterns to be identified, which are lost when averaging at a one second granularity. The Y "
                    "axis (vertical) shows the passage of time. The X axis (horizontal) shows the passage of time "
                    "within whole or fractions of a second. By default, the X axis range is 1000 milliseconds; this "
                    "can be specified as an argument (try 100). Each bucket of the heat map, or spectrogram, is "
                    "shown as a colored rectangle. The color shows how many syscalls fell into that time and "
                    "subsecond offset range. It can be black (no calls), green (tens of calls/s), yellow (hundreds "
                    "of calls/s) or red (Thousands of calls/s). Use this chisel in conjunction with filters to "
                    "visualize latencies for certain processes, types of I/O activity, file systems, etc.")
def subsecoffset(events: pa.Table, refresh_time: int | None = None) -> ChiselResult:
    """Enter events per interval by their offset inside the interval (across the terminal width)."""
    refresh = (refresh_time or 1000) * 1_000_000
    width = shutil.get_terminal_size((80, 24)).columns
    rows = events.filter(pc.equal(events["evt.dir"].cast(pa.string()), ">"))
    ts = np.asarray(rows["evt.rawtime"].to_numpy(), np.int64)
    bucket = (ts % refresh) * width // refresh
    return _visual("subsecoffset", ts, np.ones(len(ts), bool), bucket, refresh, width,
                   _offset_axis(width, refresh), f"offset inside each {refresh // 1_000_000} ms interval")

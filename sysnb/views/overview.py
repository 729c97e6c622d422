"""The Capture overview (Sysdig Inspect's first page) as static HTML: provenance, then tiles with a total,
a sparkline of when it happened, and the sysdig filter that drills down to it.

Every tile is a sysdig filter evaluated on whole columns (plus, for byte tiles, a sum of evt.rawres), so a
tile's number is exactly what ``%sysfilter <its filter>`` shows. The HTML needs no JavaScript and no
network, so it survives nbconvert export, nbval and reports unchanged.
"""

from __future__ import annotations

import base64
import html
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.format.escape import html_text, label

if TYPE_CHECKING:
    from sysnb.capture import Capture

BINS = 40


@dataclass(frozen=True)
class Tile:
    title: str
    filter: str
    measure: str = "count"  # count | bytes | distinct:<field>
    group: str = "Activity"


TILES = (
    Tile("Processes", "proc.pid exists", "distinct:proc.pid"),
    Tile("System calls", "evt.dir=<"),
    Tile("File bytes in", "fd.type=file and evt.dir=< and evt.type in (read, pread, readv, preadv)", "bytes", "Files"),
    Tile("File bytes out", "fd.type=file and evt.dir=< and evt.type in (write, pwrite, writev, pwritev)", "bytes",
         "Files"),
    Tile("Accessed files", "evt.type in (open, openat, openat2, creat) and evt.dir=< and evt.failed=false",
         "distinct:fd.name", "Files"),
    Tile("Modified files", "fd.type=file and evt.dir=< and evt.type in (write, pwrite, writev, pwritev)",
         "distinct:fd.name", "Files"),
    Tile("Deleted files", "evt.type in (unlink, unlinkat) and evt.dir=< and evt.failed=false", "count", "Files"),
    Tile("File open errors", "evt.type in (open, openat, openat2, creat) and evt.dir=< and evt.failed=true",
         "count", "Files"),
    Tile("Net bytes in", "fd.type in (ipv4, ipv6) and evt.dir=< and evt.type in (read, readv, recvfrom, recvmsg)",
         "bytes", "Network"),
    Tile("Net bytes out", "fd.type in (ipv4, ipv6) and evt.dir=< and evt.type in (write, writev, sendto, sendmsg)",
         "bytes", "Network"),
    Tile("New connections in", "evt.type in (accept, accept4) and evt.dir=< and evt.failed=false", "count",
         "Network"),
    Tile("New connections out", "evt.type=connect and evt.dir=< and (evt.failed=false or evt.res=EINPROGRESS)",
         "count", "Network"),
    Tile("Failed connections", "evt.type=connect and evt.dir=< and evt.failed=true and not evt.res=EINPROGRESS",
         "count", "Network"),
    Tile("Listening ports", "evt.type=listen and evt.dir=>", "distinct:fd.name", "Network"),
    Tile("Executed commands", "evt.type=execve and evt.dir=< and evt.failed=false", "count", "Security"),
    Tile("sudo / setns", "(evt.type=execve and evt.dir=< and proc.name=sudo) or (evt.type=setns and evt.dir=<)",
         "count", "Security"),
    Tile("Slow file I/O (> 1 ms)", "fd.type=file and evt.dir=< and evt.latency > 1000000", "count", "Performance"),
)


def tile_values(cap: Capture) -> list[tuple[Tile, int, np.ndarray]]:
    """(tile, total, sparkline counts) for every tile, computed once per capture and set of tiles (the overview
    and the explorer both show them). Each tile's filter reads only its columns, over the whole table; only
    the one or two columns its measure needs are filtered (no copy of the table's rows)."""
    from sysnb.capture import returned_mask
    from sysnb.filter import compile_filter
    from sysnb.rules.views import tiles as rule_tiles

    tiles = (*TILES, *rule_tiles(cap))  # "Falco alerts" once cap.alerts(...) / %sysrules ran
    key = tuple(tile.filter for tile in tiles)
    cached = getattr(cap, "_tile_values", None)
    if cached is not None and cached[0] == key:
        return list(cached[1])
    table = cap.table
    returned = returned_mask(table)
    ts_all = table["evt.rawtime"].filter(returned).to_numpy()
    lo, hi = (int(ts_all.min()), int(ts_all.max())) if len(ts_all) else (0, 0)
    context = cap.field_context() if hasattr(cap, "field_context") else None
    out = []
    for tile in tiles:
        mask = pc.and_(returned, compile_filter(tile.filter).mask(table, context))
        measured = {"evt.rawtime"} | ({"evt.rawres"} if tile.measure == "bytes" else set())
        if ":" in tile.measure:
            measured.add(tile.measure.split(":", 1)[1])
        sel = table.select(sorted(measured)).filter(mask)
        total = _measure(sel, tile.measure)
        weights = pc.fill_null(sel["evt.rawres"], 0).to_numpy().clip(0) if tile.measure == "bytes" else None
        out.append((tile, total, time_bins(sel["evt.rawtime"].to_numpy(), lo, hi, BINS, weights)))
    cap._tile_values = (key, tuple(out))  # type: ignore[attr-defined]
    return out


def time_bins(ts: np.ndarray, lo: int, hi: int, bins: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Counts (or sums of ``weights``) of nanosecond timestamps in ``bins`` equal bins over [lo, hi].

    Integer arithmetic on offsets from ``lo``: np.histogram's float edges collapse for spans under ~10 us at
    today's epoch and overflow on a damaged timestamp near 2**64; here any span works, even 0."""
    span = max(hi - lo, 0) + 1
    offsets = np.asarray(ts, dtype=np.uint64) - np.uint64(lo)  # ts >= lo: exact in uint64
    index = np.minimum((offsets.astype(np.float64) * (bins / span)).astype(np.int64), bins - 1)
    return np.bincount(index, weights=weights, minlength=bins)[:bins]


def _measure(sel: pa.Table, measure: str) -> int:
    if measure == "bytes":
        return int(pc.sum(pc.max_element_wise(pc.fill_null(sel["evt.rawres"], 0), 0)).as_py() or 0)
    if measure.startswith("distinct:"):
        col = sel[measure.split(":", 1)[1]]
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        return int(pc.count_distinct(col).as_py())
    return int(sel.num_rows)


def human_value(v: int, measure: str) -> str:
    from sysnb.views.grid import human_bytes

    return human_bytes(v) if measure == "bytes" else f"{v:,}"


def _sparkline(counts: np.ndarray, width: int = 160, height: int = 28) -> str:
    """A tiny SVG line as an <img> data URI (JupyterLab's sanitizer keeps images, drops inline <svg>)."""
    peak = float(counts.max()) if counts.size and counts.max() > 0 else 1.0
    step = width / max(len(counts) - 1, 1)
    pts = " ".join(f"{i * step:.1f},{height - 2 - (c / peak) * (height - 4):.1f}" for i, c in enumerate(counts))
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
           f'<polyline fill="none" stroke="#2f6fb0" stroke-width="1.5" points="{pts}"/></svg>')
    data = base64.b64encode(svg.encode()).decode()
    return f'<img alt="sparkline" width="{width}" height="{height}" src="data:image/svg+xml;base64,{data}">'


# inline styles only: untrusted notebooks (JupyterLab's sanitizer) drop <style> blocks
_BOX = "font-family:system-ui,sans-serif;font-size:13px;color:#222"
_PROV = "background:#f4f6f8;border:1px solid #dde3ea;border-radius:6px;padding:8px 12px;margin-bottom:10px"
_TILE = ("display:inline-block;vertical-align:top;border:1px solid {border};border-radius:6px;padding:6px 10px;"
         "width:180px;margin:0 8px 8px 0;background:{bg}")
_CODE = "font-size:10px;color:#678;display:block;white-space:normal;word-break:break-word"


def event_count(cap: Capture) -> str:
    """The events of a capture (or view) as ``repr`` counts them: the ones sysdig prints, labelled, with the
    table's other rows (state-only and internal events) named apart."""
    shown = int(pc.sum(cap.table["sysnb.visible"]).as_py() or 0) if cap.table.num_rows else 0
    if shown == 0:
        return "none: the capture holds no events" if cap.provenance.events == 0 else "none in this view"
    hidden = cap.table.num_rows - shown
    extra = f" (+ {hidden:,} state and internal records sysdig does not print)" if hidden else ""
    return f"{shown:,} as sysdig prints them{extra}"


def _utc(ns: int | None) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ns / 1e9)) if ns else "?"
    except (OverflowError, OSError, ValueError):  # a damaged timestamp beyond what the C library converts
        return f"? ({ns} ns)"


def overview_html(cap: Capture) -> str:
    p = cap.provenance
    span = f"{(p.end_ns - p.start_ns) / 1e9:.3f} s" if p.start_ns is not None and p.end_ns is not None else "?"
    rec = p.extra.get("recorder") or {}
    prov = [("file", os.path.basename(p.source)), ("sha256", p.sha256), ("host", p.hostname or "?"),
            ("start", _utc(p.start_ns)), ("duration", span), ("events", event_count(cap)),
            ("sysnb", p.sysnb_version)]
    if rec:
        prov.append(("drops", f"{rec.get('drops', 0)} (snaplen {rec.get('snaplen')})"))
    if p.error:
        prov.append(("DAMAGED", f"{p.error} (byte {p.error_offset})"))
    rows = "".join(f'<tr><td style="color:#667;padding-right:10px;text-align:left">{html.escape(k)}</td>'
                   f'<td style="text-align:left"><code>{html_text(v)}</code></td></tr>' for k, v in prov)
    parts = [f'<div style="{_BOX}">', f'<div style="{_PROV}"><table>{rows}</table></div>']
    group = None
    for tile, total, spark in tile_values(cap):
        if tile.group != group:
            if group is not None:
                parts.append("</div>")
            group = tile.group
            parts.append(f'<div style="margin:10px 0 4px 0;font-weight:600;color:#445">{html.escape(group)}</div><div>')
        hot = bool(total) and tile.group in ("Security", "Falco rules")
        style = _TILE.format(border="#d9822b" if hot else "#dde3ea", bg="#fff8f0" if hot else "#fff")
        parts.append(f'<div style="{style}"><div style="color:#556;font-size:12px">{html.escape(tile.title)}</div>'
                     f'<div style="font-size:20px;font-weight:600">{human_value(total, tile.measure)}</div>'
                     f'{_sparkline(spark)}<code style="{_CODE}">%sysfilter {html.escape(tile.filter)}</code></div>')
    parts.append("</div></div>")
    return "".join(parts)


def overview_text(cap: Capture) -> str:
    """The same tiles as plain text (``repr`` in a terminal, text/plain in notebooks)."""
    lines = [label(repr(cap)), f"  events: {event_count(cap)}"]
    for tile, total, _ in tile_values(cap):
        lines.append(f"  {tile.title:<24}{human_value(total, tile.measure):>12}   {tile.filter}")
    return "\n".join(lines)

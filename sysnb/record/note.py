"""The recorder's note in the .scap: engine, duration, syscalls recorded and dropped, so that every later open
shows how complete the evidence is.

It is one metadata block of a type libscap does not know (``NOTE_TYPE``), written after the /proc snapshot
and before the first event: libscap (sysdig 0.29.3 included) skips unknown block types there, and the file
prints exactly as without it (a block after the first event would make sysdig stop with "invalid block
type"). The body is JSON. The recorder knows its drop counters before it writes the first event (the
records are converted from the spill after the recording stopped), so no sidecar file is needed.

On open the note is read by scanning the metadata blocks up to the first event block; the file is hostile
input: sizes are bounded and every value is checked before it is shown.
"""

from __future__ import annotations

import gzip
import json
import math
import struct
import zlib
from typing import Any, BinaryIO

from sysnb.scap import blocks as B
from sysnb.scap.writer import metadata_block

NOTE_TYPE = int.from_bytes(b"SNB1", "little")
MAX_NOTE = 1 << 16          # bytes of JSON
MAX_SCAN = 256 << 20        # metadata bytes looked through before giving up (a capture's /proc snapshot)
_INT_KEYS = ("syscalls", "drops", "drops_carried", "snaplen")
_LIST_KEYS = ("drops_per_cpu", "seen_per_cpu", "pending_per_cpu")
_TEXT_KEYS = ("engine", "stop_reason", "recorded_at")
_BOOL_KEYS = ("latency", "recovered", "drops_exact")


def note_block(note: dict[str, Any]) -> bytes:
    """The encoded block of ``note`` (``ScapWriter.write_metadata``)."""
    return metadata_block(NOTE_TYPE, json.dumps({"kind": "sysnb-recorder", **note}, sort_keys=True).encode())


def read_note(path: str) -> dict[str, Any] | None:
    """The recorder's note of the capture at ``path``, or None (not recorded by sysnb, or unreadable)."""
    try:
        with open(path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream: BinaryIO = gzip.GzipFile(fileobj=raw) if gz else raw  # type: ignore[assignment]
            body = _find_note(stream)
    except (OSError, EOFError, zlib.error, struct.error):
        return None
    return parse_note(body) if body is not None else None


def _find_note(f: BinaryIO) -> bytes | None:
    head = f.read(8)
    if len(head) < 8 or struct.unpack("<I", head[:4])[0] != B.SHB:
        return None
    scanned, blen = 8, struct.unpack("<I", head[4:])[0]
    while scanned < MAX_SCAN:
        if blen < 12:
            return None
        f.seek(blen - 8, 1)  # the rest of the previous block
        scanned += blen
        head = f.read(8)
        if len(head) < 8:
            return None
        btype, blen = struct.unpack("<II", head)
        if btype in B.EV or btype == B.SHB:
            return None
        if btype == NOTE_TYPE:
            return f.read(min(max(blen - 12, 0), MAX_NOTE)) if blen - 12 <= MAX_NOTE else None
    return None


def parse_note(body: bytes) -> dict[str, Any] | None:
    """The checked fields of a note block body (unknown keys and values of the wrong type are left out)."""
    try:
        raw = json.loads(body.rstrip(b"\0"))
    except ValueError:
        return None
    if not isinstance(raw, dict) or raw.get("kind") != "sysnb-recorder":
        return None
    note: dict[str, Any] = {}
    for k in _INT_KEYS:
        if _count(raw.get(k)):
            note[k] = raw[k]
    for k in _LIST_KEYS:
        v = raw.get(k)
        if isinstance(v, list) and len(v) <= 8192 and all(_count(x) for x in v):
            note[k] = v
    for k in _TEXT_KEYS:
        if isinstance(raw.get(k), str):
            note[k] = raw[k][:500]
    for k in _BOOL_KEYS:
        if isinstance(raw.get(k), bool):
            note[k] = raw[k]
    secs = raw.get("seconds")
    if isinstance(secs, int | float) and not isinstance(secs, bool) and math.isfinite(secs) and secs >= 0:
        note["seconds"] = float(secs)
    return note


def _count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 63


def drop_line(note: dict[str, Any]) -> str | None:
    """What to tell whoever opens a capture whose recorder lost (or may have lost) syscalls or stopped early,
    or None."""
    drops = int(note.get("drops", 0))
    exact = note.get("drops_exact", True)
    parts = []
    if drops:
        total = drops + int(note.get("syscalls", 0))
        parts.append(f"the recorder dropped {'' if exact else 'at least '}{drops:,} of {total:,} syscalls "
                     f"({100.0 * drops / total:.2f} %) while recording this capture (its rings were full): "
                     "their events are missing")
    if not exact:
        parts.append("this capture was recovered from the spill of a recorder that did not stop: drops after "
                     "each CPU's last record are not counted")
    if note.get("stop_reason"):
        parts.append(f"the recording stopped early: {note['stop_reason']}")
    return "; ".join(parts) or None


def capture_note(extra: dict[str, Any]) -> str | None:
    """``drop_line`` of an open capture's recorder note (``provenance.extra["recorder"]``), if any."""
    note = extra.get("recorder")
    return drop_line(note) if isinstance(note, dict) else None

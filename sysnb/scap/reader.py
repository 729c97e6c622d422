"""Streaming reader of .scap files (plain or gzip), every block type and version.

``read_scap(path)`` yields, in file order:

* a :class:`Section` each time a section's metadata is complete (before its events);
* lists of raw events (at most ``batch_size`` each).

A raw event is a tuple ``(offset, cpu, flags, ts, tid, type, params)`` where
``params`` is a tuple of ``bytes`` values (one per parameter). The reader never
interprets parameter values; that is the state engine's job.

On a damaged file the reader yields every event before the damage and then
raises :class:`~sysnb.errors.CaptureFormatError` naming the byte offset (in the
uncompressed stream) and the block; for gzip, also the compressed byte offset where
decompression stopped (gzip files are decompressed incrementally by ``gzstream``, so
damage loses nothing before it).
"""

from __future__ import annotations

import struct
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from sysnb.errors import CaptureFormatError
from sysnb.scap import blocks as B
from sysnb.scap.events import INFRASTRUCTURE_EVENT_E, NOTIFICATION_E, event_info
from sysnb.scap.gzstream import GzipStream

RawEvent = tuple[int, int, int, int, int, int, tuple[bytes, ...]]

_CHUNK = 8 << 20
_MAX_BLOCK = 1 << 32


@dataclass
class Section:
    """The metadata of one section (a file may hold several, concatenated)."""

    offset: int
    version: tuple[int, int]
    machine: B.MachineInfo | None = None
    threads: list[B.ThreadEntry] = field(default_factory=list)
    fds: dict[int, list[B.FdEntry]] = field(default_factory=dict)
    users: list[B.UserEntry] = field(default_factory=list)
    groups: dict[int, str] = field(default_factory=dict)
    interfaces: list[B.InterfaceEntry] = field(default_factory=list)


def open_stream(path: str) -> BinaryIO:
    """Open a capture, transparently decompressing gzip. Refuses files that are not captures."""
    f = open(path, "rb")  # noqa: SIM115 - returned to the caller
    head = f.read(4)
    f.seek(0)
    if head[:2] == b"\x1f\x8b":
        return GzipStream(f)  # type: ignore[return-value]
    if head == b"\x0a\x0d\x0d\x0a":
        return f
    f.close()
    if not head:
        raise CaptureFormatError("the file is empty, not a .scap capture", path=path, offset=0)
    if head[:4] == b"\x28\xb5\x2f\xfd":
        raise CaptureFormatError("the file is Zstandard-compressed; decompress it with `zstd -d` first",
                                 path=path, offset=0)
    raise CaptureFormatError(
        f"not a .scap capture: it starts with bytes {head.hex(' ')}, a capture starts with 0a 0d 0d 0a "
        "(or 1f 8b when gzip-compressed)", path=path, offset=0)


class _Window:
    """A sliding window over a binary stream, so blocks can be sliced without copying the file."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.buf = b""
        self.base = 0  # stream offset of buf[0]
        self.eof = False
        self.error = ""  # why the stream ended early (an I/O error), when it did

    def ensure(self, offset: int, n: int) -> bool:
        """Make bytes [offset, offset+n) available; False if the stream ends first."""
        rel = offset - self.base
        if rel + n <= len(self.buf):
            return True
        if self.eof:
            return False
        keep = self.buf[rel:] if rel < len(self.buf) else b""
        parts = [keep]
        have = len(keep)
        need = n - have
        while need > 0 or have < _CHUNK // 2:
            try:
                chunk = self.stream.read(max(_CHUNK, need))
            except OSError as e:  # the disk or the file system failed
                self.eof = True
                self.error = f"cannot read the file: {e}"
                break
            if not chunk:
                self.eof = True
                break
            parts.append(chunk)
            have += len(chunk)
            need -= len(chunk)
        self.buf = b"".join(parts)
        self.base = offset
        return len(self.buf) >= n

    def view(self, offset: int, n: int) -> memoryview:
        rel = offset - self.base
        return memoryview(self.buf)[rel:rel + n]

    def at_end(self, offset: int) -> bool:
        return not self.ensure(offset, 1)

    def damage(self, path: str, pos: int, block: str = "") -> CaptureFormatError | None:
        """Why the stream ended before the file did (gzip damage, read error), as the error to raise at
        ``pos``, the first block not read completely; None when the file simply ends."""
        gz = getattr(self.stream, "damage", None)
        if gz is not None:
            return CaptureFormatError(f"{gz.describe()}; every event before the damage was read", path=path,
                                      offset=pos, block=block, compressed_offset=gz.compressed_offset)
        if self.error:
            return CaptureFormatError(f"{self.error}; every event before it was read", path=path, offset=pos,
                                      block=block)
        return None


def read_scap(path: str, batch_size: int = 65536, events: bool = True) -> Iterator[Section | list[RawEvent]]:
    """Sections and batches of raw events, in file order. ``events=False`` yields only the sections
    (event blocks are framed and checked but not decoded)."""
    stream = open_stream(path)
    try:
        yield from _read_blocks(path, _Window(stream), batch_size, events)
    finally:
        stream.close()


def _read_blocks(path: str, win: _Window, batch_size: int, events: bool) -> Iterator[Section | list[RawEvent]]:
    pos = 0
    section: Section | None = None
    in_events = False
    batch: list[RawEvent] = []
    hdr = _BLOCK_HDR.unpack_from
    u32 = _U32.unpack_from
    while True:
        if not win.ensure(pos, 8):
            if win.ensure(pos, 1):
                yield from _flush(batch)
                raise win.damage(path, pos) or CaptureFormatError(
                    "file ends inside a block header (truncated capture); every event before it was read",
                    path=path, offset=pos)
            break
        buf, rel = win.buf, pos - win.base
        btype, blen = hdr(buf, rel)
        if blen < 12 or blen % 4 or blen >= _MAX_BLOCK:
            yield from _flush(batch)
            raise CaptureFormatError(f"invalid block length {blen}", path=path, offset=pos,
                                     block=B.block_name(btype))
        if rel + blen > len(buf):
            if not win.ensure(pos, blen):
                yield from _flush(batch)
                raise win.damage(path, pos, B.block_name(btype)) or CaptureFormatError(
                    f"file ends inside a block of {blen} bytes (truncated capture); "
                    "every event before this block was read", path=path, offset=pos, block=B.block_name(btype))
            buf, rel = win.buf, pos - win.base
        if u32(buf, rel + blen - 4)[0] != blen:
            yield from _flush(batch)
            raise CaptureFormatError("block trailer does not repeat the block length (corrupt capture)",
                                     path=path, offset=pos, block=B.block_name(btype))
        ev = B.EV.get(btype)
        if ev is not None:
            if not in_events:
                if section is None:
                    raise CaptureFormatError("event block before any section header", path=path, offset=pos,
                                             block=B.block_name(btype))
                in_events = True
                yield section
            if not events:
                pos += blen
                continue
            try:
                batch.append(_event(buf, rel + 8, rel + blen - 4, pos, ev))
            except (ValueError, struct.error) as e:
                yield from _flush(batch)
                raise CaptureFormatError(f"corrupt event: {e}", path=path, offset=pos,
                                         block=B.block_name(btype)) from None
            if len(batch) >= batch_size:
                yield batch
                batch = []
        else:
            body = memoryview(buf)[rel + 8:rel + blen - 4]
            section, in_events = yield from _metadata_block(path, pos, btype, body, section, in_events, batch)
            batch = []
        pos += blen
    if section is not None and not in_events:
        yield section
    yield from _flush(batch)
    damage = win.damage(path, pos)
    if damage is not None:  # e.g. a gzip checksum that does not match, or garbage after the last member
        raise damage


def _metadata_block(path: str, pos: int, btype: int, body: memoryview, section: Section | None, in_events: bool,
                    batch: list[RawEvent]) -> Generator[list[RawEvent], None, tuple[Section, bool]]:
    """A non-event block: the section header, list blocks, or (after events) the start of a new section."""
    name = B.block_name(btype)
    if btype == B.SHB or in_events or section is None:
        yield from _flush(batch)
        in_events = False
        if btype != B.SHB:
            if section is None:
                raise CaptureFormatError("the file does not start with a section header block",
                                         path=path, offset=pos, block=name)
            section = Section(pos, section.version)  # concatenated capture without SHB
        else:
            section = Section(pos, _section_header(body, path, pos))
    if btype != B.SHB:
        try:
            _metadata(section, btype, body)
        except (ValueError, struct.error, UnicodeDecodeError) as e:
            raise CaptureFormatError(f"corrupt metadata: {e}", path=path, offset=pos, block=name) from None
    return section, in_events


def _flush(batch: list[RawEvent]) -> Iterator[list[RawEvent]]:
    if batch:
        yield list(batch)
        batch.clear()


def _section_header(body: memoryview, path: str, pos: int) -> tuple[int, int]:
    if len(body) < 16:
        raise CaptureFormatError("section header block too short", path=path, offset=pos, block="section header")
    magic, major, minor = struct.unpack_from("<IHH", body)
    if magic == 0x4D3C2B1A:
        raise CaptureFormatError("big-endian capture: byte-swapped files are not supported",
                                 path=path, offset=pos, block="section header")
    if magic != B.BYTE_ORDER_MAGIC:
        raise CaptureFormatError(f"bad byte-order magic 0x{magic:08X}", path=path, offset=pos, block="section header")
    if major != 1:
        raise CaptureFormatError(
            f"unsupported capture format version {major}.{minor}: sysnb reads version 1.x; "
            "a newer sysnb may read it", path=path, offset=pos, block="section header")
    return major, minor


def _metadata(section: Section, btype: int, body: memoryview) -> None:
    if btype in B.MI:
        section.machine = B.parse_machine_info(body)
    elif btype in B.PL:
        section.threads.extend(B.parse_process_list(body, B.PL[btype]))
    elif btype in B.FDL:
        tid, fds = B.parse_fd_list(body, B.FDL[btype])
        section.fds.setdefault(tid, []).extend(fds)
    elif btype in B.UL:
        users, groups = B.parse_user_list(body, B.UL[btype])
        section.users.extend(users)
        section.groups.update(groups)
    elif btype in B.IL:
        section.interfaces.extend(B.parse_interface_list(body, B.IL[btype]))
    # unknown metadata blocks are skipped by length, as libscap does


_BLOCK_HDR = struct.Struct("<II")
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")
_HDR_V2 = struct.Struct("<QqIHI")
_HDR_V1 = struct.Struct("<QqIH")


def _event(buf: bytes, start: int, end: int, offset: int, kind: tuple[int, bool, bool]) -> RawEvent:
    """Decode one event from ``buf[start:end]`` (the block body): header fields and raw parameter values."""
    version, has_flags, large = kind
    cpu = _U16.unpack_from(buf, start)[0]
    p = start + 2
    flags = 0
    if has_flags:
        flags = _U32.unpack_from(buf, p)[0]
        p += 4
    room = end - p
    if version == 2:
        if room < 26:
            raise ValueError("event header does not fit in the block")
        ts, tid, elen, etype, nparams = _HDR_V2.unpack_from(buf, p)
        hdr = 26
    else:
        if room < 22:
            raise ValueError("event header does not fit in the block")
        ts, tid, elen, etype = _HDR_V1.unpack_from(buf, p)
        hdr = 22
    if elen < hdr or elen > room:
        raise ValueError(f"event length {elen} does not fit in the block ({room} bytes)")
    if version == 1:
        nparams, elen = _v1_nparams(memoryview(buf)[p:p + elen], etype, elen)
    if nparams > 65535:
        raise ValueError(f"type {etype}: {nparams} parameters")
    lens = struct.unpack_from(f"<{nparams}{'I' if large else 'H'}", buf, p + hdr) if nparams else ()
    q = p + hdr + (4 if large else 2) * nparams
    if q - p + sum(lens) != elen:
        raise ValueError(f"type {etype}: {nparams} parameter lengths add up to {q - p + sum(lens)}, "
                         f"the header says {elen}")
    params = []
    for n in lens:
        params.append(buf[q:q + n])
        q += n
    return (offset, cpu, flags, ts, tid, etype, tuple(params))


def _v1_nparams(ev: memoryview, etype: int, elen: int) -> tuple[int, int]:
    """Reconstruct nparams of a v1 event as libscap does: largest n whose lengths add up to len."""
    info = event_info(etype)
    if info is None:
        raise ValueError(f"unknown event type {etype} in a v1 block cannot be split into parameters")
    if etype in (NOTIFICATION_E, INFRASTRUCTURE_EVENT_E):
        elen -= 3
    for n in range(len(info.params), -1, -1):
        if 22 + 2 * n > elen:
            continue
        lens = struct.unpack_from(f"<{n}H", ev, 22)
        if 22 + 2 * n + sum(lens) == elen:
            return n, elen
    raise ValueError(f"type {etype}: no parameter count matches the event length {elen}")

"""Write ``.scap`` files that sysdig 0.29.3 (and current libs) read.

Layout as libscap writes it (``scap-format.md`` §11): SHB 1.2, machine info, IL_V2, UL_V2, PL_V9 (tail up
to ``loginuid`` only, the form every reader accepts), one FDL_V2 per thread (fd types <= 16), then events as
EV_V2 blocks (EVF_V2 when an event carries flags). Events are encoded a whole batch at a time with numpy:
the header, the parameter lengths, the values and the trailer of every block are scattered into one
output buffer, so writing costs no Python per event.
"""

from __future__ import annotations

import gzip
import socket
import struct
from collections.abc import Callable
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.scap import blocks as B
from sysnb.scap.reader import Section

EV_V2, EVF_V2 = 0x216, 0x217
EV_V2_LARGE, EVF_V2_LARGE = 0x221, 0x222
PL_V9, FDL_V2, IL_V2, UL_V2 = 0x215, 0x218, 0x219, 0x220
LARGE_TYPES = frozenset({322, 324, 402})
MAX_FD_TYPE_2022 = 16  # sysdig 0.29.3 aborts the whole file on fd types >= 17

# EVF_V2 header as written: block type, block length, cpu, flags, ts, tid, event len, type, nparams.
_HDR = np.dtype([("btype", "<u4"), ("blen", "<u4"), ("cpu", "<u2"), ("flags", "<u4"), ("ts", "<u8"),
                 ("tid", "<i8"), ("len", "<u4"), ("type", "<u2"), ("nparams", "<u4")])
_FLAGS_AT = slice(10, 14)  # bytes of the flags word, absent from EV_V2 blocks


class ScapWriter:
    """A ``.scap`` file being written: sections (metadata) then event batches. Use as a context manager."""

    def __init__(self, path: str, compress: bool | None = None, level: int = 6) -> None:
        self.path = path
        gz = path.endswith(".gz") if compress is None else compress
        raw = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._raw = raw
        # mtime 0 (gzip -n): the same events give the same bytes, so a re-written subset keeps its sha256
        self._out: BinaryIO = gzip.GzipFile(  # type: ignore[assignment]
            fileobj=raw, mode="wb", compresslevel=level, mtime=0) if gz else raw
        self.events_written = 0

    def __enter__(self) -> ScapWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()

    def write_section(self, section: Section) -> None:
        """The section header and the metadata blocks describing the state at capture start."""
        self._out.write(section_bytes(section))

    def write_metadata(self, blocks: bytes) -> None:
        """Metadata blocks already encoded (``section_bytes``, ``metadata_block``). Only before the first
        event: libscap skips block types it does not know there, but fails on them between events."""
        self._out.write(blocks)

    def write_events(self, events: pa.Table | pa.RecordBatch) -> None:
        """Events from columns ``evt.cpu``, ``sysnb.evt_flags``, ``evt.rawtime``, ``thread.tid``,
        ``sysnb.type_id`` and ``sysnb.params`` (a list of raw parameter values per event)."""
        types = events.column("sysnb.type_id").to_numpy(zero_copy_only=False).astype(np.uint16)
        large = np.isin(types, list(LARGE_TYPES))
        if large.any():
            for i in np.flatnonzero(large):
                self._write_large(events.slice(int(i), 1))
            events = events.filter(pa.array(~large))
        if events.num_rows:
            self._out.write(encode_events(events))
            self.events_written += events.num_rows

    def _write_large(self, row: pa.Table | pa.RecordBatch) -> None:
        r = {k: v[0] for k, v in row.select(list(_LARGE_COLUMNS)).to_pydict().items()}
        params = [bytes(p) for p in r["sysnb.params"]]
        flags = int(r["sysnb.evt_flags"] or 0)
        elen = 26 + 4 * len(params) + sum(map(len, params))
        body = struct.pack("<H", r["evt.cpu"]) + (struct.pack("<I", flags) if flags else b"")
        body += struct.pack("<QqIHI", r["evt.rawtime"], r["thread.tid"], elen, r["sysnb.type_id"], len(params))
        body += struct.pack(f"<{len(params)}I", *map(len, params)) + b"".join(params)
        self._out.write(_block(EVF_V2_LARGE if flags else EV_V2_LARGE, body))
        self.events_written += 1


_LARGE_COLUMNS = ("evt.cpu", "sysnb.evt_flags", "evt.rawtime", "thread.tid", "sysnb.type_id", "sysnb.params")


def section_bytes(section: Section) -> bytes:
    """A section header and the metadata blocks describing ``section`` (the state at capture start)."""
    out = [_block(B.SHB, struct.pack("<IHHq", B.BYTE_ORDER_MAGIC, 1, 2, -1))]
    if section.machine is not None:
        out.append(_block(0x201, _machine(section.machine)))
    if section.interfaces:
        out.append(_block(IL_V2, b"".join(_interface(i) for i in section.interfaces)))
    if section.users or section.groups:
        out.append(_block(UL_V2, _users(section)))
    out.append(_block(PL_V9, b"".join(_thread(t) for t in section.threads)))
    for tid, fds in section.fds.items():
        entries = [_fd(f) for f in fds if f.type <= MAX_FD_TYPE_2022]
        if entries:
            out.append(_block(FDL_V2, struct.pack("<q", tid) + b"".join(entries)))
    return b"".join(out)


EVENT_SCHEMA = pa.schema([("evt.cpu", pa.uint16()), ("sysnb.evt_flags", pa.uint32()), ("evt.rawtime", pa.uint64()),
                          ("thread.tid", pa.int64()), ("sysnb.type_id", pa.uint16()),
                          ("sysnb.params", pa.list_(pa.binary()))])


def encode_events(events: pa.Table | pa.RecordBatch) -> bytes:
    """EV_V2/EVF_V2 blocks of a batch of events (u16 parameter lengths), encoded by the native core (without
    the GIL); ``encode_events_reference`` is the numpy implementation it is tested against."""
    from sysnb._core import encode_events as native

    table = events if isinstance(events, pa.Table) else pa.Table.from_batches([events])
    table = table.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)
    return b"".join(native(batch) for batch in table.to_batches())


def encode_events_reference(events: pa.Table | pa.RecordBatch) -> np.ndarray:
    """EV_V2/EVF_V2 blocks of a batch of events (u16 parameter lengths), as one uint8 array."""
    n = events.num_rows
    params = events.column("sysnb.params")
    if isinstance(params, pa.ChunkedArray):
        params = params.combine_chunks()
    nparams = pc.list_value_length(params).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    values = params.flatten()
    plen = pc.binary_length(values).to_numpy(zero_copy_only=False).astype(np.int64)
    if plen.size and plen.max() > 0xFFFF:
        raise ValueError("a parameter longer than 65535 bytes needs a large-payload event type")
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1, offset=values.offset * 4)
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]] if len(values) else \
        np.zeros(0, np.uint8)
    vsum = np.zeros(n, np.int64)
    np.add.at(vsum, np.repeat(np.arange(n), nparams), plen)
    flags = _col(events, "sysnb.evt_flags", np.uint32, fill=0)
    hdr_len = np.where(flags != 0, 40, 36)  # block header 8 + cpu 2 (+ flags 4) + event header 26
    elen = 26 + 2 * nparams + vsum
    body = hdr_len - 8 + 2 * nparams + vsum  # bytes between the block header and the padding
    blen = (8 + body + 4 + 3) // 4 * 4
    hdr = np.zeros(n, _HDR)
    hdr["btype"] = np.where(flags != 0, EVF_V2, EV_V2)
    hdr["blen"] = blen
    hdr["cpu"] = _col(events, "evt.cpu", np.uint16)
    hdr["flags"] = flags
    hdr["ts"] = _col(events, "evt.rawtime", np.uint64)
    hdr["tid"] = _col(events, "thread.tid", np.int64)
    hdr["len"] = elen
    hdr["type"] = _col(events, "sysnb.type_id", np.uint16)
    hdr["nparams"] = nparams
    hdr_bytes = hdr.view(np.uint8).reshape(n, _HDR.itemsize)
    keep = np.ones((n, _HDR.itemsize), bool)
    keep[flags == 0, _FLAGS_AT] = False
    trailer = np.zeros((n, 7), np.uint8)
    pad = blen - (8 + body + 4)
    trailer[:, 3:] = blen.astype("<u4").view(np.uint8).reshape(n, 4)
    tkeep = np.arange(7)[None, :] >= (3 - pad)[:, None]
    segments = [(hdr_bytes[keep], hdr_len), (plen.astype("<u2").view(np.uint8), 2 * nparams), (data, vsum),
                (trailer[tkeep], pad + 4)]
    return interleave(segments, blen)


def interleave(segments: list[tuple[np.ndarray, np.ndarray]], total: np.ndarray) -> np.ndarray:
    """Concatenate, event by event, the per-event slices of several flat byte arrays."""
    starts = np.concatenate(([0], np.cumsum(total)[:-1]))
    out = np.empty(int(total.sum()), np.uint8)
    at = starts.copy()
    for flat, lengths in segments:
        lengths = lengths.astype(np.int64)
        src_starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        idx = np.repeat(at - src_starts, lengths) + np.arange(int(lengths.sum()))
        out[idx] = flat
        at += lengths
    return out


def _col(events: pa.Table | pa.RecordBatch, name: str, dtype: type, fill: int | None = None) -> np.ndarray:
    col = events.column(name)
    if fill is not None:
        col = pc.fill_null(col, fill)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=dtype)


def metadata_block(btype: int, body: bytes) -> bytes:
    """One block (header, body, padding, trailing length) for ``ScapWriter.write_metadata``."""
    return _block(btype, body)


def _block(btype: int, body: bytes) -> bytes:
    blen = (8 + len(body) + 4 + 3) // 4 * 4
    return struct.pack("<II", btype, blen) + body + b"\0" * (blen - 12 - len(body)) + struct.pack("<I", blen)


#: libscap refuses a process or fd list whose strings are longer (SCAP_MAX_PATH_SIZE: "invalid exelen 1366"
#: for a process that rewrote its command line without NULs, as browsers do), and lists (args, env,
#: cgroups) over SCAP_MAX_ARGS_SIZE; longer values are cut, as libscap cuts what it reads from /proc
SCAP_MAX_PATH_SIZE = 1024
SCAP_MAX_LIST_SIZE = 4096


def _str16(s: str | bytes, limit: int = SCAP_MAX_PATH_SIZE) -> bytes:
    raw = s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s
    raw = raw[:limit]
    return struct.pack("<H", len(raw)) + raw


def _nul_list(items: list[str], limit: int = SCAP_MAX_LIST_SIZE) -> bytes:
    raw = b"".join(i.encode("utf-8", "surrogateescape") + b"\0" for i in items)
    return _str16(raw, limit)


def _machine(m: B.MachineInfo) -> bytes:
    host = m.hostname.encode("utf-8", "replace")[:127].ljust(128, b"\0")
    return struct.pack("<IQQ128sQQQQ", m.num_cpus, m.memory_bytes, m.max_pid, host, m.boot_ts, 0, 0, 0)


def _ip_bytes(text: str | None, family: int) -> bytes:
    if not text:
        return b"\0" * (4 if family == socket.AF_INET else 16)
    return socket.inet_pton(family, text)


def _interface(i: B.InterfaceEntry) -> bytes:
    v4 = i.family in (1, 3)
    fam = socket.AF_INET if v4 else socket.AF_INET6
    name = i.name.encode("utf-8", "replace")
    body = struct.pack("<HH", i.family, len(name)) + _ip_bytes(i.addr, fam) + _ip_bytes(i.netmask, fam) \
        + _ip_bytes(None, fam)
    if i.family in (1, 2):
        body += struct.pack("<Q", 0)
    body += name
    return struct.pack("<I", len(body)) + body


def _users(section: Section) -> bytes:
    out = []
    for u in section.users:
        e = struct.pack("<BII", 0, u.uid, u.gid) + _str16(u.name, 255) + _str16(u.home) + _str16(u.shell)
        out.append(struct.pack("<I", len(e) + 4) + e)
    for gid, name in section.groups.items():
        e = struct.pack("<BI", 1, gid) + _str16(name, 255)
        out.append(struct.pack("<I", len(e) + 4) + e)
    return b"".join(out)


def _thread(t: B.ThreadEntry) -> bytes:
    e = b"".join([
        struct.pack("<qqqqq", t.tid, t.pid, t.ptid, t.sid, t.vpgid),
        _str16(t.comm), _str16(t.exe), _str16(t.exepath), _nul_list(t.args), _str16(t.cwd),
        struct.pack("<qIIIIIIQQ", t.fdlimit, t.flags, t.uid, t.gid, t.vmsize_kb, t.vmrss_kb, t.vmswap_kb,
                    t.pfmajor, t.pfminor),
        _nul_list(t.env), struct.pack("<qq", t.vtid, t.vpid), _nul_list(t.cgroups), _str16(t.root),
        struct.pack("<i", t.loginuid),
    ])
    return struct.pack("<I", len(e) + 4) + e


def _fd(f: B.FdEntry) -> bytes:
    e = struct.pack("<qQB", f.fd, f.ino, f.type)
    if f.type in (3, 4):
        fam = socket.AF_INET if f.type == 3 else socket.AF_INET6
        e += _ip_bytes(f.sip, fam) + _ip_bytes(f.dip, fam) + struct.pack("<HHB", f.sport or 0, f.dport or 0,
                                                                        f.l4proto)
    elif f.type in (5, 6):
        fam = socket.AF_INET if f.type == 5 else socket.AF_INET6
        e += _ip_bytes(f.sip, fam) + struct.pack("<HB", f.sport or 0, f.l4proto)
    elif f.type == 8:
        e += struct.pack("<QQ", f.src_endpoint, f.dst_endpoint) + _str16(f.name)
    elif f.type == 16:
        e += struct.pack("<I", f.flags) + _str16(f.name)
    elif f.type != 0:
        e += _str16(f.name)
    return struct.pack("<I", len(e) + 4) + e


STATE_FLAGS = frozenset({"MODIFIES_STATE", "CREATES_FD", "DESTROYS_FD"})
STATE_ONLY = 1  # EVF flag: "did not pass the filter, kept for its state" (sysdig hides such events)


def state_type_ids() -> list[int]:
    """Event types that change process/fd state in libsinsp (plus container events)."""
    from sysnb.scap.events import CONTAINER_IDS, EVENTS

    return sorted({e.id for e in EVENTS if (e.flags_2022 if e.known_2022 else e.flags) & STATE_FLAGS}
                  | set(CONTAINER_IDS))


def with_state_events(full: pa.Table, selected: pa.Table) -> pa.Table:
    """``selected`` plus, flagged state-only, every event of ``full`` that changes state, so a subset
    still resolves process names and fd names when read back (sysdig's "fatfile" mode)."""
    chosen = pc.is_in(full["sysnb.offset"], value_set=selected["sysnb.offset"].combine_chunks())
    state = pc.is_in(full["sysnb.type_id"], value_set=pa.array(state_type_ids(), pa.uint16()))
    rows = full.filter(pc.or_(chosen, state))
    kept = pc.is_in(rows["sysnb.offset"], value_set=selected["sysnb.offset"].combine_chunks())
    flags = pc.if_else(kept, pc.fill_null(rows["sysnb.evt_flags"], 0), pa.scalar(STATE_ONLY, pa.uint32()))
    return rows.set_column(rows.schema.get_field_index("sysnb.evt_flags"), "sysnb.evt_flags", flags)


def source_sections(source: str, adjust: Callable[[Section], Section] | None = None) -> list[Section]:
    """The section metadata of ``source`` (read again from the file), as ``adjust`` changes it (``-E`` drops
    the user list, ``--filter-proclist`` filters the process list)."""
    from sysnb.scap.reader import read_scap

    sections = [s for s in read_scap(source, events=False) if isinstance(s, Section)]
    if adjust is not None:
        sections = [adjust(s) for s in sections]
    return sections or [Section(0, (1, 2))]


def save_events(source: str, events: pa.Table, path: str, compress: bool | None = None,
                batch_rows: int = 65536, adjust: Callable[[Section], Section] | None = None,
                sections: list[Section] | None = None) -> int:
    """Write ``events`` (rows of a capture table read from ``source``) to a new .scap at ``path``.

    Each event is written after the metadata of the section it came from (``sections``, or read again from
    the source), so processes, fds and users known at capture start stay known; ``adjust`` may change a
    section's metadata before it is written. Returns the number of events written.
    """
    if sections is None:
        sections = source_sections(source, adjust)
    starts = np.array([s.offset for s in sections], dtype=np.uint64)
    offsets = _col(events, "sysnb.offset", np.uint64, fill=0)
    which = np.searchsorted(starts, offsets, side="right") - 1
    with ScapWriter(path, compress) as w:
        for i, section in enumerate(sections):
            rows = events.filter(pa.array(which == i)) if len(sections) > 1 else events
            if i and not rows.num_rows:
                continue
            w.write_section(section)
            for start in range(0, rows.num_rows, batch_rows):
                w.write_events(rows.slice(start, batch_rows))
        return w.events_written

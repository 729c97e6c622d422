"""Capture: the Arrow table of a capture (one row per event, columns named by sysdig fields) plus provenance."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from sysnb import __version__
from sysnb.errors import CaptureFormatError, SysnbError
from sysnb.scap.reader import Section, read_scap
from sysnb.state.columns import SCHEMA
from sysnb.state.engine import Engine

#: bump when the table layout or the engine's semantics change, so old cache entries are not reused
CACHE_FORMAT = 2

@dataclass
class Provenance:
    source: str
    sha256: str
    size: int
    hostname: str = ""
    kernel: str | None = None
    num_cpus: int = 0
    start_ns: int | None = None
    end_ns: int | None = None
    events: int = 0
    sections: int = 0
    error: str | None = None
    error_offset: int | None = None
    sysnb_version: str = __version__
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


class Capture:
    """A capture as one Arrow table. ``table`` holds every event; ``events`` the ones sysdig displays."""

    def __init__(self, table: pa.Table, provenance: Provenance) -> None:
        self.table = table
        self.provenance = provenance

    def __len__(self) -> int:
        return int(self.table.num_rows)

    def __repr__(self) -> str:
        p = self.provenance
        span = ""
        if p.start_ns is not None and p.end_ns is not None:
            span = f", {(p.end_ns - p.start_ns) / 1e9:.3f} s"
        err = f", DAMAGED at byte {p.error_offset}" if p.error else ""
        return f"<Capture {os.path.basename(p.source)}: {p.events} events from {p.hostname or '?'}{span}{err}>"

    @property
    def events(self) -> pa.Table:
        """The rows sysdig prints (no internal or state-only events)."""
        return self.table.filter(self.table["sysnb.visible"])

    def to_pandas(self) -> Any:
        return self.table.drop_columns(["sysnb.params"]).to_pandas()


# -- cache -------------------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    """``$SYSNB_CACHE_DIR``, else ``$XDG_CACHE_HOME/sysnb``, else ``~/.cache/sysnb``."""
    env = os.environ.get("SYSNB_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "sysnb"


def cache_enabled() -> bool:
    return os.environ.get("SYSNB_CACHE", "1").lower() not in ("0", "no", "off", "false")


def clear_cache() -> int:
    """Delete every cached table; returns the number of bytes freed."""
    d = cache_dir()
    if not d.is_dir():
        return 0
    size = sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
    shutil.rmtree(d)
    return size


def _cache_path(sha: str) -> Path:
    return cache_dir() / f"{sha}.v{CACHE_FORMAT}.arrow"


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _load_cached(p: Path) -> Capture | None:
    try:
        with pa.memory_map(str(p), "r") as src:
            table = ipc.open_file(src).read_all()
        meta = json.loads((table.schema.metadata or {})[b"sysnb.provenance"])
        return Capture(table, Provenance(**meta))
    except (OSError, KeyError, ValueError, TypeError, pa.ArrowInvalid):
        return None


def _store_cached(p: Path, cap: Capture) -> None:
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(f".tmp{os.getpid()}")
        table = cap.table.replace_schema_metadata({"sysnb.provenance": cap.provenance.to_json()})
        with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
        os.replace(tmp, p)
    except OSError as e:
        print(f"sysnb: warning: could not write the table cache at {p}: {e}", file=sys.stderr)


# -- building ----------------------------------------------------------------------------------------------------

ProgressFn = Callable[[int, int], None]


def open_capture(path: str | os.PathLike[str], *, cache: bool | None = None,
                 progress: ProgressFn | None = None, strict: bool = False) -> Capture:
    """Read a .scap/.scap.gz file into a :class:`Capture`.

    The built table is cached under :func:`cache_dir` keyed by the file's sha256
    (never next to the evidence). ``cache=False`` or ``SYSNB_CACHE=0`` disables it.
    A damaged file yields every event before the damage; ``capture.provenance.error``
    says where. With ``strict=True`` the damage raises :class:`CaptureFormatError` instead.
    """
    spath = os.fspath(path)
    if not os.path.exists(spath):
        raise SysnbError(f"{spath}: no such file")
    if os.path.isdir(spath):
        raise SysnbError(f"{spath}: is a directory, not a capture file")
    sha = sha256_file(spath)
    use_cache = cache_enabled() if cache is None else cache
    if use_cache:
        cached = _load_cached(_cache_path(sha))
        if cached is not None:
            cached.provenance.source = os.path.abspath(spath)
            return cached
    cap = build_capture(spath, sha, progress=progress)
    if cap.provenance.error and strict:
        raise CaptureFormatError(cap.provenance.error, path=spath, offset=cap.provenance.error_offset)
    if use_cache and not cap.provenance.error:
        _store_cached(_cache_path(sha), cap)
    return cap


def build_capture(path: str, sha: str, progress: ProgressFn | None = None) -> Capture:
    size = os.path.getsize(path)
    prov = Provenance(source=os.path.abspath(path), sha256=sha, size=size)
    engine = Engine()
    batches: list[pa.RecordBatch] = []
    done = 0
    try:
        for item in read_scap(path):
            if isinstance(item, Section):
                engine.load_section(item)
                prov.sections += 1
                if item.machine is not None:
                    prov.hostname = prov.hostname or item.machine.hostname
                    prov.num_cpus = prov.num_cpus or item.machine.num_cpus
                continue
            batches.append(engine.process(item))
            done = item[-1][0]
            if progress is not None:
                progress(done, size)
    except CaptureFormatError as e:
        if prov.sections == 0:
            raise  # nothing readable at all: not a capture, or its header is damaged
        prov.error = str(e)
        prov.error_offset = e.offset
    table = pa.Table.from_batches(batches, schema=SCHEMA) if batches else SCHEMA.empty_table()
    table = table.combine_chunks().unify_dictionaries() if batches else table
    _fill_span(table, prov)
    prov.events = table.num_rows
    prov.extra["containers"] = engine.containers
    return Capture(table, prov)


def _fill_span(table: pa.Table, prov: Provenance) -> None:
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return
    ts = table["evt.rawtime"]
    # procinfo timestamps are synthetic and container meta-events may carry 0: use syscall rows
    mask = pc.and_(table["sysnb.visible"], pc.greater(ts, 0))
    real = ts.filter(mask)
    if len(real) == 0:
        real = ts.filter(pc.greater(ts, 0))
    if len(real):
        mm = pc.min_max(real)
        prov.start_ns, prov.end_ns = mm["min"].as_py(), mm["max"].as_py()


"""The table cache: built tables stored by the capture's sha256, never next to the evidence.

A table is written batch by batch as an Arrow IPC stream while it is built (memory
stays bounded by one batch), with its provenance in a JSON file beside it; opening
memory-maps the stream, so a cached capture costs only the pages a query touches.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

#: bump when the table layout or the engine's semantics change, so old entries are not reused
CACHE_FORMAT = 5


def cache_dir() -> Path:
    """``$SYSNB_CACHE_DIR``, else ``$XDG_CACHE_HOME/sysnb``, else ``~/.cache/sysnb``."""
    env = os.environ.get("SYSNB_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "sysnb"


def cache_enabled() -> bool:
    """False when ``SYSNB_CACHE`` is 0/no/off/false."""
    return os.environ.get("SYSNB_CACHE", "1").lower() not in ("0", "no", "off", "false")


def clear_cache() -> int:
    """Delete every cached table; returns the number of bytes freed."""
    d = cache_dir()
    if not d.is_dir():
        return 0
    size = sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
    shutil.rmtree(d)
    return size


def _paths(sha: str) -> tuple[Path, Path]:
    stem = cache_dir() / f"{sha}.v{CACHE_FORMAT}"
    return stem.with_suffix(stem.suffix + ".arrows"), stem.with_suffix(stem.suffix + ".json")


def map_stream(path: Path) -> pa.Table:
    """Read an Arrow IPC stream through a memory map (zero-copy)."""
    with pa.memory_map(str(path), "r") as src:
        return ipc.open_stream(src).read_all()


def load(sha: str) -> tuple[pa.Table, dict[str, Any]] | None:
    """The cached table and provenance of a capture, or None when absent or unreadable."""
    table_path, meta_path = _paths(sha)
    try:
        meta = json.loads(meta_path.read_text())
        return map_stream(table_path), meta
    except (OSError, ValueError, pa.ArrowInvalid):
        return None


class StreamWriter:
    """Writes record batches to a temporary IPC stream; ``commit`` makes it the cache entry."""

    def __init__(self, sha: str, schema: pa.Schema) -> None:
        self.table_path, self.meta_path = _paths(sha)
        self.table_path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(f"{self.table_path}.tmp{os.getpid()}")
        self._sink = pa.OSFile(str(self.tmp), "wb")
        self._writer = ipc.new_stream(self._sink, schema)

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)

    def close(self) -> None:
        self._writer.close()
        self._sink.close()

    def read_back(self) -> pa.Table:
        return map_stream(self.tmp)

    def commit(self, meta: dict[str, Any]) -> None:
        tmp_meta = Path(f"{self.meta_path}.tmp{os.getpid()}")
        tmp_meta.write_text(json.dumps(meta, sort_keys=True))
        os.replace(self.tmp, self.table_path)
        os.replace(tmp_meta, self.meta_path)

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> StreamWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if et is not None:
            self.close()
            self.discard()


def warn(msg: str) -> None:
    print(f"sysnb: warning: {msg}", file=sys.stderr)

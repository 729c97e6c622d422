"""The one path from a capture file to table batches.

``Scan(path, columns=...)`` replays a capture batch by batch and yields Arrow record batches of the table
(``sysnb.state.columns.SCHEMA``, or the named subset of its columns: only the work those columns need is
done). Memory stays bounded by one batch plus the replayed state, whatever the capture's size. Two engines
produce the same rows:

* ``native`` (default): the Rust core, ``sysnb._core`` (``native/`` in the repository);
* ``reference``: the Python reader and state engine (``sysnb.scap.reader``, ``sysnb.state``), kept as the
  reference implementation the native core is tested against.

After the batches, ``scan.info`` says what the capture held: sections, host, containers, and the damage
(a :class:`CaptureFormatError` naming the byte offset) when it ends early.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from sysnb.errors import CaptureFormatError, SysnbError, UsageError

ENGINES = ("native", "reference")
BATCH_SIZE = 65536
#: progress callback: (bytes read so far, total bytes of the file, events so far)
ProgressFn = Callable[[int, int, int], None]


@dataclass
class ScanInfo:
    """What a scan learned about its capture (complete once the batches are exhausted)."""

    sections: int = 0
    hostname: str = ""
    num_cpus: int = 0
    events: int = 0
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    damage: CaptureFormatError | None = None


def check_capture_path(path: str) -> None:
    """Refuse what cannot be a capture before reading (or hashing) it: missing paths, directories, FIFOs and
    devices (reading those could block for ever)."""
    if not os.path.exists(path):
        raise SysnbError(f"{path}: no such file")
    if os.path.isdir(path):
        raise SysnbError(f"{path}: is a directory, not a capture file")
    if not os.path.isfile(path):
        raise SysnbError(f"{path}: not a regular file (a FIFO, socket or device); a capture is a regular "
                         ".scap or .scap.gz file")


class Scan:
    """Batches of a capture's table; see the module docstring."""

    def __init__(self, path: str | os.PathLike[str], *, columns: Sequence[str] | None = None,
                 engine: str = "native", batch_size: int = BATCH_SIZE, progress: ProgressFn | None = None,
                 args_types: Sequence[int] | None = None) -> None:
        if engine not in ENGINES:
            raise UsageError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
        self.path = os.fspath(path)
        check_capture_path(self.path)
        self.columns = list(columns) if columns is not None else None
        self.engine = engine
        self.batch_size = batch_size
        self.progress = progress
        self.args_types = list(args_types) if args_types is not None else None  # evt.args of these types only
        self.size = os.path.getsize(self.path)
        self.info = ScanInfo()
        full = _schema()
        self.schema = full if self.columns is None else pa.schema([full.field(c) for c in _ordered(self.columns)])
        self._batches = self._native() if engine == "native" else self._reference()

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._batches
        finally:
            close = getattr(self.progress, "close", None)
            if close is not None:
                close()

    # -- the native core ------------------------------------------------------------------------------------

    def _native(self) -> Iterator[pa.RecordBatch]:
        import sysnb._core as _core

        try:
            scanner = _core.Scanner(self.path, self.batch_size, _ordered(self.columns) if self.columns else None,
                                    self.args_types)
        except ValueError as e:
            raise CaptureFormatError(str(e), path=self.path, offset=0) from None
        except OSError as e:
            raise SysnbError(f"{self.path}: {e}") from None
        for batch in scanner:
            self._learn_native(scanner)
            self.info.events += batch.num_rows
            yield batch
            self._progress(scanner.position)
        self._learn_native(scanner)
        damage = scanner.damage
        if damage is not None:
            message = damage["message"]
            if damage["compressed_offset"] is not None:
                message += f"; the gzip stream was read up to compressed byte {damage['compressed_offset']}"
            err = CaptureFormatError(message, path=self.path, offset=damage["offset"], block=damage["block"] or "")
            if self.info.sections == 0:
                raise err  # nothing readable at all: not a capture, or its header is damaged
            self.info.damage = err

    def _learn_native(self, scanner: Any) -> None:
        sections = scanner.sections
        self.info.sections = len(sections)
        for s in sections:
            if s["hostname"] is not None:
                self.info.hostname = self.info.hostname or s["hostname"]
                self.info.num_cpus = self.info.num_cpus or s["num_cpus"]
        self.info.containers = {cid: json.loads(obj) for cid, obj in scanner.containers}

    def _progress(self, position: tuple[int, int | None]) -> None:
        if self.progress is not None:
            done, compressed = position
            self.progress(compressed if compressed is not None else done, self.size, self.info.events)

    # -- the reference engine -------------------------------------------------------------------------------

    def _reference(self) -> Iterator[pa.RecordBatch]:
        from sysnb.scap.reader import Section, read_scap
        from sysnb.state.engine import Engine

        engine = Engine()
        try:
            for item in read_scap(self.path, batch_size=self.batch_size):
                if isinstance(item, Section):
                    engine.load_section(item)
                    self.info.sections += 1
                    if item.machine is not None:
                        self.info.hostname = self.info.hostname or item.machine.hostname
                        self.info.num_cpus = self.info.num_cpus or item.machine.num_cpus
                    continue
                batch = engine.process(item)
                self.info.events += batch.num_rows
                self.info.containers = engine.containers
                yield batch.select(_ordered(self.columns)) if self.columns is not None else batch
                if self.progress is not None:
                    self.progress(item[-1][0], self.size, self.info.events)
        except CaptureFormatError as e:
            if self.info.sections == 0:
                raise
            self.info.damage = e
        self.info.containers = engine.containers


def _schema() -> pa.Schema:
    from sysnb.state.columns import SCHEMA

    return SCHEMA


def _ordered(columns: Sequence[str] | None) -> list[str]:
    """The named columns in table order (batches always carry them in that order); unknown names refused."""
    schema = _schema()
    wanted = set(columns or ())
    unknown = wanted - set(schema.names)
    if unknown:
        raise UsageError(f"no such table column: {', '.join(sorted(unknown))}")
    return [n for n in schema.names if n in wanted]


def read_table(path: str | os.PathLike[str], *, columns: Sequence[str] | None = None, engine: str = "native",
               progress: ProgressFn | None = None) -> tuple[pa.Table, ScanInfo]:
    """The whole table (or the named columns) in memory, and what the scan learned."""
    scan = Scan(path, columns=columns, engine=engine, progress=progress)
    batches = list(scan)
    return pa.Table.from_batches(batches, schema=scan.schema), scan.info

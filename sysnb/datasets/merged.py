"""Many captures as one timeline: ``open_captures([...])``.

Each file is replayed by its own engine, so process, fd and user state stay those of the capture that
recorded them (a pid on one host is not the same process as that pid on another). The tables are then
interleaved by time without reordering any capture's own events: the merge key of a row is the running
maximum of its capture's timestamps (non-decreasing within a capture), ties go to the earlier capture.
Two dictionary-encoded columns say where each row came from: ``host`` (the recorded hostname, see
:func:`sysnb.datasets.sources.host_label`) and ``capture`` (the file's name). ``evt.num`` stays the number
sysdig gives the event in its own file. Filters and ``-p`` formats evaluate each row in the field context
of its own capture (:mod:`sysnb.datasets.contexts`): ``evt.hostname=web1`` selects one host's events.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.capture import Capture, Provenance, open_capture
from sysnb.datasets.sources import host_label, natural_key, resolve
from sysnb.errors import UsageError
from sysnb.fields import FieldContext, context_for
from sysnb.filter import CompiledFilter
from sysnb.scan import ProgressFn

_DICT = pa.dictionary(pa.int32(), pa.string())


class MergedCapture(Capture):
    """A time-ordered view over several captures; ``members`` holds each file's provenance in order and
    ``contexts`` each one's field context, by capture name."""

    def __init__(self, table: pa.Table, provenance: Provenance, members: list[Provenance],
                 contexts: dict[str, FieldContext]) -> None:
        super().__init__(table, provenance)
        self.members = members
        self.contexts = contexts

    def __repr__(self) -> str:
        hosts = sorted({host_label(p.hostname) for p in self.members})
        return f"<MergedCapture of {len(self.members)} captures from {len(hosts)} hosts: {super().__repr__()[1:-1]}>"

    def filter(self, expr: str) -> MergedCapture:
        """The events matching a sysdig filter, each evaluated in its own capture's field context."""
        from sysnb.case.hooks import view_filtered
        from sysnb.filter import compile_filter

        compiled = compile_filter(expr)
        view = MergedCapture(self.table.filter(self.mask(compiled)), self.provenance, self.members, self.contexts)
        view_filtered(self, view, expr)
        return view

    def mask(self, compiled: CompiledFilter) -> Any:
        """The filter as a boolean numpy array over the rows (each capture's rows in its own context)."""
        from sysnb.datasets.contexts import excluded

        ctxs = list(self.contexts.values())
        uses_host = "evt.hostname" in compiled.columns()
        if not compiled.dynamic and not uses_host and len({compiled.sql_for(c) for c in ctxs}) == 1:
            return compiled.mask(self.table, ctxs[0]).to_numpy(zero_copy_only=False)  # one context fits all
        out = np.zeros(self.table.num_rows, bool)
        for name, rows in self._rows_by_capture().items():
            ctx = self.contexts[name]
            if len(rows) and not excluded(compiled, ctx):
                out[rows] = compiled.mask(self.table.take(pa.array(rows)), ctx).to_numpy(zero_copy_only=False)
        return out

    def _rows_by_capture(self) -> dict[str, Any]:
        column = self.table["capture"].combine_chunks()
        codes = column.indices.to_numpy(zero_copy_only=False)
        names = column.dictionary.to_pylist()
        return {name: np.flatnonzero(codes == i) for i, name in enumerate(names)}

    def lines(self, fmt: str, bufmode: str = "normal", **context: Any) -> list[str]:
        """The shown events as ``-p FMT`` prints them, each formatted in its own capture's context (its
        evt.reltime, evt.hostname, users; ``context``: FieldContext options such as time_type): the lines
        in timeline order."""
        from dataclasses import replace

        from sysnb.capture import visible_rows
        from sysnb.format.output import Formatter

        shown = MergedCapture(visible_rows(self.table), self.provenance, self.members, self.contexts)
        out: list[str | None] = [None] * shown.table.num_rows
        for name, rows in shown._rows_by_capture().items():
            part = shown.table.take(pa.array(rows))
            formatter = Formatter(fmt, bufmode=bufmode, context=replace(self.contexts[name], **context))
            for i, line in zip(rows.tolist(), formatter.lines(part), strict=False):
                out[i] = line
        return [line for line in out if line is not None]

    def capture(self, name: str) -> Capture:
        """One member as a Capture of its own rows (``name``: its ``capture`` value, i.e. the file name)."""
        for p in self.members:
            if capture_label(p.source) == name:
                return Capture(self.table.filter(pc.equal(self.table["capture"].cast(pa.string()), name)), p)
        raise UsageError(f"no capture named {name!r} here; the members are "
                         f"{', '.join(capture_label(p.source) for p in self.members)}")

    def chisel(self, name: str, *args: str, filter: str | None = None, **kwargs: Any) -> Any:
        """As :meth:`Capture.chisel`; chisels that read a capture's start state (spy_users, ps, lsof, ...)
        run once per member, their rows tagged with ``capture``."""
        import inspect

        from sysnb.chisels import get

        params = inspect.signature(get(name).fn).parameters
        if filter and "filtered" not in params:  # the filter in each capture's own context, as filter() does
            return self.filter(filter).chisel(name, *args, **kwargs)
        return super().chisel(name, *args, filter=filter, **kwargs)

    def per_capture(self, name: str, args: Sequence[str] | dict[str, Any], filter: str | None) -> Any:
        """Chisel ``name`` on each member (sysnb.chisels.run calls this for chisels reading start state)."""
        from sysnb.chisels import run

        labels = [capture_label(p.source) for p in self.members]
        return per_capture_result([(label, run(self.capture(label), name, args, filter)) for label in labels])

    def save(self, path: str | os.PathLike[str], *, compress: bool | None = None, state: bool = True) -> int:
        raise UsageError("a merged view spans several files and has no single source to take state from; save "
                         "one member: merged.capture(NAME).save(path)")


def per_capture_result(results: list[tuple[str, Any]]) -> Any:
    """Chisel results of each member as one: rows tagged with ``capture``, the texts one after another."""
    from sysnb.chisels import ChiselResult

    tables = [r.table.append_column("capture", pa.array([label] * r.table.num_rows, pa.string()))
              for label, r in results if r.table.num_rows]
    table = pa.concat_tables(tables, promote_options="permissive") if tables else results[0][1].table

    def text() -> Iterator[str]:
        return itertools.chain.from_iterable(r.text() for _, r in results)
    return ChiselResult(table, text, terminal=any(r.terminal for _, r in results))


def capture_label(source: str) -> str:
    return os.path.basename(source)


def open_captures(spec: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, engine: str = "native",
                  progress: ProgressFn | None = None, strict: bool = False) -> MergedCapture:
    """Open several captures as one time-ordered view (see the module docstring).

    ``spec``: a list of paths, a directory (every ``*.scap``, ``*.scap.gz``, ``*.scapN`` in it) or a glob
    (``"/evidence/web*/*.scap.gz"``). Filters, ``-p`` formats and chisels work on the result as on one
    capture; ``evt.hostname=web1 and proc.name=sshd`` selects one host's events. The ``host`` and ``capture``
    columns say where each row came from (``merged.table["capture"]``, ``merged.sql(...)``); they are
    columns, not filter fields."""
    paths = resolve(spec)
    caps = [open_capture(p, engine=engine, progress=progress, strict=strict) for p in paths]
    caps.sort(key=lambda c: (c.provenance.start_ns or 0, natural_key(c.provenance.source)))
    labels = [capture_label(c.provenance.source) for c in caps]
    if len(set(labels)) != len(labels):
        dup = sorted({x for x in labels if labels.count(x) > 1})
        raise UsageError(f"two captures share the name {', '.join(dup)}: rows are told apart by file name; "
                         "rename or copy one of them")
    return merge(caps)


def merge(caps: list[Capture]) -> MergedCapture:
    """The captures' tables interleaved by time (see the module docstring), with ``host`` and ``capture``."""
    tables = [with_origin(c.table, host_label(c.provenance.hostname), capture_label(c.provenance.source))
              for c in caps]
    keys = [merge_key(t["evt.rawtime"], t["sysnb.visible"]) for t in tables]
    which = np.concatenate([np.full(len(k), i, np.int32) for i, k in enumerate(keys)]) if keys else np.zeros(0)
    row = np.concatenate([np.arange(len(k)) for k in keys]) if keys else np.zeros(0)
    order = np.lexsort((row, which, np.concatenate(keys) if keys else np.zeros(0, np.uint64)))
    table = pa.concat_tables(tables).unify_dictionaries().combine_chunks().take(pa.array(order))
    members = [c.provenance for c in caps]
    contexts = {capture_label(c.provenance.source): context_for(c) for c in caps}
    return MergedCapture(table, merged_provenance(members), members, contexts)


def with_origin(table: pa.Table, host: str, capture: str) -> pa.Table:
    """``table`` with constant ``host`` and ``capture`` columns (dictionary-encoded: one value each)."""
    n = table.num_rows
    for name, value in (("host", host), ("capture", capture)):
        column = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value], pa.string()))
        table = table.append_column(pa.field(name, _DICT), column)
    return table


def merge_key(rawtime: pa.ChunkedArray | pa.Array, visible: pa.ChunkedArray | pa.Array, start: int = 0) -> Any:
    """Running maximum of the printed events' timestamps (from ``start``, the maximum of the rows before): a
    key that orders captures' rows by time without reordering any capture's own rows. Hidden rows take the
    key of the printed row before them (or, at the start, after them): libscap stamps the container events
    it writes at the head of a file with the time of writing, which put the first file of a ``-C`` set
    after the last one."""
    if not len(rawtime):
        return np.zeros(0, np.uint64)
    ts = pc.fill_null(rawtime, 0).to_numpy().astype(np.uint64, copy=False)
    shown = pc.fill_null(visible, False).to_numpy(zero_copy_only=False)
    out = np.maximum(np.maximum.accumulate(np.where(shown, ts, np.uint64(0))), np.uint64(start))
    if out[0] == 0 and shown.any():  # hidden rows before the first printed one: its time
        out[: int(np.argmax(shown))] = ts[int(np.argmax(shown))]
    return out


def merged_provenance(members: list[Provenance]) -> Provenance:
    """The provenance of a merged view: the members' hashes combined, spans joined, events summed."""
    sha = hashlib.sha256("\n".join(p.sha256 for p in members).encode()).hexdigest()
    starts = [p.start_ns for p in members if p.start_ns is not None]
    ends = [p.end_ns for p in members if p.end_ns is not None]
    hosts = sorted({p.hostname for p in members if p.hostname})
    first = members[0].source if members else ""
    common = os.path.commonpath([p.source for p in members]) if members else ""
    prov = Provenance(source=common if len(members) > 1 else first, sha256=sha,
                      size=sum(p.size for p in members), hostname=", ".join(hosts),
                      start_ns=min(starts) if starts else None, end_ns=max(ends) if ends else None,
                      events=sum(p.events for p in members), sections=sum(p.sections for p in members))
    errors = [f"{capture_label(p.source)}: {p.error}" for p in members if p.error]
    prov.error = "; ".join(errors) or None
    containers: dict[str, Any] = {}
    for p in members:
        containers.update(p.extra.get("containers", {}))
    prov.extra = {"containers": containers, "members": [asdict(p) | {"extra": {}} for p in members]}
    return prov

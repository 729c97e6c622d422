"""``sysnb -r FILE``: select a capture's events and print or write them as sysdig 0.29.3 does.

Order of selection, as sysdig's inspector loop: events of suppressed comms (``-U``) are dropped before
anything counts them; the capture filter drops non-matching events (with ``-d`` the filter only decides
what is printed); ``-M`` stops at the first event SECONDS after the first one; ``-n`` stops after N events;
``-S`` counts what remains; the printed lines are the visible events among them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb import options
from sysnb.capture import Capture, returned_mask, returned_rows
from sysnb.errors import SysnbError
from sysnb.fields import FieldContext, context_for
from sysnb.fields.context import first_event_ts
from sysnb.filter import CompiledFilter
from sysnb.format.output import Formatter
from sysnb.format.summary import add_counts, new_counts, summary_lines
from sysnb.scap.blocks import ThreadEntry
from sysnb.scap.reader import Section

Escape = Callable[[str], str]

_SUMMARY_COLUMNS = {"sysnb.type_id", "sysnb.syscall_id", "sysnb.visible", "evt.num", "evt.rawtime"}
_SUPPRESS_COLUMNS = {"sysnb.type_id", "sysnb.params", "thread.tid"}


def select(cap: Capture, args: argparse.Namespace, flt: CompiledFilter | None,
           columns: set[str]) -> tuple[pa.Table, CompiledFilter | None, int]:
    """(the events sysdig's loop returns, the display filter if any, the number of suppressed events)."""
    ctx = context_for(cap, **options.context_options(args), capture_filter=not args.displayflt)
    needed = set(columns) | _SUMMARY_COLUMNS | (flt.columns() if flt is not None else set())
    if args.suppress_comm:
        needed |= _SUPPRESS_COLUMNS
    rows = returned_rows(cap.table, sorted(needed & set(cap.table.column_names)))
    dropped = 0
    if args.suppress_comm:
        drop = options.suppressed(rows, args.suppress_comm)
        dropped = int(drop.sum())
        rows = options.renumber(rows, drop)
    display = None
    if flt is not None:
        if args.displayflt:
            display = flt
        else:
            rows = flt.apply(rows, ctx)  # like sysdig's capture filter: before -n and -S
    if args.seconds is not None:
        rows = options.trace_time(rows, args.seconds)
    if args.numevents is not None:
        rows = rows.slice(0, max(args.numevents, 0))
    return rows, display, dropped


def print_capture(cap: Capture, args: argparse.Namespace, flt: CompiledFilter | None, formatter: Formatter,
                  escape: Escape = str) -> int:
    """Print the opened capture's events (the whole table at once: for what :func:`streamable` refuses)."""
    started = time.process_time()
    ctx = context_for(cap, **options.context_options(args))
    formatter.context = replace(ctx, bufmode=formatter.bufmode)
    rows, display, dropped = select(cap, args, flt, set(formatter.columns))
    if not args.quiet:
        shown = rows.filter(rows["sysnb.visible"])
        keep = display.mask(shown, formatter.context) if display is not None else None
        options.writer(args.unbuffered)(escape(line) for line in formatter.lines(shown, keep=keep))
    if args.summary:
        for line in summary_lines(rows):
            print(line)
    if args.verbose:
        options.verbose_summary(rows.num_rows, dropped, started)
    if cap.provenance.error:
        print(f"sysnb: {cap.provenance.error}", file=sys.stderr)
        return 1
    return 0


# -- streamed: batch by batch from the native core, in constant memory ------------------------------------

#: what returned_rows() reads, and the first timestamp
RETURNED_COLUMNS = {"evt.num", "sysnb.visible", "sysnb.type_id", "evt.rawtime"}


def streamable(args: argparse.Namespace, flt: CompiledFilter | None, formatter: Formatter) -> bool:
    """Whether ``-r``'s output can be produced batch by batch with the same result as over the whole table:
    not when a field's value depends on events of other batches (ordered fields, -t D, evt.around,
    fd information lost with a filtered enter), with -U (renumbering) or -M, or where container metadata
    (announced by events anywhere in the capture) is read."""
    if args.suppress_comm or args.seconds is not None:
        return False
    ordered = {s.ref.name for s in formatter.segments if s.ref is not None and s.ref.field.ordered}
    if formatter.context.time_type != "D":
        ordered.discard("evt.outputtime")  # per event, except -t D (since the previous event printed)
    if ordered:
        return False
    needed = set(formatter.columns) | (flt.columns() if flt is not None else set())
    if "container.id" in needed:
        return False
    return flt is None or not flt.needs_whole_table()


def table_columns(needed: set[str]) -> list[str]:
    """The table columns the native core must produce for ``needed``."""
    from sysnb.state.columns import SCHEMA

    return sorted(needed & set(SCHEMA.names))


def stream_capture(args: argparse.Namespace, flt: CompiledFilter | None, formatter: Formatter,
                   escape: Escape = str) -> int:
    """``sysnb -r FILE [FILTER]``: the capture streamed batch by batch through the filter to the output (and
    the -S counts), reading only the columns the output, the filter and the summary need."""
    from sysnb.fields.context import metadata
    from sysnb.scan import Scan

    started = time.process_time()
    needed = _SUMMARY_COLUMNS | RETURNED_COLUMNS | (set() if args.quiet else set(formatter.columns))
    needed |= flt.columns() if flt is not None else set()
    progress = progress_of(args)
    scan = Scan(args.read, columns=table_columns(needed), progress=progress, args_types=_args_types(args, flt))
    note_recorder_of(args.read)
    base = FieldContext(meta=metadata(os.path.abspath(args.read)), **options.context_options(args))
    run = _Run(args, formatter, escape)
    for batch in scan:
        if run.left == 0:
            break
        run.batch(pa.Table.from_batches([batch]), flt, base)
    finish_progress(progress)
    if run.left != 0:
        say_if_empty(args.read, run.records, run.visible_any, scan.info.damage is not None)
    if args.summary:
        for line in summary_lines(run.counts):
            print(line)
    if args.verbose:
        options.verbose_summary(run.selected, 0, started)
    if args.provenance:
        from sysnb.capture import sha256_file
        from sysnb.format.escape import visible

        print(f"sysnb: {os.path.abspath(args.read)} sha256={sha256_file(args.read)} "
              f"host={visible(scan.info.hostname)} events={scan.info.events}", file=sys.stderr)
    if scan.info.damage is not None:
        print(f"sysnb: {scan.info.damage}", file=sys.stderr)
        return 1
    return 0


def _args_types(args: argparse.Namespace, flt: CompiledFilter | None) -> list[int] | None:
    """The event types whose arguments can be printed: those the capture filter can match (the others are
    dropped before printing, so the core need not render their evt.args), or None for every type."""
    if flt is None or args.displayflt:
        return None
    from sysnb.rules.evttypes import type_ids

    return type_ids(flt.node)


def progress_of(args: argparse.Namespace) -> Callable[[int, int, int], None] | None:
    """-P: sysdig's percentage on stderr; otherwise a progress bar on a terminal or in a notebook."""
    from sysnb.progress import read_progress

    if args.progress and os.path.exists(args.read):
        return options.Progress(options.stream_size(args.read))
    return read_progress(args.read)


def finish_progress(progress: object) -> None:
    if isinstance(progress, options.Progress):
        progress.finish()


class _Run:
    """What a streamed -r carries from batch to batch: -n's budget, the first event time, the -S counts."""

    def __init__(self, args: argparse.Namespace, formatter: Formatter, escape: Escape) -> None:
        self.args, self.formatter, self.escape = args, formatter, escape
        self.left: int | None = None if args.numevents is None else max(args.numevents, 0)
        self.first_ts = 0
        self.counts = new_counts()
        self.records = self.selected = 0
        self.visible_any = False
        self.write = options.writer(args.unbuffered)

    def batch(self, table: pa.Table, flt: CompiledFilter | None, base: FieldContext) -> None:
        """One batch: the rows the inspector returns and the capture filter selects are taken once (the
        masks read only their columns; the other columns are copied for the selected rows only)."""
        args = self.args
        keep = returned_mask(table)
        returned = table.select(["evt.num", "sysnb.type_id", "evt.rawtime", "sysnb.visible"]).filter(keep)
        self.records += returned.num_rows
        self.visible_any = self.visible_any or bool(pc.any(returned["sysnb.visible"]).as_py())
        if not self.first_ts:
            self.first_ts = first_event_ts(returned)
        ctx = replace(base, first_ts=self.first_ts)
        if flt is not None and not args.displayflt:  # sysdig's capture filter: before -n and -S
            keep = pc.and_(keep, flt.mask(table, replace(ctx, capture_filter=True)))
        rows = table.filter(keep)
        if self.left is not None:
            rows = rows.slice(0, self.left)
            self.left -= rows.num_rows
        self.selected += rows.num_rows
        if args.summary:
            add_counts(rows, self.counts)
        if args.quiet:
            return
        self.formatter.context = replace(ctx, bufmode=self.formatter.bufmode)
        shown = rows.filter(rows["sysnb.visible"])
        keep = flt.mask(shown, self.formatter.context) if flt is not None and args.displayflt else None
        self.write(self.escape(line) for line in self.formatter.lines(shown, keep=keep))


def say_if_empty(path: str, records: int, visible_any: bool, damaged: bool) -> None:
    """sysdig prints nothing for a capture without events; say so, so silence is not mistaken for a filter."""
    if visible_any:
        return
    if records:
        what = f"no events sysdig prints, only {records:,} state and internal records"
    else:
        what = "no events" + (" before the damage" if damaged else ", only its header and state tables")
    print(f"sysnb: {path}: the capture holds {what}", file=sys.stderr)


def note_recorder_of(path: str) -> None:
    """Say that the recorder lost syscalls (or stopped early) while recording this capture (its note)."""
    from sysnb.record.note import capture_note, read_note

    if (note := read_note(path)) is not None and (line := capture_note({"recorder": note})):
        print(f"sysnb: note: {line}", file=sys.stderr)


def write_file(cap: Capture, args: argparse.Namespace, flt: CompiledFilter | None) -> int:
    """``-w FILE``: the selected events as a new capture (with the state events a subset needs, as sysdig's
    fatfile mode); ``-E`` leaves the user list out, ``--filter-proclist`` applies the filter to the process
    list written."""
    import sys

    from sysnb.scap.writer import save_events, with_state_events

    if args.filter_proclist and flt is None:
        raise SysnbError("you must specify a filter if you use --filter-proclist")
    args.displayflt = False
    rows, _, _ = select(cap, args, flt, set(cap.table.column_names))
    full = cap.table
    out = os.fspath(args.write)
    if os.path.exists(out) and os.path.samefile(out, cap.provenance.source):
        raise SysnbError(f"{out}: refusing to overwrite the source capture (evidence is never modified)")
    if rows.num_rows != full.num_rows:
        rows = with_state_events(full, full.filter(_chosen(full, rows)))
    adjust = _section_adjuster(args, flt, cap)
    compress = True if args.compress else None
    rot = options.rotation_of(args)
    if rot.active:
        from sysnb.scap.rotation import write_rotated

        files = write_rotated(cap.provenance.source, rows, full, out, compress, adjust, rot)
    else:
        files = [(out, save_events(cap.provenance.source, rows, out, compress, adjust=adjust), rows)]
    for path, written, part in files:
        _register_subset(Capture(part, cap.provenance), flt, args, path, written)
        if args.verbose or args.provenance:
            print(f"sysnb: wrote {written} events to {path}", file=sys.stderr)
    return 1 if cap.provenance.error else 0


def _register_subset(subset: Capture, flt: CompiledFilter | None, args: argparse.Namespace, out: str,
                     written: int) -> None:
    """The case's evidence register: the file written, as a subset of its source with its filter."""
    from sysnb.case.hooks import evidence_written, subset_filter

    if flt is not None:
        subset_filter(subset, " ".join(args.filter))
    evidence_written(subset, out, written)


def _chosen(full: pa.Table, rows: pa.Table) -> pa.Array:
    import pyarrow.compute as pc

    return pc.is_in(full["sysnb.offset"], value_set=rows["sysnb.offset"].combine_chunks())


def _section_adjuster(args: argparse.Namespace, flt: CompiledFilter | None, cap: Capture):  # type: ignore[no-untyped-def]
    """What -E and --filter-proclist change in the metadata written."""
    if not args.exclude_users and not args.filter_proclist:
        return None

    def adjust(section: Section) -> Section:
        if args.exclude_users:
            section = replace(section, users=[], groups={})
        if args.filter_proclist and flt is not None:
            section = replace(section, threads=_matching_threads(section, flt))
        return section
    return adjust


def _matching_threads(section: Section, flt: CompiledFilter) -> list[ThreadEntry]:
    """The process-list entries the filter accepts, evaluated on their thread fields (sysdig applies the
    filter to the /proc dump with only the thread known)."""
    threads = list(section.threads)
    if not threads:
        return threads
    users = {u.uid: u.name for u in section.users}
    table = pa.table({
        "proc.pid": pa.array([t.pid for t in threads], pa.int64()),
        "thread.tid": pa.array([t.tid for t in threads], pa.int64()),
        "proc.ppid": pa.array([t.ptid for t in threads], pa.int64()),
        "proc.name": pa.array([t.comm for t in threads], pa.string()),
        "proc.exe": pa.array([t.exe for t in threads], pa.string()),
        "proc.exepath": pa.array([t.exepath for t in threads], pa.string()),
        "proc.args": pa.array([" ".join(t.args) for t in threads], pa.string()),
        "proc.cwd": pa.array([t.cwd for t in threads], pa.string()),
        "user.uid": pa.array([t.uid for t in threads], pa.uint32()),
        "user.name": pa.array([users.get(t.uid) for t in threads], pa.string()),
        "group.gid": pa.array([t.gid for t in threads], pa.uint32()),
    })
    keep = np.asarray(flt.mask(_with_missing(table, flt)).to_numpy(zero_copy_only=False), bool)
    return [t for t, k in zip(threads, keep, strict=True) if k]


def _with_missing(table: pa.Table, flt: CompiledFilter) -> pa.Table:
    """Columns the filter names but a thread entry does not have, as nulls (their checks are false)."""
    from sysnb.state.columns import SCHEMA

    for name in sorted(flt.columns() - set(table.column_names)):
        typ = SCHEMA.field(name).type if name in SCHEMA.names else pa.string()
        table = table.append_column(name, pa.nulls(table.num_rows, typ))
    return table

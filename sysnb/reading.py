"""``sysnb -r FILE``: select a capture's events and print or write them as sysdig 0.29.3 does.

Order of selection, as sysdig's inspector loop: events of suppressed comms (``-U``) are dropped before
anything counts them; the capture filter drops non-matching events (with ``-d`` the filter only decides
what is printed); ``-M`` stops at the first event SECONDS after the first one; ``-n`` stops after N events;
``-S`` counts what remains; the printed lines are the visible events among them.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import numpy as np
import pyarrow as pa

from sysnb import options
from sysnb.capture import Capture, returned_rows
from sysnb.errors import SysnbError
from sysnb.fields import context_for
from sysnb.filter import CompiledFilter
from sysnb.format.output import Formatter
from sysnb.format.summary import summary_lines
from sysnb.scap.blocks import ThreadEntry
from sysnb.scap.reader import Section

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


def print_capture(cap: Capture, args: argparse.Namespace, flt: CompiledFilter | None, formatter: Formatter) -> int:
    started = time.process_time()
    ctx = context_for(cap, **options.context_options(args))
    formatter.context = replace(ctx, bufmode=formatter.bufmode)
    rows, display, dropped = select(cap, args, flt, set(formatter.columns))
    if not args.quiet:
        shown = rows.filter(rows["sysnb.visible"])
        keep = display.mask(shown, formatter.context) if display is not None else None
        write = options.writer(args.unbuffered)
        for line in formatter.lines(shown, keep=keep):
            write(line)
    if args.summary:
        for line in summary_lines(rows):
            print(line)
    if args.verbose:
        options.verbose_summary(rows.num_rows, dropped, started)
    if cap.provenance.error:
        import sys

        print(f"sysnb: {cap.provenance.error}", file=sys.stderr)
        return 1
    return 0


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
    written = save_events(cap.provenance.source, rows, out, True if args.compress else None, adjust=adjust)
    if args.verbose or args.provenance:
        print(f"sysnb: wrote {written} events to {args.write}", file=sys.stderr)
    return 1 if cap.provenance.error else 0


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

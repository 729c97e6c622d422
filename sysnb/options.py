"""sysdig's reading and output options, with sysdig 0.29.3's meaning (``sysnb`` command line).

Listing: ``-l``, ``-lv`` (with types), ``--list-markdown``, ``-l FIELD`` (one field in detail),
``--libs-version``. Output: ``-p`` presets (``-pc``/``-pcontainer``, ``-pk``, ``-pm``, ``-pp`` prints the
default format), ``-t h|a|r|d|D``, ``-b`` base64 buffers, ``-v`` whole buffers, ``-s`` snaplen of the printed
buffers, ``-R`` port names, ``-E`` no user table, ``--unbuffered``, ``-P`` progress. Selection: ``-d``
display filter, ``-U`` suppressed comms, ``-M`` seconds of trace time. Writing: ``-F``, ``--filter-proclist``,
``-E``; rotation of ``-w`` files read from a capture (``-C``, ``-G``/``--seconds``, ``-W``, ``-e``:
:mod:`sysnb.scap.rotation`; not yet for live recordings).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sysnb.errors import UsageError
from sysnb.scap.rotation import Rotation

LIBS_VERSION = "0.1.1dev+git20220316.e5c53d64"  # what sysdig 0.29.3 reports (sysnb reads and prints as it does)


def add_options(p: argparse.ArgumentParser) -> None:
    """The options of this module (the CLI's own ones stay in sysnb.cli)."""
    p.add_argument("-t", "--timetype", choices=("h", "a", "r", "d", "D"), default="h",
                   help="how %%evt.outputtime (the default line's time) prints: h clock time, a seconds since the "
                        "epoch, r since the first event, d the event's latency, D since the previous event")
    p.add_argument("-d", "--displayflt", action="store_true",
                   help="apply the filter when printing only: -n, -M and -S then count every event")
    p.add_argument("-b", "--print-base64", action="store_true", help="print data buffers in base64")
    p.add_argument("--unbuffered", action="store_true", help="flush every line as it is printed")
    p.add_argument("-P", "--progress", action="store_true", help="print the reading progress on stderr")
    p.add_argument("-R", "--resolve-ports", action="store_true",
                   help="print port numbers as service names (from the services database)")
    p.add_argument("-E", "--exclude-users", action="store_true",
                   help="ignore the capture's user list (user and group names are unknown; -w writes none)")
    p.add_argument("-U", "--suppress-comm", action="append", metavar="COMM", default=[],
                   help="ignore the events of processes started in the capture with this name (and of their "
                        "children), as sysdig does")
    p.add_argument("-F", "--fatfile", action="store_true",
                   help="with -w: keep the state events a subset needs (sysnb always does; accepted for sysdig "
                        "compatibility)")
    p.add_argument("--filter-proclist", action="store_true",
                   help="with -w and a filter: apply the filter to the process list written too")
    p.add_argument("--list-markdown", action="store_true", help="list the fields as markdown")
    p.add_argument("--libs-version", action="store_true", help="print the falcosecurity/libs version emulated")
    p.add_argument("--provenance", action="store_true",
                   help="print the capture's provenance (file hash, host, events) on stderr")
    for flags, dest, meta, what in ((("-C", "--file-size"), "file_size", "MB", "rotate -w files every MB 10^6 bytes"),
                                    (("-G", "--seconds"), "seconds_rotate", "SECONDS",
                                     "rotate -w files every SECONDS of event time (a strftime pattern in FILE "
                                     "names them by time)"),
                                    (("-W", "--limit"), "limit", "N", "with -C/-e: a ring of N -w files; with -G: "
                                     "at most N files"),
                                    (("-e", "--event-limit"), "event_limit", "N", "rotate -w files every N events")):
        p.add_argument(*flags, dest=dest, metavar=meta, type=int, help=what)


def rotation_of(args: argparse.Namespace) -> Rotation:
    """-C/-G/-W/-e: checked, and said when they do nothing (sysdig ignores them without -w)."""
    rot = Rotation(args.file_size, args.seconds_rotate, args.limit, args.event_limit)
    if not rot.active:
        return rot
    rot.check()
    if not args.write:
        print("sysnb: note: -C/-G/-W/-e rotate the files of -w; without -w they are ignored (as sysdig does)",
              file=sys.stderr)
    elif not args.read:
        raise UsageError("-C/-G/-W/-e: rotating live recordings is not implemented yet; record with -w, then "
                         "rotate offline: sysnb -r REC.scap -w trace.scap -C 100")
    return rot


def early_exit(args: argparse.Namespace) -> int | None:
    """The options that print something and exit: --libs-version, -l, -lv, --list-markdown, -pp."""
    if args.libs_version:
        print(f"falcosecurity/libs version {LIBS_VERSION}", end="")
        return 0
    if args.format == "p":
        print(DEFAULT)
        return 0
    if args.list or args.list_markdown:
        from sysnb.fields import listing

        if args.filter and not args.list_markdown:
            for name in args.filter:
                for line in listing.detail(name):
                    print(line)
            return 0
        lines = listing.markdown() if args.list_markdown else listing.listing(verbose=args.verbose)
        for line in lines:
            print(line)
        return 0
    return None


DEFAULT = "*%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info"


def output_format(args: argparse.Namespace) -> str:
    """The -p format, with sysdig's presets (-pc / -pcontainer, -pk / -pkubernetes, -pm / -pmesos)."""
    from sysnb.format.output import DEFAULT_FORMAT, PRESETS

    fmt: str | None = args.format
    if fmt is None:
        return DEFAULT_FORMAT
    return PRESETS.get(fmt, fmt)


def context_options(args: argparse.Namespace) -> dict[str, Any]:
    """FieldContext options from the command line."""
    if args.print_base64 and (args.print_ascii or args.print_hex or args.print_hex_ascii):
        raise UsageError("you cannot specify more than one output format (-A, -b, -x, -X)")
    return dict(time_type=args.timetype, resolve_ports=args.resolve_ports, exclude_users=args.exclude_users,
                full_buffers=args.verbose, snaplen=args.snaplen if args.read else None, base64=args.print_base64)


# -- selecting the events ---------------------------------------------------------------------------------


def trace_time(rows: pa.Table, seconds: float) -> pa.Table:
    """-M with -r: stop at the first event SECONDS or more after the first one (sysdig's duration_to_tot)."""
    if rows.num_rows == 0:
        return rows
    ts = np.asarray(rows["evt.rawtime"].to_numpy(), np.uint64).astype(np.int64)
    over = np.flatnonzero(ts - ts[0] >= int(seconds * 1_000_000_000))
    return rows.slice(0, int(over[0])) if len(over) else rows


_CHANGES = ("SYSCALL_CLONE_20_X", "SYSCALL_FORK_20_X", "SYSCALL_VFORK_20_X", "SYSCALL_EXECVE_19_X",
            "SYSCALL_EXECVEAT_X", "SYSCALL_CLONE3_X")


def suppressed(table: pa.Table, comms: list[str]) -> np.ndarray:
    """-U: the rows libscap drops. A thread is suppressed from a clone/fork/execve exit whose comm is one of
    ``comms`` or whose parent is suppressed, until its procexit (scap_check_suppressed; offline, the process
    list is not consulted)."""
    from sysnb.fields.common import column, ids

    types = np.asarray(column(table, "sysnb.type_id").to_numpy(zero_copy_only=False), np.int64)
    tids = np.asarray(pc.fill_null(column(table, "thread.tid"), -1).to_numpy(zero_copy_only=False), np.int64)
    change, procexit = ids(*_CHANGES), ids("PROCEXIT_1_E")
    rows = np.flatnonzero(np.isin(types, change + procexit))
    params = column(table, "sysnb.params").take(pa.array(rows)).to_pylist() if len(rows) else []
    active: set[int] = set()
    marks: list[tuple[int, int, bool, bool]] = []  # (tid, row, event suppressed, suppressed after)
    wanted = set(comms)
    for r, raw in zip(rows.tolist(), params, strict=True):
        tid = int(tids[r])
        if types[r] in procexit:
            marks.append((tid, r, tid in active, False))
            active.discard(tid)
            continue
        raw = raw or []
        ptid = int.from_bytes(raw[5][:8], "little", signed=True) if len(raw) > 5 and len(raw[5]) >= 8 else 0
        comm = raw[13].split(b"\0", 1)[0].decode("utf-8", "surrogateescape") if len(raw) > 13 else ""
        hit = ptid in active or comm in wanted
        (active.add if hit else active.discard)(tid)
        marks.append((tid, r, hit, hit))
    return _spread(tids, marks)


def _spread(tids: np.ndarray, marks: list[tuple[int, int, bool, bool]]) -> np.ndarray:
    """Every row's suppression from the marks: a marked row as marked, others as their thread's last mark."""
    out = np.zeros(len(tids), bool)
    if not marks:
        return out
    m = np.array([(t, r, s, a) for t, r, s, a in marks], np.int64)
    order = np.lexsort((m[:, 1], m[:, 0]))
    m = m[order]
    key = ((m[:, 0] + 1) << 32) | m[:, 1]
    rows = np.arange(len(tids), dtype=np.int64)
    query = ((tids + 1) << 32) | rows
    k = np.searchsorted(key, query, side="right") - 1
    ok = (k >= 0) & (m[np.maximum(k, 0), 0] == tids)
    at_mark = ok & (m[np.maximum(k, 0), 1] == rows)
    out[ok] = m[k[ok], 3].astype(bool)
    out[at_mark] = m[k[at_mark], 2].astype(bool)
    return out


def renumber(table: pa.Table, dropped: np.ndarray) -> pa.Table:
    """Drop rows and number the remaining events as libsinsp does (suppressed events are never counted)."""
    nums = table["evt.num"].combine_chunks()
    numbered = np.asarray(pc.is_valid(nums).to_numpy(zero_copy_only=False), bool)
    shift = np.cumsum(dropped & numbered)
    new = np.asarray(pc.fill_null(nums, 0).to_numpy(zero_copy_only=False), np.int64) - shift
    fixed = pa.array(new, pa.int64(), mask=~numbered)
    table = table.set_column(table.schema.get_field_index("evt.num"), "evt.num", fixed)
    return table.filter(pa.array(~dropped))


# -- progress and the end-of-capture summary ---------------------------------------------------------------


def stream_size(path: str) -> int:
    """The size of the capture's event stream: the file's, or for gzip the uncompressed size its trailer
    records (modulo 4 GiB, as gzip keeps it)."""
    import os

    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if f.read(2) != b"\x1f\x8b" or size < 18:
            return size
        f.seek(-4, os.SEEK_END)
        isize = int.from_bytes(f.read(4), "little")
    while isize < size:  # beyond 4 GiB the trailer wrapped; the stream is at least the file's size
        isize += 1 << 32
    return isize


class Progress:
    """-P: the reading progress on stderr as sysdig prints it (a percentage rewritten in place)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.last = -1.0

    def __call__(self, done: int, total: int, events: int = 0) -> None:
        total = self.total or total
        pct = min(100.0 * done / total, 100.0) if total else 100.0
        if pct - self.last > 0.1:
            print(f"\r{pct:.2f}", end="", file=sys.stderr, flush=True)
            self.last = pct

    def finish(self) -> None:
        print("\r100.00", file=sys.stderr, flush=True)


def verbose_summary(events: int, suppressed_events: int, started: float) -> None:
    """-v: what sysdig prints on stderr at the end of a capture."""
    elapsed = max(time.process_time() - started, 1e-9)
    print(f"Driver Events:0\nDriver Drops:0\nSuppressed by Comm:{suppressed_events}", file=sys.stderr)
    print(f"Elapsed time: {elapsed:.3f}, Captured Events: {events}, {events / elapsed:.2f} eps", file=sys.stderr)


def writer(unbuffered: bool) -> Callable[[Iterable[str]], None]:
    """Print lines: joined a few thousand at a time (one write per line was 40 % of a -p run's CPU on
    big50), or each flushed at once with --unbuffered."""
    out = sys.stdout

    def write(lines: Iterable[str]) -> None:
        if unbuffered:
            for line in lines:
                out.write(line + "\n")
                out.flush()
            return
        it = iter(lines)
        while chunk := list(itertools.islice(it, 4096)):
            out.write("\n".join(chunk) + "\n")
    return write

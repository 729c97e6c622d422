"""``sysnb``: the sysdig-compatible command line.

Examples::

    sysnb -r capture.scap                          # every event, as `sysdig -r` prints it
    sysnb -r capture.scap -p "%proc.name %fd.name" # custom output format
    sysnb -r capture.scap -S -q                    # per-event-type summary only
    sysnb -r capture.scap -A -n 100                # buffers as printable ASCII, first 100 events
    sysnb -l                                       # fields usable in -p
    sysnb -r capture.scap --rules falco_rules.yaml # Falco's alerts on the capture (see sysnb.rules.cli)
    sysnb rules validate falco_rules.yaml          # load rules as Falco does; why a rule cannot run
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NoReturn

import pyarrow as pa
import pyarrow.compute as pc

from sysnb import __version__
from sysnb.cache import clear_cache
from sysnb.capture import Capture, open_capture, returned_rows
from sysnb.errors import SysnbError, UsageError
from sysnb.filter import CompiledFilter, compile_filter
from sysnb.format.args import BUF_ASCII, BUF_HEX, BUF_HEXASCII, BUF_JSON, BUF_NORMAL
from sysnb.format.escape import chisel_visible, json_visible, multiline, visible
from sysnb.format.output import Formatter
from sysnb.memory import check_room, out_of_memory
from sysnb.memory import message as memory_message
from sysnb.scap.events import EVENTS

EPILOG = """examples:
  sysnb -r capture.scap                            print every event like `sysdig -r`
  sysnb -r capture.scap -p "%evt.num %proc.name %fd.name"
  sysnb -r capture.scap -S -q                      summary of event types only
  sysnb -r capture.scap -X -n 50                   first 50 events, buffers in hex and ASCII
  sysnb -r capture.scap -j                         one JSON object per event
  sysnb -r capture.scap "proc.name=cat and evt.type in (open, read)"
  sysnb report NB.ipynb -o report.html --pdf report.pdf   a notebook as a forensic report (sysnb report -h)
  sysnb verify report.html --captures DIR          check a report and its evidence (sysnb verify -h)
  sysnb -r capture.scap --rules falco_rules.yaml --min-priority warning   Falco alerts, like `falco -e`
  sysnb rules validate falco_rules.yaml            load rules files as Falco does, report what cannot run
environment:
  SYSNB_CACHE_DIR  where recordings without -w go (default: $XDG_CACHE_HOME/sysnb)
"""


class _Parser(argparse.ArgumentParser):
    """sysdig exits with status 1 on a bad option, as on every other error (argparse's default is 2)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(SYSDIG_ERROR, f"{self.prog}: error: {message}\n")


#: the exit status of sysdig 0.29.3 on any error: a bad option, filter, field or chisel, or an unreadable file
SYSDIG_ERROR = 1


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="sysnb", description="Read .scap system-call captures and print them as "
                "sysdig does.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-r", "--read", "--readfile", metavar="FILE", help="read events from a .scap or .scap.gz file")
    p.add_argument("-p", "--print", dest="format", metavar="FORMAT",
                   help='output format, e.g. "%%evt.num %%proc.name %%fd.name"; a leading * prints events '
                        "whose fields are missing (as <NA>); -pc, -pk, -pm: sysdig's container, kubernetes and "
                        "mesos formats; -pp prints the default format")
    p.add_argument("-w", "--write", "--writefile", metavar="FILE",
                   help="write the (filtered) events to a .scap file that sysdig reads instead of printing them")
    p.add_argument("-z", "--compress", action="store_true", help="gzip the file written with -w")
    p.add_argument("-M", dest="seconds", type=float, metavar="SECONDS",
                   help="stop after SECONDS (live: of recording, default until Ctrl-C / SIGTERM; with -r: of trace "
                        "time from the first event)")
    p.add_argument("-s", "--snaplen", type=int, metavar="LEN",
                   help="live capture: bytes of each I/O buffer to keep (default 80, max 1024, 0: none); with -r: "
                        "bytes of each buffer printed")
    p.add_argument("--no-latency", dest="latency", action="store_false",
                   help="live capture: do not hook syscall entry (14-30 %% less time for syscall-heavy "
                        "workloads; enter events then carry the exit time and evt.latency is 0)")
    p.add_argument("--syscalls", metavar="LIST", type=lambda s: s.split(","),
                   help="live capture: record only these syscalls, e.g. read,write,sendto (plus the opens, "
                        "closes, sockets, clones and execs that fd and process names need)")
    p.add_argument("--cgroup", metavar="DIR",
                   help="live capture: record only the tasks in this cgroup directory or below it, e.g. "
                        "/sys/fs/cgroup/system.slice/docker-<id>.scope")
    p.add_argument("--engine", choices=("auto", "core", "bcc"), default="auto",
                   help="live capture: the recorder: core (CO-RE through libbpf, needs a kernel with BTF), bcc "
                        "(compiled at start, needs python3-bpfcc and kernel headers) or auto (default: core "
                        "where it can run, else bcc)")
    p.add_argument("--recover", metavar="SPILL",
                   help="write the capture of a recording that was killed before it could (SIGKILL, out of memory, "
                        "a full disk) from the spill it left next to its output (OUTPUT.spill); -w picks another "
                        "output, -z compresses it")
    p.add_argument("-S", "--summary", action="store_true", help="print the event summary (the top event types)")
    p.add_argument("-q", "--quiet", action="store_true", help="print no events (useful with -S)")
    p.add_argument("-A", "--print-ascii", action="store_true", help="print buffers as printable ASCII only")
    p.add_argument("-X", "--print-hex-ascii", action="store_true", help="print buffers in hex and ASCII")
    p.add_argument("-x", "--print-hex", action="store_true", help="print buffers in hex")
    p.add_argument("-j", "--json", action="store_true", help="print events as JSON objects, one per line")
    p.add_argument("--raw", action="store_true",
                   help="print capture strings byte for byte, control characters included, as sysdig does. By "
                        "default a terminal shows them as visible escapes (ESC as ^[, as cat -v; see README); "
                        "output to a pipe or file is always sysdig's bytes")
    p.add_argument("-n", "--numevents", type=int, metavar="N", help="stop after N events")
    p.add_argument("-c", "--chisel", metavar="NAME",
                   help="run a chisel (its arguments come first among the trailing words, then the filter)")
    p.add_argument("-cl", "--list-chisels", action="store_true", help="list the chisels by category")
    p.add_argument("-i", "--chisel-info", metavar="NAME", help="describe a chisel and its arguments")
    p.add_argument("-l", "--list", action="store_true",
                   help="list the fields usable in -p and filters (-lv: with their types; -l FIELD: one in detail)")
    p.add_argument("-L", "--list-events", action="store_true", help="list the event types and their arguments")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print whole buffers (not cut at 80 characters) and a summary on stderr at the end")
    p.add_argument("--version", action="version", version=f"sysnb version {__version__}")
    p.add_argument("--no-cache", action="store_true", help=argparse.SUPPRESS)  # tables are no longer cached
    p.add_argument("--clear-cache", action="store_true",
                   help="delete the tables earlier versions of sysnb cached (never recordings) and exit")
    from sysnb.rules.args import add_arguments

    add_arguments(p)
    p.add_argument("filter", nargs="*", help='a sysdig filter, e.g. "proc.name=cat and evt.type=read" '
                   "(several words are joined)")
    from sysnb.options import add_options

    add_options(p)
    return p


#: ``sysnb report ...``, ``sysnb verify ...``: the first word picks a command of the report module
SUBCOMMANDS = ("report", "verify")


def _subcommand(argv: list[str]) -> int:
    from sysnb import report

    return report.main(argv[1:]) if argv[0] == "report" else report.verify_main(argv[1:])


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in SUBCOMMANDS:
        return _subcommand(args_list)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # SIGINT stops like Ctrl-C even where a shell started us in the background with SIGINT ignored. SIGTERM
    # ends the process at once (honoured even inside a long native call, which a Python handler would only
    # see when that call returns), except while recording, where it stops and writes the file (_graceful_term)
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    argv = sys.argv[1:] if argv is None else list(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="surrogateescape")  # bytes that are not UTF-8 are printed as they are
    sysdig_style = False
    try:
        if argv[:1] == ["rules"]:
            return rules_command(argv[1:])
        from sysnb.datasets import cli as many

        if argv[:1] == ["export"]:
            return many.export_command(argv[1:])
        sysdig_style = True
        if many.reads_many(argv):  # -r A -r B, -r DIR, -r 'GLOB': one merged timeline
            return many.read_many(argv)
        args = build_parser().parse_args(argv)
        return run(args)
    except (UsageError, SysnbError) as e:
        print(f"sysnb: {e}", file=sys.stderr)
        # sysdig's own options exit 1 on every error, as sysdig does; sysnb's subcommands 2 for a usage error
        return 2 if isinstance(e, UsageError) and not sysdig_style else 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if not out_of_memory(e):
            raise
        print(f"sysnb: {memory_message(args.read)}", file=sys.stderr)
        return 1


def rules_command(argv: list[str]) -> int:
    """``sysnb rules validate FILE...``."""
    if argv[:1] != ["validate"]:
        raise UsageError("usage: sysnb rules validate FILE_OR_DIR... [--json] [--strict] (rules on a capture: "
                         "sysnb -r CAPTURE --rules FILE)")
    from sysnb.rules.cli import validate_main

    return validate_main(argv[1:])


def run(args: argparse.Namespace) -> int:
    if args.rules:
        return run_rules(args)
    if args.clear_cache:
        freed = clear_cache()
        print(f"sysnb: cache cleared ({freed} bytes)", file=sys.stderr)
        return 0
    if args.recover:
        return recover_spill(args)
    from sysnb import options

    if (done := options.early_exit(args)) is not None:
        return done
    options.rotation_of(args)
    if args.list_chisels or args.chisel_info:
        from sysnb.chisels import info_text, list_text

        for line in (list_text() if args.list_chisels else info_text(args.chisel_info)):
            print(line)
        return 0
    if args.chisel:
        return run_chisel(args)
    if args.list_events:
        print_events()
        return 0
    flt = compile_filter(" ".join(args.filter)) if args.filter else None  # several words are joined, as sysdig
    bufmode = _bufmode(args)
    if args.json and bufmode == BUF_NORMAL:
        bufmode = BUF_JSON
    from sysnb.fields import FieldContext

    # validates the format before the (slow) read
    formatter = Formatter(options.output_format(args), bufmode=bufmode, json=args.json,
                          context=FieldContext(**options.context_options(args)))
    if not args.read and not args.write:
        return live_print(args, flt, formatter)
    if not args.read:
        args.read = live(args, flt)
        if flt is None:
            return 0
    from sysnb import reading

    if args.write:
        return reading.write_file(_open(args), args, flt)
    if reading.streamable(args, flt, formatter):
        return reading.stream_capture(args, flt, formatter, escape=terminal_escape(args, formatter))
    return reading.print_capture(_open(args), args, flt, formatter, escape=terminal_escape(args, formatter))


def run_rules(args: argparse.Namespace) -> int:
    """``--rules``: Falco's alerts on the capture (sysnb.rules.cli)."""
    from sysnb.rules.cli import run_alerts

    if not args.read:
        raise UsageError("--rules evaluates rules on a capture: add -r FILE (record one first with sysnb -w FILE)")
    if args.filter or args.write or args.chisel or args.summary:
        raise UsageError("--rules takes no filter, -w, -c or -S: it prints the alerts of the whole capture")
    return run_alerts(args)


def run_chisel(args: argparse.Namespace) -> int:
    """``-c NAME [ARGS] [FILTER]`` on -r's capture: a sum per key streams, other chisels get the table with
    the columns they read."""
    from sysnb.chisels import run
    from sysnb.chisels.columns import chisel_columns

    c, chisel_args, flt = chisel_request(args)
    columns = chisel_columns(c, chisel_args, flt)  # only what the chisel reads
    if c.streams and not (flt and compile_filter(flt).needs_whole_table()):
        return _streamed_chisel(args, c, chisel_args, flt, columns)
    cap = _open(args, columns=columns)
    print_chisel(args, run(cap, c.name, chisel_args, flt))
    return 1 if cap.provenance.error else 0


def chisel_request(args: argparse.Namespace) -> tuple[Any, list[str], str | None]:
    """(the chisel, its arguments, the filter) of ``-c NAME [ARGS] [FILTER]``: as sysdig, the chisel's
    arguments are the first trailing word (split at spaces, quotes with ' or `), the rest is the filter."""
    from sysnb.chisels import get

    c = get(args.chisel)
    words = list(args.filter)
    chisel_args: list[str] = []
    if c.args and words and _takes_arguments(c, words):
        chisel_args, words = split_chisel_args(words[0], c.name), words[1:]
    elif c.args and any(not a.optional for a in c.args):
        raise UsageError(f"missing arguments for chisel {c.name} (sysnb -i {c.name} describes them)")
    required = sum(not a.optional for a in c.args)
    if len(chisel_args) < required:
        raise UsageError(f"wrong number of parameters for chisel {c.name}, {required} required, "
                         f"{len(chisel_args)} given")
    if len(chisel_args) > len(c.args):
        raise UsageError(f"too many parameters for chisel {c.name}, {required} required, "
                         f"{len(c.args) - required} optional, {len(chisel_args)} given")
    if not args.read:
        raise UsageError("chisels run on a capture: add -r FILE (record one first with sysnb -w FILE)")
    return c, chisel_args, " ".join(words) or None


def _streamed_chisel(args: argparse.Namespace, c: Any, chisel_args: list[str], flt: str | None,
                     columns: list[str] | None) -> int:
    """A table chisel batch by batch (sysnb.chisels.stream): memory does not grow with the capture."""
    from sysnb.chisels.stream import run_streamed
    from sysnb.reading import finish_progress, note_recorder_of, progress_of
    from sysnb.state.columns import SCHEMA

    progress = progress_of(args)
    note_recorder_of(args.read)
    done = run_streamed(args.read, c, c.bind(chisel_args), flt, columns or list(SCHEMA.names), progress)
    finish_progress(progress)
    print_chisel(args, done.result)
    if done.damage is not None:
        print(f"sysnb: {done.damage}", file=sys.stderr)
        return 1
    return 0


def print_chisel(args: argparse.Namespace, result: Any) -> None:
    escape = _identity if result.terminal or args.raw or not sys.stdout.isatty() else chisel_visible
    for line in result.text():
        print(escape(line))


def _identity(line: str) -> str:
    return line


def terminal_escape(args: argparse.Namespace, formatter: Formatter) -> Callable[[str], str]:
    """How capture strings reach stdout: as they are on a pipe or with --raw (sysdig's bytes), else with
    control characters as visible escapes (sysnb.format.escape); -j as JSON \\u escapes. Newlines stay where
    the output is multi-line by design: -A/-X/-x buffers and formats with \\n."""
    if getattr(args, "raw", False) or not sys.stdout.isatty():
        return _identity
    if getattr(args, "json", False):
        return json_visible
    return partial(visible, newlines=multiline(formatter))


def _takes_arguments(c: Any, words: list[str]) -> bool:
    """sysdig's parse_chisel_args: a required argument takes the next word; with only optional ones, the
    next word is taken unless it starts with '-' or the rest of the line is a valid filter."""
    if any(not a.optional for a in c.args):
        return True
    if words[0].startswith("-"):
        return False
    if len(c.args) == 1 and c.args[0].type == "filter":
        return True
    from sysnb.filter import compile_filter

    try:
        compile_filter(" ".join(words))
    except SysnbError:
        return True
    return False


def split_chisel_args(token: str, name: str) -> list[str]:
    """sinsp_chisel::set_args: split at spaces; '...' or `...` keeps spaces inside one argument."""
    out: list[str] = []
    current: list[str] = []
    quoted = started = False
    for ch in token.strip():
        if ch == " " and not quoted:
            out.append("".join(current))
            current, started = [], False
        elif ch in "'`":
            quoted = not quoted
        else:
            current.append(ch)
            started = True
    if quoted:
        raise UsageError(f"corrupted parameters for chisel {name}: unbalanced quote in {token!r}")
    if started or current or out:
        out.append("".join(current))
    return out


def live(args: argparse.Namespace, flt: CompiledFilter | None) -> str:
    """Record live (root + BPF) until -M SECONDS, -n N events, Ctrl-C or SIGTERM; return the recorded file.
    With -w and no filter the recording *is* the output file; otherwise it is a temporary evidence file
    in the cache that is then filtered/printed like any capture."""
    from sysnb.record import default_path
    from sysnb.record.recorder import Recording, record

    path = args.write if args.write and flt is None else default_path()
    limit = args.numevents
    _graceful_term()
    _announce_engine(args.engine)

    def tick(rec: Recording) -> None:
        _recorded[0] = rec.stats.events
        if sys.stderr.isatty():
            print(f"\rsysnb: recording {rec.elapsed():6.1f} s, {rec.stats.records:,} syscalls, "
                  f"{rec.stats.drops:,} dropped (Ctrl-C stops)",
                  end="", file=sys.stderr)

    def enough() -> bool:
        return limit is not None and _recorded[0] >= limit

    _recorded[0] = 0

    def announce(rec: Recording) -> None:
        print(f"sysnb: recording to {path} (Ctrl-C or SIGTERM stops)", file=sys.stderr, flush=True)

    stats = record(path, args.seconds, snaplen=_snaplen(args), compress=True if args.compress else None,
                   latency=args.latency, syscalls=args.syscalls, cgroup=args.cgroup, engine=args.engine,
                   until=enough, tick=tick, announce=announce)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if args.write or args.verbose:
        print(f"sysnb: {stats.summary()}", file=sys.stderr)
    return path


_recorded = [0]


def live_print(args: argparse.Namespace, flt: CompiledFilter | None, formatter: Formatter) -> int:
    """``sysnb [FILTER]``: print events as they happen, like ``sysdig`` without -r. The evidence file is
    kept in the cache (its path is printed with -v)."""
    from sysnb.record import default_path
    from sysnb.record.live import stream
    from sysnb.record.recorder import Recording

    _graceful_term()
    _announce_engine(args.engine)
    rec = Recording(default_path(), snaplen=_snaplen(args), latency=args.latency, syscalls=args.syscalls,
                    cgroup=args.cgroup, engine=args.engine, announce=lambda rec: print(
                        "sysnb: recording (Ctrl-C or SIGTERM stops)", file=sys.stderr, flush=True))
    from sysnb.reading import RETURNED_COLUMNS, table_columns

    needed = set(formatter.columns) | _SUMMARY_COLUMNS | RETURNED_COLUMNS | (flt.columns() if flt else set())
    columns = table_columns(needed)
    from sysnb import options

    escape = terminal_escape(args, formatter)
    write = options.writer(args.unbuffered)
    printed = 0
    seconds = args.seconds
    try:
        until = lambda: rec.stopping or (seconds is not None and rec.elapsed() >= seconds)  # noqa: E731
        for batch in stream(rec, until=until, columns=columns):
            rows = returned_rows(pa.Table.from_batches([batch]))  # (recordings carry no container names)
            if flt is not None:
                rows = flt.apply(rows)
            rows = rows.filter(rows["sysnb.visible"])
            if args.numevents is not None:
                rows = rows.slice(0, max(args.numevents - printed, 0))
            write(escape(line) for line in formatter.lines(rows))
            sys.stdout.flush()
            printed += rows.num_rows
            if args.numevents is not None and printed >= args.numevents:
                break
    except KeyboardInterrupt:
        pass
    finally:
        stats = rec.stop()
    if args.verbose:
        print(f"sysnb: {stats.summary()}", file=sys.stderr)
    return 0


def recover_spill(args: argparse.Namespace) -> int:
    """``--recover SPILL [-w OUT] [-z]``: the .scap of a recording whose recorder died, from its spill."""
    from sysnb.record.recover import recover

    _graceful_term()  # the partial output is removed and the spill kept
    done = recover(args.recover, args.write, True if args.compress else None)
    print(f"sysnb: {done.summary(args.recover)}", file=sys.stderr)
    return 0


def _snaplen(args: argparse.Namespace) -> int:
    """Live capture's -s (80 bytes by default, as sysdig)."""
    return 80 if args.snaplen is None else int(args.snaplen)


def _announce_engine(engine: str) -> None:
    """Say so before the bcc engine compiles (seconds without output otherwise)."""
    from sysnb.record.engine import start_message

    if message := start_message(engine):
        print(f"sysnb: {message}", file=sys.stderr, flush=True)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _graceful_term() -> None:
    """While recording (or writing a recording), SIGTERM stops like Ctrl-C and the file is written."""
    signal.signal(signal.SIGTERM, _raise_interrupt)


def _bufmode(args: argparse.Namespace) -> str:
    chosen = [m for m, on in ((BUF_ASCII, args.print_ascii), (BUF_HEXASCII, args.print_hex_ascii),
                              (BUF_HEX, args.print_hex)) if on]
    if len(chosen) > 1:
        raise UsageError("choose one of -A, -X and -x")
    return chosen[0] if chosen else BUF_NORMAL


def _open(args: argparse.Namespace, columns: list[str] | None = None) -> Capture:
    """Open -r's capture; -P prints the reading progress, --provenance what was read."""
    from sysnb.reading import finish_progress, progress_of

    path = args.read
    check_room(path)
    progress = progress_of(args)
    cap = open_capture(path, progress=progress, columns=columns)
    finish_progress(progress)
    if args.provenance or args.verbose:
        p = cap.provenance
        print(f"sysnb: {p.source} sha256={p.sha256} host={visible(p.hostname)} events={p.events}", file=sys.stderr)
    _note_recorder(cap)
    rows = cap.table.num_rows
    from sysnb.reading import say_if_empty

    say_if_empty(path, rows, bool(rows) and bool(pc.any(cap.table["sysnb.visible"]).as_py()),
                 cap.provenance.error is not None)
    return cap


def _note_recorder(cap: Capture) -> None:
    """Say on every open that the recorder lost syscalls (or stopped early) while recording this capture."""
    from sysnb.record.note import capture_note

    if line := capture_note(cap.provenance.extra):
        print(f"sysnb: note: {line}", file=sys.stderr)


_SUMMARY_COLUMNS = {"sysnb.type_id", "sysnb.syscall_id"}


_PT_NAMES = {"DYN": "DYNAMIC"}


def print_events() -> None:
    for e in EVENTS:
        if not e.known_2022 or e.flags_2022 & {"OLD_VERSION", "UNUSED"} or e.category_2022 == "INTERNAL":
            continue
        params = ", ".join(f"{_PT_NAMES.get(p[1], p[1])} {p[0]}" for p in e.params_2022)
        print(f"{e.direction} {e.name_2022}({params})")


if __name__ == "__main__":
    sys.exit(main())

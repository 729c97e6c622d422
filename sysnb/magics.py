"""IPython magics (``%load_ext sysnb``): a thin layer over the library, no logic of its own.

* ``%sysopen PATH [-o NAME]`` opens a capture, makes it current and binds it (default ``cap``).
* ``%sysfilter EXPR`` filters the current capture with a sysdig filter; the rest of the line is the raw
  filter text (never shell-split). The result is bound to ``_sysview``. ``%sysfilter`` alone shows the
  current filter, ``%sysfilter --clear`` removes it.

* ``%chisel NAME [ARGS] [-- FILTER]`` runs a chisel on the current view (bound to ``_chisel``);
  ``%sysprint [-p FORMAT] [-A|-X] [-n N] [FILTER]`` prints it as sysdig does.
* ``%sysrules PATH... [--min-priority P] [--disable-tag T] [--enable-tag T] [--all-events] ...`` runs Falco
  rules files on the current view (bound to ``_alerts``; see ``sysnb.rules.magic`` for every option).
* ``%%capture 5s [-o NAME] [-s SNAPLEN] [--engine core|bcc] [--cgroup DIR] [--filter FILTER]`` records every
  system call on the host (``--cgroup``: of the tasks in that cgroup or below it) while the cell runs, for at
  least the duration, and binds the capture (default ``_capture``).
  When the first argument is not a duration the cell goes to IPython's own ``%%capture`` (stdout capture)
  unchanged.
  ``%%syscapture`` is the unambiguous spelling; ``%capture 5s`` records for 5 s with a progress bar.
  The kernel process itself is excluded from the recording (the recorder would otherwise record itself);
  commands the cell starts (``!curl ...``, subprocesses) are recorded.

The case (``sysnb.case``): ``%syscase --id IR-2026-014 --examiner "J. Doe"`` starts it (``%syscase`` alone
shows it), ``%finding -s high Port scan -- proc.name=nmap and evt.type=connect`` records a finding (without
``-- FILTER``: the current ``%sysfilter`` view), ``%mark 4711 -t c2,exfil -n "forged Host"`` bookmarks events
(``--remove`` unmarks), ``%sysreport -o report.html [--pdf report.pdf]`` exports the notebook as a report.

User mistakes (bad path, unknown field, no capture open, no root for live capture) are one-line usage
errors without a traceback.
"""

from __future__ import annotations

import functools
import inspect
import re
import shlex
import textwrap
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from sysnb.capture import Capture, open_capture
from sysnb.errors import SysnbError
from sysnb.memory import check_room, out_of_memory
from sysnb.memory import message as memory_message
from sysnb.progress import CountProgress, read_progress


class _State:
    capture: Capture | None = None
    filter: str | None = None


def _usage(msg: str) -> Exception:
    from IPython.core.error import UsageError

    error: Exception = UsageError(msg)
    return error


def sysopen(line: str, shell: Any) -> Capture:
    """Open a capture file, make it the current one and bind it to a variable.

    Usage::

        %sysopen PATH [-o NAME]

    PATH is a .scap file of any sysdig/Falco/Stratoshark version, gzipped or not; NAME defaults to ``cap``.
    The other magics (%sysfilter, %sysprint, %chisel, %sysexplore, %sysrules) work on the current capture.

    Examples::

        %sysopen incident.scap.gz                 # -> cap
        %sysopen /evidence/web01.scap -o web01    # -> web01
        %sysopen {sysnb.sample_path()}            # the bundled incident capture
    """
    try:
        args = shlex.split(line)
    except ValueError as e:
        raise _usage(f"%sysopen: {e} in {line!r}; usage: %sysopen PATH [-o NAME]") from None
    name = "cap"
    if "-o" in args:
        i = args.index("-o")
        if i + 1 >= len(args):
            raise _usage("%sysopen: -o needs a variable name, e.g. %sysopen capture.scap -o incident")
        name = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        raise _usage("usage: %sysopen PATH [-o NAME]   e.g. %sysopen capture.scap.gz")
    try:
        check_room(args[0])
        cap = open_capture(args[0], progress=read_progress(args[0]))
    except SysnbError as e:
        raise _usage(f"%sysopen: {e}") from None
    except Exception as e:
        if not out_of_memory(e):
            raise
        raise _usage(f"%sysopen: {memory_message(args[0])}") from None
    _note_recorder(cap)
    _State.capture, _State.filter = cap, None
    shell.user_ns[name] = cap
    return cap


def _note_recorder(cap: Capture) -> None:
    """Say so when the recorder lost syscalls (or stopped early) while recording this capture."""
    from sysnb.record.note import capture_note

    if line := capture_note(cap.provenance.extra):
        print(f"sysnb: note: {line}")


def _memory_guard(magic: Callable[[str, Any], Any], name: str, shell: Any,
                  doc: str | None = None) -> Callable[[str], Any]:
    """``magic`` as registered (a named function carrying its help, ``%name?``): running out of memory is a
    one-line usage error, not a traceback."""
    @functools.wraps(magic)
    def guarded(line: str) -> Any:
        try:
            return magic(line, shell)
        except Exception as e:
            if not out_of_memory(e):
                raise
            raise _usage(f"%{name}: {memory_message(None)}") from None
    _named(guarded, name, doc or magic.__doc__)
    return guarded


def _named(fn: Callable[..., Any], name: str, doc: str | None) -> None:
    """Name a registered magic after itself and give it its help; its signature is the magic's line (IPython
    would otherwise show the wrapped ``(line, shell)``)."""
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    if hasattr(fn, "__wrapped__"):
        del fn.__wrapped__


def sysfilter(line: str, shell: Any) -> Capture | str | None:
    """Filter the current capture with a sysdig filter; the matching events are bound to ``_sysview``.

    Usage::

        %sysfilter FILTER      # the rest of the line is the filter, exactly as typed (never shell-split)
        %sysfilter             # show the current filter
        %sysfilter --clear     # back to the whole capture

    The filter stays in force for %sysprint, %chisel, %sysexplore and %finding until changed. A mistake is
    a one-line error with a caret under its column and suggestions (``did you mean proc.name?``). Tab
    completes field names and, after ``evt.type=``, event types.

    Examples::

        %sysfilter proc.name=cat and evt.type in (open, openat, read)
        %sysfilter fd.name glob /etc/* and evt.dir=<
        %sysfilter fd.sip=10.66.0.3 and evt.type=connect
        %sysfilter evt.rawtime>=1712000000000000000 and evt.rawtime<1712000005000000000
    """
    text = line.strip()
    if not text:
        return _State.filter or "(no filter)"
    if _State.capture is None:
        raise _usage("%sysfilter: no capture is open; open one with %sysopen PATH")
    if text == "--clear":
        _State.filter = None
        shell.user_ns["_sysview"] = _State.capture
        return None
    try:
        view = _State.capture.filter(text)
    except SysnbError as e:
        raise _usage(f"%sysfilter: {e}") from None
    from sysnb.completer import check_event_types

    if (typo := check_event_types(text)) is not None:
        raise _usage(f"%sysfilter: {typo}")
    _State.filter = text
    shell.user_ns["_sysview"] = view
    return view


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|min)?$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, None: 1.0}
CAPTURE_USAGE = ("usage: %%capture DURATION [-o NAME] [-s SNAPLEN] [--engine auto|core|bcc] [--cgroup DIR] "
                 "[--filter FILTER], e.g. %%capture 5s -o incident")


def duration(text: str) -> float | None:
    """``5s`` / ``500ms`` / ``2m`` / ``5`` -> seconds; None when the text is not a duration."""
    m = _DURATION.match(text)
    return float(m[1]) * _UNIT[m[2]] if m else None


class CaptureArgs(NamedTuple):
    seconds: float
    name: str = "_capture"
    snaplen: int = 80
    filter: str | None = None
    engine: str = "auto"
    cgroup: str | None = None


def _capture_args(line: str) -> CaptureArgs:
    head, _, flt = line.partition("--filter")
    args = shlex.split(head)
    if not args or duration(args[0]) is None:
        raise _usage(CAPTURE_USAGE)
    out = CaptureArgs(duration(args[0]) or 0.0, filter=flt.strip() or None)
    rest = args[1:]
    while rest:
        opt = rest.pop(0)
        if opt not in ("-o", "-s", "--engine", "--cgroup") or not rest:
            raise _usage(f"%%capture: unexpected {opt!r}. {CAPTURE_USAGE}")
        value = rest.pop(0)
        if opt == "-o":
            out = out._replace(name=value)
        elif opt == "--engine" and value in ("auto", "core", "bcc"):
            out = out._replace(engine=value)
        elif opt == "--cgroup":
            out = out._replace(cgroup=value)
        elif opt == "-s" and value.isdigit():
            out = out._replace(snaplen=int(value))
        else:
            raise _usage(f"%%capture: {opt} {value!r}: -s takes a number of bytes, --engine auto, core or bcc")
    return out


def syscapture(line: str, cell: str | None, shell: Any) -> Capture:
    """Record every system call on this host while the cell runs (and for at least DURATION).

    Usage::

        %%capture DURATION [-o NAME] [-s SNAPLEN] [--engine auto|core|bcc] [--cgroup DIR] [--filter FILTER]
        %capture DURATION [...]        # the line form: record for DURATION with a progress bar
        %%syscapture DURATION [...]    # the same, never mistaken for IPython's %%capture

    DURATION is ``5s``, ``500ms``, ``2m`` or seconds. The capture is bound to NAME (default ``_capture``) and
    becomes the current one; ``--filter`` also binds the matching events to ``_sysview``. ``-s`` is the
    number of buffer bytes kept per I/O call (default 80), ``--cgroup`` records only the tasks of that cgroup
    and below. Needs root and BPF; the kernel process itself is not recorded, commands the cell starts are.

    Examples::

        %%capture 5s -o incident
        !curl -s http://127.0.0.1:8080/ > /dev/null

        %capture 3s --filter proc.name=curl
        %%syscapture 10s -s 256 --cgroup /sys/fs/cgroup/system.slice/nginx.service
    """
    from sysnb.record.libbpf import BpfError

    seconds, name, snaplen, flt, engine, cgroup = _capture_args(line)
    if flt is not None:
        _check_filter(flt)
    try:
        from sysnb.record import default_path
        from sysnb.record.engine import start_message
        from sysnb.record.recorder import Recording

        if message := start_message(engine):
            print(f"sysnb: {message}", flush=True)
        rec = Recording(default_path(), snaplen=snaplen, engine=engine, cgroup=cgroup)
    except (BpfError, SysnbError) as e:
        raise _usage(f"%%capture: {e}") from None
    try:
        if cell is not None:
            shell.run_cell(cell)
        _wait(rec, seconds)
    finally:
        converting = CountProgress(rec.stats.records, "writing the capture", "records")
        try:
            stats = rec.stop(converting)
        finally:
            converting.close()
    cap = open_capture(stats.path, progress=read_progress(stats.path))
    from sysnb.record import stats_dict

    cap.provenance.extra["recorder"] = stats_dict(stats)
    print(f"sysnb: {stats.summary()}")
    _State.capture, _State.filter = cap, None
    shell.user_ns[name] = cap
    if flt is not None:
        shell.user_ns["_sysview"] = cap.filter(flt)
        _State.filter = flt
    return cap


def _check_filter(text: str) -> None:
    from sysnb.filter import compile_filter

    try:
        compile_filter(text)
    except SysnbError as e:
        raise _usage(f"%%capture --filter: {e}") from None


def _wait(rec: Any, seconds: float) -> None:
    """Keep recording until ``seconds`` have passed, with a progress bar and a live syscall/drop counter."""
    left = seconds - rec.elapsed()
    if left <= 0:
        return
    from tqdm.auto import tqdm

    with tqdm(total=round(seconds, 1), desc="recording", unit="s", bar_format="{desc}: {bar} {n:.1f}/{total} s "
              "{postfix}") as bar:
        try:
            while rec.elapsed() < seconds:
                time.sleep(min(0.1, max(seconds - rec.elapsed(), 0)))
                bar.n = round(min(rec.elapsed(), seconds), 1)
                bar.set_postfix_str(f"{rec.stats.records:,} syscalls, {rec.stats.drops:,} dropped", refresh=True)
        except KeyboardInterrupt:
            pass  # an interrupted capture keeps what was recorded


def _current() -> Capture:
    if _State.capture is None:
        raise _usage("no capture is open; open one with %sysopen PATH (or record one with %%capture 5s)")
    return _State.capture.filter(_State.filter) if _State.filter else _State.capture


def chisel_magic(line: str, shell: Any) -> Any:
    """Run one of sysdig's chisels on the current view; the result (a table and sysdig's text) is ``_chisel``.

    Usage::

        %chisel NAME [ARGS] [-- FILTER]

    ARGS are the chisel's arguments as on sysdig's command line; FILTER narrows the events first (after the
    current %sysfilter). ``sysnb -cl`` lists the chisels, ``sysnb -i NAME`` describes one; Tab completes
    chisel names, then field names.

    Examples::

        %chisel topfiles_bytes
        %chisel topprocs_cpu
        %chisel fdbytes_by proc.name -- fd.type=file
        %chisel spy_users
        _chisel.table.to_pandas()
    """
    from sysnb.chisels import get

    head, _, flt = line.partition("--")
    words = shlex.split(head)
    if not words:
        raise _usage("usage: %chisel NAME [ARGS] [-- FILTER]   e.g. %chisel topfiles_bytes, "
                     "%chisel fdbytes_by proc.name -- fd.type=file  (sysnb -cl lists the chisels)")
    try:
        get(words[0])
        result = _current().chisel(words[0], *words[1:], filter=flt.strip() or None)  # the case notes the method
    except SysnbError as e:
        raise _usage(f"%chisel: {e}") from None
    shell.user_ns["_chisel"] = result
    return result


_OPT = re.compile(r"""\s*(-[AX]|-n\s+\d+|-p\s+(?:"[^"]*"|'[^']*'|\S+))(?=\s|$)""")


def _sysprint_args(line: str) -> tuple[str | None, str, int | None, str]:
    """Leading options (-p FORMAT, -A, -X, -n N); the rest of the line is the raw filter (quotes kept)."""
    fmt, mode, n = None, "normal", None
    rest = line
    while (m := _OPT.match(rest)) is not None:
        opt = m.group(1)
        if opt in ("-A", "-X"):
            mode = opt
        elif opt.startswith("-n"):
            n = int(opt[2:])
        else:
            fmt = shlex.split(opt[2:])[0]
        rest = rest[m.end():]
    return fmt, mode, n, rest.strip()


def sysprint(line: str, shell: Any) -> None:
    """Print the current view as ``sysdig -r`` prints it.

    Usage::

        %sysprint [-p FORMAT] [-A|-X] [-n N] [FILTER]

    ``-p`` takes sysdig's output format (``%field`` placeholders, ``*`` prefix prints <NA>), ``-A`` buffers
    as printable ASCII, ``-X`` as hex + ASCII, ``-n`` the first N lines; the rest of the line is a filter
    applied after the current %sysfilter. Control characters from the capture are shown escaped.

    Examples::

        %sysprint -n 20
        %sysprint -p "%evt.num %proc.name %fd.name" evt.type=openat
        %sysprint -A -n 5 fd.name contains index.html and evt.type=write
        %sysprint -X proc.name=curl and evt.type=recvfrom
    """
    from sysnb.capture import returned_rows
    from sysnb.format.args import BUF_ASCII, BUF_HEXASCII, BUF_NORMAL
    from sysnb.format.escape import multiline, visible
    from sysnb.format.output import DEFAULT_FORMAT, Formatter

    fmt, mode, n, flt = _sysprint_args(line)
    try:
        view = _current()
        if flt:
            view = view.filter(flt)
        bufmode = {"-A": BUF_ASCII, "-X": BUF_HEXASCII}.get(mode, BUF_NORMAL)
        formatter = Formatter(fmt or DEFAULT_FORMAT, bufmode=bufmode)
    except SysnbError as e:
        raise _usage(f"%sysprint: {e}") from None
    rows = returned_rows(view.table)
    rows = rows.filter(rows["sysnb.visible"])
    if n is not None:
        rows = rows.slice(0, n)
    keep_newlines = multiline(formatter)
    for text in formatter.lines(rows):
        print(visible(text, newlines=keep_newlines))  # notebooks interpret ANSI escapes in output


def sysexplore(line: str, shell: Any) -> Any:
    """The explorer widget (Sysdig Inspect in a cell) on the current view; bound to ``_sysexplorer``.

    Usage::

        %sysexplore [PANES]

    PANES is a comma-separated subset of tiles, crumbs, timeline, table, detail (default: all). Click a tile
    or double-click a row to drill down, brush the timeline to select a time window, right-click a row for
    filter, follow-fd and mark actions.

    Examples::

        %sysexplore
        %sysexplore crumbs,timeline,table
        cap.explore(panes=["table", "detail"], view=_sysexplorer.view)   # a second, linked pane
    """
    panes = [p.strip() for p in line.split(",") if p.strip()] or None
    try:
        widget = _current().explore(panes=panes)
    except SysnbError as e:
        raise _usage(f"%sysexplore: {e}") from None
    shell.user_ns["_sysexplorer"] = widget
    return widget


#: ``%name?`` for the case magics (sysnb.case.magics): usage and examples
CASE_HELP = {
    "syscase": """Start (or amend) the case: its id, title, examiner... shown atop the notebook and its report.

    Usage::

        %syscase [--id ID] [--title TEXT] [--examiner NAME] [--org ORG] [--requester NAME]
                 [--classification TEXT] [--description TEXT]
        %syscase        # show the case

    Examples::

        %syscase --id IR-2026-014 --examiner "J. Doe" --org "ACME CSIRT"
        %syscase --title "Defaced storefront" --classification TLP:AMBER
    """,
    "finding": """Record a finding of the case on the current capture: a title, a severity and its events.

    Usage::

        %finding [-s info|low|medium|high|critical] [-n NOTE] TITLE [-- FILTER]

    Without ``-- FILTER`` the finding is the current %sysfilter view (or the whole capture).

    Examples::

        %finding -s high Port scan from 10.66.0.3 -- proc.name=nmap and evt.type=connect
        %finding -s critical -n "index.html overwritten" Defacement -- fd.name contains index.html
        %finding Miner started        # the events of the current %sysfilter
    """,
    "mark": """Bookmark events of the current capture by evt.num (the explorer shows and navigates them).

    Usage::

        %mark EVT_NUM [EVT_NUM ...] [-t TAG,TAG] [-n NOTE] [--remove]

    Examples::

        %mark 4711 -t c2,exfil -n "POST with a forged Host header"
        %mark 4711 4712 4713 -t scan
        %mark 4711 --remove
    """,
    "sysreport": """Export the notebook with its case as a self-contained forensic report (HTML, optionally PDF).

    Usage::

        %sysreport [NOTEBOOK] [-o report.html] [--pdf report.pdf] [--include-code]

    NOTEBOOK defaults to this one as last saved (JupyterLab tells the kernel its path).

    Examples::

        %sysreport -o incident-report.html
        %sysreport -o report.html --pdf report.pdf --include-code
    """,
}


def _case_magics(ipython: Any) -> None:
    """%syscase, %finding, %mark, %sysreport (sysnb.case.magics) and storing the case after each cell."""
    from sysnb.case import magics as m
    from sysnb.case.notebook import watch_cells

    for name, fn in (("syscase", m.syscase), ("finding", m.finding_magic), ("mark", m.mark_magic),
                     ("sysreport", m.sysreport)):
        ipython.register_magic_function(_memory_guard(fn, name, ipython, CASE_HELP[name]), "line", name)
    watch_cells()


def sysrules(line: str, shell: Any) -> Any:
    """Falco's rules on the current view (``_alerts``)."""
    from sysnb.rules.magic import sysrules_magic

    try:
        return sysrules_magic(line, shell, _current())
    except SysnbError as e:
        raise _usage(f"%sysrules: {e}") from None


def _capture_magics(ipython: Any) -> None:
    """``%%capture`` (ours when the first word is a duration, else IPython's own, whose help is kept below
    ours), ``%%syscapture`` and the line forms ``%capture`` / ``%syscapture``."""
    # IPython's own %%capture, bound to an ExecutionMagics instance: not the currently registered callable,
    # which may be IPython 9's lazy stub (it re-resolves the name on call, i.e. to our wrapper) or our own
    # wrapper when the extension is loaded twice.
    from IPython.core.magics.execution import ExecutionMagics

    execution = ipython.magics_manager.registry.get("ExecutionMagics") or ExecutionMagics(shell=ipython)
    original = execution.capture

    def capture(line: str, cell: str) -> Any:
        first = line.split(maxsplit=1)[0] if line.strip() else ""
        if duration(first) is None and original is not None:
            return original(line, cell)  # IPython's own %%capture (stdout/stderr capture)
        return syscapture(line, cell, ipython)

    def capture_line(line: str) -> Any:
        return syscapture(line, None, ipython)

    def syscapture_line(line: str) -> Any:
        return syscapture(line, None, ipython)

    def syscapture_cell(line: str, cell: str) -> Any:
        return syscapture(line, cell, ipython)

    ipython_help = inspect.cleandoc(original.__doc__ or "")
    _named(capture, "capture", f"{syscapture.__doc__}\n\n    IPython's own %%capture (when the first word is not a "
           f"duration):\n\n" + textwrap.indent(ipython_help, "    "))
    _named(capture_line, "capture", syscapture.__doc__)
    _named(syscapture_line, "syscapture", syscapture.__doc__)
    _named(syscapture_cell, "syscapture", syscapture.__doc__)
    ipython.register_magic_function(capture, "cell", "capture")
    ipython.register_magic_function(syscapture_cell, "cell", "syscapture")
    ipython.register_magic_function(capture_line, "line", "capture")
    ipython.register_magic_function(syscapture_line, "line", "syscapture")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext sysnb``: the magics, their help (``%sysfilter?``) and Tab completion inside them."""
    _case_magics(ipython)
    from sysnb.rules import magic as rules_magic

    ipython.register_magic_function(_memory_guard(sysrules, "sysrules", ipython, rules_magic.__doc__), "line",
                                    "sysrules")
    for name, magic in (("sysexplore", sysexplore), ("chisel", chisel_magic), ("sysprint", sysprint),
                        ("sysopen", sysopen), ("sysfilter", sysfilter)):
        ipython.register_magic_function(_memory_guard(magic, name, ipython), "line", name)
    _capture_magics(ipython)
    from sysnb.completer import install

    install(ipython)

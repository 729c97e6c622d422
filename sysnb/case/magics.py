"""The case magics: ``%syscase``, ``%finding``, ``%mark`` and ``%sysreport`` (registered by ``%load_ext sysnb``).

Each is a thin layer over :mod:`sysnb.case.api` and :mod:`sysnb.report`; mistakes are one-line usage errors.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from sysnb.errors import SysnbError

_SEPARATOR = re.compile(r"(?:^|\s)--(?:\s|$)")
CASE_FIELDS = ("id", "title", "examiner", "org", "requester", "classification", "description")
SYSCASE_USAGE = ('usage: %syscase [--id ID] [--title TEXT] [--examiner NAME] [--org ORG] [--requester NAME] '
                 '[--classification TEXT] [--description TEXT], e.g. %syscase --id IR-2026-014 --examiner "J. Doe"')
FINDING_USAGE = ("usage: %finding [-s info|low|medium|high|critical] [-n NOTE] TITLE [-- FILTER], e.g. "
                 '%finding -s high Port scan from 10.66.0.3 -- proc.name=nmap and evt.type=connect')
MARK_USAGE = 'usage: %mark EVT_NUM [EVT_NUM ...] [-t TAG,TAG] [-n NOTE] [--remove], e.g. %mark 4711 -t c2 -n "POST"'
REPORT_USAGE = ("usage: %sysreport [NOTEBOOK] [-o report.html] [--pdf report.pdf] [--include-code], e.g. "
                "%sysreport -o incident-report.html")


def _usage(msg: str) -> Exception:
    from IPython.core.error import UsageError

    error: Exception = UsageError(msg)
    return error


def _split(line: str, usage: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as e:
        raise _usage(f"{e}. {usage}") from None


def _options(words: list[str], names: dict[str, str], flags: tuple[str, ...],
             usage: str) -> tuple[dict[str, Any], list[str]]:
    """``--name VALUE`` options (``names`` maps each spelling to its key) and flags; the rest in order."""
    found: dict[str, Any] = {}
    rest: list[str] = []
    while words:
        word = words.pop(0)
        if word in flags:
            found[word.lstrip("-")] = True
        elif word in names:
            if not words:
                raise _usage(f"{word} needs a value. {usage}")
            found[names[word]] = words.pop(0)
        elif word.startswith("-") and len(word) > 1 and not word[1:].isdigit():
            raise _usage(f"unknown option {word}. {usage}")
        else:
            rest.append(word)
    return found, rest


def syscase(line: str, shell: Any) -> Any:
    """``%syscase --id IR-2026-014 --examiner "J. Doe" --org "ACME CSIRT" --requester Legal``: start the
    case (shown at the top of the notebook and its report); ``%syscase`` alone shows it."""
    from sysnb.case.api import case
    from sysnb.case.session import active

    found, rest = _options(_split(line, SYSCASE_USAGE), {f"--{f}": f for f in CASE_FIELDS}, (), SYSCASE_USAGE)
    if rest:
        raise _usage(f"unexpected {rest[0]!r}. {SYSCASE_USAGE}")
    if not found and not active().started:
        raise _usage(f"no case yet. {SYSCASE_USAGE}")
    try:
        return case(**found)
    except SysnbError as e:
        raise _usage(f"%syscase: {e}") from None


def finding_magic(line: str, shell: Any) -> Any:
    """``%finding -s high Port scan from 10.66.0.3 -- proc.name=nmap and evt.type=connect``: a finding on
    the current capture; without ``-- FILTER`` it stands for the current ``%sysfilter`` view."""
    from sysnb.case.api import finding
    from sysnb.magics import _State

    parts = _SEPARATOR.split(line, maxsplit=1)
    head, flt = parts[0], (parts[1] if len(parts) > 1 else None)
    found, words = _options(_split(head, FINDING_USAGE), {"-s": "severity", "--severity": "severity",
                                                         "-n": "note", "--note": "note"}, (), FINDING_USAGE)
    title = " ".join(words)
    if not title:
        raise _usage(FINDING_USAGE)
    if _State.capture is None:
        raise _usage("%finding: no capture is open; open one with %sysopen PATH")
    what: Any = flt.strip() if flt is not None else (_State.capture.filter(_State.filter) if _State.filter else None)
    try:
        return finding(title, what, capture=_State.capture, **found)
    except SysnbError as e:
        raise _usage(f"%finding: {e}") from None


def mark_magic(line: str, shell: Any) -> Any:
    """``%mark 4711 4712 -t c2,exfil -n "POST with a forged Host header"``: bookmark events of the current
    capture by evt.num; ``--remove`` takes the marks off."""
    from sysnb.case.api import mark, unmark
    from sysnb.magics import _State

    found, words = _options(_split(line, MARK_USAGE), {"-t": "tags", "--tags": "tags", "-n": "note", "--note": "note"},
                            ("--remove",), MARK_USAGE)
    if not words or not all(w.isdigit() for w in words):
        raise _usage(MARK_USAGE)
    if _State.capture is None:
        raise _usage("%mark: no capture is open; open one with %sysopen PATH")
    remove = found.pop("remove", False)
    try:
        done = [unmark(int(w), capture=_State.capture) if remove else mark(int(w), capture=_State.capture, **found)
                for w in words]
    except SysnbError as e:
        raise _usage(f"%mark: {e}") from None
    return done[0] if len(done) == 1 else done


def sysreport(line: str, shell: Any) -> Any:
    """``%sysreport -o incident-report.html [--pdf incident-report.pdf] [--include-code]``: export the
    notebook (as last saved; JupyterLab tells the kernel its path, elsewhere give it) with this kernel's
    case as a forensic report."""
    from sysnb.case.notebook import notebook_path
    from sysnb.case.session import active
    from sysnb.report import export

    found, rest = _options(_split(line, REPORT_USAGE), {"-o": "out", "--pdf": "pdf"}, ("--include-code",),
                           REPORT_USAGE)
    source = rest[0] if rest else notebook_path()
    if source is None or len(rest) > 1:
        raise _usage(f"%sysreport: which notebook? {REPORT_USAGE}")
    out = found.get("out") or str(source).removesuffix(".ipynb") + "-report.html"
    try:
        path = export(source, out, include_code=bool(found.get("include-code")), pdf=found.get("pdf"),
                      live_case=active())
    except (SysnbError, OSError, ValueError) as e:
        raise _usage(f"%sysreport: {e}") from None
    for item in active().doc.evidence:  # the notebook's own custody log keeps the export too
        active().log("export", item.sha256, item.path, f"listed in report {path.name}")
    print(f"report written to {path}" + (f" and {found['pdf']}" if found.get("pdf") else ""))
    return None

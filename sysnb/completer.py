"""Tab completion inside sysnb's magics: field names, event types and chisel names.

An IPython matcher (the v2 API), so the same completions reach the terminal's Tab and Jupyter's
``complete_request`` (what JupyterLab's completer and the sysnb lab extension show). It answers only on a line
that starts with one of sysnb's magics and leaves every other line to IPython's own matchers:

* ``%sysfilter proc.na<Tab>``            -> ``proc.name``, ``proc.nametid``... (the field registry)
* ``%sysfilter evt.type=wr<Tab>``        -> ``write``, ``writev`` (event types; also inside ``in (...)``)
* ``%sysprint -p "%evt.num %fd.na<Tab>`` -> ``%fd.name`` (fields after ``%`` in a ``-p`` format)
* ``%chisel top<Tab>``                   -> ``topfiles_bytes``, ``topprocs_cpu``... (then fields, filter)
* ``%%capture 5s --filter proc.<Tab>``   -> fields; ``%finding TITLE -- fd.<Tab>`` too.

Inspection (Shift-Tab in JupyterLab, and the documentation panel of its completer, which asks the kernel to
inspect the chosen completion) answers for a field name inside those magics with what ``sysnb -l FIELD`` says:
type, description, how it is computed. Everything else goes to IPython's inspector as before.
"""

from __future__ import annotations

import functools
import re
from typing import Any

#: magics whose whole argument is a sysdig filter (after their options)
FILTER_MAGICS = ("%sysfilter", "%sysprint", "%%capture", "%%syscapture", "%capture", "%syscapture", "%finding",
                 "%chisel", "%sysexplore")
_MAGIC = re.compile(r"^\s*(%%?\w+)\b")
_TOKEN = re.compile(r"[\w.\[\]]*$")
_EVT_TYPE = re.compile(r"evt\.type\s*(?:!?=|in\s*\(([^)]*,)?)\s*[\w]*$")


@functools.cache
def field_names() -> tuple[str, ...]:
    """Every field a filter or ``-p`` format can name: the registry's and the derived ones."""
    from sysnb.fields import FIELDS

    # fields taking an argument complete to their prefix: evt.arg.NAME, evt.rawarg.NAME
    names = {f"{n}." if f.arg == "required" else n for n, f in FIELDS.items() if not f.hidden}
    return tuple(sorted(names))


@functools.cache
def event_types() -> tuple[str, ...]:
    """The event type names sysdig 0.29.3 knows (what ``evt.type`` compares with)."""
    from sysnb.scap.events import EVENTS

    return tuple(sorted({e.name_2022 for e in EVENTS if e.known_2022 and e.name_2022}))


def chisel_names() -> tuple[str, ...]:
    from sysnb.chisels.registry import CHISELS, _load_builtin

    _load_builtin()
    return tuple(sorted(CHISELS))


def completions(line: str) -> tuple[str, list[tuple[str, str]]]:
    """(the fragment being completed, [(completion, kind)]) for ``line`` up to the cursor; no completions
    when the line is not one of sysnb's magics."""
    m = _MAGIC.match(line)
    if m is None or m.group(1) not in FILTER_MAGICS:
        return "", []
    token = _TOKEN.search(line)
    fragment = token.group(0) if token else ""
    before = line[:len(line) - len(fragment)]
    if m.group(1) == "%chisel" and not before[m.end():].strip():
        return fragment, [(c, "chisel") for c in chisel_names() if c.startswith(fragment)]
    if _EVT_TYPE.search(line):
        return fragment, [(e, "event type") for e in event_types() if e.startswith(fragment)]
    if m.group(1) == "%sysexplore":
        from sysnb.views.widget import PANES

        return fragment, [(p, "pane") for p in PANES if p.startswith(fragment)]
    if not fragment and not before.endswith("%"):
        return "", []  # an empty word after a space: not a field position we can tell
    return fragment, [(f, "field") for f in field_names() if f.startswith(fragment)]


def install(ipython: Any) -> None:
    """Add the matcher to ``ipython``'s completer (once, however often the extension is loaded)."""
    from IPython.core.completer import CompletionContext, SimpleCompletion, SimpleMatcherResult, context_matcher

    @context_matcher()  # type: ignore[untyped-decorator]
    def sysnb_matcher(context: CompletionContext) -> SimpleMatcherResult:
        fragment, found = completions(context.line_with_cursor)
        return {"completions": [SimpleCompletion(text, type=kind) for text, kind in found],
                "matched_fragment": fragment, "suppress": bool(found)}

    completer = ipython.Completer
    completer.custom_matchers[:] = [f for f in completer.custom_matchers
                                    if getattr(f, "__qualname__", "") != sysnb_matcher.__qualname__]
    completer.custom_matchers.append(sysnb_matcher)
    _install_inspector(getattr(ipython, "kernel", None))


_FIELD_CHARS = re.compile(r"[\w.\[\]]")


def field_help(code: str, cursor: int) -> str | None:
    """What ``sysnb -l FIELD`` says about the field name around ``cursor`` when its line is one of sysnb's
    magics (a leading ``%`` of a -p format is not part of the name); None otherwise."""
    from sysnb.fields.listing import detail
    from sysnb.fields.registry import resolve

    cursor = max(0, min(cursor, len(code)))
    start = code.rfind("\n", 0, cursor) + 1
    end = code.find("\n", cursor)
    line = code[start:len(code) if end < 0 else end]
    m = _MAGIC.match(line)
    if m is None or m.group(1) not in FILTER_MAGICS:
        return None
    at = cursor - start
    lo = at
    while lo > 0 and _FIELD_CHARS.match(line[lo - 1]):
        lo -= 1
    hi = at
    while hi < len(line) and _FIELD_CHARS.match(line[hi]):
        hi += 1
    name = line[lo:hi].rstrip(".")
    if "." not in name or resolve(name) is None:
        return None
    return "\n".join(detail(name))


def _install_inspector(kernel: Any) -> None:
    """Answer the kernel's inspect requests for field names inside sysnb's magics (once per kernel)."""
    if kernel is None or getattr(kernel.do_inspect, "_sysnb", False):
        return
    original = kernel.do_inspect

    def do_inspect(code: str, cursor_pos: int, detail_level: int = 0, omit_sections: Any = ()) -> Any:
        text = field_help(code, cursor_pos)
        if text is None:
            return original(code, cursor_pos, detail_level, omit_sections)
        return {"status": "ok", "found": True, "data": {"text/plain": text}, "metadata": {}}

    do_inspect._sysnb = True  # type: ignore[attr-defined]
    kernel.do_inspect = do_inspect


_TYPE_VALUES = re.compile(r"evt\.type\s*(?:!?=\s*['\"]?([\w]+)|in\s*\(([^)]*)\))")


def check_event_types(text: str) -> str | None:
    """A message with a caret for the first ``evt.type`` value no event has (``evt.type=wrte`` is valid syntax
    that can only ever match nothing), or None."""
    import difflib

    known = set(event_types())
    for m in _TYPE_VALUES.finditer(text):
        group = 1 if m.group(1) is not None else 2
        for word in re.finditer(r"[^\s,]+", m.group(group)):
            value = word.group(0).strip("'\"")
            if value and value not in known:
                column = m.start(group) + word.start()
                close = difflib.get_close_matches(value, sorted(known), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else "; `sysnb -L` lists them"
                return (f"unknown event type {value!r}{hint} at column {column + 1}\n  {text}\n"
                        f"  {' ' * column}^")
    return None

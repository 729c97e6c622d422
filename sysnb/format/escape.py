"""Capture strings made safe to show: control characters as visible escapes, for terminals, HTML and charts.

Process names, file names, arguments and buffers are chosen by whoever controlled the recorded host. Shown
raw, an ESC or OSC sequence rewrites the analyst's terminal (title, screen, colours, or worse), a carriage
return or backspace forges what a line says, a bidirectional override reorders it (Trojan Source), and a
control character makes some renderers abort (vl-convert panics on ESC in a chart label). Shown through
:func:`visible`, every such character becomes plain text, in the notation ``cat -v`` uses:

=====================================  ===========================================================
character                              shown as
=====================================  ===========================================================
C0 controls U+0000-U+001F              ``^@`` ... ``^_`` (ESC is ``^[``, BEL ``^G``, CR ``^M``)
DEL U+007F                             ``^?``
C1 controls U+0080-U+009F              their UTF-8 bytes as ``cat -v`` shows them: U+009B is ``M-BM-^[``
bytes that are not UTF-8               as ``cat -v`` shows that byte: 0xFF is ``M-^?``, 0x9B ``M-^[``
bidi controls, U+2028/U+2029           ``<U+202E>``: they reorder or break what is displayed
=====================================  ===========================================================

Tab is kept everywhere; newline is kept only where the output is multi-line by design (``-A``/``-X`` buffer
dumps, ``-p`` formats with ``\\n``). ``visible`` is the identity on text without such characters, so
ordinary output is unchanged. :func:`json_visible` gives the same characters as JSON ``\\u`` escapes, so
``-j`` output stays valid JSON. :func:`html_text` is ``visible`` then HTML escaping.
"""

from __future__ import annotations

import html
import re
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.format.args import BUF_JSON, BUF_NORMAL

_BIDI = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_REST = f"\x7f-\x9f{_BIDI}\udc80-\udcff"  # surrogates U+DC80-U+DCFF: bytes kept by surrogateescape
#: what :func:`label` rewrites: every control character
_UNSAFE = re.compile(f"[\x00-\x1f{_REST}]")
#: what :func:`visible` rewrites: the same except tabs (and line feeds with ``newlines=True``)
_UNSAFE_TEXT = re.compile(f"[\x00-\x08\x0a-\x1f{_REST}]")
_UNSAFE_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{_REST}]")
#: what :func:`label` rewrites, for Arrow's RE2 (Arrow strings are valid UTF-8: no surrogates)
_UNSAFE_RE2 = r"[\x00-\x1f\x7f-\x{9f}\x{61c}\x{200e}\x{200f}\x{2028}-\x{202e}\x{2066}-\x{2069}]"


def _caret(byte: int) -> str:
    """``cat -v`` notation of one byte."""
    meta = "M-" if byte >= 0x80 else ""
    b = byte & 0x7F
    if b < 0x20:
        return f"{meta}^{chr(b + 0x40)}"
    if b == 0x7F:
        return f"{meta}^?"
    return meta + chr(b)


@cache
def _shown(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return _caret(code - 0xDC00)
    if code < 0xA0:  # C0, DEL, C1
        return "".join(_caret(b) for b in ch.encode("utf-8"))
    return f"<U+{code:04X}>"


def _replace(m: re.Match[str]) -> str:
    return _shown(m.group())


def visible(text: str, *, newlines: bool = False) -> str:
    """``text`` with control, bidi and undecodable characters as visible escapes (see the module doc); tabs
    are kept, and line feeds with ``newlines=True`` (output that is multi-line by design)."""
    return (_UNSAFE_LINES if newlines else _UNSAFE_TEXT).sub(_replace, text)


#: the colours sysdig's chisels write on a terminal (reset, bold, the 8 basic foreground colours)
_CHISEL_COLOUR = re.compile("(\x1b\\[(?:0|1|3[0-7])m)")


def chisel_visible(text: str) -> str:
    """A chisel's output line for a terminal: its own colour codes kept, everything else as :func:`visible`
    with newlines (echo chisels print buffers over several lines). A capture string holding exactly one of
    those colour codes passes as colour; no other sequence (title, cursor, screen, conceal) can."""
    parts = _CHISEL_COLOUR.split(text)
    return "".join(p if i % 2 else visible(p, newlines=True) for i, p in enumerate(parts))


def label(text: str) -> str:
    """A one-line label (chart axis, legend, tooltip): every control character escaped, tabs and newlines
    too, so no renderer sees one."""
    return _UNSAFE.sub(_replace, text)


def html_text(value: object) -> str:
    """A capture value as HTML text: visible escapes, then ``&<>"'`` escaped (safe in text and attributes)."""
    return html.escape(label(str(value)), quote=True)


_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_BIDI}\udc80-\udcff]")


def json_visible(text: str) -> str:
    """A JSON text with DEL, C1, bidi and undecodable characters as ``\\uXXXX`` escapes (JSON already
    escapes C0 controls), so it shows safely on a terminal and still parses to the same value."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def multiline(formatter: Any) -> bool:
    """Whether a :class:`~sysnb.format.output.Formatter`'s lines hold newlines by design: buffer dumps
    (-A, -X, -x) and formats with ``\\n``. Elsewhere a newline can only come from a capture string."""
    return formatter.bufmode not in (BUF_NORMAL, BUF_JSON) or any("\n" in s.literal for s in formatter.segments)


def visible_column(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A string column with :func:`label` applied, touching in Python only the values that need it
    (found with one RE2 pass); other columns are returned as they are."""
    typ = values.type
    if pa.types.is_dictionary(typ):
        values, typ = values.cast(typ.value_type), typ.value_type
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
        return values
    bad = pc.fill_null(pc.match_substring_regex(values, _UNSAFE_RE2), False)
    if not pc.any(bad).as_py():
        return values
    fixed = [None if v is None else label(v) for v in values.to_pylist()]
    return pa.array(fixed, typ)


def visible_table(table: pa.Table) -> pa.Table:
    """Every string column of ``table`` through :func:`visible_column`."""
    for i, name in enumerate(table.column_names):
        col = visible_column(table[name])
        if col is not table[name]:
            table = table.set_column(i, name, col)
    return table

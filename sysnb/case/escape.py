"""Capture strings in HTML: every byte of a capture is hostile (file names, buffers, process names, notes
copied from them), so nothing from it reaches markup unescaped.

:func:`esc` HTML-escapes and also makes invisible or reordering characters visible: C0/C1 controls (ANSI
escapes, NUL, backspace) and the Unicode bidirectional overrides/isolates and zero-width characters that
could make ``/tmp/gpj.exe`` read as ``/tmp/exe.jpg`` in a report. They are shown as ``\\x1b`` or ``\\u202e``.
"""

from __future__ import annotations

import html
import re

_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def visible(text: str) -> str:
    """Controls and bidi/zero-width characters as escapes (tab and newline kept)."""
    return _INVISIBLE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


def esc(value: object) -> str:
    """Any value as HTML text: escaped (quotes too, so it is safe in attributes) with invisibles shown."""
    return html.escape(visible("" if value is None else str(value)), quote=True)

"""IPython magics (``%load_ext sysnb``): a thin layer over the library, no logic of its own.

* ``%sysopen PATH [-o NAME]`` opens a capture, makes it current and binds it (default ``cap``).
* ``%sysfilter EXPR`` filters the current capture with a sysdig filter; the rest of the line is the raw
  filter text (never shell-split). The result is bound to ``_sysview``. ``%sysfilter`` alone shows the
  current filter, ``%sysfilter --clear`` removes it.

User mistakes (bad path, unknown field, no capture open) are one-line usage errors without a traceback.
"""

from __future__ import annotations

import shlex
from typing import Any

from sysnb.capture import Capture, open_capture
from sysnb.errors import SysnbError


class _State:
    capture: Capture | None = None
    filter: str | None = None


def _usage(msg: str) -> Exception:
    from IPython.core.error import UsageError

    return UsageError(msg)


def sysopen(line: str, shell: Any) -> Capture:
    args = shlex.split(line)
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
        cap = open_capture(args[0])
    except SysnbError as e:
        raise _usage(f"%sysopen: {e}") from None
    _State.capture, _State.filter = cap, None
    shell.user_ns[name] = cap
    return cap


def sysfilter(line: str, shell: Any) -> Capture | str | None:
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
    _State.filter = text
    shell.user_ns["_sysview"] = view
    return view


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magic_function(lambda line: sysopen(line, ipython), "line", "sysopen")
    ipython.register_magic_function(lambda line: sysfilter(line, ipython), "line", "sysfilter")

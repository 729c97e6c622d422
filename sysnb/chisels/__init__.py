"""Chisels: sysdig's analysis scripts rebuilt as whole-column operations on the capture table.

``capture.chisel("topfiles_bytes")``, ``sysnb -r FILE -c topfiles_bytes``, ``%chisel topfiles_bytes`` all
run the same function; see :mod:`sysnb.chisels.registry` to write your own with ``@chisel``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from sysnb.chisels.registry import CHISELS, Arg, Chisel, ChiselResult, chisel, get, info_text, list_text

if TYPE_CHECKING:
    from sysnb.capture import Capture


def run(source: Capture | pa.Table, name: str, args: Sequence[str] | dict[str, Any] = (),
        filter: str | None = None) -> ChiselResult:
    """Run chisel ``name`` on a capture (or an events table) with positional argument strings (as on the
    command line) or keyword values, after an optional sysdig filter."""
    c = get(name)
    per_capture = getattr(source, "per_capture", None)
    if per_capture is not None and "source" in inspect.signature(c.fn).parameters:
        result: ChiselResult = per_capture(name, args, filter)  # a merged view (sysnb.datasets): per capture
        return result
    if isinstance(source, pa.Table):
        table = source
    else:
        from sysnb.capture import returned_rows

        heavy = {"sysnb.params", "evt.args", "sysnb.info"}
        if filter:  # a filter on evt.arg.* / evt.rawarg.* reads them
            from sysnb.filter import compile_filter

            heavy = set() if compile_filter(filter).dynamic else heavy
        keep = [n for n in source.table.column_names if c.raw or n not in heavy]
        table = returned_rows(source.table, keep)  # without the raw parameters unless the chisel reads them
    if filter:
        from sysnb.filter import compile_filter

        table = compile_filter(filter).apply(table)
    if isinstance(args, dict):
        kwargs = {a.name: a.default for a in c.args} | args
    else:
        kwargs = c.bind(list(args))
    params = inspect.signature(c.fn).parameters
    if "source" in params and not isinstance(source, pa.Table):
        kwargs["source"] = source.provenance.source  # chisels reading the capture's start state
    if "filtered" in params:
        kwargs["filtered"] = bool(filter)  # chisels that need a filter to make sense (around)
    return c.fn(table, **kwargs)


__all__ = ["CHISELS", "Arg", "Chisel", "ChiselResult", "chisel", "get", "info_text", "list_text", "run"]

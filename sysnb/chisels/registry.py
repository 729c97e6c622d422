"""The chisel registry: name, category, description, typed arguments, and the function.

A chisel is a Python function ``fn(events, **args) -> ChiselResult`` over the table of a capture (the
rows sysdig would show, after the user's filter). Its result is an Arrow table (for notebooks and charts)
plus a text renderer that prints what ``sysdig -c NAME`` prints. Register your own with ``@chisel``::

    from sysnb.chisels import chisel, ChiselResult

    @chisel("top_uids", category="Security", short="Top users by syscalls")
    def top_uids(events):
        t = events.group_by("user.name").aggregate([("evt.num", "count")])
        return ChiselResult(t, lambda: (f"{r['evt.num_count']:>10} {r['user.name']}" for r in t.to_pylist()))
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from sysnb.errors import UsageError


@dataclass(frozen=True)
class Arg:
    name: str
    description: str
    type: str = "string"  # string | int | float | filter field
    optional: bool = False
    default: Any = None


@dataclass
class ChiselResult:
    """``table``: the result as columns; ``text()``: the lines sysdig prints for it. ``terminal``: the text is
    sysnb's own terminal drawing (colours, no capture strings), printed without escaping."""

    table: pa.Table
    text: Callable[[], Iterable[str]]
    chart: Callable[[], Any] | None = None
    terminal: bool = False

    def _repr_html_(self) -> str:
        """The table as HTML; capture strings with control characters as visible escapes, then HTML-escaped."""
        if not self.table.num_rows:
            return "<i>(no rows)</i>"
        from sysnb.format.escape import visible_table

        return str(visible_table(self.table).to_pandas().to_html(index=False, escape=True))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """In notebooks: the chart when the chisel draws one (spectrogram, subsecoffset), else the table."""
        if self.chart is not None and self.table.num_rows:
            try:
                return self.chart()._repr_mimebundle_(**kwargs)
            except ImportError:  # altair is a notebook extra
                pass
        from sysnb.format.escape import chisel_visible

        text = repr(self) if self.terminal else chisel_visible(repr(self))
        return {"text/html": self._repr_html_(), "text/plain": text}

    def __str__(self) -> str:
        return "\n".join(self.text())

    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Chisel:
    name: str
    category: str
    short: str
    description: str
    fn: Callable[..., ChiselResult]
    args: tuple[Arg, ...] = field(default_factory=tuple)
    raw: bool = False  # needs the raw parameters (sysnb.params, evt.args): otherwise they are not copied
    #: a sum per key of per-event values (sysnb.chisels.table.table_chisel): the CLI runs it batch by batch
    #: and merges the partial sums (sysnb.chisels.stream), in constant memory
    streams: bool = False

    def bind(self, values: list[str]) -> dict[str, Any]:
        """Positional argument strings -> typed keyword arguments (errors name the argument)."""
        required = [a for a in self.args if not a.optional]
        if len(values) < len(required) or len(values) > len(self.args):
            names = " ".join(a.name if not a.optional else f"[{a.name}]" for a in self.args) or "(none)"
            raise UsageError(f"chisel {self.name} takes the arguments: {names}; got {len(values)}. "
                             f"`sysnb -i {self.name}` describes them")
        out: dict[str, Any] = {a.name: a.default for a in self.args}
        for a, v in zip(self.args, values, strict=False):
            out[a.name] = _convert(a, v, self.name)
        return out


def _convert(a: Arg, v: str, chisel_name: str) -> Any:
    try:
        if a.type == "int":
            return int(v)
        if a.type == "float":
            return float(v)
    except ValueError:
        raise UsageError(f"chisel {chisel_name}: argument {a.name} must be a number, not {v!r}") from None
    return v


CHISELS: dict[str, Chisel] = {}


def chisel(name: str, *, category: str, short: str, description: str = "", args: Iterable[Arg] = (),
           raw: bool = False, streams: bool = False) -> Callable[[Callable[..., ChiselResult]],
                                                                Callable[..., ChiselResult]]:
    """Decorator registering a chisel under ``name`` (replacing one of the same name). ``raw=True`` when the
    chisel reads event parameters or buffers formatted from them (``sysnb.params``, ``evt.args``);
    ``streams=True`` when it returns ``table_chisel`` of per-event masks, keys and values (no state across
    events), so that it can run batch by batch."""
    def register(fn: Callable[..., ChiselResult]) -> Callable[..., ChiselResult]:
        CHISELS[name] = Chisel(name, category, short, description or short, fn, tuple(args), raw, streams)
        return fn
    return register


def get(name: str) -> Chisel:
    _load_builtin()
    c = CHISELS.get(name)
    if c is None:
        import difflib

        close = difflib.get_close_matches(name, list(CHISELS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `sysnb -cl` lists them"
        raise UsageError(f"unknown chisel '{name}'{hint}")
    return c


def _load_builtin() -> None:
    from sysnb.chisels import cpu, http, io, logs, net, perf, security, state, top, visual  # noqa: F401


def list_text() -> Iterable[str]:
    """``sysdig -cl``: chisels by category."""
    _load_builtin()
    for cat in sorted({c.category for c in CHISELS.values()}):
        yield ""
        yield f"Category: {cat}"
        yield "-" * (len(cat) + 10)
        for c in sorted((c for c in CHISELS.values() if c.category == cat), key=lambda c: c.name):
            if len(c.name) < 16:
                yield f"{c.name:<16}{_wrap(c.short)}"
            else:
                yield c.name
                yield " " * 16 + _wrap(c.short)
    yield ""
    yield "Use the -i flag to get detailed information about a specific chisel"


def _wrap(text: str) -> str:
    return "\n".join(textwrap.wrap(text, 64, subsequent_indent=" " * 16)) if len(text) > 64 else text


def info_text(name: str) -> Iterable[str]:
    """``sysdig -i NAME``."""
    c = get(name)
    yield ""
    yield f"Category: {c.category}"
    yield "-" * (len(c.category) + 10)
    yield f"{c.name:<16}{c.short}"
    yield ""
    yield from textwrap.wrap(c.description, 79)
    yield "Args:"
    if not c.args:
        yield "(None)"
    for a in c.args:
        yield f"[{a.type}] {a.name}{' (optional)' if a.optional else ''} - {a.description}"

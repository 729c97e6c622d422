"""Fields computed from stored columns, as ``pyarrow.compute`` expressions: one definition used by filters
(``sysnb.filter``) and by printing (``sysnb.format.output``), following libsinsp's extraction rules.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc


def _call(fn: str, *args: pc.Expression, options: object = None) -> pc.Expression:
    return pc.Expression._call(fn, list(args), options)


def _str(name: str) -> pc.Expression:
    return pc.field(name).cast(pa.string())


def _cmdline() -> pc.Expression:
    """proc.cmdline = proc.name, then " " and proc.args when there are arguments."""
    name, args = _str("proc.name"), _str("proc.args")
    joined = _call("binary_join_element_wise", name, args, pc.scalar(" "))
    return _call("if_else", _call("equal", args, pc.scalar("")), name, joined)


def _dirname(name: pc.Expression) -> pc.Expression:
    """libsinsp: "/" when there is no separator or only a leading one, the name itself when it ends with one,
    else everything before the last separator."""
    parent = _call("replace_substring_regex", name, options=pc.ReplaceSubstringOptions("/[^/]*$", ""))
    has_sep = _call("match_substring", name, options=pc.MatchSubstringOptions("/"))
    parent = _call("if_else", _call("or_kleene", _call("equal", parent, pc.scalar("")), _call("invert", has_sep)),
                   pc.scalar("/"), parent)
    ends = _call("ends_with", name, options=pc.MatchSubstringOptions("/"))
    return _call("if_else", ends, name, parent)


def _fd_directory() -> pc.Expression:
    """fd.directory: a file's directory, a directory's own name, nothing for other fds. Without an fd type
    (an fd-creating exit whose fd is unknown) the name is the syscall's path, as libsinsp does."""
    name, ftype = _str("fd.name"), _str("fd.type")
    null = pc.scalar(pa.scalar(None, pa.string()))
    dirs = _call("if_else", _call("equal", ftype, pc.scalar("directory")), name, null)
    is_file = _call("or_kleene", _call("equal", ftype, pc.scalar("file")), _call("is_null", ftype))
    return _call("if_else", _call("coalesce", is_file, pc.scalar(False)), _dirname(name), dirs)


def _fd_filename() -> pc.Expression:
    """fd.filename: the last component of a file's path ("/" when there is no separator)."""
    name, ftype = _str("fd.name"), _str("fd.type")
    base = _call("replace_substring_regex", name, options=pc.ReplaceSubstringOptions("^.*/", ""))
    has_sep = _call("match_substring", name, options=pc.MatchSubstringOptions("/"))
    ends = _call("ends_with", name, options=pc.MatchSubstringOptions("/"))
    base = _call("if_else", has_sep, _call("if_else", ends, name, base), pc.scalar("/"))
    return _call("if_else", _call("equal", ftype, pc.scalar("file")), base, pc.scalar(pa.scalar(None, pa.string())))


def _proc_duration() -> pc.Expression:
    """ns since a clone in the capture created the event's thread (null for start-state threads)."""
    clone = pc.field("sysnb.clone_ts")
    elapsed = _call("subtract", _call("cast", pc.field("evt.rawtime"), options=pc.CastOptions(pa.int64())),
                    _call("cast", clone, options=pc.CastOptions(pa.int64())))
    return _call("if_else", _call("greater", clone, pc.scalar(0)), elapsed,
                 pc.scalar(pa.scalar(None, pa.int64())))


#: derived fields whose values are numbers (the others are strings)
NUMERIC_DERIVED = frozenset({"proc.duration"})

#: field -> (expression factory, the stored columns it reads)
DERIVED: dict[str, tuple[Callable[[], pc.Expression], tuple[str, ...]]] = {
    "proc.cmdline": (_cmdline, ("proc.name", "proc.args")),
    "fd.directory": (_fd_directory, ("fd.name", "fd.type")),
    "fd.filename": (_fd_filename, ("fd.name", "fd.type")),
    "proc.duration": (_proc_duration, ("evt.rawtime", "sysnb.clone_ts")),
}

"""The table columns a chisel reads, so that the CLI opens a capture with only those (#16: topfiles_bytes
reads 11 of the table's 60 columns; the rest is memory the chisel never touches).

A chisel names what it reads as text: column names (``t["fd.name"]``), fields in formats and filters
(``"%evt.num %proc.name"``, ``"evt.type=open"``) and the field arguments it is given. The columns are traced
from the string constants of the chisel's function (its decorator included), of the module-level helpers and
constants it names, and of the chisel modules its module imports, each field resolved by the registry to the
stored columns it reads. This over-approximates (an imported module counts whole), never under-approximates
for what a chisel spells out; ``tests/test_chisels.py`` runs every chisel through the CLI (projected) against
sysdig's output on every capture.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
import sys
from collections.abc import Iterable

from sysnb.chisels.registry import Chisel

#: fields as they appear inside formats, filters and column names
_FIELD = re.compile(r"[a-z][a-z0-9_]*\.[a-zA-Z0-9_.]+(?:\[[^\]\s]*\])?")
#: every chisel table has these (returned_rows, the summary of what was read, container names)
ALWAYS = frozenset({"evt.num", "evt.rawtime", "sysnb.visible", "sysnb.type_id", "sysnb.syscall_id", "container.id",
                    "thread.tid", "proc.pid"})


def chisel_columns(c: Chisel, args: Iterable[str] = (), filter: str | None = None) -> list[str] | None:
    """The stored columns ``c`` reads with these arguments and filter, or None when it needs them all."""
    from sysnb.state.columns import SCHEMA

    names = set(SCHEMA.names)
    wanted = set(ALWAYS) | _function_columns(c.fn.__module__, c.fn.__name__)
    for text in [*args, filter or ""]:
        wanted |= _text_columns(text)
    if c.raw:
        wanted |= {"sysnb.params", "evt.args", "sysnb.info"}
    return sorted(wanted & names)


@functools.cache
def _function_columns(module: str, name: str) -> frozenset[str]:
    """Columns named by the string constants of function ``name`` of ``module`` (its decorator included),
    of the module-level functions and constants it names, and of every sysnb.chisels module the module
    imports. Tracing the function rather than the whole module keeps the other chisels' columns out:
    topfiles_bytes read 23 columns, among them process and user columns that cost the core their
    snapshots."""
    tree = ast.parse(inspect.getsource(sys.modules[module]))
    top: dict[str, ast.stmt] = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    top.update({t.id: n for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)})
    if name not in top:
        return _module_columns(module)
    out: set[str] = set()
    seen: set[str] = set()
    todo = [name]
    while todo:
        node = top[todo.pop()]
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and not _is_docstring(node, sub):
                out |= _text_columns(sub.value)
            elif isinstance(sub, ast.Name) and sub.id in top and sub.id not in seen:
                seen.add(sub.id)
                todo.append(sub.id)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sysnb.chisels.") \
                and node.module not in (module, "sysnb.chisels.registry"):
            __import__(node.module)
            out |= _module_columns(node.module)
    return frozenset(out)


def _is_docstring(owner: ast.AST, node: ast.Constant) -> bool:
    body = getattr(owner, "body", None)
    return bool(body) and isinstance(body[0], ast.Expr) and body[0].value is node  # type: ignore[index]


@functools.cache
def _module_columns(module: str) -> frozenset[str]:
    """Columns named by the string constants of ``module`` and of the sysnb.chisels modules it imports."""
    mod = sys.modules[module]
    tree = ast.parse(inspect.getsource(mod))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            out |= _text_columns(node.value)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sysnb.chisels.") \
                and node.module not in (module, "sysnb.chisels.registry"):
            __import__(node.module)
            out |= _module_columns(node.module)
    return frozenset(out)


@functools.lru_cache(maxsize=4096)
def _text_columns(text: str) -> frozenset[str]:
    """The stored columns the fields named in ``text`` read (a column name is its own field)."""
    from sysnb.fields import registry as R
    from sysnb.state.columns import SCHEMA

    out: set[str] = set()
    for token in _FIELD.findall(text):
        if token in SCHEMA.names:
            out.add(token)
            continue
        ref = R.resolve(token)
        if ref is not None:
            out |= set(ref.field.columns)
    return frozenset(out)

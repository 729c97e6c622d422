"""The field registry: every sysdig field sysnb knows, how it is computed, listed and printed.

``FIELDS`` maps names to :class:`Field` entries (type, description, stored columns, Arrow/SQL/print-time
computation); :func:`lookup` resolves a name as a filter or format names it (``evt.arg.fd``,
``proc.aname[2]``); :func:`evaluate` and :func:`text` compute a field over an event table. ``-l``, ``-p``,
``-j``, filters, ``Capture.sql`` and the explorer all read this registry.
"""

from __future__ import annotations

from sysnb.fields.context import EMPTY, FieldContext, context_for
from sysnb.fields.model import Field, FieldRef
from sysnb.fields.registry import FIELDS, evaluate, expression, hint, json_values, lookup, match, resolve, text

__all__ = ["EMPTY", "FIELDS", "Field", "FieldContext", "FieldRef", "context_for", "evaluate", "expression", "hint",
           "json_values", "lookup", "match", "resolve", "text"]

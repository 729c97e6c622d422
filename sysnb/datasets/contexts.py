"""Each capture's own field context in a merged view or a dataset.

Fields evaluate against the context of the capture an event comes from (sysnb.fields.FieldContext): its
first event time (evt.reltime), first-section metadata (evt.hostname, the host's interfaces for fd.lip, its
users' homes and shells) and containers. A filter over many captures is therefore evaluated per capture;
``evt.hostname`` is one value per capture, so it is decided per capture before SQL is written (it has no
SQL of its own), which also skips whole captures (and their files) whose host the filter excludes.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from sysnb.fields import FieldContext
from sysnb.fields.context import Metadata
from sysnb.filter import CompiledFilter
from sysnb.filter.compile import compile_node
from sysnb.filter.parser import BoolOp, Check, Node, Not

#: a check no row passes (rawtime is unsigned; a missing one fails the check too) and its negation
FALSE: Node = Check("evt.rawtime", "<", "0", 0)
TRUE: Node = Not(FALSE)
_ONE_ROW = pa.table({"evt.num": pa.array([1], pa.int64())})


def fold_hostname(node: Node, ctx: FieldContext, text: str) -> Node:
    """``node`` with every check on evt.hostname replaced by its value for the capture of ``ctx``."""
    if isinstance(node, Not):
        inner = fold_hostname(node.operand, ctx, text)
        return FALSE if inner == TRUE else TRUE if inner == FALSE else Not(inner)
    if isinstance(node, BoolOp):
        ops = tuple(fold_hostname(op, ctx, text) for op in node.operands)
        absorbing, neutral = (FALSE, TRUE) if node.op == "and" else (TRUE, FALSE)
        if absorbing in ops:
            return absorbing
        kept = tuple(op for op in ops if op != neutral)
        return neutral if not kept else kept[0] if len(kept) == 1 else BoolOp(node.op, kept)
    if isinstance(node, Check) and node.field == "evt.hostname":
        passed = bool(compile_node(node, text).mask(_ONE_ROW, ctx)[0].as_py())
        return TRUE if passed else FALSE
    return node


def excluded(compiled: CompiledFilter, ctx: FieldContext) -> bool:
    """Whether no event of the capture of ``ctx`` can pass (its host is not one the filter accepts)."""
    return fold_hostname(compiled.node, ctx, compiled.text) == FALSE


def metadata_json(meta: Metadata) -> dict[str, Any]:
    """What a dataset keeps of a capture's first section for its field context (not the process list)."""
    return {"hostname": meta.hostname, "ipv4": list(meta.ipv4), "ipv6": [a.hex() for a in meta.ipv6],
            "users": {str(uid): list(u) for uid, u in meta.users.items()}}


def metadata_from(doc: dict[str, Any]) -> Metadata:
    users = {int(uid): (str(u[0]), str(u[1]), str(u[2])) for uid, u in doc.get("users", {}).items()}
    return Metadata(tuple(int(a) for a in doc.get("ipv4", ())), tuple(bytes.fromhex(a) for a in doc.get("ipv6", ())),
                    users, (), str(doc.get("hostname", "")))

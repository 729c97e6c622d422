"""The ``user`` and ``group`` classes, from the thread's ids and the capture's user list (libsinsp reads it from
the file's user-list block; ``-E`` drops it, so names, home and shell are then unknown)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.fields.common import column
from sysnb.fields.context import FieldContext
from sysnb.fields.evt import stored
from sysnb.fields.model import FieldRef, null


def _name(column_name: str) -> Any:
    def expr(ref: FieldRef, ctx: FieldContext) -> pc.Expression:
        return null(pa.string()) if ctx.exclude_users else pc.field(column_name)
    return expr


def _lookup(id_column: str, part: int) -> Any:
    """user.homedir (part 1) / user.shell (2) of the thread's uid, user.loginname (0) of its loginuid."""
    def table_fn(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
        users = ctx.meta.users
        if ctx.exclude_users or not users:
            return pa.nulls(table.num_rows, pa.string())
        ids = column(table, id_column).cast(pa.int64())
        ids = pc.if_else(pc.less(ids, 0), pc.add(ids, pa.scalar(1 << 32, pa.int64())), ids)  # loginuid is signed
        keys = sorted(u for u in users if u != 0xFFFFFFFF)
        values = pa.array([users[k][part] for k in keys], pa.string())
        where = pc.index_in(ids, value_set=pa.array(keys, pa.int64()))
        return values.take(where)
    return table_fn


FIELDS: dict[str, dict[str, Any]] = {
    "user.uid": stored("user.uid"),
    "user.name": dict(columns=("user.name",), expr=_name("user.name"), sql=lambda r, c: '"user.name"'),
    "user.homedir": dict(columns=("user.uid",), table=_lookup("user.uid", 1)),
    "user.shell": dict(columns=("user.uid",), table=_lookup("user.uid", 2)),
    "user.loginuid": stored("user.loginuid"),
    "user.loginname": dict(columns=("user.loginuid",), table=_lookup("user.loginuid", 0)),
    "group.gid": stored("group.gid"),
    "group.name": dict(columns=("group.name",), expr=_name("group.name"), sql=lambda r, c: '"group.name"'),
}

"""``-R``: port numbers printed as service names, as libsinsp's port_to_string with resolution on.

sysdig renders socket names and socket arguments with the service name of each port (getservbyport for the
fd's protocol) when -R is given; the table stores them with numbers, so they are rewritten when printed: in
fd.name of IPv4/IPv6 sockets, and in evt.args/evt.info only inside socket arguments (tuples, addresses and
the resolved part of fd arguments), never inside data buffers.
"""

from __future__ import annotations

import functools
import re

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.fields.common import column
from sysnb.fields.evtargs import split_args
from sysnb.fields.fd import service_name
from sysnb.scap.events import event_info

_PORT = re.compile(r":(\d+)(?=->|\)|$)")
_SOCKET_PARAMS = frozenset({"SOCKTUPLE", "SOCKADDR", "FD"})


def _named(text: str, proto: str) -> str:
    return _PORT.sub(lambda m: ":" + service_name(int(m.group(1)), proto), text)


@functools.cache
def _socket_params(type_id: int) -> frozenset[str]:
    info = event_info(type_id)
    return frozenset(p[0] for p in info.params_2022 if p[1] in _SOCKET_PARAMS) if info is not None else frozenset()


def resolve_ports(values: pa.Array, table: pa.Table, field: str) -> pa.Array:
    """``values`` (``field``: fd.name, evt.args or evt.info of ``table``'s rows) with ports as service names."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    ftype = column(table, "fd.type") if "fd.type" in table.column_names else pa.nulls(len(values), pa.string())
    protos = column(table, "fd.l4proto") if "fd.l4proto" in table.column_names else pa.nulls(len(values), pa.string())
    sock = pc.fill_null(pc.is_in(ftype, value_set=pa.array(["ipv4", "ipv6"])), False)
    types = column(table, "sysnb.type_id").to_pylist() if "sysnb.type_id" in table.column_names else None
    out = []
    for i, (v, is_sock, proto) in enumerate(zip(values.to_pylist(), sock.to_pylist(), protos.to_pylist(),
                                               strict=True)):
        if v is None or not is_sock:
            out.append(v)
        elif field == "fd.name" or types is None:
            out.append(_named(v, proto or ""))
        else:
            out.append(_rewrite_args(v, types[i], proto or ""))
    return pa.array(out, pa.string())


def _rewrite_args(args: str, type_id: int, proto: str) -> str:
    names = _socket_params(type_id)
    if not names:
        return args
    parts = split_args(args, type_id)
    if not parts:
        return args
    return "".join(f"{k}={_named(v, proto) if k in names else v} " for k, v in parts.items())

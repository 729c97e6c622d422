"""The ``fd`` class, as libsinsp's sinsp_filter_check_fd extracts it from the event's fd.

The table stores, per event, the fd's type, name and connection ends: for a connected TCP/UDP socket the
client (fd.cip/fd.cport, libsinsp's source) and server (fd.sip/fd.sport, its destination); for a listening
socket only fd.sip/fd.sport; nothing for a socket without a role yet. "Local" and "remote" ends follow
libsinsp's is_ipv4addr_in_local_machine: the client end is local when it is one of the capture's interface
addresses (or, for a thread in a container, the container's IP).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.fields.common import column, host_cid, ids
from sysnb.fields.context import FieldContext
from sysnb.fields.evt import stored
from sysnb.fields.model import FieldRef, call, col_str, null

_SOCK = ("ipv4", "ipv6")


def is_sock() -> pc.Expression:
    return call("coalesce", col_str("fd.type").isin(pa.array(_SOCK)), pc.scalar(False))


def _dirname(name: pc.Expression) -> pc.Expression:
    """libsinsp: "/" when there is no separator or only a leading one, the name itself when it ends with one,
    else everything before the last separator."""
    parent = call("replace_substring_regex", name, options=pc.ReplaceSubstringOptions("/[^/]*$", ""))
    has_sep = call("match_substring", name, options=pc.MatchSubstringOptions("/"))
    parent = call("if_else", call("or_kleene", call("equal", parent, pc.scalar("")), call("invert", has_sep)),
                  pc.scalar("/"), parent)
    ends = call("ends_with", name, options=pc.MatchSubstringOptions("/"))
    return call("if_else", ends, name, parent)


def directory() -> pc.Expression:
    """fd.directory: a file's directory, a directory's own name, nothing for other fds. Without an fd type
    (an fd-creating exit whose fd is unknown) the name is the syscall's path, as libsinsp does."""
    name, ftype = col_str("fd.name"), col_str("fd.type")
    dirs = call("if_else", call("equal", ftype, pc.scalar("directory")), name, null(pa.string()))
    is_file = call("or_kleene", call("equal", ftype, pc.scalar("file")), call("is_null", ftype))
    return call("if_else", call("coalesce", is_file, pc.scalar(False)), _dirname(name), dirs)


def filename() -> pc.Expression:
    """fd.filename: the last component of a file's path ("/" when there is no separator)."""
    name, ftype = col_str("fd.name"), col_str("fd.type")
    base = call("replace_substring_regex", name, options=pc.ReplaceSubstringOptions("^.*/", ""))
    has_sep = call("match_substring", name, options=pc.MatchSubstringOptions("/"))
    ends = call("ends_with", name, options=pc.MatchSubstringOptions("/"))
    base = call("if_else", has_sep, call("if_else", ends, name, base), pc.scalar("/"))
    return call("if_else", call("equal", ftype, pc.scalar("file")), base, null(pa.string()))


def _sockfamily() -> pc.Expression:
    ftype = col_str("fd.type")
    return call("case_when", call("make_struct", ftype.isin(pa.array(["ipv4", "ipv6"])),
                                  call("equal", ftype, pc.scalar("unix"))), pc.scalar("ip"), pc.scalar("unix"))


def _l4proto() -> pc.Expression:
    """libsinsp prints "<NA>" for an fd without a protocol."""
    return call("if_else", pc.field("fd.type").is_valid(), call("coalesce", col_str("fd.l4proto"),
                                                                 pc.scalar("<NA>")), null(pa.string()))


def _uid() -> pc.Expression:
    """fd.uid: the thread id and the fd number, chained."""
    ok = call("and_kleene", pc.field("fd.num").is_valid(), pc.field("proc.pid").is_valid())
    joined = call("binary_join_element_wise", pc.field("thread.tid").cast(pa.string()),
                  pc.field("fd.num").cast(pa.string()), pc.scalar(""))
    return call("if_else", ok, joined, null(pa.string()))


def _chained(value: pc.Expression) -> pc.Expression:
    """fd.containername / fd.containerdirectory: the raw container id ("" on the host), ':' and the value."""
    return call("binary_join_element_wise", host_cid(), value, pc.scalar(":"))


# -- local and remote ends --------------------------------------------------------------------------------


def _local(addr: str | None, cid: str | None, ctx: FieldContext) -> bool:
    """is_ipv4addr_in_local_machine / is_ipv6addr_in_local_machine."""
    if not addr:
        return False
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    in_container = cid not in (None, "host")
    if ip.version == 6:
        return not in_container and any(ip.packed[:8] == net[:8] for net in ctx.meta.ipv6)
    value = int(ip)
    if in_container:
        c = ctx.containers.get(cid or "")
        if c is not None and c.ip:
            if c.ip == value:
                return True
        elif c is not None and any(other.ip == value for other in ctx.containers.values()):
            return True
    return value in ctx.meta.ipv4


def local_mask(table: pa.Table, ctx: FieldContext, column_name: str) -> pa.Array:
    """Whether the address in ``column_name`` is local to the event's thread (once per distinct pair)."""
    addr = column(table, column_name)
    cid = column(table, "container.id") if "container.id" in table.column_names else pa.nulls(len(addr), pa.string())
    key = pc.binary_join_element_wise(pc.fill_null(cid, ""), pc.fill_null(addr, ""), "|")
    uniq = pc.unique(key)
    flags = [_local(a or None, c or None, ctx) for c, _, a in (k.partition("|") for k in uniq.to_pylist())]
    return pa.array(flags, pa.bool_()).take(pc.index_in(key, value_set=uniq))


def _connected_sock(table: pa.Table) -> pa.Array:
    """An IPv4/IPv6 socket with a role (its client end is known)."""
    return pc.and_(pc.fill_null(pc.is_in(column(table, "fd.type"), value_set=pa.array(_SOCK)), False),
                   pc.is_valid(column(table, "fd.cip")))


def _end(which: str) -> Any:
    """fd.lip / fd.rip / fd.lport / fd.rport."""
    local_side = which in ("lip", "lport")
    ip = which.endswith("ip")

    def table_fn(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
        client = column(table, "fd.cip" if ip else "fd.cport")
        server = column(table, "fd.sip" if ip else "fd.sport")
        local = local_mask(table, ctx, "fd.cip")
        take_client = pc.equal(local, pa.scalar(local_side))
        value = pc.if_else(take_client, client, server)
        return pc.if_else(_connected_sock(table), value, pa.scalar(None, value.type))
    return table_fn


def _is_server(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
    ftype = column(table, "fd.type")
    sock = pc.fill_null(pc.is_in(ftype, value_set=pa.array(_SOCK)), False)
    listening = pc.and_(sock, pc.and_(pc.is_valid(column(table, "fd.sip")), pc.is_null(column(table, "fd.cip"))))
    # a socket without a role still has its zero destination: "::" is local wherever an IPv6 interface starts
    # with 64 zero bits (::1), as libsinsp's in_subnet finds
    ipv6 = pc.fill_null(pc.equal(ftype, "ipv6"), False)
    dest = pc.coalesce(column(table, "fd.sip"), pc.if_else(ipv6, pa.scalar("::"), pa.scalar("0.0.0.0")))
    server_local = local_mask(table.set_column(table.schema.get_field_index("fd.sip"), "fd.sip", dest), ctx,
                              "fd.sip")
    value = pc.if_else(listening, True, pc.and_(sock, server_local))
    return pc.if_else(pc.is_valid(ftype), value, pa.scalar(None, pa.bool_()))


def port_names(ports: pa.Array, protos: pa.Array, resolve: bool) -> pa.Array:
    """port_to_string: the number, or with -R the service name from the services database."""
    text = ports.cast(pa.int64()).cast(pa.string())
    if not resolve:
        return text
    key = pc.binary_join_element_wise(pc.fill_null(text, ""), pc.fill_null(protos.cast(pa.string()), ""), "/")
    uniq = pc.unique(key)
    names = []
    for k in uniq.to_pylist():
        port, _, proto = k.partition("/")
        names.append(service_name(int(port), proto) if port else None)
    return pa.array(names, pa.string()).take(pc.index_in(key, value_set=uniq))


def service_name(port: int, proto: str) -> str:
    try:
        return socket.getservbyport(port & 0xFFFF, proto) if proto in ("tcp", "udp") else \
            socket.getservbyport(port & 0xFFFF)
    except (OSError, OverflowError):
        return str(port)


def _proto(which: str) -> Any:
    """fd.cproto / fd.sproto / fd.lproto / fd.rproto: the port as text ("" for a listening socket's sproto and
    for cproto on other fds with a role, as libsinsp leaves its string empty there)."""
    def table_fn(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
        connected = _connected_sock(table)
        proto = column(table, "fd.l4proto")
        if which in ("lproto", "rproto"):
            port = _end("lport" if which == "lproto" else "rport")(ref, table, ctx)
            return pc.if_else(connected, port_names(port, proto, ctx.resolve_ports), pa.scalar(None, pa.string()))
        ftype = column(table, "fd.type")
        sock = pc.fill_null(pc.is_in(ftype, value_set=pa.array(_SOCK)), False)
        if which == "cproto":
            text = port_names(column(table, "fd.cport"), proto, ctx.resolve_ports)
            role = pc.is_valid(column(table, "fd.cport"))
            return pc.if_else(connected, text, pc.if_else(role, pa.scalar(""), pa.scalar(None, pa.string())))
        text = port_names(column(table, "fd.sport"), proto, ctx.resolve_ports)
        listening = pc.and_(sock, pc.and_(pc.is_valid(column(table, "fd.sip")), pc.is_null(column(table, "fd.cip"))))
        return pc.if_else(connected, text, pc.if_else(listening, pa.scalar(""), pa.scalar(None, pa.string())))
    return table_fn


def _no_name(ref: FieldRef, ctx: FieldContext) -> pc.Expression:
    """fd.*ip.name: offline libsinsp's DNS cache is empty, so nothing prints (filters resolve names)."""
    return null(pa.string())


def _expr(fn: Any) -> Any:
    return lambda ref, ctx: fn()


_DIRECTORY_SQL = ("""(CASE WHEN "fd.type" = 'file' OR "fd.type" IS NULL """
                  """THEN COALESCE(NULLIF(regexp_replace("fd.name", '/[^/]*$', ''), ''), '/') """
                  """WHEN "fd.type" = 'directory' THEN "fd.name" END)""")
_ENDS = ("fd.type", "fd.sip", "fd.sport", "fd.cip", "fd.cport", "sysnb.type_id", "sysnb.params")
_CONN = ("fd.type", "fd.sip", "fd.sport", "fd.cip", "fd.cport", "fd.l4proto", "container.id")
FIELDS: dict[str, dict[str, Any]] = {
    "fd.num": stored("fd.num"),
    "fd.type": stored("fd.type"),
    "fd.typechar": stored("fd.typechar"),
    "fd.name": stored("fd.name"),
    "fd.directory": dict(columns=("fd.name", "fd.type"), expr=_expr(directory),
                         sql=lambda r, c: _DIRECTORY_SQL),
    "fd.filename": dict(columns=("fd.name", "fd.type"), expr=_expr(filename),
                        sql=lambda r, c: """(CASE WHEN "fd.type" = 'file' THEN regexp_replace("fd.name", '^.*/', '') """
                                         """END)"""),
    "fd.ip": dict(columns=_ENDS, filter_only=True),
    "fd.cip": stored("fd.cip"),
    "fd.sip": stored("fd.sip"),
    "fd.lip": dict(columns=_CONN, table=_end("lip")),
    "fd.rip": dict(columns=_CONN, table=_end("rip")),
    "fd.port": dict(columns=_ENDS, filter_only=True),
    "fd.cport": stored("fd.cport"),
    "fd.sport": stored("fd.sport"),
    "fd.lport": dict(columns=_CONN, table=_end("lport")),
    "fd.rport": dict(columns=_CONN, table=_end("rport")),
    "fd.l4proto": dict(columns=("fd.l4proto", "fd.type"), expr=_expr(_l4proto),
                       sql=lambda r, c: """(CASE WHEN "fd.type" IS NOT NULL THEN COALESCE("fd.l4proto", '<NA>') """
                                        """END)"""),
    "fd.sockfamily": dict(columns=("fd.type",), expr=_expr(_sockfamily),
                          sql=lambda r, c: """(CASE WHEN "fd.type" IN ('ipv4', 'ipv6') THEN 'ip' """
                                           """WHEN "fd.type" = 'unix' THEN 'unix' END)"""),
    "fd.is_server": dict(columns=_CONN, table=_is_server),
    "fd.uid": dict(columns=("fd.num", "proc.pid", "thread.tid"), expr=_expr(_uid),
                   sql=lambda r, c: """(CASE WHEN "fd.num" IS NOT NULL AND "proc.pid" IS NOT NULL """
                                    """THEN CAST("thread.tid" AS VARCHAR) || CAST("fd.num" AS VARCHAR) END)"""),
    "fd.containername": dict(columns=("fd.name", "container.id"), expr=lambda r, c: _chained(col_str("fd.name"))),
    "fd.containerdirectory": dict(columns=("fd.name", "fd.type", "container.id"),
                                  expr=lambda r, c: _chained(directory())),
    "fd.proto": dict(columns=_ENDS, filter_only=True),
    "fd.cproto": dict(columns=_CONN, table=_proto("cproto")),
    "fd.sproto": dict(columns=_CONN, table=_proto("sproto")),
    "fd.lproto": dict(columns=_CONN, table=_proto("lproto")),
    "fd.rproto": dict(columns=_CONN, table=_proto("rproto")),
    "fd.net": dict(columns=_ENDS, filter_only=True),
    "fd.cnet": dict(columns=("fd.cip",), filter_only=True),
    "fd.snet": dict(columns=("fd.sip",), filter_only=True),
    "fd.lnet": dict(columns=_CONN, filter_only=True),
    "fd.rnet": dict(columns=_CONN, filter_only=True),
    "fd.connected": stored("fd.connected"),
    "fd.name_changed": stored("fd.name_changed"),
    "fd.cip.name": dict(columns=("fd.cip", "fd.type"), expr=_no_name, sql=lambda r, c: "NULL"),
    "fd.sip.name": dict(columns=("fd.sip", "fd.type", "fd.cip"), expr=_no_name, sql=lambda r, c: "NULL"),
    "fd.lip.name": dict(columns=_CONN, expr=_no_name, sql=lambda r, c: "NULL"),
    "fd.rip.name": dict(columns=_CONN, expr=_no_name, sql=lambda r, c: "NULL"),
    "fd.dev": dict(state="the dev parameter of open/openat/creat exits and the process list's fds", fmt="HEX"),
    "fd.dev.major": dict(state="the dev parameter of open/openat/creat exits (major part)"),
    "fd.dev.minor": dict(state="the dev parameter of open/openat/creat exits (minor part)"),
}



# -- the raw ends libsinsp's fd.ip / fd.port / fd.net / fd.proto compare ---------------------------------------

_CONNECT_E = ids("SOCKET_CONNECT_E")[0]


def raw_ends(table: pa.Table) -> dict[str, pa.Array]:
    """The socket's source and destination (ip, port) as libsinsp's compare_ip/_port/_net read them: they do not
    look at the role, so a socket without one compares its zeroed addresses (0.0.0.0 or ::, port 0), a
    listening socket its own address on both sides, and a connect enter the destination it was given."""
    ftype = column(table, "fd.type")
    sock = pc.fill_null(pc.is_in(ftype, value_set=pa.array(_SOCK)), False)
    cip, sip = column(table, "fd.cip"), column(table, "fd.sip")
    cport = column(table, "fd.cport").cast(pa.int64())
    sport = column(table, "fd.sport").cast(pa.int64())
    zero = pc.if_else(pc.fill_null(pc.equal(ftype, "ipv6"), False), pa.scalar("::"), pa.scalar("0.0.0.0"))
    norole = pc.and_(sock, pc.is_null(sip))
    dst_ip, dst_port = _connect_destination(table)
    null_ip, null_port = pa.scalar(None, pa.string()), pa.scalar(None, pa.int64())
    role = pc.is_valid(cip)  # a listening socket has only its own end (its fd.cport reads 0: not an end)
    src_ip = pc.if_else(norole, zero, pc.if_else(role, cip, sip))
    src_port = pc.if_else(norole, pa.scalar(0, pa.int64()), pc.if_else(role, cport, sport))
    dst_ip = pc.if_else(norole, pc.coalesce(dst_ip, zero), sip)
    dst_port = pc.if_else(norole, pc.coalesce(dst_port, pa.scalar(0, pa.int64())), sport)
    return {"src_ip": pc.if_else(sock, src_ip, null_ip), "src_port": pc.if_else(sock, src_port, null_port),
            "dst_ip": pc.if_else(sock, dst_ip, null_ip), "dst_port": pc.if_else(sock, dst_port, null_port)}


def _connect_destination(table: pa.Table) -> tuple[pa.Array, pa.Array]:
    """(ip, port) of a connect enter's ``addr`` parameter (newer drivers record it), null elsewhere."""
    from sysnb.fields.common import param_bytes

    raw = param_bytes(table, {_CONNECT_E: 1})
    if raw.null_count == len(raw):
        return pa.nulls(len(raw), pa.string()), pa.nulls(len(raw), pa.int64())
    ips: list[str | None] = []
    ports: list[int | None] = []
    for v in raw.to_pylist():
        if v and v[0] == 2 and len(v) == 7:
            ips.append(str(ipaddress.IPv4Address(v[1:5])))
            ports.append(int.from_bytes(v[5:7], "little"))
        elif v and v[0] == 10 and len(v) == 19:
            ips.append(str(ipaddress.IPv6Address(v[1:17])))
            ports.append(int.from_bytes(v[17:19], "little"))
        else:
            ips.append(None)
            ports.append(None)
    return pa.array(ips, pa.string()), pa.array(ports, pa.int64())

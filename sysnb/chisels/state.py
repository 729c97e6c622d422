"""System State chisels (netstat, lsof, ps): the thread and fd tables at the start of the capture, as
sysdig prints them from ``get_thread_table`` (the state after the first event)."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.chisels.registry import Arg, ChiselResult, chisel
from sysnb.chisels.table import format_bytes
from sysnb.state import model as M
from sysnb.state.snapshot import StateRow, first_section, state_table

_FILTER = Arg("filter", "A sysdig-like filter expression that allows restricting the FD list. "
                        "E.g. 'proc.name=foo and fd.port=80'.", "filter", optional=True, default="")
_EMPTY = "empty capture or no event matching the filter"


def _ext(s: str, n: int) -> str:
    return s + " " * (n - len(s)) if len(s) < n else s[:n - 1] + " "


State = tuple[list[StateRow], pa.Table, dict[int, str]]


def _state(events: pa.Table, source: str | None, flt: str, base: str | None = None) -> State | None:
    """Rows (thread, fd) of the start state that pass ``base and flt``, the table of them, and the user
    names; None for an empty capture."""
    if events.num_rows == 0 or source is None:
        return None
    table, rows, eng = state_table(*first_section(source))
    text = " and ".join(f"({f})" for f in (base, flt) if f)
    if text:
        from sysnb.filter import compile_filter

        keep = compile_filter(text).apply(table.append_column("_row", pa.array(range(table.num_rows))))["_row"]
        picked = [rows[i] for i in keep.to_pylist()]
        return picked, table.take(keep), eng.users
    return rows, table, eng.users


def _ip(raw: str | None, v6: bool) -> str:
    if raw is None:
        return "<NA>"
    if v6 and ":" not in raw:  # an IPv4 address held in an IPv6 socket prints IPv4-mapped
        return "::ffff:" + raw
    return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, raw)) if v6 else raw


@chisel("netstat", category="System State", short="List (and optionally filter) network connections.",
        args=[_FILTER], description="Print the system network connections, with an output that is similar to the "
        "one of netstat. Output is at a point in time; adjust this in the filter. It defaults to time of evt.num=0")
def netstat(events: pa.Table, filter: str = "", source: str | None = None) -> ChiselResult:
    state = _state(events, source, filter, "fd.type=ipv4 or fd.type=ipv6")
    out: list[dict[str, object]] = []
    for r in state[0] if state else []:
        fd = r.fd
        if fd is None:
            continue
        v6 = fd.type in (M.FD_IPV6_SOCK, M.FD_IPV6_SERVSOCK)
        server = fd.type in (M.FD_IPV4_SERVSOCK, M.FD_IPV6_SERVSOCK)
        sip, sport = (fd.sip, fd.sport) if server else (fd.dip, fd.dport)
        cip, cport = (None, None) if server else (fd.sip, fd.sport)
        out.append({"proto": M.L4_NAMES.get(fd.effective_l4proto(), ""), "server": f"{_ip(sip, v6)}:{sport}",
                    "client": f"{_ip(cip, v6)}:{cport}" if not server else "0.0.0.0:*",
                    "state": "LISTEN" if server else "ESTABLISHED", "tid": r.thread.tid, "pid": r.thread.pid,
                    "comm": r.thread.comm})
    table = pa.Table.from_pylist(out) if out else pa.table({"proto": pa.array([], pa.string())})

    def text() -> Iterable[str]:
        if state is None:
            yield _EMPTY
            return
        yield _ext("Proto", 6) + _ext("Server Address", 25) + _ext("Client Address", 25) + _ext("State", 15) + \
            "TID/PID/Program Name"
        for o in out:
            yield (_ext(str(o["proto"]), 6) + _ext(str(o["server"]), 25) + _ext(str(o["client"]), 25)
                   + _ext(str(o["state"]), 15) + f"{o['tid']}/{o['pid']}/{o['comm']}")
    return ChiselResult(table, text)


@chisel("lsof", category="System State", short="List (and optionally filter) the open file descriptors.",
        args=[_FILTER], description="This chisel prints the open file descriptors for every process in the "
        "system, with an output that is similar to the one of lsof. Output is at a point in time; adjust this "
        "in the filter. It defaults to time of evt.num=0")
def lsof(events: pa.Table, filter: str = "", source: str | None = None) -> ChiselResult:
    state = _state(events, source, filter)
    table = pa.table({}) if state is None else state[1].filter(pc.is_valid(state[1]["fd.num"])).select(
        ["proc.name", "proc.pid", "thread.tid", "user.name", "fd.num", "fd.type", "fd.name"])

    def text() -> Iterable[str]:
        if state is None:
            yield _EMPTY
            return
        yield (_ext("COMMAND", 20) + _ext("PID", 8) + _ext("TID", 8) + _ext("USER", 8) + _ext("FD", 8)
               + _ext("TYPE", 12) + "NAME")
        for r in sorted((r for r in state[0] if r.fd is not None), key=lambda r: r.thread.tid):
            assert r.fd is not None
            user = state[2].get(r.thread.uid, "<NA>")
            yield (_ext(r.thread.comm, 20) + _ext(str(r.thread.pid), 8) + _ext(str(r.thread.tid), 8) + _ext(user, 8)
                   + _ext(str(r.fdnum), 8) + _ext(_typestring(r.fd), 12) + M.sanitize(r.fd.name))
    return ChiselResult(table, text)


def _typestring(fd: M.Fd) -> str:
    """libsinsp get_typestring: "<NA>" for unknown and unsupported fds."""
    name = M.TYPENAMES.get(fd.type, "unknown")
    return "<NA>" if name == "unknown" else name


@chisel("ps", category="System State", short="List (and optionally filter) the machine processes.",
        args=[_FILTER], description="List the running processes, with an output that is similar to the one of "
        "ps. Output is at a point in time; adjust this in the filter. It defaults to time of evt.num=0")
def ps(events: pa.Table, filter: str = "", source: str | None = None) -> ChiselResult:
    state = _state(events, source, filter)
    threads = {} if state is None else {r.thread.tid: r for r in state[0]}
    users = state[2] if state is not None else {}
    order = sorted(threads)
    table = pa.table({
        "tid": order, "pid": [threads[t].thread.pid for t in order],
        "user": [users.get(threads[t].thread.uid, "<NA>") for t in order],
        "vmsize_kb": [threads[t].thread.vmsize_kb for t in order],
        "vmrss_kb": [threads[t].thread.vmrss_kb for t in order],
        "fdlimit": [threads[t].thread.fdlimit for t in order], "cmd": [threads[t].thread.comm for t in order]})

    def text() -> Iterable[str]:
        if state is None:
            yield _EMPTY
            return
        yield (_ext("TID", 8) + _ext("PID", 8) + _ext("USER", 12) + _ext("VIRT", 11) + _ext("RES", 11)
               + _ext("FDLIMIT", 10) + _ext("CMD", 20))
        for row in table.to_pylist():
            yield (_ext(str(row["tid"]), 8) + _ext(str(row["pid"]), 8) + _ext(row["user"], 12)
                   + _ext(format_bytes(row["vmsize_kb"] * 1024), 11) + _ext(format_bytes(row["vmrss_kb"] * 1024), 11)
                   + _ext(str(row["fdlimit"] & 0xFFFFFFFF), 10) + row["cmd"])
    return ChiselResult(table, text)


#: chisel_api's names by libsinsp container type (CT_CUSTOM, CT_STATIC, CT_PODMAN... print as "unknown")
_CONTAINER_TYPES = ("docker", "lxc", "libvirt-lxc", "mesos", "rkt", "unknown", "cri", "containerd", "cri-o", "bpm")
_ENGINES = (("/docker/", 0), ("docker-", 0), ("crio-", 8), ("containerd-", 7), ("libpod-", 11))


def _from_cgroups(section: Any, eng: Any, known: dict[str, Any]) -> dict[str, dict[str, object]]:
    """Containers libsinsp's engines find in the cgroups of the threads it loaded, without metadata events
    (offline there is no runtime to ask: type from the cgroup path, no name or image)."""
    found: dict[str, dict[str, object]] = {}
    for entry in section.threads:
        thread = eng.threads.get(entry.tid)
        if thread is None or thread.container in ("host", *known, *found):
            continue
        paths = " ".join(entry.cgroups)
        ctype = next((t for marker, t in _ENGINES if marker + thread.container in paths), 5)
        found[thread.container] = {"id": thread.container, "type": ctype, "name": "", "image": ""}
    return found


@chisel("lscontainers", category="System State", short="List the running containers",
        description="List the running containers and the metadata")
def lscontainers(events: pa.Table, source: str | None = None) -> ChiselResult:
    """The containers known once the first returned event was parsed (sysdig's get_container_table)."""
    containers: dict[str, dict[str, object]] = {}
    if events.num_rows and source is not None:
        section, first = first_section(source)
        _, _, eng = state_table(section, first)
        containers = dict(eng.containers) | _from_cgroups(section, eng, eng.containers)
    rows = [containers[k] for k in sorted(containers)]
    table = pa.table({f: [str(r.get(f, "")) for r in rows] for f in ("type", "image", "name", "id")})

    def text() -> Iterable[str]:
        if not events.num_rows:
            return
        yield _ext("container.type", 15) + _ext("container.image", 16) + _ext("container.name", 20) + \
            _ext("container.id", 13)
        yield _ext("-" * 15, 15) + _ext("-" * 16, 16) + _ext("-" * 20, 20) + _ext("-" * 13, 13)
        for r in rows:
            ctype = r.get("type")
            if isinstance(ctype, int):
                kind = _CONTAINER_TYPES[ctype] if 0 <= ctype < len(_CONTAINER_TYPES) else "unknown"
            else:
                kind = str(ctype)
            yield _ext(str(kind), 15) + _ext(str(r.get("image")), 16) + _ext(str(r.get("name")), 20) + \
                _ext(str(r.get("id")), 13)
    return ChiselResult(table, text)

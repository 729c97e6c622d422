"""Security chisels: spy_users (interactive commands and directories, indented by shell depth)."""

from __future__ import annotations

import time
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.chisels.lineage import Lineage
from sysnb.chisels.registry import Arg, ChiselResult, chisel
from sysnb.state.snapshot import first_section

MAX_ANCESTORS = 16
RESET = "\x1b[0m"  # sysdig's ansiterminal resets the colour when the chisel ends


def _str(t: pa.Table, name: str) -> pa.ChunkedArray:
    col = t[name]
    return col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col


def _interactive(t: pa.Table) -> pa.Table:
    etype, name = _str(t, "evt.type"), pc.fill_null(_str(t, "proc.name"), "")
    exit_ = pc.equal(_str(t, "evt.dir"), "<")
    execve = pc.and_(pc.equal(etype, "execve"), exit_)
    shell_cd = pc.and_(pc.and_(pc.equal(etype, "chdir"), exit_),
                       pc.and_(pc.match_substring(name, "sh"), pc.invert(pc.match_substring(name, "sshd"))))
    keep = pc.and_(pc.fill_null(pc.or_(execve, shell_cd), False), pc.invert(pc.fill_null(t["evt.failed"], False)))
    return t.filter(keep)


@chisel("spy_users", raw=True,
        category="Security", short="Display interactive user activity",
        args=[Arg("max_depth", "the maximum depth to show in the hierarchy of processes", "int", True, -1),
              Arg("disable_color", "Set to 'disable_colors' if you want to disable color output", "string", True)],
        description="Lists every command that users launch interactively (e.g. from bash) and every directory "
                    "users visit.")
def spy_users(events: pa.Table, max_depth: int = -1, disable_color: str | None = None,
              source: str | None = None) -> ChiselResult:
    lineage = Lineage(events, first_section(source)[0] if source else None)
    rows = _interactive(events).select(["evt.num", "evt.rawtime", "evt.type", "proc.pid", "proc.ppid", "proc.exe",
                                        "proc.args", "user.name", "sysnb.params"]).to_pylist()
    tree: dict[int, tuple[int, int]] = {}  # pid -> (depth, pid of the shell it descends from); depth -1: none
    shift = 0  # the Lua chisel inserts at index 0 of its ancestor-field lists on every cd: later lookups shift
    out: list[dict[str, object]] = []
    for r in rows:
        is_cd = r["evt.type"] == "chdir"
        pid, ppid = r["proc.pid"], (r["proc.pid"] if is_cd else r["proc.ppid"])
        if is_cd:
            shift += 1
        if ppid not in tree:
            tree[ppid] = _shell_root(lineage, r["proc.pid"], r["evt.num"], tree, shift)
        if tree[ppid][0] == -1:
            continue
        tree.setdefault(pid, (1 + tree[ppid][0], tree[ppid][1]))
        depth = tree[pid][0] - (0 if is_cd else 1)
        if max_depth != -1 and depth > max_depth:
            continue
        what = "cd " + _param(r["sysnb.params"], 1) if is_cd else f"{r['proc.exe'] or ''} {r['proc.args'] or ''}"
        out.append({"indent": (4 if is_cd else 3) * depth, "shell_pid": tree[pid][1],
                    "time": time.strftime("%H:%M:%S", time.localtime(r["evt.rawtime"] // 1_000_000_000)),
                    "user": r["user.name"] or "<NA>", "command": what, "evt.num": r["evt.num"]})
    table = pa.Table.from_pylist(out) if out else pa.table({"command": pa.array([], pa.string())})

    def text() -> Iterable[str]:
        for o in out:
            yield f"{' ' * int(o['indent'])}{o['shell_pid']} {o['time']} {o['user']}) {o['command']}"  # type: ignore[call-overload]
        yield RESET
    return ChiselResult(table, text)


def _shell_root(lineage: Lineage, pid: int, num: int, tree: dict[int, tuple[int, int]],
                shift: int) -> tuple[int, int]:
    """The Lua loop over proc.aname[j]/proc.apid[j], j = 1..16: the farthest shell ancestor wins."""
    chain = [(pid, None), *lineage.ancestors(pid, num, MAX_ANCESTORS + 1)]  # index j -> (apid[j], aname[j])
    found = (-1, 0)
    for j in range(1, MAX_ANCESTORS + 1):
        k = j - shift
        if k < 0 or k >= len(chain):
            break
        apid, aname = chain[k]
        if aname is None:
            continue
        if len(aname) >= 2 and aname.endswith("sh"):
            found = (j - 1, apid) if apid in tree else (0, apid)
    return found


def _param(params: list[bytes] | None, i: int) -> str:
    if not params or len(params) <= i:
        return ""
    return params[i].split(b"\0", 1)[0].decode("utf-8", "replace")


def login_shell_id(lineage: Lineage, pid: int, name: str | None, num: int) -> int | None:
    """proc.loginshellid: the pid of the farthest ancestor (the process itself included) whose name ends in sh."""
    found = pid if name is not None and name.endswith("sh") else None
    for apid, aname in lineage.ancestors(pid, num, MAX_ANCESTORS * 4):
        if aname is not None and aname.endswith("sh"):
            found = apid
    return found


@chisel("list_login_shells", category="Security", short="List the login shell IDs",
        args=[Arg("command", "If specified, only print login shells that spawned a process containing this "
                  "string in its command name", "string", True),
              Arg("arguments", "If specified, only print login shells that spawned a process containing this "
                  "string in its arguments", "string", True)],
        description="List the unique login shell IDs (proc.loginshellid) of the processes started in the capture.")
def list_login_shells(events: pa.Table, command: str | None = None, arguments: str | None = None,
                      source: str | None = None) -> ChiselResult:
    """As sysdig 0.29.3's Lua chisel prints it: only the last matching shell id, once per field of its
    record (three times) — a bug of the original kept for output compatibility; ``table`` has every id."""
    lineage = Lineage(events, first_section(source)[0] if source else None)
    ex = events.filter(pc.and_(pc.equal(_str(events, "evt.type"), "execve"), pc.equal(_str(events, "evt.dir"), "<")))
    ids: list[int] = []
    for r in ex.select(["evt.num", "proc.pid", "proc.name", "proc.exe", "proc.args"]).to_pylist():
        if command and command not in (r["proc.exe"] or ""):
            continue
        if arguments and r["proc.args"] is not None and arguments not in r["proc.args"]:
            continue
        sid = login_shell_id(lineage, r["proc.pid"], r["proc.name"], r["evt.num"])
        if sid is not None:
            ids.append(sid)
    table = pa.table({"proc.loginshellid": sorted(set(ids))})

    def text() -> Iterable[str]:
        yield f"Shells containing {command}:" if command else "All shells:"
        if ids:
            yield from [str(ids[-1])] * 3
    return ChiselResult(table, text)

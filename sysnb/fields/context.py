"""What fields need beyond the event table: the capture's metadata and the reader's options.

* the first event's time (``evt.reltime``, ``-t r``), as libsinsp's ``m_firstevent_ts``;
* the capture's section metadata: interface addresses (``fd.lip``, ``fd.rip``, ``fd.is_server``...), the user
  list (``user.homedir``, ``user.shell``, ``user.loginname``) and the process list (``-U``);
* the container table, parsed from the capture's container events as libsinsp parses them
  (``container.type``, ``container.mounts``, ``k8s.pod.name``...);
* output options: ``-t`` time type, ``-R`` port names, ``-E`` no user table, ``-v`` full buffers, ``-s``
  snaplen of printed buffers, the buffer format (``-A -x -X -b -j``).

Metadata is read from the capture file's first section (its header blocks only) once per file.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.scap.events import CONTAINER_IDS

if TYPE_CHECKING:
    from sysnb.capture import Capture
    from sysnb.scap.blocks import ThreadEntry

#: libsinsp's sinsp_container_type names (container.type)
CONTAINER_TYPES = ("docker", "lxc", "libvirt-lxc", "mesos", "rkt", "cri", "containerd", "cri-o", "bpm")
_DOCKER_COMPATIBLE = frozenset({0, 5, 6, 7})  # docker, cri, containerd, cri-o
_CONTAINER_E = 228


@dataclass(frozen=True)
class Mount:
    source: str = ""
    dest: str = ""
    mode: str = ""
    rdwr: bool = False
    propagation: str = ""

    def text(self) -> str:
        return f"{self.source}:{self.dest}:{self.mode}:{'true' if self.rdwr else 'false'}:{self.propagation}"


@dataclass(frozen=True)
class Container:
    """A container as libsinsp's parse_container_json_evt / parse_container_evt builds it."""

    id: str
    type: int = 0
    name: str = ""
    image: str = ""
    imageid: str = ""
    imagerepo: str = ""
    imagetag: str = ""
    imagedigest: str = ""
    privileged: bool = False
    mounts: tuple[Mount, ...] = ()
    probes: tuple[tuple[str, str], ...] = ()  # (Healthcheck|LivenessProbe|ReadinessProbe, command line)
    ip: int = 0
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def docker_compatible(self) -> bool:
        return self.type in _DOCKER_COMPATIBLE


@dataclass(frozen=True)
class Metadata:
    """A capture's first-section metadata."""

    ipv4: tuple[int, ...] = ()  # interface addresses
    ipv6: tuple[bytes, ...] = ()
    users: dict[int, tuple[str, str, str]] = field(default_factory=dict)  # uid -> (name, home, shell)
    threads: tuple[ThreadEntry, ...] = ()
    hostname: str = ""


@dataclass(frozen=True)
class FieldContext:
    first_ts: int = 0
    meta: Metadata = field(default_factory=Metadata)
    containers: dict[str, Container] = field(default_factory=dict)
    time_type: str = "h"  # -t h|a|r|d|D
    resolve_ports: bool = False  # -R
    exclude_users: bool = False  # -E
    full_buffers: bool = False  # -v
    snaplen: int | None = None  # -s with -r
    bufmode: str = "normal"
    base64: bool = False  # -b
    #: evaluating sysdig's capture filter (not -d): libsinsp runs it before parsing the event (no protocol
    #: decoder output yet) and an exit whose enter was filtered out has no fd in the event (fdinfo_lost)
    capture_filter: bool = False
    fdinfo_lost: pa.Array | None = field(default=None, compare=False)

    def with_options(self, **options: Any) -> FieldContext:
        return replace(self, **options)


EMPTY = FieldContext()


def context_for(cap: Capture, **options: Any) -> FieldContext:
    """The context of a capture: its first event time, metadata and containers, plus output options."""
    return FieldContext(first_ts=first_event_ts(cap.table), meta=metadata(cap.provenance.source, cap.provenance.sha256),
                        containers=containers_of(cap.table), **options)


def first_event_ts(table: pa.Table) -> int:
    """libsinsp's m_firstevent_ts: the time of the first event read, container events excepted."""
    if table.num_rows == 0 or "evt.num" not in table.column_names:
        return 0
    numbered = pc.is_valid(table["evt.num"])
    if "sysnb.type_id" in table.column_names:
        numbered = pc.and_(numbered, pc.invert(pc.is_in(table["sysnb.type_id"],
                                                         value_set=pa.array(sorted(CONTAINER_IDS), pa.uint16()))))
    idx = pc.index(numbered, True).as_py()
    return int(table["evt.rawtime"][idx].as_py()) if idx is not None and idx >= 0 else 0


@functools.lru_cache(maxsize=8)
def metadata(path: str, sha256: str = "") -> Metadata:
    """The first section's interfaces, users and process list (header blocks only; nothing when unreadable)."""
    from sysnb.errors import SysnbError
    from sysnb.scap.reader import Section, read_scap

    if not path or not os.path.isfile(path):
        return Metadata()
    try:
        section = next((s for s in read_scap(path, events=False) if isinstance(s, Section)), None)
    except (SysnbError, OSError, ValueError):
        return Metadata()
    if section is None:
        return Metadata()
    v4, v6 = [], []
    for e in section.interfaces:
        try:
            addr = ipaddress.ip_address(e.addr)
        except ValueError:
            continue
        if e.family in (1, 3) and addr.version == 4:
            v4.append(int(addr))
        elif addr.version == 6:
            v6.append(addr.packed)
    users = {u.uid: (u.name, u.home, u.shell) for u in section.users}
    hostname = section.machine.hostname if section.machine is not None else ""
    return Metadata(tuple(v4), tuple(v6), users, tuple(section.threads), hostname)


def containers_of(table: pa.Table) -> dict[str, Container]:
    """Every container announced by the capture's container events (the last definition of each id)."""
    if "sysnb.type_id" not in table.column_names or "sysnb.params" not in table.column_names:
        return {}
    mask = pc.is_in(table["sysnb.type_id"], value_set=pa.array(sorted(CONTAINER_IDS), pa.uint16()))
    rows = table.select(["sysnb.type_id", "sysnb.params"]).filter(mask)
    out: dict[str, Container] = {}
    for etype, params in zip(rows["sysnb.type_id"].to_pylist(), rows["sysnb.params"].to_pylist(), strict=True):
        c = _old_container(params) if etype == _CONTAINER_E else _json_container(params)
        if c is not None:
            out[c.id] = c
    return out


def _cstr(raw: bytes | None) -> str:
    raw = raw or b""
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _old_container(params: list[bytes]) -> Container | None:
    if not params:
        return None
    ctype = int.from_bytes(params[1][:4], "little") if len(params) > 1 and len(params[1]) >= 4 else 0
    return Container(_cstr(params[0]), ctype, _cstr(params[2]) if len(params) > 2 else "",
                     _cstr(params[3]) if len(params) > 3 else "")


def _json_container(params: list[bytes]) -> Container | None:
    if not params:
        return None
    try:
        c = json.loads(_cstr(params[0])).get("container", {})
    except (ValueError, AttributeError):
        return None
    if not isinstance(c, dict) or not isinstance(c.get("id"), str):
        return None
    return Container(c["id"], _int(c.get("type")), _s(c.get("name")), _s(c.get("image")), _s(c.get("imageid")),
                     _s(c.get("imagerepo")), _s(c.get("imagetag")), _s(c.get("imagedigest")),
                     c.get("privileged") is True, _mounts(c.get("Mounts")), _probes(c), _ip(c.get("ip")),
                     tuple(sorted((str(k), _label(v)) for k, v in (c.get("labels") or {}).items()))
                     if isinstance(c.get("labels"), dict) else ())


def _s(v: object) -> str:
    return v if isinstance(v, str) else ""


def _label(v: object) -> str:
    return v if isinstance(v, str) else json.dumps(v) if v is not None else ""


def _int(v: object) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0


def _ip(v: object) -> int:
    try:
        return int(ipaddress.IPv4Address(v)) if isinstance(v, str) else 0
    except ValueError:
        return 0


def _mounts(value: object) -> tuple[Mount, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(Mount(_s(m.get("Source")), _s(m.get("Destination")), _s(m.get("Mode")), m.get("RW") is True,
                       _s(m.get("Propagation"))) for m in value if isinstance(m, dict))


def _probes(c: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    out = []
    for key in ("Healthcheck", "LivenessProbe", "ReadinessProbe"):
        probe = c.get(key)
        if isinstance(probe, dict) and isinstance(probe.get("exe"), str):
            args = [a for a in probe.get("args") or [] if isinstance(a, str)] if isinstance(probe.get("args"), list) \
                else []
            out.append((key, " ".join([probe["exe"], *args])))
    return tuple(out)

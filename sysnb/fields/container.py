"""The ``container`` class, and the k8s/mesos/marathon classes as they read offline.

Values come from the container table of the capture's container events (FieldContext.containers), looked up
by the thread's container id once per distinct id. On the host container.id, container.name and
container.type are "host" and the other fields are unset, as libsinsp's sinsp_filter_check_container. Offline
there is no orchestrator API: k8s.pod.name, k8s.ns.name, k8s.pod.id and the pod labels come from the
container's labels as libsinsp reads them; every other k8s, mesos and marathon field is unset.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sysnb.fields.common import column
from sysnb.fields.context import CONTAINER_TYPES, Container, FieldContext
from sysnb.fields.evt import stored
from sysnb.fields.model import FieldRef

_Value = str | bool | None


_STRING = pa.string()


def per_container(fn: Callable[[FieldRef, Container | None, FieldContext], _Value],
                  typ: pa.DataType = _STRING, host: _Value = None) -> Any:
    """A field computed once per distinct container id (``host`` is its value outside containers)."""
    def table_fn(ref: FieldRef, table: pa.Table, ctx: FieldContext) -> pa.Array:
        cid = column(table, "container.id")
        uniq = pc.unique(cid)
        values = [host if c == "host" else None if c is None else fn(ref, ctx.containers.get(c), ctx)
                  for c in uniq.to_pylist()]
        out = pa.array(values, typ).take(pc.index_in(cid, value_set=uniq))
        return pc.if_else(pc.is_valid(column(table, "proc.pid")), out, pa.scalar(None, typ))
    return dict(columns=("container.id", "proc.pid"), table=table_fn)


def _attr(name: str) -> Any:
    return per_container(lambda ref, c, ctx: (getattr(c, name) or None) if c is not None else None)


def _type(ref: FieldRef, c: Container | None, ctx: FieldContext) -> _Value:
    if c is None:
        return None
    return CONTAINER_TYPES[c.type] if 0 <= c.type < len(CONTAINER_TYPES) else None


def _privileged(ref: FieldRef, c: Container | None, ctx: FieldContext) -> _Value:
    return c.privileged if c is not None and c.docker_compatible else None


def _mounts(ref: FieldRef, c: Container | None, ctx: FieldContext) -> _Value:
    return ",".join(m.text() for m in c.mounts) if c is not None else None


def _mount(part: str) -> Callable[[FieldRef, Container | None, FieldContext], _Value]:
    """container.mount[N|glob] and container.mount.PART[N|glob]: by index, else the first mount whose
    source (whose destination, for .source) matches the glob."""
    def fn(ref: FieldRef, c: Container | None, ctx: FieldContext) -> _Value:
        if c is None:
            return None
        if ref.index is not None:
            m = c.mounts[ref.index] if 0 <= ref.index < len(c.mounts) else None
        else:
            key = ref.arg or ""
            m = next((x for x in c.mounts if fnmatch.fnmatchcase(x.dest if part == "source" else x.source, key)),
                     None)
        if m is None:
            return None
        if part == "":
            return m.text()
        return {"source": m.source, "dest": m.dest, "mode": m.mode, "rdwr": "true" if m.rdwr else "false",
                "propagation": m.propagation}[part]
    return fn


def _probe(kind: str) -> Callable[[FieldRef, Container | None, FieldContext], _Value]:
    def fn(ref: FieldRef, c: Container | None, ctx: FieldContext) -> _Value:
        if c is None:
            return None
        return next((cmd for k, cmd in c.probes if k == kind), "NONE")
    return fn


def _label(key: str) -> Callable[[FieldRef, Container | None, FieldContext], _Value]:
    def fn(ref: FieldRef, c: Container | None, ctx: FieldContext) -> _Value:
        return dict(c.labels).get(key) if c is not None else None
    return fn


def _sandbox(ref: FieldRef, c: Container | None, ctx: FieldContext) -> Container | None:
    sandbox = dict(c.labels).get("io.kubernetes.sandbox.id") if c is not None else None
    return ctx.containers.get(sandbox[:12]) if sandbox else None


def _pod_label(ref: FieldRef, c: Container | None, ctx: FieldContext) -> _Value:
    s = _sandbox(ref, c, ctx)
    return dict(s.labels).get(ref.arg or "") if s is not None and c is not None and c.labels else None


def _pod_labels(ref: FieldRef, c: Container | None, ctx: FieldContext) -> _Value:
    s = _sandbox(ref, c, ctx)
    if s is None or c is None or not c.labels or not s.labels:
        return None
    return ", ".join(k + (":" + v if v else "") for k, v in s.labels
                     if not k.startswith(("annotation.", "io.kubernetes.")))


def _unset(**kw: Any) -> dict[str, Any]:
    return dict(expr=lambda ref, ctx: pc.scalar(pa.scalar(None, pa.string())), sql=lambda r, c: "NULL", **kw)


FIELDS: dict[str, dict[str, Any]] = {
    "container.id": stored("container.id"),
    "container.name": stored("container.name"),
    "container.image": stored("container.image"),
    "container.image.id": _attr("imageid"),
    "container.type": per_container(_type, host="host"),
    "container.privileged": per_container(_privileged, pa.bool_()),
    "container.mounts": per_container(_mounts),
    "container.mount": dict(per_container(_mount("")), arg="required"),
    "container.mount.source": dict(per_container(_mount("source")), arg="required"),
    "container.mount.dest": dict(per_container(_mount("dest")), arg="required"),
    "container.mount.mode": dict(per_container(_mount("mode")), arg="required"),
    "container.mount.rdwr": dict(per_container(_mount("rdwr")), arg="required"),
    "container.mount.propagation": dict(per_container(_mount("propagation")), arg="required"),
    "container.image.repository": _attr("imagerepo"),
    "container.image.tag": _attr("imagetag"),
    "container.image.digest": _attr("imagedigest"),
    "container.healthcheck": per_container(_probe("Healthcheck")),
    "container.liveness_probe": per_container(_probe("LivenessProbe")),
    "container.readiness_probe": per_container(_probe("ReadinessProbe")),
    "k8s.pod.name": per_container(_label("io.kubernetes.pod.name")),
    "k8s.pod.id": per_container(_label("io.kubernetes.pod.uid")),
    "k8s.ns.name": per_container(_label("io.kubernetes.pod.namespace")),
    "k8s.pod.label": dict(per_container(_pod_label), arg="required"),
    "k8s.pod.labels": per_container(_pod_labels),
}

_ORCHESTRATOR = ("k8s.rc.name k8s.rc.id k8s.rc.labels k8s.svc.name k8s.svc.id k8s.svc.labels k8s.ns.id k8s.ns.labels "
                 "k8s.rs.name k8s.rs.id k8s.rs.labels k8s.deployment.name k8s.deployment.id k8s.deployment.labels "
                 "mesos.task.name mesos.task.id mesos.task.labels mesos.framework.name mesos.framework.id "
                 "marathon.app.name marathon.app.id marathon.app.labels marathon.group.name marathon.group.id")
FIELDS.update({name: _unset() for name in _ORCHESTRATOR.split()})
FIELDS.update({name: _unset(arg="required") for name in ("k8s.rc.label", "k8s.svc.label", "k8s.ns.label",
                                                          "k8s.rs.label", "k8s.deployment.label", "mesos.task.label",
                                                          "marathon.app.label")})

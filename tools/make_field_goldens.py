#!/usr/bin/env python3
"""Record what sysdig 0.29.3 prints for every field of its ``-l`` on every shared capture.

For each capture, ``sysdig -r FILE -p "*%evt.num<US>%F1<US>%F2..."`` (US = the ASCII unit separator, which no
printed value contains) and the same with ``-j``; the output is stored column by column (tests/fieldgoldens.py
encode: one line per field; a value a simple rule predicts from other columns, e.g. evt.time from evt.rawtime or
a JSON number from its text, is left empty), which gzip packs tightly:

    tests/golden/fields/NAME.txt.gz    "## FIELD" then one line per event, for every field
    tests/golden/fields/NAME.json.gz   the same for -j on the first 3000 events (values predicted from the text)
    tests/golden/fields/FIELDS         the field names recorded (arguments chosen for those that take one)

Fields that take an argument are recorded with representative ones; filter-only fields cannot be printed
(they are covered by tools/make_filter_goldens.sh). evt.type.is, whose argument runs to the end of the format
in sysdig, and evt.abspath*, which changes the event's fd for the fields after it, get runs of their own.
Usage: tools/make_field_goldens.py [CAPTURES_DIR]   (default ../shared/captures/public)
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "tests"))
from fieldgoldens import JSON_EVENTS, encode  # noqa: E402  (the compact storage shared with the tests)

OUT = HERE / "tests" / "golden" / "fields"
SEP, END = "\x1f", "\x1e"  # ASCII unit and record separators: values may hold newlines (container JSON)
ARGS = {
    "evt.arg": ["evt.arg.fd", "evt.arg[0]", "evt.arg[1]", "evt.arg.res", "evt.arg.name", "evt.arg.data",
                "evt.arg.flags", "evt.arg.tuple"],
    # evt.rawarg.fd: sysdig 0.29.3 cannot print an FD-typed raw value ("wrong event type 14") and stops
    "evt.rawarg": ["evt.rawarg.res", "evt.rawarg.size", "evt.rawarg.name"],
    "proc.apid": ["proc.apid[0]", "proc.apid[1]", "proc.apid[2]"],
    "proc.aname": ["proc.aname[0]", "proc.aname[1]", "proc.aname[3]"],
    "thread.cgroup": ["thread.cgroup.cpuacct"],
    "container.mount": ["container.mount[0]", "container.mount[/var/*]"],
    "container.mount.source": ["container.mount.source[0]"],
    "container.mount.dest": ["container.mount.dest[0]"],
    "container.mount.mode": ["container.mount.mode[0]"],
    "container.mount.rdwr": ["container.mount.rdwr[0]"],
    "container.mount.propagation": ["container.mount.propagation[0]"],
}
OWN_RUN = ["evt.type.is.open", "evt.type.is.read", "evt.type.is.3", "evt.abspath", "evt.abspath.src",
           "evt.abspath.dst"]
#: fields sysdig 0.29.3 cannot output (it stops with an error; sysnb prints their values):
#: -j of a DOUBLE (proc.fdusage: "wrong event type 33") or ERRNO raw value (evt.rawarg.res: "... type 11"), and
#: thread.totexectime on captures with switch events ("invalid thread state ID0": its per-thread storage is
#: reserved after the capture's threads were created)
JSON_SKIP = frozenset({"proc.fdusage", "evt.rawarg.res"})
SKIP = frozenset({"thread.totexectime"})
SKIP_ARG = ("k8s.", "mesos.", "marathon.", "span.", "evtin.")  # labels/tags: no such data offline


def field_names() -> list[str]:
    sys.path.insert(0, str(HERE))
    from sysnb.fields.sysdig_list import CLASSES

    names: list[str] = []
    for _, _, _, fields in CLASSES:
        for name, _, _, filter_only in fields:
            if filter_only or name in ("evt.type.is", "evt.abspath"):
                continue
            if name in ARGS:
                names += ARGS[name]
            elif name.endswith((".label", ".tag", ".arg", ".enterarg")) and name.startswith(SKIP_ARG):
                names.append(name + ("[0]" if name.endswith((".tag", ".arg", ".enterarg")) else ".app"))
            else:
                names.append(name)
    return names


def sysdig(capture: Path, fields: list[str], json_out: bool) -> list[list[str]]:
    fmt = "*%evt.num" + "".join(SEP + "%" + f for f in fields) + ("" if json_out else END)
    argv = ["sysdig", "-r", str(capture), "-p", fmt] + (["-j", "-n", str(JSON_EVENTS)] if json_out else [])
    proc = subprocess.run(argv, capture_output=True, env={**os.environ, "TZ": "UTC"}, check=False)
    if proc.returncode and b"expecting" not in proc.stderr:  # sysdig cannot open a few captures at all
        raise SystemExit(f"{capture}: sysdig failed: {proc.stderr.decode(errors='replace')[:200]}")
    rows: list[list[str]] = []
    text = proc.stdout.decode("utf-8", "surrogateescape")
    for line in (text.split("\n") if json_out else text.split(END + "\n"))[:-1]:
        if json_out:
            obj = json.loads(line)
            rows.append([json.dumps(obj.get(k), ensure_ascii=False) for k in ("evt.num", *fields)])
        else:
            rows.append(line.split(SEP))
        if len(rows[-1]) != len(fields) + 1:
            raise SystemExit(f"{capture}: a line of sysdig's output has {len(rows[-1])} values: {line[:200]!r}")
    return rows


GROUP = 48  # fields per sysdig run: bounds the memory the columns take


def record(capture: Path, names: list[str], json_out: bool) -> dict[str, list[str]]:
    columns: dict[str, list[str]] = {}
    names = [n for n in names if n not in SKIP and not (json_out and n in JSON_SKIP)]
    plain = [n for n in names if n not in OWN_RUN]
    runs = [plain[k:k + GROUP] for k in range(0, len(plain), GROUP)] + [[n] for n in OWN_RUN]
    for fields in runs:
        rows = sysdig(capture, fields, json_out)
        columns.setdefault("evt.num", [r[0] for r in rows])
        for k, f in enumerate(fields, 1):
            columns[f] = [r[k] for r in rows]
    return columns


def dump(lines: list[str], path: Path) -> None:
    with gzip.open(path, "wt", encoding="utf-8", errors="surrogateescape", compresslevel=9) as f:
        f.write("\n".join(lines) + "\n")


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--keep"]  # --keep: resume, leaving captures already recorded
    src = Path(args[0]) if args else HERE.parent / "shared" / "captures" / "public"
    OUT.mkdir(parents=True, exist_ok=True)
    names = field_names()
    (OUT / "FIELDS").write_text("\n".join(names) + "\n")
    for capture in sorted(src.rglob("*.scap*")):
        name = f"{capture.parent.name}__{capture.name.split('.scap')[0]}"
        if "--keep" in sys.argv and (OUT / f"{name}.json.gz").exists():
            continue
        text = record(capture, names, False)
        dump(encode(text), OUT / f"{name}.txt.gz")
        dump(encode(record(capture, names, True), text), OUT / f"{name}.json.gz")
        print(name, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

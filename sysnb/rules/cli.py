"""Command-line front ends: ``sysnb -r CAP --rules FILE ...`` (alerts like ``falco -e``) and
``sysnb rules validate FILE...`` (Falco's -V, plus why each rule sysnb cannot run is not compiled).

Examples::

    sysnb -r capture.scap --rules /etc/falco/falco_rules.yaml
    sysnb -r capture.scap --rules rules.d/ --min-priority warning --disable-tag network --json
    sysnb rules validate falco_rules.yaml my_rules.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

import pyarrow as pa

from sysnb.errors import UsageError
from sysnb.rules.alerts import ALERT_SCHEMA, build_alerts, json_lines, output_columns, summary, text_lines
from sysnb.rules.engine import Options, ignored_event_types, match, rule_columns
from sysnb.rules.loader import RuleSet, engine_version, load_rules
from sysnb.rules.model import PRIORITIES

_SHORT = {"Informational": "INFO"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def visible(line: str) -> str:
    """A capture string safe for a terminal: control characters (ESC sequences, CR, ...) as \\xNN escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", line)


def options(args: argparse.Namespace) -> Options:
    opts = Options(args.min_priority, args.disable_rules, args.disable_tag, args.enable_tag, args.all_events,
                   args.rule_matching)
    opts.check()
    return opts


def load_or_fail(paths: Sequence[str], err: TextIO) -> RuleSet | None:
    rs = load_rules(paths)
    for note in rs.notes:
        print(f"sysnb: rules: {note}", file=err)
    if not rs.ok:
        for e in rs.errors:
            print(f"sysnb: {e}", file=err)
        print(f"sysnb: could not load the rules ({', '.join(paths)})", file=err)
        return None
    return rs


def run_alerts(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Evaluate the rules on the capture ``args.read`` and print alerts as ``falco -e`` does, then Falco's
    summary. The capture is streamed batch by batch, reading only the columns the rules and their outputs
    need: memory stays bounded and alerts print as they are found."""
    out, err = out or sys.stdout, err or sys.stderr
    opts = options(args)
    rs = load_or_fail(args.rules, err)
    if rs is None:
        return 1
    skipped = [] if opts.all_events else ignored_event_types(rs, opts)
    print(_load_line(rs), file=err)
    if skipped:
        print(f"sysnb: rules match ignored events: {', '.join(skipped)}; these events are not evaluated unless "
              "--all-events (Falco's -A)", file=err)
    scan = _scan(args.read, rule_columns(rs, opts) | output_columns(rs))
    escape = visible if out.isatty() and not args.json else str  # JSON escapes them itself; pipes get the bytes
    compiled: dict[Any, Any] = {}
    found, row = [], 0
    for table in _chunks(scan):
        alerts = build_alerts(table, rs, match(table, rs, opts, compiled), row)
        row += table.num_rows
        found.append(alerts)
        host = scan.info.hostname or socket.gethostname()
        lines = json_lines(alerts, host, args.iso8601) if args.json else text_lines(alerts, args.iso8601)
        for line in lines:
            out.write(escape(line) + "\n")
    for line in stats_lines(pa.concat_tables([ALERT_SCHEMA.empty_table(), *found]), rs):
        print(line, file=err if args.json else out)
    if scan.info.damage is not None:
        print(f"sysnb: {scan.info.damage}", file=err)
        return 1
    return 0


def _scan(path: str, columns: set[str]) -> Any:
    from sysnb.progress import read_progress
    from sysnb.scan import Scan
    from sysnb.state.columns import SCHEMA

    if columns & {"container.name", "container.image"}:
        columns = columns | {"container.id"}  # names come from the containers the scan has met so far
    return Scan(path, columns=sorted(columns & set(SCHEMA.names)), progress=read_progress(path))


#: batches are evaluated together up to this many rows: every rule term costs a fixed ~1-2 ms per evaluation
CHUNK_ROWS = 1 << 19


def _chunks(scan: Any) -> Iterator[pa.Table]:
    """The scan's batches gathered into tables of about CHUNK_ROWS rows (a capture of many sections has
    small batches), with the container names known when each is complete."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in scan:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= CHUNK_ROWS:
            yield _with_containers(pa.Table.from_batches(pending), scan)
            pending, rows = [], 0
    if pending:
        yield _with_containers(pa.Table.from_batches(pending), scan)


def _with_containers(table: pa.Table, scan: Any) -> pa.Table:
    if "container.id" not in table.column_names:
        return table
    from sysnb.state.containers import with_container_fields

    return with_container_fields(table, scan.info.containers)


def _load_line(rs: RuleSet) -> str:
    text = (f"sysnb: rules: {len(rs.rules)} loaded from {len(rs.files)} file(s), {len(rs.compiled)} compiled")
    if rs.not_compiled:
        text += (f", {len(rs.not_compiled)} not compiled (fields or operators sysnb lacks; `sysnb rules validate "
                 f"{' '.join(rs.files)}` says which)")
    if rs.skipped:
        text += f", {len(rs.skipped)} of other sources skipped"
    return text


def stats_lines(alerts: pa.Table, rs: RuleSet) -> list[str]:
    """Falco's end-of-run statistics (stats_manager::format)."""
    lines = [f"Events detected: {alerts.num_rows}", "Rule counts by severity:"]
    by_priority = Counter(alerts["priority"].to_pylist())
    for name in PRIORITIES:
        if by_priority[name]:
            lines.append(f"   {_SHORT.get(name, name.upper())}: {by_priority[name]}")
    lines.append("Triggered rules by rule name:")
    lines += [f"   {rule}: {n}" for rule, _, n in summary(alerts, rs)]
    return lines


# -- sysnb rules validate -------------------------------------------------------------------------------------------

def validate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sysnb rules validate", description="Load Falco rules files as Falco does "
                                "(errors and warnings with file:line:column) and report, for every rule sysnb "
                                "cannot compile, the field or operator it lacks.")
    p.add_argument("files", nargs="+", metavar="FILE_OR_DIR", help="rules files or directories, loaded in order")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--strict", action="store_true", help="exit 1 when a rule could not be compiled")
    p.add_argument("-q", "--quiet", action="store_true", help="errors and the summary only (no warnings)")
    return p


def validate_main(argv: Sequence[str], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = validate_parser().parse_args(list(argv))
    for f in args.files:
        if not os.path.exists(f):
            raise UsageError(f"{f}: no such file or directory")
    rs = load_rules(args.files)
    report = validation_report(rs)
    if args.json:
        out.write(json.dumps(report, indent=1) + "\n")
    else:
        for line in validation_text(rs, report, warnings=not args.quiet):
            out.write(line + "\n")
    if not rs.ok:
        return 1
    return 1 if args.strict and rs.not_compiled else 0


def validation_report(rs: RuleSet) -> dict[str, Any]:
    """Everything ``validate`` knows, as plain data: per file, status, counts, messages, not-compiled rules."""
    missing: Counter[str] = Counter()  # field (without its argument) -> rules that need it
    for r in rs.not_compiled:
        missing.update({(p.field or p.message).split("[", 1)[0] for p in r.problems})
    return {
        "files": rs.files, "ok": rs.ok, "engine_version": engine_version(),
        "required_engine_version": ".".join(map(str, rs.required_engine_version)),
        "rules": len(rs.rules), "compiled": len(rs.compiled), "not_compiled": len(rs.not_compiled),
        "other_sources": [{"rule": r.name, "source": r.source} for r in rs.skipped],
        "macros": rs.macros, "lists": len(rs.lists),
        "errors": [_message(m) for m in rs.errors], "warnings": [_message(m) for m in rs.warnings],
        "not_compiled_rules": [{"rule": r.name, "location": str(r.info.loc),
                                "reasons": [{"where": p.where, "field": p.field, "message": p.message}
                                            for p in r.problems]} for r in rs.not_compiled],
        "missing": dict(missing.most_common()),
        "output_fields_missing": {r.name: r.output_missing for r in rs.rules if r.output_missing},
        "notes": rs.notes,
    }


def _message(m: Any) -> dict[str, Any]:
    loc = m.loc
    return {"code": m.code, "message": m.message, "item_type": m.item_type, "item_name": m.item_name,
            "file": loc.file if loc else "", "line": loc.line if loc else 0, "column": loc.column if loc else 0}


def validation_text(rs: RuleSet, report: dict[str, Any], warnings: bool = True) -> list[str]:
    lines = [f"{', '.join(rs.files)}: " + ("Ok" + (", with warnings" if rs.warnings else "") if rs.ok else "Invalid")]
    lines += [f"  {m}" for m in rs.errors]
    if warnings:
        lines += [f"  {m}" for m in rs.warnings]
    lines += [f"  note: {n}" for n in rs.notes]
    if not rs.ok:
        return lines
    lines.append(f"rules: {report['rules']} loaded, {report['compiled']} compiled, {report['not_compiled']} not "
                 f"compiled, {len(rs.skipped)} of other sources skipped ({rs.macros} macros, {len(rs.lists)} lists)")
    for r in rs.not_compiled:
        lines.append(f"  could not compile: {r.name} ({r.info.loc})")
        lines += [f"      {p}" for p in r.problems]
    if report["missing"]:
        lines.append("missing in sysnb (rules needing it):")
        lines += [f"  {name}: {n}" for name, n in report["missing"].items()]
    return lines

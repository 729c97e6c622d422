"""``sysnb export CAPTURE... --parquet DIR``: captures (files, directories, globs) into a Parquet dataset."""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

from sysnb.errors import UsageError
from sysnb.scan import ENGINES

USAGE = """examples:
  sysnb export web1.scap db1.scap.gz --parquet /cases/IR-14/dataset
  sysnb export /evidence/rotated/ --parquet ds          every *.scap, *.scap.gz, *.scapN in the directory
  sysnb export '/evidence/*/trace.scap*' --parquet ds --ray      one Ray task per capture (pip install 'sysnb[ray]')
then: python -c "import sysnb; print(sysnb.open_dataset('ds').count('evt.type=connect'))"
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sysnb export", epilog=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Write captures into a hive-partitioned Parquet dataset "
                                            "(host=/date=/hour=) with a manifest of their provenance.")
    p.add_argument("captures", nargs="+", metavar="CAPTURE", help="capture files, directories or globs")
    p.add_argument("--parquet", metavar="DIR", required=True, help="the dataset directory (created; captures "
                   "already in it are kept, a capture exported again is replaced)")
    p.add_argument("--engine", choices=ENGINES, default="native", help=argparse.SUPPRESS)
    p.add_argument("--ray", nargs="?", const="auto", metavar="ADDRESS",
                   help="convert the captures in parallel as Ray tasks (a local cluster, or ADDRESS)")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    return p


def export_command(argv: list[str]) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage
        if e.code == 0:
            return 0
        raise UsageError("sysnb export CAPTURE... --parquet DIR (sysnb export --help)") from None
    if args.ray:
        from sysnb.ray import export as ray_export

        manifest = ray_export(args.captures, args.parquet, address=None if args.ray == "auto" else args.ray,
                              engine=args.engine)
    else:
        from sysnb.datasets.parquet import export

        manifest = export(args.captures, args.parquet, engine=args.engine)
    if args.json:
        json.dump(manifest, sys.stdout, indent=1, sort_keys=True)
        print()
        return 0
    from sysnb.format.escape import label

    for entry in manifest["captures"]:
        p = entry["provenance"]
        damage = f", DAMAGED at byte {p['error_offset']}" if p.get("error") else ""
        print(f"{label(entry['capture'])}: {p['events']} events from {label(entry['host'])}, "
              f"sha256 {p['sha256'][:16]}…{damage}")
    print(f"{len(manifest['captures'])} captures in {label(args.parquet)}")
    return 0


# -- sysnb -r A -r B / -r DIR / -r 'GLOB' -------------------------------------------------------------------

_READ = ("-r", "--read", "--readfile")
#: options of a single read that a merged read does not offer (yet), by their argparse names
_SINGLE_ONLY = {"write": "-w", "summary": "-S", "numevents": "-n", "seconds": "-M", "displayflt": "-d",
                "suppress_comm": "-U", "json": "-j", "rules": "--rules"}


def split_reads(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the values of every -r/--read, the other arguments)."""
    paths: list[str] = []
    rest: list[str] = []
    words = iter(argv)
    for word in words:
        if word in _READ:
            paths.append(next(words, ""))
        elif word.startswith(("--read=", "--readfile=")):
            paths.append(word.split("=", 1)[1])
        elif word.startswith("-r") and not word.startswith("--") and len(word) > 2:
            paths.append(word[2:])
        else:
            rest.append(word)
    return paths, rest


def reads_many(argv: list[str]) -> bool:
    """Whether the command line reads several captures (-r twice, a directory, a glob)."""
    paths, _ = split_reads(argv)
    if len(paths) > 1:
        return True
    return bool(paths) and (os.path.isdir(paths[0]) or (glob.has_magic(paths[0]) and not os.path.exists(paths[0])))


def read_many(argv: list[str]) -> int:
    """``sysnb -r A -r B [-p FMT] [-c CHISEL] [FILTER]``: the captures as one timeline (open_captures)."""
    from sysnb import cli, options
    from sysnb.datasets.merged import open_captures

    paths, rest = split_reads(argv)
    args = cli.build_parser().parse_args([*rest, "-r", paths[0]])
    refused = [flag for name, flag in _SINGLE_ONLY.items() if getattr(args, name, None)]
    if refused:
        raise UsageError(f"{', '.join(refused)} with several captures is not supported yet: read one capture, or "
                         "use sysnb.open_captures / sysnb.open_dataset from Python")
    merged = open_captures(paths)
    if args.chisel:  # the whole merged table (chisels reading start state run per capture)
        from sysnb.chisels import run

        c, chisel_args, flt = cli.chisel_request(args)
        cli.print_chisel(args, run(merged, c.name, chisel_args, flt))
        return 1 if merged.provenance.error else 0
    from sysnb.format.output import Formatter

    fmt = options.output_format(args)
    context = options.context_options(args)
    bufmode = cli._bufmode(args)
    view = merged.filter(" ".join(args.filter)) if args.filter else merged
    escape = cli.terminal_escape(args, Formatter(fmt, bufmode=bufmode))
    if not args.quiet:
        options.writer(args.unbuffered)(escape(line) for line in view.lines(fmt, bufmode=bufmode, **context))
    return 1 if merged.provenance.error else 0



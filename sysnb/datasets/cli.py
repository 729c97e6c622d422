"""``sysnb export CAPTURE... --parquet DIR``: captures (files, directories, globs) into a Parquet dataset."""

from __future__ import annotations

import argparse
import json
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

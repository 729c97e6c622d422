#!/usr/bin/env bash
# Regenerate tests/golden/ from sysdig 0.29.3 (Debian: apt-get install --no-install-recommends sysdig).
# Usage: tools/make_goldens.sh [CAPTURES_DIR]   (default ../shared/captures/public)
# For every capture it records, gzip-compressed:
#   NAME.default.txt.gz   oracle -r FILE
#   NAME.summary.txt.gz   oracle -r FILE -S -q
#   NAME.p1.txt.gz ...    oracle -r FILE -p FORMAT   (the formats in FORMATS below)
#   NAME.A.txt.gz, NAME.X.txt.gz, NAME.j.txt.gz   with -A / -X / -j, first 3000 events (-n 3000)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-$here/../shared/captures/public}
out=$here/tests/golden
mkdir -p "$out"
sysdig --version | grep -q '0.29.3' || { echo "need sysdig 0.29.3, found: $(sysdig --version)" >&2; exit 1; }
FORMATS=(
  "p1|%evt.num %evt.type %evt.dir %proc.name %thread.tid %fd.name"
  "p2|*%evt.num %proc.pid %proc.ppid %proc.name %user.uid %fd.num %fd.type %fd.typechar"
  "p3|*%evt.num %evt.rawtime %evt.cpu %evt.res %evt.rawres %evt.failed %evt.latency"
  "p4|*%evt.num %fd.sip %fd.sport %fd.cip %fd.cport %fd.l4proto"
  "p5|*%evt.num %evt.time %evt.datetime %evt.rawtime.s %evt.rawtime.ns %evt.reltime %evt.latency.s %evt.latency.ns %evt.buflen %evt.category %evt.arg[0]"
  "p6|*%evt.num %proc.cmdline %proc.exe %proc.exepath %proc.cwd %proc.pname %user.name %user.loginuid %group.name %container.id %fd.directory %fd.filename %evt.arg.fd %evt.buffer"
  "p7|*%evt.num %group.gid"
  "p8|*%evt.num %container.id %container.name %container.image"
  "p9|*%evt.num %proc.duration"
)
oracle() { TZ=UTC sysdig "$@" 2>/dev/null || true; }  # sysdig 0.29.3 cannot open some files
cd "$src"
find . -name '*.scap*' | sort | while read -r f; do
  name=$(echo "${f#./}" | sed 's|/|__|; s|\.scap.*$||')
  oracle -r "$f" | gzip -9n > "$out/$name.default.txt.gz"
  oracle -r "$f" -S -q | gzip -9n > "$out/$name.summary.txt.gz"
  for spec in "${FORMATS[@]}"; do
    oracle -r "$f" -p "${spec#*|}" | gzip -9n > "$out/$name.${spec%%|*}.txt.gz"
  done
  for flag in A X j; do
    oracle -r "$f" -$flag -n 3000 | gzip -9n > "$out/$name.$flag.txt.gz"
  done
  echo "$name"
done
printf '%s\n' "${FORMATS[@]}" > "$out/FORMATS"
sysdig --version > "$out/SYSDIG_VERSION"

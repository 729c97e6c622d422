#!/usr/bin/env bash
# Record which events sysdig 0.29.3 selects for each filter in tests/golden/filters.txt, on every capture
# of ../shared/captures/public: tests/golden/filters/NAME.tsv.gz, one line per filter: FILTER<TAB>evt.num list.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-$here/../shared/captures/public}
out=$here/tests/golden/filters
mkdir -p "$out"
cd "$src"
find . -name '*.scap*' | sort | while read -r f; do
  name=$(echo "${f#./}" | sed 's|/|__|; s|\.scap.*$||')
  while IFS= read -r flt; do
    nums=$(TZ=UTC sysdig -r "$f" -p "%evt.num" "$flt" 2>/dev/null | tr '\n' ' ' || true)
    printf '%s\t%s\n' "$flt" "$nums"
  done < "$here/tests/golden/filters.txt" | gzip -9n > "$out/$name.tsv.gz"
done

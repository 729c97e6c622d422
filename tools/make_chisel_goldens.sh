#!/usr/bin/env bash
# Regenerate tests/golden/chisels/ from sysdig 0.29.3: NAME.CHISEL[__ARG].txt.gz = sysdig -r FILE -c CHISEL [ARG]
# Usage: tools/make_chisel_goldens.sh [CAPTURES_DIR]   (default ../shared/captures/public)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-$here/../shared/captures/public}
out=$here/tests/golden/chisels
mkdir -p "$out"
sysdig --version | grep -q '0.29.3' || { echo "need sysdig 0.29.3, found: $(sysdig --version)" >&2; exit 1; }
CHISELS=$(grep -v '^#' "$out/CHISELS")
cd "$src"
find . -name '*.scap*' | sort | while read -r f; do
  name=$(echo "${f#./}" | sed 's|/|__|; s|\.scap.*$||')
  while read -r spec; do  # (re-run for all specs; cheap)
    [ -n "$spec" ] || continue
    # shellcheck disable=SC2086 - the spec is "chisel [args]"
    TZ=UTC sysdig -r "$f" -c $spec 2>/dev/null | gzip -9n > "$out/$name.$(echo "$spec" | tr ' ' '_').txt.gz" || true
  done <<< "$CHISELS"
  echo "$name"
done

#!/usr/bin/env bash
# Fuzz the native core's reader and state engine (target `scan`): every input of regressions/ once, then a
# coverage-guided search seeded with the bundled captures (and ../shared's small ones when present) for
# SECONDS (default 60); then the recorder's record converter and block encoder (target `records`, arbitrary
# record rows as a damaged spill hands `--recover`) for a third of that. Works on stable Rust (RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags); without
# a sanitizer so that it builds in a few minutes; a crash, hang (>20 s) or >2 GiB input fails with the
# input saved under artifacts/scan/.
# Usage: native/fuzz/smoke.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
export RUSTC_BOOTSTRAP=1
flags=(-s none -O)
cargo fuzz build "${flags[@]}" scan
cargo fuzz run "${flags[@]}" scan regressions -- -runs=0 -timeout=20 -rss_limit_mb=2048
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
for f in ../../tests/fixtures/*/*.scap.gz ../../../shared/captures/public/*/*.scap*; do
  [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 400000 ] || continue
  case "$f" in
    *.gz) gzip -dc "$f" > "$corpus/$(basename "$f" .gz)" 2>/dev/null || true; cp "$f" "$corpus/" ;;
    *) cp "$f" "$corpus/" ;;
  esac
done
cargo fuzz run "${flags[@]}" scan "$corpus" -- -max_total_time="$seconds" -max_len=300000 -timeout=20 \
  -rss_limit_mb=2048 -print_final_stats=1
records=$(mktemp -d)
trap 'rm -rf "$corpus" "$records"' EXIT
cargo fuzz build "${flags[@]}" records
cargo fuzz run "${flags[@]}" records "$records" -- -max_total_time="$(( (seconds + 2) / 3 ))" -max_len=20000 \
  -timeout=20 -rss_limit_mb=2048 -print_final_stats=1

#!/usr/bin/env bash
# Run test suites one after another, EVERY one even when an earlier one fails, then print a summary of all
# and exit 1 if any failed. `make test` runs them all, `make lint` only ruff and mypy.
#
#   .ci/suites.sh                 every suite
#   .ci/suites.sh ruff mypy live  only these (names as in the summary)
#
# Each suite has a time limit (SUITE_LIMIT_<name> seconds overrides it) so that one hung test cannot hold
# the whole run: at the limit it gets SIGINT (pytest then still prints what ran and why it stopped), 30 s
# later SIGKILL. All of them together get CI_BUDGET seconds (22 minutes: a CI run, setup included, stays
# under 25 on a loaded 2-CPU machine); a suite starting late gets what is left. Logs of each suite go to
# build/ci/<name>.log as well as to the terminal.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
LOGS=build/ci
mkdir -p "$LOGS"
PYTEST=("$BIN/python" -m pytest -q -rs -p no:cacheprovider)
CI_BUDGET=${CI_BUDGET:-1320}  # seconds for all the suites: 22 minutes, leaving .ci/run's setup 3 of its 25

ALL=(ruff mypy pytest live browser notebooks cargo-fmt cargo-clippy cargo-test)
declare -A LIMIT=([ruff]=120 [mypy]=300 [pytest]=600 [live]=480 [browser]=300 [notebooks]=360
                  [cargo-fmt]=120 [cargo-clippy]=600 [cargo-test]=600)

suite_ruff() { "$BIN/ruff" check sysnb tests tools notebooks/conftest.py benchmarks; }
suite_mypy() { "$BIN/mypy"; }
# the unit and golden tests; live recording and the browser have suites of their own
suite_pytest() { "${PYTEST[@]}" --ignore=tests/live --ignore=tests/browser tests; }
suite_live() { "${PYTEST[@]}" tests/live; }
suite_browser() { "${PYTEST[@]}" tests/browser; }
suite_notebooks() { "${PYTEST[@]}" --nbval notebooks/; }

# --- the native core (native/, Rust) ---------------------------------------------------------------------
# Run when native/Cargo.toml exists, skipped (and said so) before. The fuzz smoke run of the native reader
# is to be added here by the native core's owner, as one more suite_cargo-... function and ALL entry.
has_native() { [ -f native/Cargo.toml ]; }
suite_cargo-fmt() { (cd native && cargo fmt --check); }
suite_cargo-clippy() { (cd native && cargo clippy --all-targets -- -D warnings); }
suite_cargo-test() { (cd native && cargo test); }
# ----------------------------------------------------------------------------------------------------------

skip_reason() {
  case "$1" in
    cargo-*) has_native || { echo "native/Cargo.toml absent (no native core yet)"; return; }
             command -v cargo >/dev/null || echo "cargo is not installed" ;;
  esac
}

# the last pytest result line (counts) of a log, for the summary
counts() { grep -aE '^(=+ )?[0-9]+ (passed|failed|error|skipped|deselected)|no tests ran' "$1" | tail -n 1 |
           sed -E 's/^=+ //; s/ =+$//'; }

run_suite() {
  local name=$1 limit=${LIMIT[$1]} log="$LOGS/$1.log" start rc
  local var="SUITE_LIMIT_${name//-/_}" left
  limit=${!var:-$limit}
  # the whole run stays within CI_BUDGET seconds: a suite gets at most what is left of it (at least a minute)
  left=$(( CI_BUDGET - ($(date +%s) - t0) ))
  [ "$left" -lt 60 ] && left=60
  [ "$limit" -gt "$left" ] && limit=$left
  echo
  echo "======== $name (limit ${limit}s) ========"
  start=$(date +%s)
  # a subshell of this script runs the suite function; `timeout` sends SIGINT at the limit
  timeout -s INT -k 30 "$limit" bash -c "$(declare -f "suite_$name"); $(declare -p PYTEST BIN); suite_$name" \
    2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  DURATION[$name]=$(( $(date +%s) - start ))
  RESULT[$name]=$rc
}

declare -A RESULT DURATION SKIPPED
SUITES=("$@")
[ ${#SUITES[@]} -eq 0 ] && SUITES=("${ALL[@]}")
t0=$(date +%s)
for name in "${SUITES[@]}"; do
  if ! declare -F "suite_$name" >/dev/null; then
    echo "unknown suite $name (known: ${ALL[*]})" >&2
    RESULT[$name]=2; DURATION[$name]=0; continue
  fi
  reason=$(skip_reason "$name")
  if [ -n "$reason" ]; then SKIPPED[$name]=$reason; continue; fi
  run_suite "$name"
done

echo
echo "======== summary ($(( ($(date +%s) - t0) / 60 ))m$(( ($(date +%s) - t0) % 60 ))s, load average $(cut -d' ' -f1-3 /proc/loadavg)) ========"
failed=0
for name in "${SUITES[@]}"; do
  if [ -n "${SKIPPED[$name]:-}" ]; then
    printf '  %-5s %-13s %s\n' SKIP "$name" "${SKIPPED[$name]}"
    continue
  fi
  rc=${RESULT[$name]}
  status=PASS
  [ "$rc" -ne 0 ] && { status=FAIL; failed=1; }
  note=""
  [ -f "$LOGS/$name.log" ] && note=$(counts "$LOGS/$name.log")
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then note="$note (stopped at its time limit)"; fi
  printf '  %-5s %-13s %4ss  exit %-3s %s\n' "$status" "$name" "${DURATION[$name]}" "$rc" "$note"
done
[ "$failed" -eq 0 ] && echo "all suites passed" || echo "FAILED: see the suites above (logs in $LOGS/)"
exit "$failed"

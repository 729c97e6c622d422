#!/usr/bin/env bash
# Run test suites, EVERY one even when an earlier one fails, then print a summary of all and exit 1 if any
# failed. `make test` runs them all, `make lint` only ruff and mypy.
#
#   .ci/suites.sh                 every suite
#   .ci/suites.sh ruff mypy live  only these (names as in the summary)
#
# Two lanes run side by side (LANES=1: one after another): the unit tests, the notebooks and the cargo
# checks in one, the rest in the other, so that on a loaded 2-CPU machine (CI runs at load 10) the run gets
# two shares of the CPUs instead of one. Each suite's output goes to build/ci/<name>.log and is printed
# whole when it ends. Each suite has a time limit (SUITE_LIMIT_<name> seconds overrides it) so that one hung
# test cannot hold the whole run: at the limit it gets SIGINT (pytest then still prints what ran and why it
# stopped), 30 s later SIGKILL. The limits are about twice what a suite takes at load 14 (measured on a
# fresh clone: pytest 15 min, live 15 min): a slow machine must not fail the run, a hung test must. A lane
# gets CI_BUDGET seconds in all (75 minutes: with setup the run stays inside CI's 90); a suite starting
# late gets what is left, at least a minute.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
LOGS=${CI_LOGS:-build/ci}
LANES=${LANES:-2}
CI_BUDGET=${CI_BUDGET:-4500}
mkdir -p "$LOGS"
PYTEST=("$BIN/python" -m pytest -q -rs -p no:cacheprovider)

ALL=(ruff mypy pytest live browser ray notebooks cargo-fmt cargo-clippy cargo-test fuzz)
SECOND_LANE=(pytest notebooks cargo-fmt cargo-clippy cargo-test)  # with LANES=2 these run beside the others
# ray: 8 min at load 5, past 20 min at load ~20 (two syscall loops and other suites beside it): 40 min
declare -A LIMIT=([ruff]=120 [mypy]=600 [pytest]=2400 [live]=1800 [browser]=900 [notebooks]=900 [ray]=2400
                  [cargo-fmt]=120 [cargo-clippy]=1200 [cargo-test]=1200 [fuzz]=1200)

suite_ruff() { "$BIN/ruff" check sysnb tests tools notebooks/conftest.py benchmarks; }
suite_mypy() { "$BIN/mypy"; }
# the unit and golden tests; live recording and the browser have suites of their own
suite_pytest() { "${PYTEST[@]}" --ignore=tests/live --ignore=tests/browser -m "not ray" tests; }
# the Ray Data tier on a local 2-CPU cluster the tests start (minutes: a suite of its own, beside the unit tests)
suite_ray() { "${PYTEST[@]}" -m ray tests; }
suite_live() { "${PYTEST[@]}" tests/live; }
suite_browser() { "${PYTEST[@]}" tests/browser; }
suite_notebooks() { "${PYTEST[@]}" --nbval notebooks/; }

# --- the native core (native/, Rust) ---------------------------------------------------------------------
# Release profile, so the dependencies built for the Python module (make setup) are reused; the tests build
# without the Python feature (an extension module cannot link a test binary)
has_native() { [ -f native/Cargo.toml ]; }
suite_cargo-fmt() { (cd native && cargo fmt --check); }
suite_cargo-clippy() { (cd native && cargo clippy --release --all-targets -- -D warnings); }
suite_cargo-test() { (cd native && cargo test --release --no-default-features); }
# the reader and state engine under coverage-guided fuzzing: the regression inputs, then 60 s of search
suite_fuzz() { native/fuzz/smoke.sh "${FUZZ_SECONDS:-60}"; }
# ----------------------------------------------------------------------------------------------------------

skip_reason() {
  case "$1" in
    cargo-*|fuzz) has_native || { echo "native/Cargo.toml absent (no native core yet)"; return; }
             command -v cargo >/dev/null || echo "cargo is not installed" ;;
  esac
}

# the last pytest result line (counts) of a log, for the summary
counts() { grep -aE '^(=+ )?[0-9]+ (passed|failed|error|skipped|deselected)|no tests ran' "$1" | tail -n 1 |
           sed -E 's/^=+ //; s/ =+$//'; }

run_suite() {
  local name=$1 log="$LOGS/$1.log" start rc left
  local var="SUITE_LIMIT_${name//-/_}" limit=${LIMIT[$1]}
  limit=${!var:-$limit}
  left=$(( CI_BUDGET - ($(date +%s) - t0) ))
  [ "$left" -lt 60 ] && left=60
  [ "$limit" -gt "$left" ] && limit=$left
  start=$(date +%s)
  # a shell runs the suite function; at the limit `timeout` sends SIGINT to its whole process group
  timeout -s INT -k 30 "$limit" bash -c "$(declare -f "suite_$name"); $(declare -p PYTEST BIN); suite_$name" \
    > "$log" 2>&1 < /dev/null
  rc=$?
  echo "$rc $(( $(date +%s) - start )) $limit" > "$LOGS/$name.result"
  {
    flock 9
    echo
    echo "======== $name: exit $rc after $(( $(date +%s) - start ))s (limit ${limit}s) ========"
    cat "$log"
  } 9> "$LOGS/.print.lock"
}

lane() { for name in "$@"; do run_suite "$name"; done; }

SUITES=("$@")
[ ${#SUITES[@]} -eq 0 ] && SUITES=("${ALL[@]}")
declare -A SKIPPED
first=() second=()
rm -f "$LOGS"/*.result
for name in "${SUITES[@]}"; do
  if ! declare -F "suite_$name" >/dev/null; then
    SKIPPED[$name]="unknown suite (known: ${ALL[*]})"; continue
  fi
  reason=$(skip_reason "$name")
  if [ -n "$reason" ]; then SKIPPED[$name]=$reason; continue; fi
  if [ "$LANES" -ge 2 ] && [[ " ${SECOND_LANE[*]} " == *" $name "* ]]; then second+=("$name"); else first+=("$name"); fi
done

t0=$(date +%s)
echo "suites: ${first[*]:-}${second[*]:+  |  beside them: ${second[*]}}"
[ ${#second[@]} -gt 0 ] && { lane "${second[@]}" & }
[ ${#first[@]} -gt 0 ] && lane "${first[@]}"
wait

echo
echo "======== summary ($(( ($(date +%s) - t0) / 60 ))m$(( ($(date +%s) - t0) % 60 ))s, load average $(cut -d' ' -f1-3 /proc/loadavg)) ========"
failed=0
for name in "${SUITES[@]}"; do
  if [ -n "${SKIPPED[$name]:-}" ]; then
    status=SKIP
    [[ ${SKIPPED[$name]} == unknown* ]] && { status=FAIL; failed=1; }
    printf '  %-5s %-13s %s\n' "$status" "$name" "${SKIPPED[$name]}"
    continue
  fi
  read -r rc secs limit < "$LOGS/$name.result" || { rc=255; secs=0; limit=0; }
  status=PASS
  [ "$rc" -ne 0 ] && { status=FAIL; failed=1; }
  note=$(counts "$LOGS/$name.log")
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then note="$note (stopped at its ${limit}s limit)"; fi
  printf '  %-5s %-13s %4ss  exit %-3s %s\n' "$status" "$name" "$secs" "$rc" "$note"
done
[ "$failed" -eq 0 ] && echo "all suites passed" || echo "FAILED: see the suites above (logs in $LOGS/)"
exit "$failed"

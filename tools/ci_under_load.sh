#!/usr/bin/env bash
# Run test suites (default: the live recorder tests) RUNS times in a row while busy loops keep every CPU
# loaded, to show that they hold on a loaded machine (CI runs at load 10). Needs root for the live tests.
#
#   tools/ci_under_load.sh                      # the live suite, twice, one syscall loop pinned per CPU
#   LOAD=cpu PER_CPU=2 tools/ci_under_load.sh   # two pure CPU spinners per CPU instead
#   SUITES="pytest live notebooks" RUNS=1 tools/ci_under_load.sh
#
# LOAD=syscall: benchmarks/syscall_loop.c (getppid as fast as it goes: ~1-2 M syscalls/s per CPU that the
#   recorder sees, the hardest case for its rings);  LOAD=yes: `yes > /dev/null` (8 KiB writes);
#   LOAD=cpu: a shell `while :; do :; done` (no syscalls: CPU contention only).
# Each run's suite summary is printed; the script ends with one line per run and exits 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-2}
LOAD=${LOAD:-syscall}
PER_CPU=${PER_CPU:-1}
read -r -a SUITES <<< "${SUITES:-live}"
work=$(mktemp -d /tmp/sysnb-load.XXXXXX)
pids=()

stop_load() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  pids=()
}
trap 'stop_load; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

load_command() {
  case "$LOAD" in
    syscall)
      if cc -O2 -o "$work/syscall_loop" benchmarks/syscall_loop.c 2>/dev/null ||
         clang -O2 -o "$work/syscall_loop" benchmarks/syscall_loop.c 2>/dev/null; then
        echo "$work/syscall_loop 1000000000000"
      else
        echo "tools/ci_under_load.sh: no C compiler for the syscall loop: using yes > /dev/null" >&2
        echo "sh -c 'exec yes > /dev/null'"
      fi ;;
    yes) echo "sh -c 'exec yes > /dev/null'" ;;
    cpu) echo "sh -c 'while :; do :; done'" ;;
    *) echo "tools/ci_under_load.sh: LOAD is syscall, yes or cpu, not $LOAD" >&2; exit 2 ;;
  esac
}

start_load() {
  local cmd cpus
  cmd=$(load_command) || exit 2
  cpus=$(nproc)
  for cpu in $(seq 0 $((cpus - 1))); do
    for _ in $(seq 1 "$PER_CPU"); do
      eval "taskset -c $cpu $cmd &"
      pids+=($!)
    done
  done
  echo "load: ${#pids[@]} x '$cmd' pinned over $cpus CPUs (pids ${pids[*]})"
}

results=()
start_load
sleep 5  # let the load average climb
for run in $(seq 1 "$RUNS"); do
  echo
  echo "################ run $run of $RUNS under load ($LOAD x $PER_CPU per CPU), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  start=$(date +%s)
  .ci/suites.sh "${SUITES[@]}"
  rc=$?
  results+=("run $run: $([ $rc -eq 0 ] && echo PASS || echo FAIL) in $(( $(date +%s) - start ))s, load average at the end $(cut -d' ' -f1-3 /proc/loadavg)")
  rm -rf "build/ci-under-load-run$run" && cp -r build/ci "build/ci-under-load-run$run"
done
stop_load
echo
echo "################ under load ($LOAD x $PER_CPU per CPU, suites: ${SUITES[*]})"
failed=0
for r in "${results[@]}"; do
  echo "  $r"
  [[ $r == *FAIL* ]] && failed=1
done
exit $failed

#!/bin/sh
# spec/fuzz/run.sh FUZZ_BUILD SECONDS [READER...] -- runs the libFuzzer
# harnesses built by `make fuzz-build` (FUZZ_BUILD/fuzz_<reader>), each for
# SECONDS, seeded from spec/fuzz/corpus/<reader>/ and regressions/<reader>/.
# New inputs go to FUZZ_BUILD/work/<reader>/ (the committed corpus is left
# alone), crashing ones to FUZZ_BUILD/artifacts/<reader>/, the log to
# FUZZ_BUILD/logs/<reader>.log. A harness file may add libFuzzer flags on a
# line "** fuzz-options: ..." (fuzz_shd.c turns leak detection off).
# Prints one line per harness (executions, result) and exits non-zero when
# any harness found a crash, a sanitizer report, a leak or a timeout.
set -u
BUILD=${1:?usage: run.sh FUZZ_BUILD SECONDS [READER...]}
SECS=${2:?usage: run.sh FUZZ_BUILD SECONDS [READER...]}
shift 2
ROOT=$(cd "$(dirname "$0")" && pwd)
status=0; total=0; found=0
mkdir -p "$BUILD/logs"
for bin in "$BUILD"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=${bin##*/fuzz_}
  if [ $# -gt 0 ]; then
    want=0; for r in "$@"; do [ "$r" = "$name" ] && want=1; done
    [ $want = 1 ] || continue
  fi
  work="$BUILD/work/$name"; arts="$BUILD/artifacts/$name"; log="$BUILD/logs/$name.log"
  mkdir -p "$work" "$arts"
  seeds=""
  for d in "$ROOT/corpus/$name" "$ROOT/regressions/$name"; do [ -d "$d" ] && seeds="$seeds $d"; done
  opts=$(sed -n 's/^\*\* fuzz-options: //p' "$ROOT/fuzz_$name.c")
  # shellcheck disable=SC2086
  ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:abort_on_error=0" \
  LSAN_OPTIONS="suppressions=$ROOT/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    nice -n "${FUZZ_NICE:-0}" "$bin" -max_total_time="$SECS" -print_final_stats=1 -timeout=30 \
    -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$arts/" $opts "$work" $seeds > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  execs=${execs:-0}
  total=$((total + execs))
  if [ $rc -ne 0 ]; then
    status=1; found=$((found + 1))
    echo "fuzz_$name: $execs executions in $SECS s: FINDING (exit $rc), see $log and $arts/"
    grep -E 'ERROR: |SUMMARY: |runtime error|fuzz harness check failed|Test unit written' "$log" | head -n 8
  else
    echo "fuzz_$name: $execs executions in $SECS s, no finding"
  fi
done
echo "fuzz: $total executions, $found harness(es) with findings"
exit $status

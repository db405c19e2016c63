#!/bin/sh
# spec/run_tests.sh BUILD [c|lua] -- runs the C tests and the busted specs
# of one build folder and prints one closing line, "N passed, N failed",
# counting every C test function and every busted test.
# The exit status is non-zero when anything failed or did not run.
BUILD=${1:-build/release}
WHICH=${2:-all}
export LIMPET_BUILD="$BUILD"
passed=0; failed=0; status=0
log=$(mktemp); trap 'rm -f "$log"' EXIT

if [ "$WHICH" = all ] || [ "$WHICH" = c ]; then
  for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    "$t" > "$log" 2>&1; rc=$?
    cat "$log"
    line=$(grep -E '^[a-z0-9_]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
      echo "$t: crashed or printed no summary (exit $rc)"; failed=$((failed + 1)); status=1; continue
    fi
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/'); f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
    passed=$((passed + p)); failed=$((failed + f))
    [ "$rc" -eq 0 ] || status=1
  done
fi

if [ "$WHICH" = all ] || [ "$WHICH" = lua ]; then
  busted --lua="$BUILD/limpet" -o utfTerminal spec > "$log" 2>&1; rc=$?
  cat "$log"
  line=$(grep -E '[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors?' "$log" | tail -n 1 | sed 's/\x1b\[[0-9;]*m//g')
  if [ -z "$line" ]; then
    echo "busted: no summary (exit $rc)"; failed=$((failed + 1)); status=1
  else
    s=$(echo "$line" | sed -E 's/^([0-9]+) success.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failures?.*/\1/')
    e=$(echo "$line" | sed -E 's/.* ([0-9]+) errors?.*/\1/')
    passed=$((passed + s)); failed=$((failed + f + e))
    [ "$rc" -eq 0 ] || status=1
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1
exit $status

#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time each (FUZZTIME,
# default 10s). Fails if any target finds a crash or if no target is found.
#
# Go's fuzzer sometimes ends a run that found nothing with "context deadline
# exceeded" (the time ran out while a worker was busy, e.g. minimizing an
# interesting input). That is not a finding: such a run is retried, twice at
# most.
# A real finding is written to testdata/fuzz/ and fails at once.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10s}"
found=0
run_target() {
  local pkg=$1 target=$2 out
  out=$(go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -fuzzminimizetime=2s "$pkg" 2>&1) && { echo "$out" | tail -n 2; return 0; }
  echo "$out"
  if echo "$out" | grep -q "context deadline exceeded" && ! echo "$out" | grep -q "Failing input written to"; then
    return 2
  fi
  return 1
}
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    found=$((found + 1))
    echo "fuzz: $pkg $target ($fuzztime)"
    status=0
    run_target "$pkg" "$target" || status=$?
    # On a busy machine the deadline can strike twice in a row; a third
    # such run is taken as a real problem.
    for attempt in 2 3; do
      [ "$status" -eq 2 ] || break
      echo "fuzz: $target ended with a deadline and no finding; running it again (attempt $attempt)"
      status=0
      run_target "$pkg" "$target" || status=$?
    done
    if [ "$status" -ne 0 ]; then
      exit 1
    fi
  done
done
if [ "$found" -eq 0 ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi
echo "fuzz: $found targets passed"

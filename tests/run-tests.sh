#!/usr/bin/env bash
# Runs every test project of the solution and ends with one line: "N passed, N failed".
# Skipped tests are listed (they are not passes). Exit status is non-zero when anything failed.
#   --unit   only the projects that need no external client (everything but Integration.Tests, and the
#            afl-fuzz smoke run of tests/Fuzz; its corpus replay stays)
set -uo pipefail
cd "$(dirname "$0")/.."

results=TestResults
rm -rf "$results"
mkdir -p "$results"

projects=()
for p in tests/*/*.csproj; do
  if [ "${1:-}" = "--unit" ] && [[ "$p" == *Integration* ]]; then continue; fi
  projects+=("$p")
done

dotnet build StorageAppliance.sln -c Debug --nologo -v quiet >"$results/build.log" 2>&1 || {
  cat "$results/build.log" | grep -E "error|Error" | head -50
  echo "0 passed, 1 failed"
  exit 1
}

status=0
for p in "${projects[@]}"; do
  name=$(basename "$p" .csproj)
  filter=()
  if [ "${1:-}" = "--unit" ] && [ "$name" = Fuzz ]; then filter=(--filter "FullyQualifiedName!~AflSmokeTests"); fi
  echo "== $name"
  started=$(date +%s)
  dotnet test "$p" -c Debug --no-build --nologo "${filter[@]}" \
    --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=minimal" \
    --results-directory "$results" || status=1
  echo "== $name took $(( $(date +%s) - started )) s"
done

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(echo "$counters" | sed -n 's/.* passed="\([0-9]*\)".*/\1/p')
  f=$(echo "$counters" | sed -n 's/.* failed="\([0-9]*\)".*/\1/p')
  e=$(echo "$counters" | sed -n 's/.* error="\([0-9]*\)".*/\1/p')
  n=$(echo "$counters" | sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0})); skipped=$((skipped + ${n:-0}))
done
if [ "$skipped" -gt 0 ]; then
  echo "$skipped skipped (not counted as passed):"
  grep -ho 'testName="[^"]*"[^>]*outcome="NotExecuted"' "$results"/*.trx | sed 's/testName="\([^"]*\)".*/  \1/' || true
fi
if [ "$failed" -gt 0 ]; then
  # Repeated here so the end of a CI log names what failed.
  echo "failed tests:"
  grep -ho 'testName="[^"]*"[^>]*outcome="Failed"' "$results"/*.trx | sed 's/testName="\([^"]*\)".*/  \1/' || true
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Coverage-guided fuzzing of the protocol decoders with afl-fuzz and SharpFuzz (tests/Fuzz/README.md).
#   tests/Fuzz/fuzz.sh [--seconds N] [--keep-queue] [--until-crash] [TARGET...]   (no TARGET: every decoder target)
# Each target runs for N seconds (FUZZ_SECONDS, default 20), starting from tests/Fuzz/Corpus/TARGET
# (and, with --keep-queue, what earlier runs found). Crashes and hangs are copied to
# $FUZZ_WORK/crashes/TARGET/ and replayed through the uninstrumented build; one that fails there is printed
# as base64 with the exception it raises and makes the exit status 1, unless its failure message matches a
# line of tests/Fuzz/KnownFailing/TARGET/signatures (a reported bug not yet fixed).
# Needs: a Debug build of tests/Fuzz (make test builds it), afl-fuzz and the sharpfuzz tool (tests/setup/install-deps.sh).
set -uo pipefail
cd "$(dirname "$0")/../.."

seconds=${FUZZ_SECONDS:-20}
keep_queue=0
until_crash=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --keep-queue) keep_queue=1; shift ;;
    --until-crash) until_crash=1; shift ;;
    *) targets+=("$1"); shift ;;
  esac
done

work=${FUZZ_WORK:-out/fuzz}
build=tests/Fuzz/bin/Debug/net10.0
harness=StorageAppliance.Fuzz.dll
mkdir -p "$work"

if [ ! -f "$build/$harness" ]; then
  echo "fuzz: building tests/Fuzz"
  dotnet build tests/Fuzz/Fuzz.csproj -c Debug --nologo -v quiet >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 2; }
fi
command -v afl-fuzz >/dev/null || { echo "fuzz: afl-fuzz is not installed (tests/setup/install-deps.sh installs it)"; exit 2; }
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(dotnet "$build/$harness" list | grep -vx canary)
fi

# A copy of the build whose protocol assemblies carry SharpFuzz's coverage probes; the build itself stays
# uninstrumented for the NUnit replay tests. Redone when the build is newer than the copy.
bin="$work/bin"
exec 9>"$work/.lock"
flock 9
if [ ! -f "$bin/.instrumented" ] || [ -n "$(find "$build" -newer "$bin/.instrumented" -name '*.dll' -print -quit)" ]; then
  echo "fuzz: instrumenting the protocol assemblies into $bin"
  rm -rf "$bin"
  cp -r "$build" "$bin"
  for a in Protocols.Iscsi Protocols.Scsi Protocols.OncRpc Protocols.Nfs; do
    dotnet tool run sharpfuzz "$bin/StorageAppliance.$a.dll" >"$work/instrument.log" 2>&1 \
      || { cat "$work/instrument.log"; echo "fuzz: sharpfuzz failed (dotnet tool restore installs it)"; exit 2; }
  done
  # The canary target (a planted bug that proves the pipeline finds crashes) is the one piece of the harness
  # assembly with probes; the rest of the harness stays out of the coverage map.
  dotnet tool run sharpfuzz "$bin/$harness" StorageAppliance.Fuzz.Targets.CanaryBug >"$work/instrument.log" 2>&1 \
    || { cat "$work/instrument.log"; exit 2; }
  touch "$bin/.instrumented"
fi
flock -u 9

# afl-fuzz runs as root in CI, on machines whose CPU governor, core pattern and core count we do not own.
export AFL_SKIP_BIN_CHECK=1                     # the target is dotnet; the probes are in the managed code
export AFL_NO_UI=1 AFL_QUIET=1
export AFL_SKIP_CPUFREQ=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1  # core_pattern may pipe to a crash handler
export AFL_NO_AFFINITY=1                        # two shared cores: do not insist on a free one
export AFL_FAST_CAL=1
# A decoder that allocates without bound meets this limit as an OutOfMemoryException: a crash.
export DOTNET_GCHeapHardLimit=${FUZZ_HEAP_LIMIT:-0x40000000}
export DOTNET_TieredPGO=0

status=0
for t in "${targets[@]}"; do
  corpus=tests/Fuzz/Corpus/$t
  [ -d "$corpus" ] || { echo "fuzz $t: no corpus at $corpus"; status=1; continue; }
  findings="$work/findings/$t"
  input="$work/input/$t"
  rm -rf "$input"
  mkdir -p "$input"
  cp "$corpus"/* "$input"/
  if [ $keep_queue = 1 ] && [ -d "$findings/default/queue" ]; then
    find "$findings/default/queue" -maxdepth 1 -type f -name 'id:*' -exec cp {} "$input"/ \;
  fi
  rm -rf "$findings"
  mkdir -p "$work/findings"
  start=$(date +%s)
  # -t above the harness's own 10 s hang limit: a harness reports a hang as an exception (a crash to afl);
  # afl killing a SharpFuzz process on a timeout would end the whole persistent run.
  [ $until_crash = 1 ] && export AFL_BENCH_UNTIL_CRASH=1
  afl-fuzz -i "$input" -o "$findings" -V "$seconds" -t 20000 -m none -G 65536 -- \
    dotnet "$bin/$harness" run "$t" >"$work/$t.log" 2>&1
  rc=$?
  stats="$findings/default/fuzzer_stats"
  if [ $rc -ne 0 ] || [ ! -f "$stats" ]; then
    echo "fuzz $t: afl-fuzz did not run (exit $rc); end of its log:"
    tail -25 "$work/$t.log" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g'
    status=1
    continue
  fi
  afl_stat() { sed -n "s/^$1 *: *//p" "$stats"; }
  new=0; known=0; flaky=0
  mkdir -p "$work/crashes/$t"
  signatures=tests/Fuzz/KnownFailing/$t/signatures
  for kind in crashes hangs; do
    for f in "$findings/default/$kind"/id:*; do
      [ -f "$f" ] || continue
      name="$kind-$(sha1sum "$f" | cut -c1-12)"
      cp "$f" "$work/crashes/$t/$name"
      # The uninstrumented build replays it: the deterministic verdict (afl's timeouts also count load).
      replay=$(timeout 120 dotnet "$build/$harness" replay "$t" "$f" 2>&1)
      if [ $? -eq 0 ]; then
        flaky=$((flaky + 1))
        echo "fuzz $t: $kind input $work/crashes/$t/$name did not fail when replayed (afl saw a crash or a timeout under load)"
        continue
      fi
      if [ -f "$signatures" ] && echo "$replay" | grep -qF -f <(grep -v '^#' "$signatures" | grep .); then
        known=$((known + 1))
        echo "fuzz $t: known failure (tests/Fuzz/KnownFailing/$t/signatures) again: $work/crashes/$t/$name"
        continue
      fi
      new=$((new + 1))
      echo "fuzz $t: NEW $kind input saved as $work/crashes/$t/$name ($(wc -c <"$f") bytes), base64:"
      base64 -w 76 "$f" | sed 's/^/    /'
      echo "  replayed (dotnet $build/$harness replay $t FILE):"
      echo "$replay" | head -40 | sed 's/^/    /'
    done
  done
  echo "fuzz $t: $(afl_stat execs_done) execs in $(( $(date +%s) - start )) s, corpus $(afl_stat corpus_count), coverage $(afl_stat bitmap_cvg), crashes $(afl_stat saved_crashes), hangs $(afl_stat saved_hangs); new failures $new, known $known, not reproduced $flaky"
  [ $new -eq 0 ] || status=1
done
exit $status

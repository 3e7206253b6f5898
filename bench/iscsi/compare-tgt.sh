#!/usr/bin/env bash
# compare-tgt.sh — the appliance against tgtd (the standard user-space iSCSI target) in one run:
# same client (fio's libiscsi engine), same machine, same file system for both backing stores.
#
# Workloads: 4 KiB random read QD32, 4 KiB random write QD32, 1 MiB sequential read QD$SEQ_QD,
# 1 MiB sequential write QD$SEQ_QD. Each LUN is first filled once (sequential 1 MiB writes over the
# test region) so reads hit allocated data. The servers alternate per point (appliance, tgt,
# appliance, tgt, ... REPEAT times) and the table reports the median per server, together with the
# CPU seconds each server process used in the measured window and IOPS per server-CPU-second.
#
# Usage: bench/iscsi/compare-tgt.sh            (from any directory)
#   QUICK=1        5 s points, 1 GiB region (a smoke run)
#   RUNTIME=20     seconds measured per point        RAMP=3     ramp seconds before that
#   REPEAT=2       repetitions per server and point  SEQ_QD=8   queue depth of the 1 MiB tests
#   LUN_SIZE=4GiB  size of both LUNs                 REGION=    bytes fio touches (default: whole LUN)
#   FIO=/var/cache/storage-appliance/fio/fio         APPLIANCE=<repo>/out/appliance
#   BUILD=1        dotnet publish the appliance into out/ first, even if out/appliance exists
#   BENCH_TMP=${TMPDIR:-/tmp}   where both backing stores live (one file system for both)
#   RESULTS=<repo>/bench/results/iscsi-<date>-<shortcommit>    KEEP=1 keeps the temp dir
#   TGT_PARAMS=    tgt login-key overrides, KEY=VALUE,...  (default: tgt's own defaults)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then def_runtime=5; def_ramp=2; def_region=1GiB; else def_runtime=20; def_ramp=3; def_region=; fi
RUNTIME=${RUNTIME:-$def_runtime}
RAMP=${RAMP:-$def_ramp}
REPEAT=${REPEAT:-2}
SEQ_QD=${SEQ_QD:-8}
LUN_SIZE=${LUN_SIZE:-4GiB}
REGION=${REGION:-${def_region:-$LUN_SIZE}}
FIO=${FIO:-/var/cache/storage-appliance/fio/fio}
APPLIANCE=${APPLIANCE:-$REPO/out/appliance}
BENCH_TMP=${BENCH_TMP:-${TMPDIR:-/tmp}}
TGTD=${TGTD:-tgtd}
TGTADM=${TGTADM:-tgtadm}

log() { printf '[compare-tgt %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# "4GiB" / "1g" / "512MiB" / bytes -> bytes
to_bytes() {
  python3 - "$1" <<'EOF'
import re, sys
m = re.fullmatch(r'\s*(\d+)\s*([kmgt]?)(i?b)?\s*', sys.argv[1], re.I)
if not m: sys.exit(f"not a size: {sys.argv[1]}")
print(int(m.group(1)) * 1024 ** " kmgt".index((m.group(2) or " ").lower()))
EOF
}
LUN_BYTES=$(to_bytes "$LUN_SIZE")
REGION_BYTES=$(to_bytes "$REGION")
[ "$REGION_BYTES" -le "$LUN_BYTES" ] || die "REGION ($REGION) is larger than LUN_SIZE ($LUN_SIZE)"
[ $((LUN_BYTES % 1048576)) = 0 ] || die "LUN_SIZE must be a multiple of 1 MiB"

# ---------------------------------------------------------------- prerequisites
fio_ok() { [ -x "$FIO" ] && "$FIO" --enghelp 2>/dev/null | grep -q libiscsi; }
if ! fio_ok || ! command -v "$TGTD" >/dev/null || ! command -v "$TGTADM" >/dev/null; then
  log "fio with libiscsi or tgt missing: running tests/setup/install-deps.sh"
  bash "$REPO/tests/setup/install-deps.sh"
  fio_ok || die "no fio with the libiscsi engine at $FIO (set FIO=)"
fi
command -v python3 >/dev/null || die "python3 is needed to parse fio's JSON"

WORK=$(mktemp -d "$BENCH_TMP/iscsi-bench.XXXXXX")
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo nogit)
RESULTS=${RESULTS:-$REPO/bench/results/iscsi-$(date +%Y%m%d-%H%M%S)-$COMMIT}
mkdir -p "$RESULTS/raw"
POINTS="$RESULTS/points.tsv"
printf 'workload\tserver\trep\trc\tcpu_ticks\tjson\n' >"$POINTS"

APP_PID=""; TGT_PID=""; TGT_CTL=""; CUR_FIO=""
cleanup() {
  local rc=$?
  set +e
  # timeout(1) runs fio in its own process group
  [ -n "$CUR_FIO" ] && kill -0 "$CUR_FIO" 2>/dev/null && kill -KILL -- "-$CUR_FIO" 2>/dev/null
  if [ -n "$APP_PID" ] && kill -0 "$APP_PID" 2>/dev/null; then
    kill -TERM "$APP_PID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$APP_PID" 2>/dev/null && { log "appliance did not stop in 20 s: SIGKILL"; kill -KILL "$APP_PID"; }
    wait "$APP_PID" 2>/dev/null
  fi
  if [ -n "$TGT_PID" ] && kill -0 "$TGT_PID" 2>/dev/null; then
    kill -KILL "$TGT_PID" 2>/dev/null   # tgtd ignores SIGTERM
    wait "$TGT_PID" 2>/dev/null
  fi
  # A killed tgtd leaves its control socket behind.
  [ -n "$TGT_CTL" ] && rm -f "/var/run/tgtd/socket.$TGT_CTL" "/var/run/tgtd/socket.$TGT_CTL.lock"
  [ -f "$WORK/appliance.log" ] && cp "$WORK/appliance.log" "$RESULTS/appliance.log"
  [ -f "$WORK/tgtd.log" ] && cp "$WORK/tgtd.log" "$RESULTS/tgtd.log"
  if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_port() { # port pid name
  local i
  for i in $(seq 1 120); do
    kill -0 "$2" 2>/dev/null || die "$3 exited before listening on $1 (see $RESULTS/$3.log)"
    if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.5).close()' "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  die "$3 does not accept connections on 127.0.0.1:$1 after 60 s"
}
CLK_TCK=$(getconf CLK_TCK)
# utime+stime (clock ticks) of a process and its direct children (all threads included).
cpu_ticks() {
  local total=0 p s f
  for p in "$1" $(pgrep -P "$1" 2>/dev/null || true); do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }
    read -ra f <<<"$s"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}
esc() { local u=$1; echo "${u//:/\\:}"; }   # fio splits --filename on ':'

# ---------------------------------------------------------------- the appliance binary
if [ "${BUILD:-0}" = 1 ] || [ ! -x "$APPLIANCE" ]; then
  if [ "$APPLIANCE" = "$REPO/out/appliance" ]; then
    log "publishing the appliance: dotnet publish src/Host -c Release -o out"
    if ! (cd "$REPO" && dotnet publish src/Host -c Release -o out >"$WORK/publish.log" 2>&1); then
      tail -20 "$WORK/publish.log" >&2
      if [ -x "$APPLIANCE" ]; then
        log "the working tree does not build now; using the existing out/appliance"
      else
        log "the working tree does not build; building HEAD ($COMMIT) in a temp dir instead"
        mkdir -p "$WORK/head"
        git -C "$REPO" archive HEAD | tar -x -C "$WORK/head"
        (cd "$WORK/head" && dotnet publish src/Host -c Release -o "$WORK/appliance-bin" >"$WORK/publish-head.log" 2>&1) \
          || { tail -20 "$WORK/publish-head.log" >&2; die "HEAD does not build either"; }
        APPLIANCE=$WORK/appliance-bin/appliance
      fi
    fi
  fi
  [ -x "$APPLIANCE" ] || die "no appliance binary at $APPLIANCE"
fi
# Run from a private copy: others may republish out/ while the benchmark runs.
APPLIANCE_SRC=$APPLIANCE
mkdir -p "$WORK/appliance-run"
cp -a "$(dirname "$APPLIANCE")/." "$WORK/appliance-run/"
APPLIANCE=$WORK/appliance-run/$(basename "$APPLIANCE")

# ---------------------------------------------------------------- start both servers
APP_PORT=$(free_port)
TGT_PORT=$(free_port)
while [ "$TGT_PORT" = "$APP_PORT" ]; do TGT_PORT=$(free_port); done
TGT_CTL=""
for _ in $(seq 1 50); do
  n=$((RANDOM % 50000 + 1000))
  [ -e "/var/run/tgtd/socket.$n" ] || [ -e "/var/run/tgtd/socket.$n.lock" ] || { TGT_CTL=$n; break; }
done
[ -n "$TGT_CTL" ] || die "no free tgtd control port"

APP_IQN=iqn.2026-11.io.storageappliance:bench
APP_LUN=0
TGT_IQN=iqn.2026-11.org.tgt:bench
TGT_LUN=1   # tgt's LUN 0 is the controller

mkdir -p "$WORK/appliance-data"
cat >"$WORK/appliance.yaml" <<EOF
# Written by bench/iscsi/compare-tgt.sh: one vDisk sized like tgt's LUN, write cache on like tgt's.
appliance:
  name: bench
  data_dir: ./appliance-data
iscsi:
  enabled: true
  listen: ["127.0.0.1:$APP_PORT"]
containers:
  - name: default
vdisks:
  - name: disk0
    container: default
    size: $LUN_BYTES
    block_size: 512
    thin: true
    write_cache: true
    read_only: false
targets:
  - name: $APP_IQN
    alias: bench
    luns:
      - lun: $APP_LUN
        vdisk: disk0
EOF
cp "$WORK/appliance.yaml" "$RESULTS/appliance.yaml"

declare -A URL PID
APP_RESTARTS=0
start_appliance() {
  "$APPLIANCE" run --config "$WORK/appliance.yaml" --data-dir "$WORK/appliance-data" \
    --iscsi-listen "127.0.0.1:$APP_PORT" >>"$WORK/appliance.log" 2>&1 &
  APP_PID=$!
  PID[appliance]=$APP_PID
  wait_port "$APP_PORT" "$APP_PID" appliance
}
log "starting the appliance ($APPLIANCE) on 127.0.0.1:$APP_PORT, data in $WORK/appliance-data"
start_appliance

log "starting tgtd on 127.0.0.1:$TGT_PORT (control port $TGT_CTL), backing file $WORK/tgt-lun.img"
if ! fallocate -l "$LUN_BYTES" "$WORK/tgt-lun.img" 2>/dev/null; then
  dd if=/dev/zero of="$WORK/tgt-lun.img" bs=1M count=$((LUN_BYTES / 1048576)) status=none
fi
"$TGTD" -f --iscsi "portal=127.0.0.1:$TGT_PORT" -C "$TGT_CTL" >"$WORK/tgtd.log" 2>&1 &
TGT_PID=$!
wait_port "$TGT_PORT" "$TGT_PID" tgtd
tgtadm_() { "$TGTADM" --lld iscsi -C "$TGT_CTL" "$@"; }
tgtadm_ --op new --mode target --tid 1 -T "$TGT_IQN"
tgtadm_ --op new --mode logicalunit --tid 1 --lun "$TGT_LUN" -b "$WORK/tgt-lun.img"
tgtadm_ --op bind --mode target --tid 1 -I ALL
# Optional login-key overrides, e.g. TGT_PARAMS="MaxRecvDataSegmentLength=262144,InitialR2T=No"
# (by default tgt keeps its own defaults: MRDSL 8192, InitialR2T=Yes, FirstBurst 64 KiB).
IFS=, read -ra tgt_params <<<"${TGT_PARAMS:-}"
for kv in "${tgt_params[@]}"; do
  [ -n "$kv" ] && tgtadm_ --op update --mode target --tid 1 --name "${kv%%=*}" --value "${kv#*=}"
done
tgtadm_ --op show --mode target >"$RESULTS/tgt-target.txt"

URL[appliance]=$(esc "iscsi://127.0.0.1:$APP_PORT/$APP_IQN/$APP_LUN")
URL[tgt]=$(esc "iscsi://127.0.0.1:$TGT_PORT/$TGT_IQN/$TGT_LUN")
PID[tgt]=$TGT_PID

{
  echo "date: $(date -Is)"
  echo "commit: $(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo nogit)"
  echo "uncommitted changes under src/: $(git -C "$REPO" status --porcelain -- src 2>/dev/null | wc -l) files"
  echo "appliance binary: $APPLIANCE_SRC (built $(date -r "$APPLIANCE_SRC" -Is)), run from a copy"
  echo "tgt login-key overrides: ${TGT_PARAMS:-none (tgt defaults)}"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other processes compete for the CPUs)"
  echo "tgtd: $("$TGTD" -V 2>&1 | head -1)"
  echo "fio: $("$FIO" --version)"
  echo "cpus: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "file system of both backing stores: $(df -PT "$WORK" | awk 'NR==2 {print $1" ("$2") at "$7}')"
  echo "lun size: $LUN_BYTES bytes; region: $REGION_BYTES bytes; runtime ${RUNTIME}s after ${RAMP}s ramp; repeat $REPEAT"
} >"$RESULTS/meta.txt"

# ---------------------------------------------------------------- fio points
# revive SERVER WHEN: a dead appliance is restarted on the same data (at most MAX_RESTARTS times,
# each marked in its log); a dead tgtd is not (its target would have to be rebuilt).
revive() {
  local server=$1 when=$2 src=0
  wait "${PID[$server]}" 2>/dev/null || src=$?
  log "$server exit status: $src"
  [ "$server" = appliance ] && [ "$APP_RESTARTS" -lt "${MAX_RESTARTS:-3}" ] || return 1
  tail -5 "$WORK/appliance.log" >&2
  APP_RESTARTS=$((APP_RESTARTS + 1))
  echo "==== compare-tgt $(date '+%F %T'): the appliance was found dead (exit status $src) $when; restarting it ====" >>"$WORK/appliance.log"
  log "restarting the appliance (restart $APP_RESTARTS of at most ${MAX_RESTARTS:-3})"
  start_appliance
}

# run_point NAME SERVER REP RW BS QD TIMED   (TIMED=1: time-based with ramp; 0: one pass over the region)
run_point() {
  local name=$1 server=$2 rep=$3 rw=$4 bs=$5 qd=$6 timed=$7
  local out="$RESULTS/raw/$name-$server-r$rep.json"
  local spid=${PID[$server]} c0 c1 rc=0 fpid
  local args=(--name="$name" --ioengine=libiscsi --filename="${URL[$server]}" --rw="$rw" --bs="$bs"
              --iodepth="$qd" --size="$REGION_BYTES" --output-format=json --output="$out")
  if [ "$timed" = 1 ]; then
    args+=(--time_based --runtime="$RUNTIME" --ramp_time="$RAMP" --norandommap --randrepeat=0
           --log_avg_msec=500 --write_iops_log="$RESULTS/raw/$name-$server-r$rep")
  fi
  if ! kill -0 "$spid" 2>/dev/null; then
    log "$server died since the last point"
    revive "$server" "before $name r$rep" || true
    spid=${PID[$server]}
  fi
  kill -0 "$spid" 2>/dev/null || { log "$server is not running: skipping $name r$rep"; \
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$server" "$rep" dead 0 "$out" >>"$POINTS"; return 0; }
  # Start every point with no dirty pages left over from the one before (the prefill alone leaves
  # gigabytes for the kernel to write back, which would land on whichever point runs next).
  sync -f "$WORK" 2>/dev/null || sync
  # libiscsi retries a lost connection forever, so fio hangs if a server dies: bound each run.
  local limit=$((RAMP + RUNTIME + 60))
  [ "$timed" = 1 ] || limit=$((REGION_BYTES / 5000000 + 120))
  timeout --kill-after=10 "$limit" "$FIO" "${args[@]}" >"$out.log" 2>&1 &
  fpid=$!
  CUR_FIO=$fpid
  if [ "$timed" = 1 ]; then sleep "$RAMP"; fi   # CPU is counted over the measured window only
  c0=$(cpu_ticks "$spid")
  wait "$fpid" || rc=$?
  CUR_FIO=""
  c1=$(cpu_ticks "$spid")
  [ "$rc" = 0 ] || { log "fio failed on $server ($name r$rep, rc $rc):"; tail -5 "$out.log" >&2; }
  [ "$rc" != 124 ] || log "fio on $server timed out after ${limit}s ($name r$rep)"
  if ! kill -0 "$spid" 2>/dev/null; then
    log "$server DIED during $name r$rep"
    rc=died
    revive "$server" "during $name r$rep" || true
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$server" "$rep" "$rc" $((c1 - c0)) "$out" >>"$POINTS"
}

SERVERS=(appliance tgt)
log "prefill: one sequential 1 MiB QD8 pass over $REGION_BYTES bytes of each LUN"
for s in "${SERVERS[@]}"; do run_point prefill "$s" 1 write 1m 8 0; done

WORKLOADS=(
  "randread-4k-qd32 randread 4k 32"
  "randwrite-4k-qd32 randwrite 4k 32"
  "seqread-1m-qd$SEQ_QD read 1m $SEQ_QD"
  "seqwrite-1m-qd$SEQ_QD write 1m $SEQ_QD"
)
total=$(( ${#WORKLOADS[@]} * REPEAT * ${#SERVERS[@]} ))
i=0
for w in "${WORKLOADS[@]}"; do
  read -r name rw bs qd <<<"$w"
  for rep in $(seq 1 "$REPEAT"); do
    for s in "${SERVERS[@]}"; do
      i=$((i + 1))
      log "[$i/$total] $name on $s (rep $rep, ${RUNTIME}s)"
      run_point "$name" "$s" "$rep" "$rw" "$bs" "$qd" 1
    done
  done
done

# ---------------------------------------------------------------- report
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS/meta.txt"
echo "appliance restarts after it died: $APP_RESTARTS" >>"$RESULTS/meta.txt"
[ "$APP_RESTARTS" = 0 ] || log "WARNING: the appliance died and was restarted $APP_RESTARTS time(s): see appliance.log"
cp "$WORK/appliance.log" "$RESULTS/appliance.log"
python3 "$SCRIPT_DIR/summarize.py" --points "$POINTS" --clk-tck "$CLK_TCK" --runtime "$RUNTIME" \
  --meta "$RESULTS/meta.txt" --appliance-log "$RESULTS/appliance.log" --markdown "$RESULTS/results.md"
log "results: $RESULTS (results.md, raw/*.json, appliance.log, tgtd.log)"

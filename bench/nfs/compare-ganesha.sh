#!/usr/bin/env bash
# compare-ganesha.sh — the appliance's NFS front end against nfs-ganesha (VFS FSAL) in one run: same
# client (fio's nfs engine, i.e. libnfs), same machine, same file system under both.
#
# Our side is the real appliance (out/appliance run): one export /bench of a container in the default
# pool under its data dir, so every NFS file is a vDisk of the storage engine (journal, extent store,
# SQLite metadata) and the namespace is in <data_dir>/nfs-namespace.db. iSCSI is off; the portmapper
# is off (fio is given both ports in the URL).
#
# Workloads (each server gets one file laid out by a sequential 1 MiB write first):
#   4 KiB random read QD32, 4 KiB random write QD32, 1 MiB sequential read QD$SEQ_QD, 1 MiB sequential write QD$SEQ_QD.
# Servers alternate per point (ours, ganesha, ours, ganesha, ... REPEAT times); the table shows the
# median per server, the ratio, and the CPU seconds each server process used while measured.
#
# Usage: bench/nfs/compare-ganesha.sh
#   QUICK=1      5 s points, 512 MiB file          RUNTIME=15  seconds per point   RAMP=2
#   REPEAT=2     repetitions per server and point  SEQ_QD=8    queue depth of the 1 MiB tests
#   FILE_SIZE=2g size of the test file             FIO=/var/cache/storage-appliance/fio/fio
#   BENCH_TMP=${TMPDIR:-/tmp}   where both servers keep their data (one file system for both)
#   RESULTS=<repo>/bench/results/nfs-<date>-<commit>   KEEP=1 keeps the temp dir
#   APPLIANCE=<repo>/out/appliance   BUILD=1 publishes the appliance into out/ first, even if out/appliance exists
# Needs root for ganesha (it binds privileged ports and registers with rpcbind); rpcbind is started
# if none runs, and stopped again at the end.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/../.." && pwd)
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then def_runtime=5; def_size=512m; def_ramp=1; else def_runtime=15; def_size=2g; def_ramp=2; fi
RUNTIME=${RUNTIME:-$def_runtime}
RAMP=${RAMP:-$def_ramp}
REPEAT=${REPEAT:-2}
SEQ_QD=${SEQ_QD:-8}
FILE_SIZE=${FILE_SIZE:-$def_size}
FIO=${FIO:-/var/cache/storage-appliance/fio/fio}
BENCH_TMP=${BENCH_TMP:-${TMPDIR:-/tmp}}
APPLIANCE=${APPLIANCE:-$REPO/out/appliance}

log() { printf '[compare-ganesha %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

fio_ok() { [ -x "$FIO" ] && "$FIO" --enghelp 2>/dev/null | grep -qw nfs; }
if ! fio_ok || ! command -v ganesha.nfsd >/dev/null || ! command -v rpcbind >/dev/null; then
  log "fio with the nfs engine, ganesha or rpcbind missing: running tests/setup/install-deps.sh"
  bash "$REPO/tests/setup/install-deps.sh"
  fio_ok || die "no fio with the nfs engine at $FIO (set FIO=)"
fi
command -v python3 >/dev/null || die "python3 is needed to parse fio's JSON"

WORK=$(mktemp -d "$BENCH_TMP/nfs-bench.XXXXXX")
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo nogit)
RESULTS=${RESULTS:-$REPO/bench/results/nfs-$(date +%Y%m%d-%H%M%S)-$COMMIT}
mkdir -p "$RESULTS/raw"
POINTS="$RESULTS/points.tsv"
printf 'workload\tserver\trep\trc\tcpu_ticks\tjson\n' >"$POINTS"

OUR_PID=""; GAN_PID=""; RPCBIND_STARTED=0; CUR_FIO=""
cleanup() {
  local rc=$?
  set +e
  [ -n "$CUR_FIO" ] && kill -0 "$CUR_FIO" 2>/dev/null && kill -KILL -- "-$CUR_FIO" 2>/dev/null
  if [ -n "$OUR_PID" ] && kill -0 "$OUR_PID" 2>/dev/null; then
    kill -TERM "$OUR_PID"
    for _ in $(seq 1 40); do kill -0 "$OUR_PID" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$OUR_PID" 2>/dev/null && kill -KILL "$OUR_PID"
    wait "$OUR_PID" 2>/dev/null
  fi
  if [ -n "$GAN_PID" ] && kill -0 "$GAN_PID" 2>/dev/null; then
    kill -TERM "$GAN_PID"
    for _ in $(seq 1 40); do kill -0 "$GAN_PID" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$GAN_PID" 2>/dev/null && kill -KILL "$GAN_PID"
  fi
  if [ "$RPCBIND_STARTED" = 1 ] && [ -f "$WORK/rpcbind.pid" ]; then
    kill -TERM "$(cat "$WORK/rpcbind.pid")" 2>/dev/null
  fi
  for f in ours.log ganesha.log ganesha.conf; do [ -f "$WORK/$f" ] && cp "$WORK/$f" "$RESULTS/"; done
  if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { # port pid name
  for _ in $(seq 1 120); do
    kill -0 "$2" 2>/dev/null || die "$3 exited before listening on $1 (see $RESULTS/$3.log)"
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.5).close()' "$1" 2>/dev/null && return 0
    sleep 0.5
  done
  die "$3 does not accept connections on 127.0.0.1:$1 after 60 s"
}
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # utime+stime of a process (all threads)
  local s f
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  s=${s##*) }
  read -ra f <<<"$s"
  echo $((f[11] + f[12]))
}

# ---------------------------------------------------------------- the appliance binary
if [ "${BUILD:-0}" = 1 ] || [ ! -x "$APPLIANCE" ]; then
  if [ "$APPLIANCE" = "$REPO/out/appliance" ]; then
    log "publishing the appliance: dotnet publish src/Host -c Release -o out"
    (cd "$REPO" && dotnet publish src/Host/Host.csproj -c Release -o out --nologo -v quiet -p:UseAppHost=true >"$WORK/publish.log" 2>&1) \
      || { tail -20 "$WORK/publish.log" >&2; die "the appliance does not build"; }
  fi
  [ -x "$APPLIANCE" ] || die "no appliance binary at $APPLIANCE"
fi
# Run from a private copy: others may republish out/ while the benchmark runs.
APPLIANCE_SRC=$APPLIANCE
mkdir -p "$WORK/appliance-bin"
cp -a "$(dirname "$APPLIANCE")/." "$WORK/appliance-bin/"
APPLIANCE=$WORK/appliance-bin/$(basename "$APPLIANCE")

# ---------------------------------------------------------------- rpcbind (ganesha registers with it)
if ! python3 -c 'import socket; socket.create_connection(("127.0.0.1",111),0.5).close()' 2>/dev/null; then
  log "starting rpcbind"
  rpcbind -w 2>/dev/null || rpcbind || die "cannot start rpcbind"
  pgrep -x rpcbind | head -1 >"$WORK/rpcbind.pid"
  RPCBIND_STARTED=1
  sleep 0.5
fi

# ---------------------------------------------------------------- start both servers
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
OUR_NFS=$(free_port); OUR_MNT=$(free_port)
GAN_NFS=$(free_port); GAN_MNT=$(free_port)
mkdir -p "$WORK/ours-data" "$WORK/ganesha-export" "$WORK/ganesha-state"

cat >"$WORK/appliance.yaml" <<EOF
# Written by bench/nfs/compare-ganesha.sh: NFS only, one export of the default container, whose pool is
# the default one (<data_dir>/disks/ssd0, on the same file system as ganesha's export).
appliance:
  name: bench
iscsi:
  enabled: false
nfs:
  enabled: true
containers:
  - name: default
exports:
  - path: /bench
    container: default
    root_squash: false
EOF
cp "$WORK/appliance.yaml" "$RESULTS/appliance.yaml"
log "starting the appliance ($APPLIANCE_SRC, run from a copy) on 127.0.0.1:$OUR_NFS, MOUNT on $OUR_MNT"
"$APPLIANCE" run --config "$WORK/appliance.yaml" --data-dir "$WORK/ours-data" \
  --nfs-listen "127.0.0.1:$OUR_NFS" --nfs-mount-port "$OUR_MNT" --portmapper off >"$WORK/ours.log" 2>&1 &
OUR_PID=$!
wait_port "$OUR_NFS" "$OUR_PID" ours
wait_port "$OUR_MNT" "$OUR_PID" ours

cat >"$WORK/ganesha.conf" <<EOF
# Written by bench/nfs/compare-ganesha.sh: NFSv3 over TCP on loopback, VFS FSAL.
NFS_CORE_PARAM {
  NFS_Port = $GAN_NFS;
  MNT_Port = $GAN_MNT;
  Bind_addr = 127.0.0.1;
  Protocols = 3;
  Enable_NLM = false;
  Enable_RQUOTA = false;
}
NFSV4 { Graceless = true; }
NFS_KRB5 { Active_krb5 = false; }
EXPORT {
  Export_Id = 1;
  Path = $WORK/ganesha-export;
  Pseudo = /bench;
  Access_Type = RW;
  Squash = No_Root_Squash;
  Protocols = 3;
  Transports = TCP;
  SecType = sys;
  FSAL { Name = VFS; }
}
LOG { Default_Log_Level = EVENT; }
EOF
ganesha.nfsd -F -f "$WORK/ganesha.conf" -L "$WORK/ganesha.log" -p "$WORK/ganesha.pid" &
GAN_PID=$!
wait_port "$GAN_NFS" "$GAN_PID" ganesha
wait_port "$GAN_MNT" "$GAN_PID" ganesha

declare -A URL PID
URL[ours]="nfs://127.0.0.1/bench?nfsport=$OUR_NFS&mountport=$OUR_MNT"
URL[ganesha]="nfs://127.0.0.1$WORK/ganesha-export?nfsport=$GAN_NFS&mountport=$GAN_MNT"
PID[ours]=$OUR_PID
PID[ganesha]=$GAN_PID
SERVERS=(ours ganesha)

run_fio() { # server name rep extra-args...
  local server=$1 name=$2 rep=$3; shift 3
  local out="$RESULTS/raw/$name-$server-$rep.json" before after rc
  before=$(cpu_ticks "${PID[$server]}")
  set +e
  setsid timeout --kill-after=10 $((RUNTIME + RAMP + 120)) "$FIO" --output-format=json --output="$out" \
    --ioengine=nfs --nfs_url="${URL[$server]}" --filename=bench.bin --size="$FILE_SIZE" --name="$name" "$@" &
  CUR_FIO=$!
  wait "$CUR_FIO"; rc=$?
  CUR_FIO=""
  set -e
  after=$(cpu_ticks "${PID[$server]}")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$server" "$rep" "$rc" "$((after - before))" "$out" >>"$POINTS"
  [ "$rc" = 0 ] || log "fio $name on $server exited $rc (see $out)"
}

# ---------------------------------------------------------------- lay out the files
for s in "${SERVERS[@]}"; do
  log "laying out $FILE_SIZE on $s"
  run_fio "$s" layout 0 --rw=write --bs=1m --iodepth=1
done

WORKLOADS=(
  "randread-4k-qd32|--rw=randread --bs=4k --iodepth=32"
  "randwrite-4k-qd32|--rw=randwrite --bs=4k --iodepth=32"
  "read-1m-qd$SEQ_QD|--rw=read --bs=1m --iodepth=$SEQ_QD"
  "write-1m-qd$SEQ_QD|--rw=write --bs=1m --iodepth=$SEQ_QD"
)
for w in "${WORKLOADS[@]}"; do
  name=${w%%|*}; args=${w#*|}
  for rep in $(seq 1 "$REPEAT"); do
    for s in "${SERVERS[@]}"; do
      log "$name on $s ($rep/$REPEAT)"
      # shellcheck disable=SC2086
      run_fio "$s" "$name" "$rep" $args --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" --randrepeat=0
    done
  done
done

cat >"$RESULTS/meta.txt" <<EOF
commit $COMMIT; $(nproc) cores; runtime ${RUNTIME}s, ramp ${RAMP}s, repeat $REPEAT, file $FILE_SIZE
ganesha $(ganesha.nfsd -v 2>&1 | head -1 | sed 's/.*= //'), VFS FSAL; ours: the appliance (out/appliance run: storage engine vDisks, SQLite namespace), binary $APPLIANCE_SRC built $(date -r "$APPLIANCE_SRC" -Is)
load average at start: $LOAD_AT_START
fio $("$FIO" --version)
EOF
python3 "$SCRIPT_DIR/summarize.py" --points "$POINTS" --clk-tck "$CLK_TCK" --runtime "$RUNTIME" --markdown "$RESULTS/summary.md" --meta "$RESULTS/meta.txt"
log "results in $RESULTS"

#!/usr/bin/env python3
"""make bench: the appliance against its peers, side by side, in one run.

iSCSI: the appliance against tgtd; NFS: the appliance against nfs-ganesha (VFS FSAL). Same machine, same
file system under every backing store, same client (fio's libiscsi and nfs engines), one run, servers
alternated point by point so each ratio is measured pair by pair. For each point: IOPS, MB/s, latency
percentiles (p50/p99/p99.9) and the CPU seconds the server process used in the measured window (from
/proc), hence IOPS per CPU-second. Also the protocol cost alone (a vDisk without storage against tgt's
null backing store), the appliance with its write cache off (WCE=0), and the BenchmarkDotNet
micro-benchmarks. Writes bench/results/<date>-<commit>/ with report.md, PNG charts (gnuplot), raw fio
JSON and server logs, and prints the tables.

Environment:
  QUICK=1          smoke run (< 5 min): 2 s points, one repetition, a reduced matrix, micro-benchmarks dry
  RUNTIME=8 RAMP=2 REPEAT=2   seconds measured per point, ramp before it, repetitions per server and point
  SIZE=2GiB        LUN and file size         SERVERS=app-iscsi,tgt,app-nfs,ganesha  (a subset to run)
  FIO=/var/cache/storage-appliance/fio/fio   APPLIANCE=<repo>/out/appliance
  BENCH_TMP=/tmp   where every server keeps its data (one file system for all)
  RESULTS=<repo>/bench/results/<date>-<commit>   KEEP=1 keeps the scratch folder   MICRO=0 skips BenchmarkDotNet
"""

import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = os.environ.get("QUICK", "0") == "1"
RUNTIME = int(os.environ.get("RUNTIME", "2" if QUICK else "8"))
RAMP = int(os.environ.get("RAMP", "1" if QUICK else "2"))
REPEAT = int(os.environ.get("REPEAT", "1" if QUICK else "2"))
SIZE = os.environ.get("SIZE", "1GiB" if QUICK else "2GiB")
FIO = os.environ.get("FIO", "/var/cache/storage-appliance/fio/fio")
APPLIANCE = os.environ.get("APPLIANCE", os.path.join(REPO, "out", "appliance"))
BENCH_TMP = os.environ.get("BENCH_TMP", os.environ.get("TMPDIR", "/tmp"))
MICRO = os.environ.get("MICRO", "1") == "1"
CLK_TCK = os.sysconf("SC_CLK_TCK")

APP_IQN = "iqn.2026-11.io.storageappliance:bench"
TGT_IQN = "iqn.2026-11.org.tgt:bench"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def to_bytes(text):
    m = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)(i?b)?\s*", text, re.I)
    if not m:
        sys.exit(f"not a size: {text}")
    return int(m.group(1)) * 1024 ** " kmgt".index((m.group(2) or " ").lower())


SIZE_BYTES = to_bytes(SIZE)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, name, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited ({proc.returncode}) before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{name} does not accept connections on 127.0.0.1:{port} after {timeout} s")


def cpu_ticks(pid):
    """utime + stime of a process and all its threads, in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


# ------------------------------------------------------------------------------------------- workloads
# Load only: no point verifies data. fio's nfs engine (3.33 over libnfs 4.0.0) at a depth above 1 ends each
# job with requests in flight that libnfs fails at unmount ("Failed NFS operation(code:-14)", err=0 all the
# same; against ganesha as against us), so fio must not verify data written at depth; the integrity tests
# use depth 1 or clients that keep every request (tests/Integration.Tests/NfsIntegrityTests.cs).
# name, rw, bs, iodepth, numjobs, extra fio args, in QUICK
WORKLOADS = [
    ("4k-randread-qd1", "randread", "4k", 1, 1, [], False),
    ("4k-randread-qd32", "randread", "4k", 32, 1, [], True),
    ("4k-randwrite-qd1", "randwrite", "4k", 1, 1, [], False),
    ("4k-randwrite-qd32", "randwrite", "4k", 32, 1, [], True),
    ("4k-randrw70-qd1", "randrw", "4k", 1, 1, ["--rwmixread=70"], False),
    ("4k-randrw70-qd32", "randrw", "4k", 32, 1, ["--rwmixread=70"], True),
    ("64k-randread-qd16", "randread", "64k", 16, 1, [], False),
    ("64k-randwrite-qd16", "randwrite", "64k", 16, 1, [], False),
    ("1m-read-qd8", "read", "1m", 8, 1, [], True),
    ("1m-write-qd8", "write", "1m", 8, 1, [], True),
    ("4k-randwrite-qd8-jobs1", "randwrite", "4k", 8, 1, [], True),
    ("4k-randwrite-qd8-jobs2", "randwrite", "4k", 8, 2, [], False),
    ("4k-randwrite-qd8-jobs4", "randwrite", "4k", 8, 4, [], False),
    ("4k-randwrite-qd8-jobs8", "randwrite", "4k", 8, 8, [], True),
]
NULL_WORKLOADS = [w for w in WORKLOADS if w[0] in ("4k-randread-qd32", "4k-randwrite-qd32")]
WCE0_WORKLOADS = [w for w in WORKLOADS if w[0] in ("4k-randwrite-qd32",)]


class Server:
    """One thing fio talks to: a LUN or an NFS file of a server process."""

    def __init__(self, name, label, protocol, proc_name, target):
        self.name, self.label, self.protocol, self.proc_name, self.target = name, label, protocol, proc_name, target

    def fio_args(self):
        if self.protocol == "iscsi":
            return ["--ioengine=libiscsi", "--filename=" + self.target.replace(":", "\\:")]
        return ["--ioengine=nfs", "--nfs_url=" + self.target, "--filename=bench.bin"]


class Bench:
    def __init__(self):
        self.procs = {}
        self.logs = {}
        self.work = tempfile.mkdtemp(prefix="sa-bench.", dir=BENCH_TMP)
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "nogit"
        self.commit = commit
        self.results = os.environ.get("RESULTS") or os.path.join(
            REPO, "bench", "results", f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{commit}" + ("-quick" if QUICK else ""))
        os.makedirs(os.path.join(self.results, "raw"), exist_ok=True)
        self.points = []
        self.tgt_ctl = None
        self.servers = {}
        self.notes = []

    # ------------------------------------------------------------------------------ servers
    def start(self, name, args, log_name, **kw):
        path = os.path.join(self.work, log_name)
        f = open(path, "ab")
        proc = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        self.procs[name] = proc
        self.logs[name] = path
        return proc

    def start_appliance(self):
        # Run from a private copy: someone may republish out/ while the benchmark runs.
        bindir = os.path.join(self.work, "appliance-bin")
        shutil.copytree(os.path.dirname(APPLIANCE), bindir)
        exe = os.path.join(bindir, os.path.basename(APPLIANCE))
        iscsi, nfs, mnt = free_port(), free_port(), free_port()
        data = os.path.join(self.work, "appliance-data")
        config = f"""# Written by bench/run.py: the same sizes and write cache (on) as the peers.
appliance:
  name: bench
  data_dir: {data}
iscsi:
  listen: ["127.0.0.1:{iscsi}"]
  nop_in_interval: 0
nfs:
  listen: ["127.0.0.1:{nfs}"]
  mount_port: {mnt}
  portmapper: "off"
containers:
  - name: default
vdisks:
  - {{name: bench, container: default, size: {SIZE_BYTES}, write_cache: true}}
  - {{name: null0, container: default, size: {SIZE_BYTES}, backing: none}}
  - {{name: bench-wce0, container: default, size: {SIZE_BYTES}, write_cache: false}}
targets:
  - name: {APP_IQN}
    luns:
      - {{lun: 0, vdisk: bench}}
      - {{lun: 1, vdisk: null0}}
      - {{lun: 2, vdisk: bench-wce0}}
exports:
  - path: /bench
    container: default
"""
        cfg = os.path.join(self.work, "appliance.yaml")
        with open(cfg, "w") as f:
            f.write(config)
        shutil.copy(cfg, os.path.join(self.results, "appliance.yaml"))
        proc = self.start("appliance", [exe, "run", "--config", cfg], "appliance.log", cwd=self.work)
        wait_port(iscsi, proc, "appliance")
        base = f"iscsi://127.0.0.1:{iscsi}/{APP_IQN}"
        self.servers["app-iscsi"] = Server("app-iscsi", "appliance", "iscsi", "appliance", base + "/0")
        self.servers["app-null"] = Server("app-null", "appliance, no storage", "iscsi", "appliance", base + "/1")
        self.servers["app-wce0"] = Server("app-wce0", "appliance, WCE=0", "iscsi", "appliance", base + "/2")
        try:
            wait_port(nfs, proc, "appliance NFS", timeout=10)
            self.servers["app-nfs"] = Server("app-nfs", "appliance", "nfs", "appliance",
                                             f"nfs://127.0.0.1/bench?nfsport={nfs}&mountport={mnt}")
        except RuntimeError as e:
            self.notes.append(f"the appliance serves no NFS here ({e}): NFS points skipped")
            log(self.notes[-1])

    def start_tgt(self):
        port = free_port()
        for _ in range(50):
            n = 1000 + int.from_bytes(os.urandom(2), "big") % 9000  # tgtd refuses larger control ports
            if not os.path.exists(f"/var/run/tgtd/socket.{n}") and not os.path.exists(f"/var/run/tgtd/socket.{n}.lock"):
                self.tgt_ctl = n
                break
        img = os.path.join(self.work, "tgt-lun.img")
        subprocess.run(["fallocate", "-l", str(SIZE_BYTES), img], check=True)
        proc = self.start("tgt", ["tgtd", "-f", "--iscsi", f"portal=127.0.0.1:{port}", "-C", str(self.tgt_ctl)], "tgtd.log")
        wait_port(port, proc, "tgtd")

        def adm(*args):
            subprocess.run(["tgtadm", "--lld", "iscsi", "-C", str(self.tgt_ctl), *args], check=True, capture_output=True)
        adm("--op", "new", "--mode", "target", "--tid", "1", "-T", TGT_IQN)
        adm("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", img)
        adm("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "--bstype", "null", "-b", "nullb")
        adm("--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL")
        show = subprocess.run(["tgtadm", "--lld", "iscsi", "-C", str(self.tgt_ctl), "--op", "show", "--mode", "target"],
                              capture_output=True, text=True).stdout
        with open(os.path.join(self.results, "tgt-target.txt"), "w") as f:
            f.write(show)
        base = f"iscsi://127.0.0.1:{port}/{TGT_IQN}"
        self.servers["tgt"] = Server("tgt", "tgt", "iscsi", "tgt", base + "/1")
        self.servers["tgt-null"] = Server("tgt-null", "tgt, null backing store", "iscsi", "tgt", base + "/2")

    def start_ganesha(self):
        try:
            socket.create_connection(("127.0.0.1", 111), 0.5).close()
        except OSError:
            log("starting rpcbind (ganesha registers with it)")
            # In the foreground (-f), so this run holds its PID and stops that one process, never another
            # rpcbind on the machine.
            proc = self.start("rpcbind", ["rpcbind", "-f", "-w"], "rpcbind.log")
            wait_port(111, proc, "rpcbind", timeout=10)
        nfs, mnt = free_port(), free_port()
        export = os.path.join(self.work, "ganesha-export")
        os.makedirs(export)
        conf = os.path.join(self.work, "ganesha.conf")
        with open(conf, "w") as f:
            f.write(f"""# Written by bench/run.py: NFSv3 over TCP on loopback, VFS FSAL.
NFS_CORE_PARAM {{
  NFS_Port = {nfs};
  MNT_Port = {mnt};
  Bind_addr = 127.0.0.1;
  Protocols = 3;
  Enable_NLM = false;
  Enable_RQUOTA = false;
}}
NFSV4 {{ Graceless = true; }}
NFS_KRB5 {{ Active_krb5 = false; }}
EXPORT {{
  Export_Id = 1;
  Path = {export};
  Pseudo = /bench;
  Access_Type = RW;
  Squash = No_Root_Squash;
  Protocols = 3;
  Transports = TCP;
  SecType = sys;
  FSAL {{ Name = VFS; }}
}}
LOG {{ Default_Log_Level = EVENT; }}
""")
        shutil.copy(conf, os.path.join(self.results, "ganesha.conf"))
        proc = self.start("ganesha", ["ganesha.nfsd", "-F", "-f", conf, "-L", os.path.join(self.work, "ganesha.log"),
                                      "-p", os.path.join(self.work, "ganesha.pid")], "ganesha.out")
        wait_port(nfs, proc, "ganesha")
        wait_port(mnt, proc, "ganesha")
        self.servers["ganesha"] = Server("ganesha", "ganesha", "nfs", "ganesha",
                                         f"nfs://127.0.0.1{export}?nfsport={nfs}&mountport={mnt}")

    def stop_all(self):
        # rpcbind last: ganesha unregisters from it as it stops.
        for name, proc in sorted(self.procs.items(), key=lambda item: item[0] == "rpcbind"):
            if proc.poll() is None:
                # tgtd ignores SIGTERM; the others stop cleanly on it.
                proc.send_signal(signal.SIGKILL if name == "tgt" else signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    log(f"{name} did not stop in 20 s: SIGKILL")
                    proc.kill()
                    proc.wait()
        if self.tgt_ctl is not None:
            for suffix in ("", ".lock"):
                try:
                    os.remove(f"/var/run/tgtd/socket.{self.tgt_ctl}{suffix}")
                except OSError:
                    pass
        for path in list(self.logs.values()) + [os.path.join(self.work, "ganesha.log")]:
            if os.path.exists(path):
                shutil.copy(path, os.path.join(self.results, os.path.basename(path)))
        if os.environ.get("KEEP") == "1":
            log(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    # ------------------------------------------------------------------------------ fio
    def fio(self, server, name, rep, rw, bs, qd, jobs, extra, timed):
        out = os.path.join(self.results, "raw", f"{name}-{server.name}-r{rep}.json")
        args = [FIO, f"--name={name}", *server.fio_args(), f"--rw={rw}", f"--bs={bs}", f"--iodepth={qd}",
                f"--numjobs={jobs}", "--group_reporting", f"--size={SIZE_BYTES}", "--output-format=json",
                f"--output={out}", *extra]
        if timed:
            args += ["--time_based", f"--runtime={RUNTIME}", f"--ramp_time={RAMP}", "--norandommap", "--randrepeat=0"]
        proc = self.procs[server.proc_name]
        if proc.poll() is not None:
            self.points.append(dict(workload=name, server=server.name, rep=rep, rc="dead", json=None, cpu=None))
            return
        limit = RAMP + RUNTIME + 60 if timed else SIZE_BYTES // 5_000_000 + 120
        fio = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(out + ".log", "w"), start_new_session=True)
        if timed:
            time.sleep(RAMP)  # CPU is counted over the measured window only
        c0 = cpu_ticks(proc.pid)
        try:
            rc = fio.wait(limit)
        except subprocess.TimeoutExpired:
            os.killpg(fio.pid, signal.SIGKILL)
            fio.wait()
            rc = "timeout"
        c1 = cpu_ticks(proc.pid)
        if proc.poll() is not None:
            rc = f"{server.proc_name} died"
            log(f"{server.proc_name} DIED during {name} (exit {proc.returncode})")
        if rc != 0:
            with open(out + ".log") as f:
                log(f"fio {name} on {server.name} failed ({rc}): {f.read()[-400:]}")
        cpu = (c1 - c0) / CLK_TCK if c0 is not None and c1 is not None else None
        self.points.append(dict(workload=name, server=server.name, rep=rep, rc=rc, json=out if rc == 0 else None, cpu=cpu))

    # ------------------------------------------------------------------------------ the run
    def run(self):
        wanted = set(os.environ.get("SERVERS", "app-iscsi,tgt,app-nfs,ganesha").split(","))
        self.start_appliance()
        if "tgt" in wanted:
            self.start_tgt()
        if "ganesha" in wanted:
            self.start_ganesha()
        pairs = []  # (table, [servers in alternation order], workloads)
        workloads = [w for w in WORKLOADS if w[6] or not QUICK]
        # Each point's server, and the server of SERVERS= it belongs to.
        needs = {"app-iscsi": "app-iscsi", "tgt": "tgt", "app-nfs": "app-nfs", "ganesha": "ganesha",
                 "app-null": "app-iscsi", "tgt-null": "tgt", "app-wce0": "app-iscsi"}
        present = lambda names: [self.servers[n] for n in names if n in self.servers and needs[n] in wanted]
        one = lambda n: (present([n]) or [None])[0]
        pairs.append(("iscsi", one("app-iscsi"), one("tgt"), workloads))
        pairs.append(("nfs", one("app-nfs"), one("ganesha"), workloads))
        pairs.append(("null", one("app-null"), one("tgt-null"), NULL_WORKLOADS))
        pairs.append(("wce0", one("app-wce0"), None, WCE0_WORKLOADS))
        self.write_meta()

        for table, ours, peer, _ in pairs:
            for s in (ours, peer):
                if s is None:
                    continue
                if s.name in ("app-null", "tgt-null"):
                    continue
                log(f"prefill: one sequential 1 MiB pass over {SIZE} of {s.name}")
                self.fio(s, "prefill", 0, "write", "1m", 8, 1, [], False)
        total = sum(((ours is not None) + (peer is not None)) * len(ws) for _, ours, peer, ws in pairs) * REPEAT
        i = 0
        for table, ours, peer, ws in pairs:
            servers = [x for x in (ours, peer) if x is not None]
            for (name, rw, bs, qd, jobs, extra, _) in ws:
                for rep in range(1, REPEAT + 1):
                    for s in servers:
                        i += 1
                        log(f"[{i}/{total}] {name} on {s.name} (rep {rep}, {RUNTIME} s)")
                        subprocess.run(["sync"], check=False)
                        self.fio(s, name, rep, rw, bs, qd, jobs, extra, True)
        return pairs

    def write_meta(self):
        def out(cmd):
            try:
                return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
            except Exception:  # noqa: BLE001 - informational only
                return "?"
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        df = subprocess.run(["df", "-PT", self.work], capture_output=True, text=True).stdout.splitlines()[-1].split()
        self.meta = [
            f"date: {datetime.datetime.now().isoformat(timespec='seconds')}",
            f"commit: {self.commit}" + (" (with uncommitted changes under src/)" if subprocess.run(
                ["git", "-C", REPO, "status", "--porcelain", "--", "src"], capture_output=True, text=True).stdout.strip() else ""),
            f"machine: {os.cpu_count()} cores ({cpu}); load average at start {open('/proc/loadavg').read().split()[:3]}",
            f"one file system under every server: {df[0]} ({df[1]}) at {df[6]}",
            f"points: {RUNTIME} s measured after {RAMP} s ramp, {REPEAT} repetition(s), servers alternated; LUN/file size {SIZE}",
            f"fio: {out([FIO, '--version'])}; tgtd: {out(['tgtd', '-V'])}; ganesha: {out(['ganesha.nfsd', '-v'])}",
            "write caches: appliance WCE=1 (as tgt's and ganesha's page cache) except the WCE=0 row; tgt keeps its default login keys",
        ]


# ------------------------------------------------------------------------------------------- report
def parse(path):
    with open(path) as f:
        text = f.read()
    text = text[text.index("{"):]  # fio may print notes before the JSON
    job = json.loads(text)["jobs"][0]
    r, w = job["read"], job["write"]
    iops = r["iops"] + w["iops"]
    bw = r["bw_bytes"] + w["bw_bytes"]
    # Latency of the main direction: reads for read and mixed workloads, writes for write workloads.
    side = r if r["iops"] >= w["iops"] else w
    pct = side["clat_ns"].get("percentile", {})
    def p(k):
        return pct.get(k, 0) / 1e6
    return dict(iops=iops, mbs=bw / 1e6, p50=p("50.000000"), p99=p("99.000000"), p999=p("99.900000"))


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(points, pairs):
    rows = {}
    for pt in points:
        if pt["workload"] == "prefill":
            continue
        key = (pt["workload"], pt["server"])
        rows.setdefault(key, [])
        if pt["json"]:
            m = parse(pt["json"])
            m["cpu"] = pt["cpu"]
            m["rep"] = pt["rep"]
            rows[key].append(m)
    tables = []
    chart_data = {}
    labels = {"iscsi": ("appliance", "tgt"), "nfs": ("appliance", "ganesha"), "null": ("appliance, no storage", "tgt, null backing store"),
              "wce0": ("appliance, WCE=0", None)}
    for table, ours_name, peer_name, wnames in pairs:
        if ours_name is None and peer_name is None:
            continue
        ws = [w for w in WORKLOADS if w[0] in wnames]
        # A missing server still gets its columns (shown as "–"), so every report has the same shape.
        ours = Server(ours_name or table + "-ours", labels[table][0], "", "", "")
        peer = Server(peer_name or table + "-peer", labels[table][1], "", "", "") if labels[table][1] else None
        head = f"| workload | {ours.label} IOPS | " + (f"{peer.label} IOPS | ratio | " if peer else "") + \
            "MB/s (" + ours.label + (" / " + peer.label if peer else "") + ") | p50 / p99 / p99.9 ms " + ours.label + \
            (" | p50 / p99 / p99.9 ms " + peer.label if peer else "") + " | CPU s " + ("(ours / peer) | IOPS per CPU-s (ours / peer) |" if peer else "| IOPS per CPU-s |")
        lines = [head, "|" + "---|" * (head.count("|") - 1)]
        for (name, *_rest) in ws:
            a = rows.get((name, ours.name), [])
            b = rows.get((name, peer.name), []) if peer else []
            if not a and not b:
                continue
            def med(ms, k):
                return median([m[k] for m in ms])
            def eff(ms):
                vals = [m["iops"] * RUNTIME / m["cpu"] for m in ms if m["cpu"]]
                return median(vals)
            ratio = None
            if peer:
                byrep = {m["rep"]: m["iops"] for m in b}
                ratios = [m["iops"] / byrep[m["rep"]] for m in a if byrep.get(m["rep"])]
                ratio = median(ratios)
            fmt = lambda v, f="{:,.0f}": "–" if v is None else f.format(v)
            lat = lambda ms: "–" if not ms else f"{med(ms, 'p50'):.2f} / {med(ms, 'p99'):.2f} / {med(ms, 'p999'):.2f}"
            cells = [name, fmt(med(a, "iops"))]
            if peer:
                cells += [fmt(med(b, "iops")), fmt(ratio, "{:.2f}x")]
            cells.append(fmt(med(a, "mbs"), "{:,.1f}") + (" / " + fmt(med(b, "mbs"), "{:,.1f}") if peer else ""))
            cells.append(lat(a))
            if peer:
                cells.append(lat(b))
            cells.append(fmt(med(a, "cpu"), "{:.1f}") + (" / " + fmt(med(b, "cpu"), "{:.1f}") if peer else ""))
            cells.append(fmt(eff(a)) + (" / " + fmt(eff(b)) if peer else ""))
            lines.append("| " + " | ".join(cells) + " |")
            chart_data.setdefault(table, []).append((name, med(a, "iops") or 0, (med(b, "iops") or 0) if peer else None,
                                                      med(a, "p99"), med(b, "p99") if peer else None))
        title = {"iscsi": f"iSCSI: {ours.label} / {peer.label if peer else ''}",
                 "nfs": f"NFSv3: {ours.label} / {peer.label if peer else ''}",
                 "null": "Protocol cost alone: no storage behind the LUN",
                 "wce0": "The appliance with its write cache off (WCE=0: every write durable before its ack; the peers keep theirs on)"}[table]
        tables.append((table, title, lines, ours, peer))
    return tables, chart_data


def charts(results, chart_data):
    if not shutil.which("gnuplot"):
        return []
    made = []
    for table, data in chart_data.items():
        if table not in ("iscsi", "nfs") or not data:
            continue
        dat = os.path.join(results, f"{table}-iops.dat")
        peer = data[0][2] is not None
        with open(dat, "w") as f:
            for name, a, b, *_ in data:
                f.write(f"{name} {a:.0f} {b or 0:.0f}\n")
        png = f"{table}-iops.png"
        peer_label = "tgt" if table == "iscsi" else "ganesha"
        script = f"""set terminal pngcairo size 1200,520 font ',10'
set output '{os.path.join(results, png)}'
set title '{'iSCSI' if table == 'iscsi' else 'NFSv3'}: IOPS by workload (fio, medians; higher is better)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30 scale 0
set logscale y
set ylabel 'IOPS (log scale)'
set grid ytics
set key top right
plot '{dat}' using 2:xtic(1) title 'appliance'{f", '' using 3 title '{peer_label}'" if peer else ''}
"""
        if subprocess.run(["gnuplot"], input=script, text=True, capture_output=True).returncode == 0:
            made.append(png)
        # Latency against queue depth: 4 KiB random read and write at QD1, QD8 (one job) and QD32.
        qd_rows = []
        for wl, qd in (("4k-randread-qd1", 1), ("4k-randread-qd32", 32)):
            for d in data:
                if d[0] == wl:
                    qd_rows.append(("read", qd, d[3], d[4]))
        for wl, qd in (("4k-randwrite-qd1", 1), ("4k-randwrite-qd8-jobs1", 8), ("4k-randwrite-qd32", 32)):
            for d in data:
                if d[0] == wl:
                    qd_rows.append(("write", qd, d[3], d[4]))
        if len(qd_rows) >= 2:
            lat = os.path.join(results, f"{table}-latency.dat")
            with open(lat, "w") as f:
                for kind in ("read", "write"):
                    for k, qd, a, b in qd_rows:
                        if k == kind:
                            f.write(f"{qd} {a or 0:.3f} {b or 0:.3f}\n")
                    f.write("\n\n")
            png2 = f"{table}-latency.png"
            script = f"""set terminal pngcairo size 900,480 font ',10'
set output '{os.path.join(results, png2)}'
set title '{'iSCSI' if table == 'iscsi' else 'NFSv3'}: 4 KiB p99 latency against queue depth (lower is better)'
set logscale x 2
set xlabel 'queue depth'
set ylabel 'p99 completion latency (ms)'
set grid
set key top left
plot '{lat}' index 0 using 1:2 with linespoints title 'appliance read', \\
     '{lat}' index 0 using 1:3 with linespoints title '{peer_label} read', \\
     '{lat}' index 1 using 1:2 with linespoints title 'appliance write', \\
     '{lat}' index 1 using 1:3 with linespoints title '{peer_label} write'
"""
            if subprocess.run(["gnuplot"], input=script, text=True, capture_output=True).returncode == 0:
                made.append(png2)
    return made


def micro(results):
    """BenchmarkDotNet micro-benchmarks; returns their GitHub-markdown tables."""
    art = os.path.join(results, "micro")
    job = "dry" if QUICK else "short"
    tables = []
    for project in ("bench/Micro", "bench/Micro.Metadata"):
        log(f"BenchmarkDotNet: {project} (--job {job})")
        r = subprocess.run(["dotnet", "run", "-c", "Release", "--project", os.path.join(REPO, project), "--",
                            "--job", job, "--filter", "*", "--exporters", "github", "--artifacts", art],
                           capture_output=True, text=True, cwd=REPO, timeout=1200)
        if r.returncode != 0:
            tables.append(f"{project}: BenchmarkDotNet failed (exit {r.returncode}): {r.stderr[-300:]}")
    # Keep the GitHub-markdown tables; BenchmarkDotNet's HTML, CSV and build logs are not results.
    for root, _dirs, files in os.walk(art):
        for name in files:
            if not name.endswith("-report-github.md"):
                os.remove(os.path.join(root, name))
    rdir = os.path.join(art, "results")
    if os.path.isdir(rdir):
        for name in sorted(os.listdir(rdir)):
            if name.endswith("-report-github.md"):
                with open(os.path.join(rdir, name)) as f:
                    body = f.read()
                # GitHub-flavoured as BenchmarkDotNet writes it, minus its bold first column and HTML quotes.
                table = "\n".join(l.replace("**", "").replace("&#39;", "'") for l in body.splitlines() if l.startswith("|"))
                tables.append(f"**{name.replace('-report-github.md', '').split('.')[-1]}**\n\n{table}")
    return tables


def goals(tables):
    """The goals of the bench issue, checked against the medians."""
    out = []
    def row(table, wl):
        for t, _title, lines, *_ in tables:
            if t == table:
                for l in lines[2:]:
                    cells = [c.strip() for c in l.strip("|").split("|")]
                    if cells[0] == wl:
                        return cells
        return None
    for table, peer in (("iscsi", "tgt"), ("nfs", "ganesha")):
        for wl, goal in (("4k-randread-qd32", 1.5), ("4k-randwrite-qd32", 1.5), ("1m-read-qd8", 1.0), ("1m-write-qd8", 1.0)):
            c = row(table, wl)
            if not c or c[3] in ("–", "") or not c[3].endswith("x"):
                out.append(f"- {table} {wl} against {peer}: not measured")
                continue
            ratio = float(c[3].rstrip("x"))
            verdict = "met" if ratio >= goal else f"NOT met: {ratio / goal * 100:.0f}% of the goal, {goal - ratio:.2f}x short"
            out.append(f"- {table} {wl}: {ratio:.2f}x {peer} (goal {goal}x): {verdict}")
    return out


def report(results):
    """Builds report.md (tables, goals, charts, micro-benchmarks) from the run.json of a run."""
    with open(os.path.join(results, "run.json")) as f:
        run = json.load(f)
    for pt in run["points"]:
        if pt["json"] and not os.path.isabs(pt["json"]):
            pt["json"] = os.path.join(results, pt["json"])
    tables, chart_data = summarize(run["points"], run["pairs"])
    pngs = charts(results, chart_data)
    failed = [p for p in run["points"] if p["rc"] != 0]
    md = [f"# Benchmark {os.path.basename(results)}", "", *[f"- {m}" for m in run["meta"]], ""]
    md += [f"- note: {n}" for n in run["notes"]]
    md += ["", "Medians over the repetitions; the ratio is the median of the per-repetition ratios (servers alternate, so",
           "each pair ran back to back). CPU s: CPU seconds the server process used during the measured seconds.",
           "Latency: completion latency of reads (read and mixed workloads) or writes (write workloads).", ""]
    md += ["## Goals (appliance against each peer)", "", *goals(tables), ""]
    for table, title, lines, _ours, _peer in tables:
        md += [f"## {title}", "", *lines, ""]
    for png in pngs:
        md += [f"![{png}]({png})", ""]
    md += ["## Micro-benchmarks (BenchmarkDotNet, MemoryDiagnoser)", ""]
    for t in run["micro"]:
        md += [t.replace("**", "").replace("&#39;", "'"), ""]
    if failed:
        md += ["## Points that failed", ""] + [f"- {p['workload']} on {p['server']} rep {p['rep']}: {p['rc']}" for p in failed] + [""]
    path = os.path.join(results, "report.md")
    with open(path, "w") as f:
        f.write("\n".join(md))
    return path, md


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--report":
        path, md = report(os.path.abspath(sys.argv[2]))
        print("\n".join(md))
        return
    for tool in (FIO, APPLIANCE):
        if not os.access(tool, os.X_OK):
            sys.exit(f"bench: {tool} is missing (make bench installs and builds it)")
    bench = Bench()
    try:
        pairs = bench.run()
    finally:
        bench.stop_all()
    for pt in bench.points:
        if pt["json"]:
            pt["json"] = os.path.relpath(pt["json"], bench.results)
    run = dict(meta=bench.meta, notes=bench.notes, points=bench.points,
               pairs=[(t, o.name if o else None, p.name if p else None, [w[0] for w in ws]) for t, o, p, ws in pairs],
               micro=micro(bench.results) if MICRO else ["skipped (MICRO=0)"])
    with open(os.path.join(bench.results, "run.json"), "w") as f:
        json.dump(run, f, indent=1)
    path, md = report(bench.results)
    print("\n".join(md))
    log(f"report: {path}")


if __name__ == "__main__":
    main()

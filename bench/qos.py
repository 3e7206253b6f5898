#!/usr/bin/env python3
"""bench/qos.py: the I/O Director's QoS on one appliance, in one run (seed 003, FIG. 5).

Two vDisks on one appliance, both iSCSI LUNs, driven by fio's libiscsi engine:
  A: high priority, QD4 4 KiB random read/write (70% reads), the latency-sensitive VM
  B: low priority, QD64 64 KiB random writes, the flooding VM
Phases, each RUNTIME seconds after RAMP:
  1. A alone                            A's IOPS and p99
  2. A with B flooding (A high, B low)  A's IOPS and p99 again: goal >= 90% of solo IOPS, p99 <= 2x solo
  3. equal class, weights 3:1, both flooding at QD32 4 KiB: the IOPS split (goal within 5% of 3:1)
  4. a 1,000 IOPS limit on B (B flooding as in 2, in A's class with weight 4 against A's 1, so that its
     share alone would let it go well past 1,000): B's IOPS (goal within 5% of 1,000)
Policies change at run time with `appliance vdisk qos`, as an operator would.

Environment: RUNTIME=5 RAMP=1 REPEAT=5 SIZE=1GiB FIO=... APPLIANCE=<repo>/out/appliance BENCH_TMP=/tmp KEEP=1
             DIRECTOR="enforce_shares: always, low_min_share: 5%" (a director section for the config, to compare settings)
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import free_port, wait_port  # noqa: E402  (shared with make bench)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME = int(os.environ.get("RUNTIME", "5"))
RAMP = int(os.environ.get("RAMP", "1"))
REPEAT = int(os.environ.get("REPEAT", "5"))
SIZE = os.environ.get("SIZE", "1GiB")
FIO = os.environ.get("FIO", "/var/cache/storage-appliance/fio/fio")
APPLIANCE = os.environ.get("APPLIANCE", os.path.join(REPO, "out", "appliance"))
BENCH_TMP = os.environ.get("BENCH_TMP", os.environ.get("TMPDIR", "/tmp"))
IQN = "iqn.2026-12.io.storageappliance:qos"


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def cpu_times():
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:]]


def steal(before, after):
    """The share of CPU time the hypervisor took from this machine between two samples, in percent."""
    d = [a - b for a, b in zip(after, before)]
    total = sum(d[:8])
    return 100.0 * d[7] / total if total and len(d) > 7 else 0.0


def log(msg):
    print(f"[qos {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def director_section():
    d = os.environ.get("DIRECTOR", "").strip()
    return f"director: {{{d}}}\n" if d else ""


class Appliance:
    def __init__(self, work):
        # Run from a private copy: someone may republish out/ while this runs.
        bindir = os.path.join(work, "bin")
        shutil.copytree(os.path.dirname(APPLIANCE), bindir)
        self.exe = os.path.join(bindir, os.path.basename(APPLIANCE))
        self.data = os.path.join(work, "data")
        self.port = free_port()
        cfg = os.path.join(work, "appliance.yaml")
        with open(cfg, "w") as f:
            f.write(f"""# Written by bench/qos.py
appliance:
  name: qos
  data_dir: {self.data}
iscsi:
  listen: ["127.0.0.1:{self.port}"]
  nop_in_interval: 0
containers:
  - name: default
vdisks:
  - {{name: a, container: default, size: {SIZE}}}
  - {{name: b, container: default, size: {SIZE}}}
{director_section()}targets:
  - name: {IQN}
    luns:
      - {{lun: 0, vdisk: a}}
      - {{lun: 1, vdisk: b}}
""")
        self.log = open(os.path.join(work, "appliance.log"), "w")
        self.proc = subprocess.Popen([self.exe, "run", "--config", cfg], stdout=self.log, stderr=subprocess.STDOUT, cwd=work)
        wait_port(self.port, self.proc, "the appliance")

    def cli(self, *args):
        r = subprocess.run([self.exe, *args, "--data-dir", self.data], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"appliance {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def qos(self, vdisk, *args):
        log(self.cli("vdisk", "qos", vdisk, *args).strip())

    def url(self, lun):
        return f"iscsi://127.0.0.1:{self.port}/{IQN}/{lun}".replace(":", "\\:")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def fio(app, lun, name, rw, bs, qd, extra=()):
    return subprocess.Popen([
        FIO, f"--name={name}", "--ioengine=libiscsi", f"--filename={app.url(lun)}", f"--initiator=iqn.2026-12.bench:{name}",
        f"--rw={rw}", f"--bs={bs}", f"--iodepth={qd}", f"--size={SIZE}", "--time_based", f"--runtime={RUNTIME}",
        f"--ramp_time={RAMP}", "--randrepeat=0", "--norandommap", "--output-format=json", *extra,
    ], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(proc):
    out, err = proc.communicate(timeout=RUNTIME + RAMP + 60)
    if proc.returncode != 0:
        raise RuntimeError(f"fio failed: {err.strip()}")
    job = json.loads(out[out.index("{"):])["jobs"][0]
    iops = job["read"]["iops"] + job["write"]["iops"]
    p99 = 0.0
    for d in ("read", "write"):
        pct = job[d].get("clat_ns", {}).get("percentile", {})
        if job[d]["total_ios"] > 0 and "99.000000" in pct:
            p99 = max(p99, pct["99.000000"] / 1000.0)
    return iops, p99


A_JOB = ("randrw", "4k", 4, ["--rwmixread=70"])
B_JOB = ("randwrite", "64k", 64, [])


def run_a(app, with_b):
    b = fio(app, 1, "b", *B_JOB[:3], B_JOB[3]) if with_b else None
    a = fio(app, 0, "a", *A_JOB[:3], A_JOB[3])
    ra = result(a)
    rb = result(b) if b else None
    return ra, rb


def main():
    for path in (FIO, APPLIANCE):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} is missing (make build; see DESIGN.md for fio with libiscsi)")
    work = tempfile.mkdtemp(prefix="sa-qos-", dir=BENCH_TMP)
    app = Appliance(work)
    rows = []
    try:
        app.qos("a", "--class", "high", "--weight", "1")
        app.qos("b", "--class", "low", "--weight", "1")

        log("preconditioning: both vDisks written once, so no phase pays for first allocation")
        for proc in [fio(app, lun, f"fill{lun}", "write", "1m", 8, ["--time_based=0", "--runtime=0", "--ramp_time=0"]) for lun in (0, 1)]:
            result(proc)

        # Phases 1 and 2 alternate REPEAT times and report medians: this machine is shared and noisy, and
        # a solo figure taken once, minutes away from the figure it is compared with, says little.
        solo, mixed = [], []
        for i in range(REPEAT):
            log(f"phase 1 ({i + 1}/{REPEAT}): A alone")
            t0 = cpu_times()
            ra = run_a(app, False)[0]
            solo.append((ra[0], ra[1], steal(t0, cpu_times())))
            log(f"phase 2 ({i + 1}/{REPEAT}): A (high) with B (low) flooding")
            t0 = cpu_times()
            (ra, rb) = run_a(app, True)
            mixed.append((ra[0], ra[1], rb[0], steal(t0, cpu_times())))
        a_iops, a_p99 = median([r[0] for r in solo]), median([r[1] for r in solo])
        a2_iops, a2_p99, b2_iops = median([r[0] for r in mixed]), median([r[1] for r in mixed]), median([r[2] for r in mixed])
        keep_pairs = [m[0] / s_[0] for s_, m in zip(solo, mixed) if s_[0]]
        p99_pairs = [m[1] / s_[1] for s_, m in zip(solo, mixed) if s_[1]]
        rows.append(("A alone (high)", a_iops, a_p99, "runs: " + ", ".join(f"{r[0]:.0f} ({r[2]:.0f}% steal)" for r in solo), ""))
        rows.append(("A with B flooding (B low)", a2_iops, a2_p99, f"B {b2_iops:.0f} IOPS; runs: " + ", ".join(f"{r[0]:.0f} ({r[3]:.0f}% steal)" for r in mixed), ""))

        log("phase 3: same class, weights 3:1, both QD32 4 KiB random writes")
        app.qos("a", "--class", "high", "--weight", "3")
        app.qos("b", "--class", "high", "--weight", "1")
        pa = fio(app, 0, "a", "randwrite", "4k", 32)
        pb = fio(app, 1, "b", "randwrite", "4k", 32)
        (a3, _), (b3, _) = result(pa), result(pb)
        split = a3 / b3 if b3 else float("inf")

        log("phase 4: a 1,000 IOPS limit on B, B flooding")
        app.qos("a", "--class", "high", "--weight", "1")
        app.qos("b", "--class", "high", "--weight", "4", "--iops", "1000")
        (a4_iops, a4_p99), (b4_iops, _) = run_a(app, True)

        stats = app.cli("stats", "--interval", "0")
    finally:
        app.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work}")

    print(f"# QoS, {RUNTIME} s per phase after {RAMP} s ramp, vDisks of {SIZE}, phases 1 and 2 alternated {REPEAT} times (medians)\n")
    print("| phase | A IOPS | A p99 | |")
    print("| --- | ---: | ---: | --- |")
    for name, iops, p99, note, _ in rows:
        print(f"| {name} | {iops:.0f} | {p99:.0f} us | {note} |")
    print(f"| A with B limited to 1,000 IOPS | {a4_iops:.0f} | {a4_p99:.0f} us | B {b4_iops:.0f} IOPS |")
    keep = a2_iops / a_iops * 100 if a_iops else 0
    p99x = a2_p99 / a_p99 if a_p99 else 0
    print()
    print(f"A with B flooding keeps {keep:.0f}% of its solo IOPS (goal >= 90%) and its p99 is {p99x:.2f}x solo (goal <= 2x), from the medians")
    print(f"pair by pair (each mixed phase against the solo phase just before it): A keeps {median(keep_pairs) * 100:.0f}% "
          f"(runs {', '.join(f'{k * 100:.0f}%' for k in keep_pairs)}), p99 {median(p99_pairs):.2f}x")
    print(f"weights 3:1 in one class: A {a3:.0f} IOPS, B {b3:.0f} IOPS, split {split:.2f}:1 (goal 3:1 within 5%: 2.85..3.15)")
    print(f"B limited to 1,000 IOPS: {b4_iops:.0f} IOPS ({(b4_iops / 1000 - 1) * 100:+.1f}%, goal within 5%)")
    print("\nappliance stats at the end (cumulative percentiles):\n" + stats)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reads the points compare-tgt.sh recorded (fio JSON + server CPU ticks), prints the comparison
table, says where the appliance loses, and writes the same as markdown."""
import argparse
import json
import re
import statistics
from collections import defaultdict

ap = argparse.ArgumentParser()
ap.add_argument("--points", required=True)
ap.add_argument("--clk-tck", type=int, required=True)
ap.add_argument("--runtime", type=float, required=True)
ap.add_argument("--meta")
ap.add_argument("--appliance-log")
ap.add_argument("--markdown", required=True)
a = ap.parse_args()

SERVERS = ("appliance", "tgt")


def load_fio(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    start = text.find("{")  # fio may print notes before the JSON
    if start < 0:
        raise ValueError("no JSON")
    return json.loads(text[start:])


def point(row):
    """One fio run -> dict of numbers, or None if it failed."""
    if row["rc"] != "0":
        return None
    try:
        job = load_fio(row["json"])["jobs"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None
    if job.get("error"):
        return None
    side = job["write"] if job["write"]["io_bytes"] >= job["read"]["io_bytes"] else job["read"]
    pct = side["clat_ns"].get("percentile", {})
    cpu = int(row["cpu_ticks"]) / a.clk_tck
    secs = job["job_runtime"] / 1000.0 if job.get("job_runtime") else a.runtime
    ios = side["total_ios"] if "total_ios" in side else side["iops"] * secs
    return {
        "iops": side["iops"],
        "mbs": side["bw_bytes"] / 1e6,
        "p99_ms": pct.get("99.000000", 0) / 1e6,
        "cpu": cpu,
        "iops_per_cpu": ios / cpu if cpu > 0 else float("inf"),
        "iops_min": side.get("iops_min", 0),
        "secs": secs,
    }


rows = []
with open(a.points) as f:
    header = f.readline().rstrip("\n").split("\t")
    for line in f:
        rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))

order = []
pts = defaultdict(list)      # (workload, server) -> [point]
fails = defaultdict(list)
notes = []
for r in rows:
    key = (r["workload"], r["server"])
    if r["workload"] not in order:
        order.append(r["workload"])
    p = point(r)
    if p is None:
        fails[key].append(f"rep {r['rep']}: rc {r['rc']}")
        continue
    pts[key].append(p)
    if r["workload"] != "prefill" and p["iops"] > 0 and p["iops_min"] < 0.1 * p["iops"]:
        notes.append(f"{r['server']} {r['workload']} rep {r['rep']}: an IOPS sample fell to "
                     f"{p['iops_min']} (mean {p['iops']:.0f}) — a stall")


def med(key, field):
    vals = [p[field] for p in pts.get(key, [])]
    return statistics.median(vals) if vals else None


def spread(key):
    vals = [p["iops"] for p in pts.get(key, [])]
    if len(vals) < 2 or not statistics.median(vals):
        return ""
    return f"±{(max(vals) - min(vals)) / 2 / statistics.median(vals) * 100:.0f}%"


def fmt(v, spec):
    return "FAIL" if v is None else format(v, spec)


cols = ["workload", "app IOPS", "app MB/s", "tgt IOPS", "tgt MB/s", "app/tgt",
        "app CPU-s", "tgt CPU-s", "app IOPS/CPU-s", "tgt IOPS/CPU-s", "app p99 ms", "tgt p99 ms"]
table = []
losses = []
for w in order:
    A, T = (w, "appliance"), (w, "tgt")
    ai, ti = med(A, "iops"), med(T, "iops")
    ratio = ai / ti if ai is not None and ti else None
    label = "prefill seq write 1m qd8 (1st touch)" if w == "prefill" else w
    table.append([
        label,
        fmt(ai, ".0f") + (f" {spread(A)}" if spread(A) else ""), fmt(med(A, "mbs"), ".1f"),
        fmt(ti, ".0f") + (f" {spread(T)}" if spread(T) else ""), fmt(med(T, "mbs"), ".1f"),
        fmt(ratio, ".2f"),
        fmt(med(A, "cpu"), ".1f"), fmt(med(T, "cpu"), ".1f"),
        fmt(med(A, "iops_per_cpu"), ".0f"), fmt(med(T, "iops_per_cpu"), ".0f"),
        fmt(med(A, "p99_ms"), ".2f"), fmt(med(T, "p99_ms"), ".2f"),
    ])
    if fails.get(A):
        losses.append(f"{label}: appliance runs FAILED ({'; '.join(fails[A])})")
    if fails.get(T):
        losses.append(f"{label}: tgt runs FAILED ({'; '.join(fails[T])})")
    if ratio is not None and ratio < 0.95:
        losses.append(f"{label}: throughput {ratio * 100:.0f}% of tgt ({ai:.0f} vs {ti:.0f} IOPS)")
    ap99, tp99 = med(A, "p99_ms"), med(T, "p99_ms")
    if ap99 and tp99 and ap99 > 1.10 * tp99:
        losses.append(f"{label}: p99 latency {ap99 / tp99:.1f}x tgt's ({ap99:.2f} vs {tp99:.2f} ms)")
    ae, te = med(A, "iops_per_cpu"), med(T, "iops_per_cpu")
    if ae and te and ae < 0.95 * te:
        losses.append(f"{label}: CPU per I/O {te / ae:.1f}x tgt's ({ae:.0f} vs {te:.0f} IOPS per server CPU-second)")

log_lines = []
if a.appliance_log:
    try:
        with open(a.appliance_log, errors="replace") as f:
            for line in f:
                if re.search(r"\b(warn|fail|crit|error)\b|exception|unhandled|shutting down|==== compare-tgt", line, re.I):
                    log_lines.append(line.rstrip())
    except OSError:
        pass

widths = [max(len(cols[i]), *(len(r[i]) for r in table)) for i in range(len(cols))]
def line(cells):
    return "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cells))

out = [line(cols), line(["-" * w for w in widths])] + [line(r) for r in table]
print()
print("\n".join(out))
print("\nIOPS are medians over the repetitions (± half the min-max spread); CPU-s = server process "
      "utime+stime in the measured window; IOPS/CPU-s = I/Os completed per server CPU-second.")
print("\nWhere the appliance loses:")
for l in losses or ["nowhere (within 5% throughput, 10% p99, 5% CPU per I/O)"]:
    print(f"  - {l}")
if notes:
    print("\nStalls:")
    for n in notes:
        print(f"  - {n}")
print(f"\nAppliance log: {len(log_lines)} warning/error lines" + (":" if log_lines else ""))
for l in log_lines[:10]:
    print(f"  {l}")

md = ["# iSCSI: appliance vs tgtd", ""]
if a.meta:
    md += ["```", open(a.meta).read().rstrip(), "```", ""]
md += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
md += ["| " + " | ".join(r) + " |" for r in table]
md += ["", "IOPS: median over repetitions (± half the min-max spread). CPU-s: server utime+stime "
       "in the measured window. IOPS/CPU-s: I/Os per server CPU-second.", "", "## Where the appliance loses", ""]
md += [f"- {l}" for l in losses or ["nowhere (within 5% throughput, 10% p99, 5% CPU per I/O)"]]
if notes:
    md += ["", "## Stalls", ""] + [f"- {n}" for n in notes]
md += ["", f"## Appliance log: {len(log_lines)} warning/error lines", ""]
if log_lines:
    md += ["```"] + log_lines[:50] + ["```"]
with open(a.markdown, "w") as f:
    f.write("\n".join(md) + "\n")

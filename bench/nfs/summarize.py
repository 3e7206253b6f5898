#!/usr/bin/env python3
"""Reads the points compare-ganesha.sh recorded (fio JSON + server CPU ticks) and prints the table:
median per server, the ratio ours/ganesha, and server CPU seconds; writes the same as markdown."""
import argparse
import json
import statistics
from collections import defaultdict

ap = argparse.ArgumentParser()
ap.add_argument("--points", required=True)
ap.add_argument("--clk-tck", type=int, required=True)
ap.add_argument("--runtime", type=float, required=True)
ap.add_argument("--meta")
ap.add_argument("--markdown", required=True)
a = ap.parse_args()

GOALS = {"randread-4k": 1.5, "randwrite-4k": 1.5, "read-1m": 1.0, "write-1m": 1.0}


def load(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    return json.loads(text[text.find("{"):])


rows = [l.rstrip("\n").split("\t") for l in open(a.points)][1:]
data = defaultdict(lambda: defaultdict(list))
failed = []
for name, server, rep, rc, ticks, path in rows:
    if name == "layout":
        continue
    try:
        job = load(path)["jobs"][0]
    except Exception:
        failed.append(f"{name}/{server}/{rep}: no JSON (exit {rc})")
        continue
    if rc != "0" or job.get("error"):
        failed.append(f"{name}/{server}/{rep}: exit {rc}, fio error {job.get('error')}")
        continue
    side = job["write"] if job["write"]["io_bytes"] >= job["read"]["io_bytes"] else job["read"]
    pct = side["clat_ns"].get("percentile", {})
    data[name][server].append({
        "iops": side["iops"],
        "mbs": side["bw_bytes"] / 1048576,
        "p99": pct.get("99.000000", 0) / 1e6,
        "cpu": int(ticks) / a.clk_tck,
    })


def med(points, key):
    return statistics.median(p[key] for p in points) if points else float("nan")


lines = []
if a.meta:
    lines += [l.rstrip() for l in open(a.meta)]
    lines.append("")
hdr = f"{'workload':<20} {'ours':>12} {'ganesha':>12} {'ratio':>7} {'goal':>6}  {'p99 ms ours/gan':>16}  {'CPU s ours/gan':>15}"
lines += [hdr, "-" * len(hdr)]
md = ["| workload | ours | ganesha | ratio | goal | p99 ms ours / ganesha | server CPU s ours / ganesha |", "|---|---:|---:|---:|---:|---:|---:|"]
for name in data:
    o, g = data[name]["ours"], data[name]["ganesha"]
    seq = "1m" in name
    key, unit = ("mbs", "MiB/s") if seq else ("iops", "IOPS")
    mo, mg = med(o, key), med(g, key)
    ratio = mo / mg if mg else float("nan")
    goal = next((v for k, v in GOALS.items() if name.startswith(k)), None)
    verdict = "" if goal is None else ("ok" if ratio >= goal else "BELOW")
    lines.append(f"{name:<20} {mo:>8.0f} {unit:<5}{mg:>7.0f} {unit:<5}{ratio:>6.2f}x {goal or '':>5}x  {med(o,'p99'):>7.2f}/{med(g,'p99'):<8.2f}  {med(o,'cpu'):>6.1f}/{med(g,'cpu'):<8.1f} {verdict}")
    md.append(f"| {name} | {mo:.0f} {unit} | {mg:.0f} {unit} | {ratio:.2f}x | {goal}x {verdict} | {med(o,'p99'):.2f} / {med(g,'p99'):.2f} | {med(o,'cpu'):.1f} / {med(g,'cpu'):.1f} |")
if failed:
    lines += ["", "failed points:"] + ["  " + f for f in failed]
    md += ["", "Failed points:"] + ["- " + f for f in failed]
print("\n".join(lines))
with open(a.markdown, "w") as f:
    f.write("\n".join(([l for l in open(a.meta)] if a.meta else []) + [""] + md) + "\n")

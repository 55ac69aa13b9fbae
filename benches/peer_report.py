"""Summarises benches/peer.sh runs: medians per target, ratios, fsync counts."""
import json
import re
import statistics
import sys

rows = {"nginx": [], "text": [], "redis": [], "ndjson": []}
for line in open(sys.argv[1]):
    name, rest = line.split(" ", 1)
    rest = rest.strip()
    if name == "redis":
        rps, p99 = rest.split(",")
        rows[name].append({"rps": float(rps), "recs": float(rps), "p50": 0, "p99": float(p99) * 1000})
    else:
        d = json.loads(rest)
        rows[name].append({"rps": d["requests_per_s"], "recs": d["records_per_s"],
                           "p50": d["latency_us"]["p50"], "p99": d["latency_us"]["p99"]})


def med(name, key):
    return statistics.median(r[key] for r in rows[name])


label = {
    "nginx": "nginx `return 200` (1 worker, no disk)",
    "text": "spool, one ~60 B text record per POST",
    "redis": "redis LPUSH 60 B, appendfsync always",
    "ndjson": "spool, NDJSON 1,000 records per POST",
}
print(f"medians of {len(rows['text'])} interleaved runs each\n")
print("| target | req/s | records/s | p50 µs | p99 µs |\n|---|---:|---:|---:|---:|")
for name in ["nginx", "text", "redis", "ndjson"]:
    p50 = "" if name == "redis" else f"{med(name, 'p50'):,.0f}"
    print(f"| {label[name]} | {med(name, 'rps'):,.0f} | {med(name, 'recs'):,.0f} | {p50} | {med(name, 'p99'):,.0f} |")
n, s, r = med("nginx", "rps"), med("text", "rps"), med("redis", "rps")
print(f"\nspool / nginx = {s / n:.2f}x (target >= 0.8); spool / redis-always = {s / r:.2f}x (target >= 1.5)")
print(f"spool single-record p99 = {med('text', 'p99') / 1000:.2f} ms (target <= 2 ms); "
      f"NDJSON = {med('ndjson', 'recs'):,.0f} records/s (target >= 2,000,000)")
print("per-run spool/redis:", ", ".join(f"{a['rps'] / b['rps']:.2f}" for a, b in zip(rows["text"], rows["redis"])))
for path, what in [(sys.argv[2], "single-record"), (sys.argv[3], "ndjson")]:
    runs = [tuple(map(float, re.findall(r"([\d.]+) records made durable in ([\d.]+) fsyncs", line)[0]))
            for line in open(path)]
    recs = sum(a for a, _ in runs)
    syncs = sum(b for _, b in runs)
    print(f"spool {what}: {syncs / len(runs):,.0f} fsyncs per run, {recs / syncs:.1f} records per fsync")

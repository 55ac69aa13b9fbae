#!/usr/bin/env bash
# The read-side benchmark (issue 6): load COUNT records with /simulate, then
#   - newest 100 by level + service + time window: latency percentiles (warm);
#   - q substring over the whole log (matching nothing) against
#     `grep -F -c` over the same records exported as NDJSON, same run;
#   - restart to ready (SIGTERM, start, first 200 from /readyz), at COUNT/10
#     and at COUNT records, to show whether it grows with the log;
#   - index bytes per record (/stats) and the daemon's RSS.
# Usage: COUNT=10000000 bash benches/read.sh      (needs ~2 GB in $TMPDIR)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/ports.sh
COUNT=${COUNT:-10000000}
QUERIES=${QUERIES:-500}
NEEDLE=zq9xv-absent
cargo build --release -q -p spool-server -p spool-benches
BIN=target/release/spool
WORK=$(mktemp -d "${TMPDIR:-/tmp}/spool-read-bench.XXXXXX")
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$(port)
ADDR=127.0.0.1:$PORT

start() {
    local t0; t0=$(date +%s.%N)
    "$BIN" --listen "$ADDR" --data-dir "$WORK/data" --query-timeout 600s 2>>"$WORK/log" &
    PID=$!
    until curl -sf "http://$ADDR/readyz" >/dev/null 2>&1; do
        kill -0 "$PID" 2>/dev/null || { cat "$WORK/log"; exit 1; }
        sleep 0.005
    done
    python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$t0" "$(date +%s.%N)"
}
stop() { kill -TERM "$PID"; wait "$PID" || true; PID=; }
simulate() {
    local left=$1
    while [ "$left" -gt 0 ]; do
        local n=$(( left < 1000000 ? left : 1000000 ))
        curl -sf -X POST "http://$ADDR/simulate?count=$n&seed=$left" >/dev/null
        left=$(( left - n ))
    done
}
median3() { sort -n | sed -n 2p; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
start >/dev/null
simulate $(( COUNT / 10 ))
stop
RESTART_SMALL=$(for _ in 1 2 3; do start; stop; done | median3)
start >/dev/null
simulate $(( COUNT - COUNT / 10 ))
SEGMENTS=$(ls "$WORK/data" | grep -c '\.seg$')
stop
RESTART_BIG=$(for _ in 1 2 3; do start; stop; done | median3)
start >/dev/null
target/release/spool-query --addr "$ADDR" --queries "$QUERIES" --needle "$NEEDLE" | tee "$WORK/query.out"
STATS=$(curl -sf "http://$ADDR/stats")
RSS=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
"$BIN" cat --data-dir "$WORK/data" > "$WORK/export.ndjson"
EXPORT_BYTES=$(stat -c %s "$WORK/export.ndjson")
GREP=$(for _ in 1 2 3; do
    t0=$(date +%s.%N); grep -F -c "$NEEDLE" "$WORK/export.ndjson" >/dev/null || true; t1=$(date +%s.%N)
    python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.4f}')" "$t0" "$t1"
done | median3)
stop
python3 - "$WORK/query.out" "$STATS" "$RSS" "$GREP" "$EXPORT_BYTES" "$RESTART_SMALL" "$RESTART_BIG" "$SEGMENTS" "$COUNT" <<'PY'
import json, sys
q = json.loads([l for l in open(sys.argv[1]) if l.startswith("RESULT ")][0][7:])
stats = json.loads(sys.argv[2])
rss_kib, grep_s, export = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
small, big, segments, count = float(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
print(f"records: {stats['logs_in_storage']:,} in {segments} segments ({stats['bytes_on_disk']/1e9:.2f} GB of segment files)")
print(f"filtered newest 100 (warm): p50 {q['p50_ms']:.2f} ms, p99 {q['p99_ms']:.2f} ms (target p99 <= 5 ms)")
print(f"q over the whole log: {q['scan_seconds']:.3f} s, {q['scan_gb_per_s']:.2f} GB/s of records (target >= 1 GB/s per core)")
print(f"grep -F -c over the NDJSON export ({export/1e9:.2f} GB): {grep_s:.3f} s; spool / grep speed = {grep_s / q['scan_seconds']:.2f}x (target >= 0.5x)")
print(f"restart to ready: {small:.3f} s at {count//10:,} records, {big:.3f} s at {count:,} (target <= 1 s, not growing)")
print(f"index: {stats['index_bytes']/1e6:.1f} MB in memory, {stats['index_bytes_per_record']:.2f} bytes per record (target <= 8); daemon RSS {rss_kib/1024:.0f} MiB")
PY

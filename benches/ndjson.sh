#!/usr/bin/env bash
# NDJSON bulk ingest, 1,000 records per POST, durable: Spool driven by two
# clients in one run, interleaved, with the CPU each process used.
#
#   bash benches/ndjson.sh                        # 3 repetitions of 10 s per client
#   REPS=5 DURATION=20s CONNS=100 bash benches/ndjson.sh
#
# Clients:
# - wrk (two threads, keep-alive) POSTs one fixed body of 1,000 distinct
#   ~200-byte JSON records over and over: the client costs little, so the
#   figure is the daemon's (every POST still stores, CRCs and fdatasyncs its
#   1,000 records before the 200).
# - spool-load (one blocking connection per thread) formats 1,000 new
#   records per POST, each with a unique id it checks in the answer: the
#   strict client, which on two cores takes a large share of the CPU.
# Each run starts the daemon on a fresh data directory and stops it; the
# daemon's exit line (records made durable, fsyncs) is kept, and a run in
# which wrk saw a non-2xx answer or a socket error fails the script.
#
# Writes $OUT/ndjson.csv (OUT defaults to benches/results), one row per run:
#   client,rep,records_per_s,p99_us,records_per_fsync,daemon_cores,client_cores
# and prints the medians. Data goes under SPOOL_BENCH_DIR (default /var/tmp),
# which must be a real disk; it is removed on exit. Needs wrk (installed with
# apt-get when missing). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
REPS=${REPS:-3}
OUT=${OUT:-benches/results}
BASE=${SPOOL_BENCH_DIR:-/var/tmp}
if ! [[ $REPS =~ ^[1-9][0-9]*$ && $CONNS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*s$ ]]; then
    echo "REPS and CONNS must be whole numbers above 0 and DURATION whole seconds like 10s (got REPS=$REPS CONNS=$CONNS DURATION=$DURATION)" >&2
    exit 2
fi
WORK=$(mktemp -d "$BASE/spool-ndjson.XXXXXX")
SERVER=""
CLIENT=""
cleanup() {
    for p in $CLIENT $SERVER; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=benches/ports.sh
. benches/ports.sh
if ! command -v wrk >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi
cargo build --release -q -p spool-server -p spool-benches
BIN=${CARGO_TARGET_DIR:-target}/release
mkdir -p "$OUT"
CSV=$OUT/ndjson.csv
# Rows collect here and replace $CSV only once every run succeeded.
ROWS=$WORK/rows.csv
echo "client,rep,records_per_s,p99_us,records_per_fsync,daemon_cores,client_cores" >"$ROWS"

# The fixed body: 1,000 records shaped like spool-load's (level, service,
# a message padded to ~200 bytes a line, metadata with numbers).
awk 'BEGIN {
    pad = sprintf("%120s", ""); gsub(/ /, "x", pad)
    printf "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/x-ndjson\"\nwrk.body = [["
    for (i = 0; i < 1000; i++)
        printf "{\"level\":\"info\",\"service\":\"spool-load\",\"message\":\"wrk %d %s\",\"metadata\":{\"conn\":0,\"seq\":%d}}\n", i, pad, i
    printf "]]\n"
}' >"$WORK/ndjson.lua"

echo "machine: $(nproc) cores, $(uname -sr), $(df --output=fstype "$WORK" | tail -1) at $WORK; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$CONNS connections, 1,000 records per POST, $DURATION per run, $REPS repetition(s); body line $(sed -n 4p "$WORK/ndjson.lua" | wc -c) bytes"
echo

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU seconds (user + system) of this shell's reaped children so far
# (`times` runs in this shell: in a command substitution it would report
# the subshell's children).
children_secs() {
    times >"$WORK/times"
    tail -1 "$WORK/times" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); s += p[1] * 60 + p[2] } print s }'
}
HZ=$(getconf CLK_TCK)

# run CLIENT REP: one measurement, one CSV row.
run() {
    local client=$1 rep=$2 p; p=$(port)
    rm -rf "$WORK/data"
    "$BIN/spool" serve --listen "127.0.0.1:$p" --data-dir "$WORK/data" 2>"$WORK/spool.log" &
    SERVER=$!
    wait_port "$p"
    local start_d start_t lp children_before
    children_secs >"$WORK/before"
    children_before=$(cat "$WORK/before")
    start_d=$(ticks "$SERVER"); start_t=$(date +%s.%N)
    if [ "$client" = wrk ]; then
        wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$WORK/ndjson.lua" "http://127.0.0.1:$p/ingest" >"$WORK/load.out" &
    else
        "$BIN/spool-load" --addr "127.0.0.1:$p" --connections "$CONNS" --duration "$DURATION" \
            --shape ndjson --batch 1000 >"$WORK/load.out" &
    fi
    lp=$!
    CLIENT=$lp
    if ! wait "$lp"; then
        echo "the $client run failed or was interrupted" >&2
        exit 1
    fi
    CLIENT=""
    if ! kill -0 "$SERVER" 2>/dev/null; then
        echo "the daemon exited during the $client run (interrupted?)" >&2
        exit 1
    fi
    local end_d end_t
    end_d=$(ticks "$SERVER"); end_t=$(date +%s.%N)
    # The client's CPU: what this shell's reaped children used, before and
    # after it (the daemon is reaped only later).
    local client_ticks
    children_secs >"$WORK/after"
    client_ticks=$(awk -v a="$children_before" -v b="$(cat "$WORK/after")" -v hz="$HZ" 'BEGIN { print (b - a) * hz }')
    kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=""
    python3 - "$client" "$rep" "$start_d" "$end_d" "$client_ticks" "$start_t" "$end_t" "$HZ" \
        "$WORK/load.out" "$WORK/spool.log" >>"$ROWS" <<'PY'
import json, re, sys
client, rep, d0, d1, ct, t0, t1, hz, load, log = sys.argv[1:]
secs = float(t1) - float(t0)
text = open(load).read()
if client == "wrk":
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", text)
    if bad:
        sys.exit(f"wrk run {rep}: {bad.group(0)}")
    def us(v):
        n, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v).groups()
        return float(n) * {"us": 1, "ms": 1e3, "s": 1e6, "m": 6e7}[unit]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)) * 1000
    p99 = us(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
else:
    r = json.loads(re.search(r"^RESULT (.*)$", text, re.M).group(1))
    if set(r["status"]) != {"200"} or any(r["errors"].values()):
        sys.exit(f"spool-load run {rep}: {r['status']} {r['errors']}")
    rps, p99 = r["records_per_s"], r["latency_us"]["p99"]
m = re.search(r"(\d+) records made durable in (\d+) fsyncs", open(log).read())
per_fsync = int(m.group(1)) / max(int(m.group(2)), 1) if m else 0
hz = float(hz)
print(f"{client},{rep},{rps:.0f},{p99:.0f},{per_fsync:.0f},"
      f"{(float(d1) - float(d0)) / hz / secs:.2f},{float(ct) / hz / secs:.2f}")
PY
}

for rep in $(seq 1 "$REPS"); do
    run wrk "$rep"
    run spool-load "$rep"
    echo "repetition $rep of $REPS done"
done
cp "$ROWS" "$CSV"
echo "rows: $CSV"
python3 - "$CSV" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("\nmedians per client\n")
print("| client | durable records/s | p99 µs | records per fsync | daemon CPU (cores) | client CPU (cores) |")
print("|---|---:|---:|---:|---:|---:|")
for client in ("wrk", "spool-load"):
    rs = [r for r in rows if r["client"] == client]
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    print(f"| {client} | {med('records_per_s'):,.0f} | {med('p99_us'):,.0f} | {med('records_per_fsync'):,.0f} "
          f"| {med('daemon_cores'):.2f} | {med('client_cores'):.2f} |")
    runs = ", ".join(format(float(r["records_per_s"]), ",.0f") for r in rs)
    print(f"  {client} per run: {runs}")
PY

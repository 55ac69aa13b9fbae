#!/usr/bin/env bash
# The live-path benchmark (issue 7), one daemon, one run:
#   1. FOLLOWERS_A (100) WebSocket followers while producers ingest RATE
#      (10,000) records/s for SECONDS: every follower must get every record;
#      latency from acknowledgment to receipt; daemon CPU and RSS.
#   2. The same with FOLLOWERS_B (1,000) followers.
#   3. A stalled follower's cost: spool-load (NDJSON, 1,000 records per POST,
#      8 connections, 10 s) without and with a follower that reads nothing,
#      alternating, ROUNDS (3) pairs; median records/s of each, the daemon's
#      RSS growth during the stalled runs, and then the stalled follower
#      reads everything and checks it got every id, in order.
# Usage: bash benches/live.sh        (RATE=10000 DURATION=10 FOLLOWERS_A=100 FOLLOWERS_B=1000 PRODUCERS=16 ROUNDS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/ports.sh
RATE=${RATE:-10000}
SECONDS_EACH=${DURATION:-10}
FOLLOWERS_A=${FOLLOWERS_A:-100}
FOLLOWERS_B=${FOLLOWERS_B:-1000}
# Producers post 10-record NDJSON batches, paced; each waits for its answer,
# so enough of them are needed for the rate when answers take longer.
PRODUCERS=${PRODUCERS:-16}
ROUNDS=${ROUNDS:-3}
cargo build --release -q -p spool-server -p spool-benches
BIN=target/release/spool
WORK=$(mktemp -d "${TMPDIR:-/tmp}/spool-live-bench.XXXXXX")
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$(port)
ADDR=127.0.0.1:$PORT
"$BIN" --listen "$ADDR" --data-dir "$WORK/data" --max-connections-per-ip 4096 2>>"$WORK/log" &
PID=$!
wait_port "$PORT"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
hz=$(getconf CLK_TCK)

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
for n in "$FOLLOWERS_A" "$FOLLOWERS_B"; do
    echo
    echo "== $n followers, $RATE records/s for ${SECONDS_EACH}s"
    t0=$(cpu_ticks); s0=$(date +%s.%N)
    target/release/spool-follow --addr "$ADDR" --followers "$n" --rate "$RATE" --seconds "$SECONDS_EACH" --producers "$PRODUCERS" --batch 10 2>/dev/null | tee "$WORK/follow-$n"
    t1=$(cpu_ticks); s1=$(date +%s.%N)
    python3 -c "import sys; t=(int(sys.argv[2])-int(sys.argv[1]))/int(sys.argv[3]); w=float(sys.argv[5])-float(sys.argv[4]); print(f'daemon CPU {100*t/w:.0f}% of one core over the run; daemon RSS {int(sys.argv[6])//1024} MiB')" "$t0" "$t1" "$hz" "$s0" "$s1" "$(rss_kib)"
done

echo
echo "== a stalled follower's cost: spool-load ndjson x1000, 8 connections, ${SECONDS_EACH}s each, $ROUNDS rounds"
echo "   (each measurement on a fresh daemon and data directory; the order alternates)"
fresh() {
    kill -TERM "$PID"; wait "$PID" || true
    rm -rf "$WORK/data"
    "$BIN" --listen "$ADDR" --data-dir "$WORK/data" --max-connections-per-ip 4096 2>>"$WORK/log" &
    PID=$!
    wait_port "$PORT"
}
load() {
    target/release/spool-load --addr "$ADDR" --connections 8 --duration "${SECONDS_EACH}s" --warmup 1s \
        --shape ndjson --batch 1000 | sed -n 's/^RESULT //p' | python3 -c 'import json,sys; print(json.load(sys.stdin)["records_per_s"])'
}
without=(); with=(); growth=(); growth_without=()
measure() {
    fresh
    local before after
    before=$(rss_kib)
    if [ "$1" = without ]; then
        without+=("$(load)")
        after=$(rss_kib)
        growth_without+=("$((after - before))")
        return
    fi
    target/release/spool-follow --addr "$ADDR" --stall $((SECONDS_EACH + 3)) >"$WORK/stall" 2>&1 &
    local stall=$!
    sleep 0.5
    with+=("$(load)")
    after=$(rss_kib)
    growth+=("$((after - before))")
    wait "$stall" || { cat "$WORK/stall"; echo "the stalled follower did not get everything"; exit 1; }
    grep '^after the stall' "$WORK/stall"
}
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then measure without; measure with; else measure with; measure without; fi
done
python3 - "${without[*]}" "${with[*]}" "${growth[*]}" "${growth_without[*]}" <<'PY'
import statistics, sys
wo = [float(x) for x in sys.argv[1].split()]
wi = [float(x) for x in sys.argv[2].split()]
g = [int(x) for x in sys.argv[3].split()]
g0 = [int(x) for x in sys.argv[4].split()]
print("records/s without a follower: " + ", ".join(f"{x:,.0f}" for x in wo) + f" (median {statistics.median(wo):,.0f})")
print("records/s with a stalled one: " + ", ".join(f"{x:,.0f}" for x in wi) + f" (median {statistics.median(wi):,.0f})")
print(f"ratio with/without (medians): {statistics.median(wi) / statistics.median(wo):.3f}")
print("daemon RSS growth over a run, KiB, with a stalled follower: " + ", ".join(map(str, g)) + f" (median {statistics.median(g):,.0f})")
print("daemon RSS growth over a run, KiB, without one:           " + ", ".join(map(str, g0)) + f" (median {statistics.median(g0):,.0f})")
PY

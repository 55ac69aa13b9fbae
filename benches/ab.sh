#!/usr/bin/env bash
# A/B benchmark: this build of Spool against a baseline build of Spool, same
# machine, same load tool, interleaved repetitions, medians and ratios.
#
#   git worktree add /tmp/spool-base <rev>
#   (cd /tmp/spool-base && cargo build --release -p spool-server)
#   BASE=/tmp/spool-base/target/release/spool bash benches/ab.sh
#   REPS=5 DURATION=10s CONNS=50 SHAPES='text ndjson' BASE=... bash benches/ab.sh
#
# Shapes: one ~60 B text record per POST, one JSON record with metadata per
# POST, and NDJSON with 1,000 records per POST. Loopback only; each daemon
# runs on a fresh data directory and is stopped after its measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BASE:?set BASE to the baseline spool binary}"
DURATION=${DURATION:-5s}
CONNS=${CONNS:-50}
REPS=${REPS:-3}
WORK=$(mktemp -d /var/tmp/spool-ab.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

cargo build --release -q -p spool-server -p spool-benches
NEW=${NEW:-target/release/spool}
LOAD=target/release/spool-load
# shellcheck source=benches/ports.sh
. benches/ports.sh
run() { # bin shape [load args] -> records/s p99_us
    local bin=$1 shape=$2; shift 2
    local p; p=$(port)
    rm -rf "$WORK/data"
    "$bin" serve --listen 127.0.0.1:$p --data-dir "$WORK/data" 2>"$WORK/log" & local sp=$!
    wait_port "$p"
    "$LOAD" --addr 127.0.0.1:$p --connections "$CONNS" --duration "$DURATION" --shape "$shape" "$@" \
        | sed -n 's/^RESULT //p' \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["records_per_s"], r["latency_us"]["p99"])'
    kill -TERM $sp; wait $sp || true
}
echo "machine: $(nproc) cores, $(uname -sr); load $(cut -d' ' -f1-3 /proc/loadavg); $CONNS connections, $DURATION each, $REPS reps"
: >"$WORK/rows"
for rep in $(seq 1 "$REPS"); do
    for shape in ${SHAPES:-text json ndjson}; do
        args=()
        [ "$shape" = ndjson ] && args=(--batch 1000)
        # Alternate which goes first, so neither always runs right after
        # the other's writes (the disk is still busy for a moment then).
        if [ $((rep % 2)) -eq 1 ]; then
            echo "base $shape $(run "$BASE" "$shape" "${args[@]}")" >>"$WORK/rows"
            echo "new $shape $(run "$NEW" "$shape" "${args[@]}")" >>"$WORK/rows"
        else
            echo "new $shape $(run "$NEW" "$shape" "${args[@]}")" >>"$WORK/rows"
            echo "base $shape $(run "$BASE" "$shape" "${args[@]}")" >>"$WORK/rows"
        fi
    done
    echo "repetition $rep of $REPS done" >&2
done
python3 - "$WORK/rows" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
print(f"| shape | baseline records/s | this build records/s | ratio | baseline p99 µs | this build p99 µs |")
print("|---|---:|---:|---:|---:|---:|")
for shape in ["text", "json", "ndjson"]:
    b = [(float(r[2]), float(r[3])) for r in rows if r[0] == "base" and r[1] == shape]
    n = [(float(r[2]), float(r[3])) for r in rows if r[0] == "new" and r[1] == shape]
    if not b or not n:
        continue
    mb, mn = statistics.median(x for x, _ in b), statistics.median(x for x, _ in n)
    pb, pn = statistics.median(y for _, y in b), statistics.median(y for _, y in n)
    print(f"| {shape} | {mb:,.0f} | {mn:,.0f} | {mn/mb:.2f}x | {pb:,.0f} | {pn:,.0f} |")
PY

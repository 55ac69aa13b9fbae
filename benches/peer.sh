#!/usr/bin/env bash
# Peer benchmark: Spool against nginx (`return 200`, no disk work: the HTTP
# ceiling of one event loop) and Redis (appendonly yes, appendfsync always:
# the trusted durable-ack peer, one event loop that syncs before replying),
# in one run, on this machine, at the same concurrency.
#
#   bash benches/peer.sh                  # 3 interleaved repetitions of 10 s each
#   REPS=5 DURATION=30s bash benches/peer.sh
#
# Needs Debian's nginx-light, redis-server and redis-tools (installed here
# with apt-get when missing; run as root or install them first). Loopback
# only; every server it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
WORK=$(mktemp -d /var/tmp/spool-peer.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=benches/peer_servers.sh
. benches/peer_servers.sh
install_peers

cargo build --release -q -p spool-server -p spool-benches
SPOOL=target/release/spool
LOAD=target/release/spool-load

# Pick free loopback ports.
# shellcheck source=benches/ports.sh
. benches/ports.sh
NGINX_PORT=$(port)

result() { grep '^RESULT ' | sed 's/^RESULT //'; }

echo "machine: $(nproc) cores, $(uname -sr), $(df -T "$WORK" | awk 'NR==2{print $2}') at $WORK; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "concurrency: $CONNS connections, $DURATION per measurement"
echo

# --- nginx: one worker, `return 200` to every POST, access log off.
nginx_conf "$WORK/nginx" "$NGINX_PORT"
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" & PIDS+=($!)
wait_port "$NGINX_PORT"

# Spool on a fresh data directory; prints the load tool's RESULT json and
# appends the daemon's exit line (records, fsyncs) to $WORK/fsyncs-<shape>.
spool_run() {
    local shape=$1; shift
    local p; p=$(port)
    rm -rf "$WORK/spool-data"
    $SPOOL serve --listen 127.0.0.1:$p --data-dir "$WORK/spool-data" 2>"$WORK/spool.log" & local sp=$!
    wait_port "$p"
    $LOAD --addr 127.0.0.1:$p --connections "$CONNS" --duration "$DURATION" --shape "$shape" "$@" | result
    kill -TERM $sp; wait $sp || true
    grep 'fsyncs' "$WORK/spool.log" | tail -1 >>"$WORK/fsyncs-$shape"
}

# Redis, appendonly + appendfsync always; prints "rps,p99_ms".
redis_run() {
    local p; p=$(port)
    rm -rf "$WORK/redis"; mkdir -p "$WORK/redis"
    redis_always "$WORK/redis" "$p" & local rp=$!
    wait_port "$p"
    local n=$(( $(echo "$DURATION" | tr -dc 0-9) * 30000 ))
    redis_lpush "$p" "$CONNS" "$n" | cut -d, -f1,3
    kill $rp; wait $rp 2>/dev/null || true
}

REPS=${REPS:-3}
: >"$WORK/rows"
for rep in $(seq 1 "$REPS"); do
    echo "nginx $($LOAD --addr 127.0.0.1:$NGINX_PORT --connections "$CONNS" --duration "$DURATION" --shape text | result)" >>"$WORK/rows"
    echo "text $(spool_run text)" >>"$WORK/rows"
    echo "redis $(redis_run)" >>"$WORK/rows"
    echo "ndjson $(spool_run ndjson --batch 1000)" >>"$WORK/rows"
    echo "repetition $rep of $REPS done" >&2
done
python3 benches/peer_report.py "$WORK/rows" "$WORK/fsyncs-text" "$WORK/fsyncs-ndjson"

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

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need redis-server || ! need redis-benchmark; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light redis-server redis-tools
fi

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
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx;
    proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
    uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / { client_max_body_size 16m; return 200 '{"status":"accepted","id":"1"}'; }
    }
}
EOF
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
    redis-server --port "$p" --bind 127.0.0.1 --dir "$WORK/redis" --appendonly yes \
        --appendfsync always --save '' --daemonize no --logfile "$WORK/redis/log" & local rp=$!
    wait_port "$p"
    local n=$(( $(echo "$DURATION" | tr -dc 0-9) * 30000 ))
    redis-benchmark -p "$p" -t lpush -c "$CONNS" -d 60 -n "$n" --csv 2>/dev/null \
        | awk -F'","' '/LPUSH/{print $2","$7}'
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

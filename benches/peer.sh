#!/usr/bin/env bash
# Peer benchmark: Spool against nginx (`return 200`, no disk work: the HTTP
# ceiling of one event loop) and Redis (appendonly yes, appendfsync always:
# the trusted durable-ack peer, one event loop that syncs before replying),
# in one run, on this machine, at the same concurrency.
#
#   bash benches/peer.sh            # 10 s per measurement
#   DURATION=30s bash benches/peer.sh
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
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGINX_PORT=$(port); SPOOL_PORT=$(port); REDIS_PORT=$(port)

wait_port() {
    for _ in $(seq 1 100); do
        (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "port $1 did not open" >&2; return 1
}

result() { grep '^RESULT ' | sed 's/^RESULT //'; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

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
NGINX=$($LOAD --addr 127.0.0.1:$NGINX_PORT --connections "$CONNS" --duration "$DURATION" --shape text | result)

# --- Spool: single-record durable POSTs (a ~60-byte text line).
$SPOOL serve --listen 127.0.0.1:$SPOOL_PORT --data-dir "$WORK/spool-text" 2>"$WORK/spool-text.log" & SP=$!; PIDS+=($SP)
wait_port "$SPOOL_PORT"
SPOOL_TEXT=$($LOAD --addr 127.0.0.1:$SPOOL_PORT --connections "$CONNS" --duration "$DURATION" --shape text | result)
kill -TERM $SP; wait $SP || true
TEXT_SYNC=$(grep 'fsyncs' "$WORK/spool-text.log" | tail -1)

# --- Spool: NDJSON batches of 1,000 records.
SPOOL_PORT=$(port)
$SPOOL serve --listen 127.0.0.1:$SPOOL_PORT --data-dir "$WORK/spool-ndjson" 2>"$WORK/spool-ndjson.log" & SP=$!; PIDS+=($SP)
wait_port "$SPOOL_PORT"
SPOOL_NDJSON=$($LOAD --addr 127.0.0.1:$SPOOL_PORT --connections "$CONNS" --duration "$DURATION" --shape ndjson --batch 1000 | result)
kill -TERM $SP; wait $SP || true
NDJSON_SYNC=$(grep 'fsyncs' "$WORK/spool-ndjson.log" | tail -1)

# --- Redis: appendonly yes, appendfsync always; LPUSH of 60-byte values.
mkdir -p "$WORK/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --appendonly yes \
    --appendfsync always --save '' --daemonize no --logfile "$WORK/redis/log" & PIDS+=($!)
wait_port "$REDIS_PORT"
REQS=$(( $(echo "$DURATION" | tr -dc 0-9) * 15000 ))
REDIS_RPS=$(redis-benchmark -p "$REDIS_PORT" -t lpush -c "$CONNS" -d 60 -n "$REQS" --csv 2>/dev/null \
    | awk -F'","' '/LPUSH/{gsub(/"/,"",$2); print $2}')
REDIS_P99=$(redis-benchmark -p "$REDIS_PORT" -t lpush -c "$CONNS" -d 60 -n "$REQS" 2>/dev/null \
    | awk '/99.000%|99.00%/{print; exit}' || true)

rps() { echo "$1" | field "['requests_per_sec']"; }
rec() { echo "$1" | field "['records_per_sec']"; }
p99() { echo "$1" | field "['latency_us']['p99']"; }
p50() { echo "$1" | field "['latency_us']['p50']"; }

N=$(rps "$NGINX"); S=$(rps "$SPOOL_TEXT")
printf '| target | req/s | records/s | p50 µs | p99 µs |\n|---|---:|---:|---:|---:|\n'
printf '| nginx return 200 (1 worker, no disk) | %.0f | %.0f | %s | %s |\n' "$N" "$(rec "$NGINX")" "$(p50 "$NGINX")" "$(p99 "$NGINX")"
printf '| spool, one ~60 B text record per POST | %.0f | %.0f | %s | %s |\n' "$S" "$(rec "$SPOOL_TEXT")" "$(p50 "$SPOOL_TEXT")" "$(p99 "$SPOOL_TEXT")"
printf '| redis LPUSH 60 B, appendfsync always | %.0f | %.0f | | |\n' "$REDIS_RPS" "$REDIS_RPS"
printf '| spool, NDJSON 1,000 records per POST | %.0f | %.0f | %s | %s |\n' "$(rps "$SPOOL_NDJSON")" "$(rec "$SPOOL_NDJSON")" "$(p50 "$SPOOL_NDJSON")" "$(p99 "$SPOOL_NDJSON")"
echo
python3 - "$N" "$S" "$REDIS_RPS" <<'EOF'
import sys
n, s, r = map(float, sys.argv[1:])
print(f"spool / nginx = {s/n:.2f}x (target >= 0.8)")
print(f"spool / redis-always = {s/r:.2f}x (target >= 1.5)")
EOF
echo "redis p99: ${REDIS_P99:-n/a}"
echo "spool single-record run: $TEXT_SYNC"
echo "spool ndjson run:        $NDJSON_SYNC"

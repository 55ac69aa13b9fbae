# shellcheck shell=bash
# Sourced by peer.sh and curve.sh: the peers Spool is measured against, on
# loopback, each run in a directory the caller owns and removes.

# Installs Debian's nginx-light, redis-server and redis-tools when one is missing.
install_peers() {
    if ! command -v nginx >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1 ||
        ! command -v redis-benchmark >/dev/null 2>&1; then
        apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light redis-server redis-tools
    fi
}

# Writes $1/nginx.conf: one worker on 127.0.0.1:$2 answering every request
# with `return 200` and an accept body shaped like Spool's; access log off,
# nothing written to disk. Start it with: nginx -c "$1/nginx.conf" -p "$1"
nginx_conf() {
    local dir=$1 port=$2
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir;
    proxy_temp_path $dir; fastcgi_temp_path $dir;
    uwsgi_temp_path $dir; scgi_temp_path $dir;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port;
        location / { client_max_body_size 16m; return 200 '{"status":"accepted","id":"1"}'; }
    }
}
CONF
}

# Becomes redis-server on 127.0.0.1:$2 with its data in $1: appendonly yes,
# appendfsync always (a write is synced before its reply). Run it with `&`:
# it execs, so $! is the server's pid.
redis_always() {
    exec redis-server --port "$2" --bind 127.0.0.1 --dir "$1" --appendonly yes \
        --appendfsync always --save '' --daemonize no --logfile "$1/log"
}

# Sends $3 LPUSHes of 60-byte values over $2 connections to the Redis on
# port $1; prints "requests_per_s,p50_ms,p99_ms". redis-benchmark 7's --csv
# columns: test, rps, avg, min, p50, p95, p99, max (latencies in ms).
redis_lpush() {
    redis-benchmark -p "$1" -t lpush -c "$2" -d 60 -n "$3" --csv 2>/dev/null |
        awk -F'","' '/LPUSH/ { print $2 "," $5 "," $7 }'
}

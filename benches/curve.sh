#!/usr/bin/env bash
# How ingest throughput and latency change with concurrent connections:
# Spool (one ~60 B text record per POST, acknowledged once durable), nginx
# (`return 200`, one worker, nothing stored: the HTTP ceiling of one event
# loop) and Redis (LPUSH of 60 B values, appendonly + appendfsync always: a
# durable ack), each at every connection count, on this machine, loopback.
#
#   bash benches/curve.sh                              # 1 10 50 200 1000 connections, 5 s each
#   CONNS_LIST="1 50 1000" DURATION=10s REPS=3 bash benches/curve.sh
#
# At each connection count the systems take turns, REPS times. Spool and
# nginx are driven by the same client: wrk (CLIENT=wrk, the default; two
# event-loop threads, keep-alive, one POST of a 60-byte text line per
# request, from Debian's wrk package) or spool-load (CLIENT=spool-load: one
# blocking connection per thread, 1 s warm-up; at 1,000 connections its
# 1,000 threads on two cores are themselves the limit). Redis is driven by
# redis-benchmark, which has no duration: a short probe (also its warm-up)
# sizes the measured run to about DURATION. Spool runs on a fresh data directory each time, with its
# connection limits raised above the largest count.
#
# Writes $OUT/connections.csv (OUT defaults to benches/results), one row per
# run:
#   system,connections,rep,requests_per_s,records_per_s,p50_us,p99_us
# (Redis' latencies converted from redis-benchmark's ms), prints the medians
# as a markdown table and draws $OUT/connections.svg. Needs Debian's
# nginx-light, redis-server and redis-tools (installed with apt-get when
# missing). Every server it starts is stopped, and its directory under
# /var/tmp removed, on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS_LIST=${CONNS_LIST:-1 10 50 200 1000}
CLIENT=${CLIENT:-wrk}
DURATION=${DURATION:-5s}
REPS=${REPS:-1}
OUT=${OUT:-benches/results}
SECS=${DURATION%s}
if ! [[ $SECS =~ ^[0-9]+$ ]] || [ "$SECS" -eq 0 ]; then
    echo "DURATION must be whole seconds, e.g. 5s (got $DURATION)" >&2
    exit 2
fi
if ! [[ $CONNS_LIST =~ ^[[:space:]]*[1-9][0-9]*([[:space:]]+[1-9][0-9]*)*[[:space:]]*$ ]]; then
    echo "CONNS_LIST must be connection counts above 0 separated by spaces, e.g. \"1 10 50\" (got \"$CONNS_LIST\")" >&2
    exit 2
fi
if ! [[ $REPS =~ ^[1-9][0-9]*$ ]]; then
    echo "REPS must be a whole number above 0 (got $REPS)" >&2
    exit 2
fi
if [ "$CLIENT" != wrk ] && [ "$CLIENT" != spool-load ]; then
    echo "CLIENT must be wrk or spool-load (got $CLIENT)" >&2
    exit 2
fi
MAXC=0
for c in $CONNS_LIST; do [ "$c" -gt "$MAXC" ] && MAXC=$c; done
# The load tool and each server hold one descriptor per connection.
WANT_FDS=$((MAXC * 2 + 512))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$WANT_FDS" ]; then
    ulimit -n "$WANT_FDS" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((MAXC + 256)) ]; then
    echo "open files limit $(ulimit -n) is too low for $MAXC connections (hard limit $(ulimit -Hn))" >&2
    exit 2
fi
# Spool's defaults: 10,000 connections, 1,024 from one address.
SPOOL_LIMIT=$((MAXC + 64 > 10000 ? MAXC + 64 : 10000))

WORK=$(mktemp -d /var/tmp/spool-curve.XXXXXX)
NGINX=""  # pids of running servers, empty when none
SERVER=""
cleanup() {
    for p in $SERVER $NGINX; do kill "$p" 2>/dev/null || true; done
    for p in $SERVER $NGINX; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=benches/peer_servers.sh
. benches/peer_servers.sh
install_peers
# shellcheck source=benches/ports.sh
. benches/ports.sh

if [ "$CLIENT" = wrk ] && ! command -v wrk >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi
cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "INFO payment 4242 settled for order 9001 in 12 ms by worker 7"
wrk.headers["Content-Type"] = "text/plain"
LUA
cargo build --release -q -p spool-server -p spool-benches
BIN=${CARGO_TARGET_DIR:-target}/release
mkdir -p "$OUT"
CSV=$OUT/connections.csv
echo "system,connections,rep,requests_per_s,records_per_s,p50_us,p99_us" >"$CSV"

echo "machine: $(nproc) cores, $(uname -sr), $(df --output=fstype "$WORK" | tail -1) at $WORK; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "connections: $CONNS_LIST; $DURATION per measurement; $REPS repetition(s); client $CLIENT; open files limit $(ulimit -n)"
echo

stop_server() {
    kill -TERM "$SERVER"
    wait "$SERVER" || true
    SERVER=""
}

# spool-load's report on stdin -> one CSV row "$1,$2,$3,..." on stdout, and
# one line on stderr naming errors and non-2xx answers, if any.
LOAD_ROW='
import json, sys
system, conns, rep = sys.argv[1:4]
lines = [l[7:] for l in sys.stdin if l.startswith("RESULT ")]
if not lines:
    sys.exit(f"{system} at {conns} connections: no RESULT line from spool-load")
r = json.loads(lines[-1])
row = [system, conns, rep, r["requests_per_s"], r["records_per_s"], r["latency_us"]["p50"], r["latency_us"]["p99"]]
print(",".join(map(str, row)))
errors = {k: v for k, v in r["errors"].items() if v}
other = {k: v for k, v in r["status"].items() if not k.startswith("2")}
if errors or other:
    print(f"  {system} at {conns} connections, rep {rep}: errors {errors}, non-2xx answers {other}", file=sys.stderr)
'
# wrk's report on stdin -> the same CSV row; errors and non-2xx on stderr.
WRK_ROW='
import re, sys
system, conns, rep = sys.argv[1:4]
text = sys.stdin.read()
def us(v):
    n, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v).groups()
    return float(n) * {"us": 1, "ms": 1e3, "s": 1e6, "m": 6e7}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = us(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
p99 = us(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
print(f"{system},{conns},{rep},{rps:.1f},{rps:.1f},{p50:.0f},{p99:.0f}")
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errs = re.search(r"Socket errors: (.*)", text)
if bad or errs:
    what = " ".join(m.group(0) for m in (bad, errs) if m)
    print(f"  {system} at {conns} connections, rep {rep}: {what}", file=sys.stderr)
'
load() { # system conns rep port
    if [ "$CLIENT" = wrk ]; then
        local path=/; [ "$1" = spool ] && path=/ingest
        local threads=2; [ "$2" -lt 2 ] && threads=1
        wrk -t"$threads" -c"$2" -d"$DURATION" --latency -s "$WORK/post.lua" "http://127.0.0.1:$4$path" \
            >"$WORK/load.out"
        python3 -c "$WRK_ROW" "$1" "$2" "$3" <"$WORK/load.out" >>"$CSV"
        return
    fi
    "$BIN/spool-load" --addr "127.0.0.1:$4" --connections "$2" --duration "$DURATION" --shape text \
        >"$WORK/load.out"
    python3 -c "$LOAD_ROW" "$1" "$2" "$3" <"$WORK/load.out" >>"$CSV"
}

spool_point() { # conns rep
    local p; p=$(port)
    rm -rf "$WORK/spool-data"
    "$BIN/spool" serve --listen "127.0.0.1:$p" --data-dir "$WORK/spool-data" \
        --max-connections "$SPOOL_LIMIT" --max-connections-per-ip "$SPOOL_LIMIT" \
        2>"$WORK/spool.log" &
    SERVER=$!
    wait_port "$p"
    load spool "$1" "$2" "$p"
    stop_server
}

redis_point() { # conns rep
    local c=$1 p; p=$(port)
    rm -rf "$WORK/redis"; mkdir -p "$WORK/redis"
    redis_always "$WORK/redis" "$p" &
    SERVER=$!
    wait_port "$p"
    local probe n
    probe=$(redis_lpush "$p" "$c" $((c * 20 > 2000 ? c * 20 : 2000)) | cut -d, -f1)
    n=$(awk -v r="$probe" -v s="$SECS" -v c="$c" 'BEGIN { n = int(r * s); if (n < c * 10) n = c * 10; print n }')
    redis_lpush "$p" "$c" "$n" |
        awk -F, -v c="$c" -v rep="$2" '{ printf "redis,%d,%d,%s,%s,%.0f,%.0f\n", c, rep, $1, $1, $2 * 1000, $3 * 1000 }' \
            >>"$CSV"
    stop_server
}

NGINX_PORT=$(port)
nginx_conf "$WORK/nginx" "$NGINX_PORT"
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
NGINX=$!
wait_port "$NGINX_PORT"

for c in $CONNS_LIST; do
    for rep in $(seq 1 "$REPS"); do
        load nginx "$c" "$rep" "$NGINX_PORT"
        spool_point "$c" "$rep"
        redis_point "$c" "$rep"
    done
    echo "$c connections done" >&2
done

echo "rows: $CSV"
"$BIN/spool-plot" connections "$CSV" "$OUT/connections.svg"
echo
echo "figure: $OUT/connections.svg"

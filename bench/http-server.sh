#!/usr/bin/env bash
# bench/http-server.sh: wirelab's static HTTP server (`serve http --threads W`) against a
# private nginx with W worker processes, both serving the repo's www/ on 127.0.0.1, driven by
# wrk, at several numbers of concurrent keep-alive connections (and Connection: close at the
# lowest).
#
# Usage:
#   bench/http-server.sh                          # build (target-release/), measure, report
#   WIRELAB=/path/to/wirelab bench/http-server.sh # use this binary (no cargo build)
#
# Environment (all optional):
#   WORKERS="1 2"     nginx worker_processes and wirelab --threads, one pass each
#   CONNS="50 1000 10000"  wrk -c values (keep-alive); the first also runs Connection: close
#   WRK_THREADS=1     wrk -t
#   DURATION=10s      wrk -d per measured run
#   WARMUP=2s         short unmeasured wrk run before each measured one ("0" skips it)
#   FILES="f1.txt"    files under www/ to request
#   SERVER_CPUS       cores for the servers (default: 0 with one worker, 0-1 with two)
#   WRK_CPUS          cores for wrk (default: 1 with one worker, unpinned with two)
#   CARGO_TARGET_DIR  target dir for the build (default: $ROOT/target-release)
#
# Both servers run with keep-alive on, keep-alive timeout 65 s, at most 1000000 requests per
# connection, no access log; nginx has sendfile on and worker_connections 65536; the open-file
# limit is raised (ulimit -n 200000) for 10,000 connections. With two workers on this
# two-core machine the servers and wrk share the cores; the ratio is what compares.
#
# Output: a table (workers, case, nginx req/s, wirelab req/s, ratio wirelab/nginx, target >=
# 1.0) with latency, and bench/out/http-server-results.json. Raw wrk output is in
# bench/out/http-server-wrk-*.log. Exits 0 even if a target is missed. The trap on EXIT stops
# both servers (and wrk).
#
# Needs: apt-get install nginx-light wrk curl; cargo unless WIRELAB is set.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
OUT="$BENCH_DIR/out"
WWW="$ROOT/www"
DURATION=${DURATION:-10s}
WORKERS=${WORKERS:-"1 2"}
CONNS=${CONNS:-"50 1000 10000"}
WRK_THREADS=${WRK_THREADS:-1}
WARMUP=${WARMUP:-2s}
FILES=${FILES:-"f1.txt"}
RESULTS_JSON="$OUT/http-server-results.json"
NGINX_DIR="$OUT/http-server-nginx"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- prerequisites
if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi
missing=()
for tool in nginx wrk curl taskset; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [[ -z ${WIRELAB:-} ]] && ! command -v cargo >/dev/null 2>&1; then
    missing+=("cargo (or set WIRELAB=/path/to/wirelab)")
fi
((${#missing[@]} == 0)) || die "missing: ${missing[*]} (apt-get install -y nginx-light wrk curl)"
for f in $FILES; do [[ -r $WWW/$f ]] || die "$WWW/$f not found"; done
ncpu=$(nproc)
((ncpu >= 2)) || die "needs 2 cores"
mkdir -p "$OUT" "$NGINX_DIR/tmp"
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ---------------------------------------------------------------- cleanup
NGINX_PID="" WIRELAB_PID="" WRK_PID=""
stop_pid() { # stop_pid PID SIGNAL: signal, wait up to 5 s, then SIGKILL
    local pid=$1 sig=$2
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -"$sig" "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
}
cleanup() {
    local rc=$?
    set +e
    stop_pid "$WRK_PID" TERM
    stop_pid "$WIRELAB_PID" TERM
    stop_pid "$NGINX_PID" QUIT # graceful stop; the master stops its worker
    wait 2>/dev/null
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build
if [[ -n ${WIRELAB:-} ]]; then
    [[ -x $WIRELAB ]] || die "WIRELAB=$WIRELAB is not an executable"
else
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-release}
    log "cargo build --release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    (cd "$ROOT" && cargo build --release --quiet --no-default-features)
    WIRELAB="$CARGO_TARGET_DIR/release/wirelab"
fi

# ---------------------------------------------------------------- servers
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768+)
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    return 1
}

wait_up() { # wait_up NAME PID URL
    local name=$1 pid=$2 url=$3
    for _ in $(seq 100); do
        curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || die "$name exited at start"
        sleep 0.1
    done
    die "$name did not answer on $url"
}

# start_servers W: nginx with W workers and wirelab --threads W, pinned to SERVER_CPUS.
start_servers() {
    local w=$1 nginx_port user_line="" affinity
    SRV_CPUS=${SERVER_CPUS:-$([[ $w == 1 ]] && echo 0 || echo 0-1)}
    WRK_PIN=${WRK_CPUS:-$([[ $w == 1 ]] && echo 1 || echo "")}
    nginx_port=$(free_port) || die "no free port on 127.0.0.1"
    ((EUID == 0)) && user_line="user root root;" # the worker must be able to read www/
    affinity=$([[ $w == 1 ]] && echo 1 || echo auto)
    cat >"$NGINX_DIR/nginx.conf" <<NGINX
# Written by bench/http-server.sh: private nginx, $w worker(s), for the HTTP server benchmark.
$user_line
worker_processes $w;
worker_cpu_affinity $affinity;
worker_rlimit_nofile 200000;
daemon off;
master_process on;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log warn;
events { worker_connections 65536; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path $NGINX_DIR/tmp/body;
    proxy_temp_path $NGINX_DIR/tmp/proxy;
    fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
    uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
    scgi_temp_path $NGINX_DIR/tmp/scgi;
    server {
        listen 127.0.0.1:$nginx_port backlog=4096;
        server_name localhost;
        root $WWW;
    }
}
NGINX
    : >"$NGINX_DIR/error.log"
    taskset -c "$SRV_CPUS" nginx -e "$NGINX_DIR/error.log" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" &
    NGINX_PID=$!
    NGINX_URL="http://127.0.0.1:$nginx_port/"
    : >"$OUT/http-server-wirelab.url"
    taskset -c "$SRV_CPUS" "$WIRELAB" serve http --root "$WWW" --port 0 --threads "$w" \
        --keepalive-max 1000000 --keepalive-timeout 65 \
        >"$OUT/http-server-wirelab.url" 2>"$OUT/http-server-wirelab.err" &
    WIRELAB_PID=$!
    for _ in $(seq 100); do [[ -s $OUT/http-server-wirelab.url ]] && break; sleep 0.1; done
    WIRELAB_URL=$(head -n 1 "$OUT/http-server-wirelab.url" 2>/dev/null || true)
    [[ $WIRELAB_URL == http://* ]] || die "wirelab printed no URL: $(cat "$OUT/http-server-wirelab.err")"
    wait_up nginx "$NGINX_PID" "$NGINX_URL"
    wait_up wirelab "$WIRELAB_PID" "$WIRELAB_URL"
    log "$w worker(s): nginx (pid $NGINX_PID) $NGINX_URL · wirelab (pid $WIRELAB_PID) $WIRELAB_URL · servers on CPU $SRV_CPUS, wrk on ${WRK_PIN:-any CPU}"
    for f in $FILES; do
        a=$(curl -fsS "$NGINX_URL$f" | md5sum) b=$(curl -fsS "$WIRELAB_URL$f" | md5sum)
        [[ $a == "$b" ]] || die "$f differs between nginx and wirelab"
    done
}

stop_servers() {
    stop_pid "$WIRELAB_PID" TERM
    stop_pid "$NGINX_PID" QUIT
    WIRELAB_PID="" NGINX_PID=""
    sleep 1
}

# ---------------------------------------------------------------- wrk
to_ms() { # 635.91us | 1.20ms | 1.01s | 2.00m -> milliseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : 1
        printf "%.3f", n * f }'
}

# run_wrk LOG URL CONNS [wrk args...]: sets RPS LAT_P50 LAT_P99 NON2XX SOCKERR
run_wrk() {
    local logf=$1 url=$2 conns=$3; shift 3
    local pin=()
    [[ -n $WRK_PIN ]] && pin=(taskset -c "$WRK_PIN")
    if [[ $WARMUP != 0 ]]; then
        "${pin[@]}" wrk -t"$WRK_THREADS" -c"$conns" -d"$WARMUP" "$@" "$url" >/dev/null 2>&1 || true
        sleep 1
    fi
    "${pin[@]}" wrk -t"$WRK_THREADS" -c"$conns" -d"$DURATION" --timeout 10s --latency "$@" "$url" >"$logf" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || die "wrk failed: $(tail -n 5 "$logf")"
    WRK_PID=""
    RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$logf")
    LAT_P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$logf")")
    LAT_P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$logf")")
    NON2XX=$(awk -F: '/Non-2xx or 3xx responses/ { gsub(/ /, "", $2); print $2 }' "$logf")
    NON2XX=${NON2XX:-0}
    SOCKERR=$(awk '/Socket errors/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$logf")
    SOCKERR=${SOCKERR:-0}
    [[ -n $RPS ]] || die "could not parse $logf"
}

# server_ticks PID: CPU time (user + system, clock ticks) of PID and its child processes (nginx's
# workers), so that the cost per request can be compared even when other load disturbs req/s.
server_ticks() {
    local t=0 p
    for p in "$1" $(ps --ppid "$1" -o pid= 2>/dev/null); do
        [[ -r /proc/$p/stat ]] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo "$t"
}
TCK=$(getconf CLK_TCK)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "inf" }'; }

rows=() json_cases=()
first_conns=${CONNS%% *}
for w in $WORKERS; do
    start_servers "$w"
    for conns in $CONNS; do
        modes=(keepalive)
        [[ $conns == "$first_conns" ]] && modes+=(close)
        for mode in "${modes[@]}"; do
            hdr=()
            [[ $mode == close ]] && hdr=(-H "Connection: close")
            for f in $FILES; do
                case_name="$mode c=$conns $f"
                declare -A r=()
                for srv in nginx wirelab; do
                    url=$NGINX_URL$f
                    [[ $srv == wirelab ]] && url=$WIRELAB_URL$f
                    logf="$OUT/http-server-wrk-w$w-$srv-$mode-c$conns-$f.log"
                    log "workers=$w $case_name: $srv ..."
                    spid=$NGINX_PID
                    [[ $srv == wirelab ]] && spid=$WIRELAB_PID
                    WARMUP_SAVED=$WARMUP
                    if [[ $WARMUP != 0 ]]; then # warm up here, so the CPU count covers the measured run only
                        wrk -t"$WRK_THREADS" -c"$conns" -d"$WARMUP" "${hdr[@]}" "$url" >/dev/null 2>&1 || true
                        sleep 1
                    fi
                    WARMUP=0
                    t0=$(server_ticks "$spid")
                    run_wrk "$logf" "$url" "$conns" "${hdr[@]}"
                    t1=$(server_ticks "$spid")
                    WARMUP=$WARMUP_SAVED
                    REQS=$(awk '/requests in/ { print $1 }' "$logf")
                    USR=$(awk -v t=$((t1 - t0)) -v h="$TCK" -v n="$REQS" 'BEGIN { printf "%.1f", (n > 0) ? t / h * 1e6 / n : 0 }')
                    kill -0 "$NGINX_PID" 2>/dev/null || die "nginx died"
                    kill -0 "$WIRELAB_PID" 2>/dev/null || die "wirelab died"
                    r[$srv]="$RPS $LAT_P50 $LAT_P99 $NON2XX $SOCKERR $USR"
                    log "  $RPS req/s, p50 $LAT_P50 ms, p99 $LAT_P99 ms, non-2xx $NON2XX, socket errors $SOCKERR, server CPU $USR us/request"
                done
                read -r n_rps n_p50 n_p99 n_bad n_serr n_usr <<<"${r[nginx]}"
                read -r w_rps w_p50 w_p99 w_bad w_serr w_usr <<<"${r[wirelab]}"
                rat=$(ratio "$w_rps" "$n_rps")
                verdict=$(awk -v v="$rat" 'BEGIN { print (v >= 1.0) ? "PASS" : "MISS" }')
                rows+=("$(printf '%-7s %-24s %11.0f %11.0f %7s %-4s  %8.3f %8.3f  %8.3f %8.3f  %6s %6s  %7s %7s' \
                    "$w" "$case_name" "$n_rps" "$w_rps" "$rat" "$verdict" \
                    "$n_p50" "$w_p50" "$n_p99" "$w_p99" "$((n_bad + n_serr))" "$((w_bad + w_serr))" "$n_usr" "$w_usr")")
                json_cases+=("$(printf '    { "workers": %s, "mode": "%s", "connections": %s, "file": "%s", "nginx": { "req_per_s": %s, "p50_ms": %s, "p99_ms": %s, "errors": %s }, "wirelab": { "req_per_s": %s, "p50_ms": %s, "p99_ms": %s, "errors": %s }, "server_cpu_us_per_request": { "nginx": %s, "wirelab": %s }, "ratio_wirelab_over_nginx": %s, "result": "%s" }' \
                    "$w" "$mode" "$conns" "$f" "$n_rps" "$n_p50" "$n_p99" "$((n_bad + n_serr))" "$w_rps" "$w_p50" "$w_p99" "$((w_bad + w_serr))" "$n_usr" "$w_usr" "$rat" "$verdict")")
                unset r
            done
        done
    done
    stop_servers
done

# ---------------------------------------------------------------- report
echo
echo "wrk -t$WRK_THREADS -d$DURATION (warm-up $WARMUP); nginx $(nginx -v 2>&1 | sed 's/.*\///') with W workers; wirelab serve http --threads W"
echo
printf '%-7s %-24s %11s %11s %7s %-4s  %8s %8s  %8s %8s  %6s %6s  %7s %7s\n' \
    workers case "nginx r/s" "wlab r/s" ratio ">=1" "ngx p50" "wl p50" "ngx p99" "wl p99" "ngErr" "wlErr" "ngx us" "wl us"
printf '%s\n' "$(printf '%.0s-' $(seq 138))"
printf '%s\n' "${rows[@]}"
echo "(latency in ms; Err = non-2xx/3xx responses + socket errors as wrk counts them; us = server CPU time per request, microseconds)"
echo
{
    echo "{"
    echo "  \"wrk\": { \"threads\": $WRK_THREADS, \"duration\": \"$DURATION\", \"warmup\": \"$WARMUP\" },"
    echo "  \"cases\": ["
    n=${#json_cases[@]}
    for ((i = 0; i < n; i++)); do
        printf '%s' "${json_cases[$i]}"
        ((i < n - 1)) && echo "," || echo
    done
    echo "  ]"
    echo "}"
} >"$RESULTS_JSON"
if command -v jq >/dev/null 2>&1; then jq empty "$RESULTS_JSON" || die "bad JSON in $RESULTS_JSON"; fi
log "results written to $RESULTS_JSON"

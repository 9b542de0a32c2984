#!/usr/bin/env bash
# bench/http-server.sh: wirelab's static HTTP server (`serve http --threads 1`) against a
# private nginx with one worker, both serving the repo's www/ on 127.0.0.1, driven by wrk.
#
# Usage:
#   bench/http-server.sh                          # build (target-release/), measure, report
#   WIRELAB=/path/to/wirelab bench/http-server.sh # use this binary (no cargo build)
#
# Environment (all optional):
#   DURATION=10s      wrk -d per measured run
#   CONNS=50          wrk -c (wrk always runs with -t1)
#   WARMUP=2s         short unmeasured wrk run before each measured one ("0" skips it)
#   FILES="f1.txt dino.jpg"   files under www/ to request
#   SERVER_CPU=0 WRK_CPU=1    cores for the servers and for wrk (taskset; needs 2 cores)
#   CARGO_TARGET_DIR  target dir for the build (default: $ROOT/target-release, so the
#                     build does not disturb target/)
#
# Cases: for every file, keep-alive (wrk's default) and `-H "Connection: close"` (one request
# per TCP connection). Both servers run for the whole benchmark, pinned to SERVER_CPU
# (nginx: worker_cpu_affinity plus taskset on the master; wirelab: taskset), wrk to WRK_CPU.
# Both are configured alike: keep-alive on, keep-alive timeout 65 s, at most 1000000
# requests per connection, no access log; nginx has sendfile on.
#
# Output: a table (case, nginx req/s, wirelab req/s, ratio wirelab/nginx, target >= 1.0)
# with latency and transfer rate, and bench/out/http-server-results.json. Raw wrk output is
# in bench/out/http-server-wrk-*.log. Exits 0 even if a target is missed; nonzero only when
# the benchmark cannot run. The trap on EXIT stops both servers (and wrk).
#
# Needs: apt-get install nginx-light wrk curl; cargo unless WIRELAB is set.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
OUT="$BENCH_DIR/out"
WWW="$ROOT/www"
DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
WARMUP=${WARMUP:-2s}
FILES=${FILES:-"f1.txt dino.jpg"}
SERVER_CPU=${SERVER_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
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
((SERVER_CPU < ncpu && WRK_CPU < ncpu)) || die "SERVER_CPU/WRK_CPU must be < $ncpu"
mkdir -p "$OUT" "$NGINX_DIR/tmp"

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
    (cd "$ROOT" && cargo build --release --quiet)
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

nginx_port=$(free_port) || die "no free port on 127.0.0.1"
user_line=""
((EUID == 0)) && user_line="user root root;" # the worker must be able to read www/
affinity=$(printf '%0*d' $((SERVER_CPU + 1)) 1) # e.g. core 0 -> 1, core 1 -> 10
cat >"$NGINX_DIR/nginx.conf" <<EOF
# Written by bench/http-server.sh: private nginx, one worker, for the HTTP server benchmark.
$user_line
worker_processes 1;
worker_cpu_affinity $affinity;
daemon off;
master_process on;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log warn;
events { worker_connections 4096; }
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
EOF
: >"$NGINX_DIR/error.log"
taskset -c "$SERVER_CPU" nginx -e "$NGINX_DIR/error.log" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" &
NGINX_PID=$!
NGINX_URL="http://127.0.0.1:$nginx_port/"

taskset -c "$SERVER_CPU" "$WIRELAB" serve http --root "$WWW" --port 0 --threads 1 \
    --keepalive-max 1000000 --keepalive-timeout 65 \
    >"$OUT/http-server-wirelab.url" 2>"$OUT/http-server-wirelab.err" &
WIRELAB_PID=$!

wait_up() { # wait_up NAME PID URL-FILE-OR-URL
    local name=$1 pid=$2 url=$3
    for _ in $(seq 100); do
        if [[ $url == http* ]] && curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || die "$name exited at start"
        sleep 0.1
    done
    die "$name did not answer on $url"
}
for _ in $(seq 100); do [[ -s $OUT/http-server-wirelab.url ]] && break; sleep 0.1; done
WIRELAB_URL=$(head -n 1 "$OUT/http-server-wirelab.url" 2>/dev/null || true)
[[ $WIRELAB_URL == http://* ]] ||
    die "wirelab printed no URL: $(cat "$OUT/http-server-wirelab.err")"
wait_up nginx "$NGINX_PID" "$NGINX_URL"
wait_up wirelab "$WIRELAB_PID" "$WIRELAB_URL"
log "nginx   (pid $NGINX_PID) $NGINX_URL"
log "wirelab (pid $WIRELAB_PID) $WIRELAB_URL"

# Same bytes from both?
for f in $FILES; do
    a=$(curl -fsS "$NGINX_URL$f" | md5sum) b=$(curl -fsS "$WIRELAB_URL$f" | md5sum)
    [[ $a == "$b" ]] || die "$f differs between nginx and wirelab"
done

# ---------------------------------------------------------------- wrk
to_ms() { # 635.91us | 1.20ms | 1.01s | 2.00m -> milliseconds
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : 1
        printf "%.3f", n * f }'
}
to_mb() { # 123.45MB | 900.00KB | 1.2GB -> MiB (wrk uses 1024 multiples)
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        f = (u == "KB") ? 1 / 1024 : (u == "MB") ? 1 : (u == "GB") ? 1024 : (u == "TB") ? 1048576 : 1 / 1048576
        printf "%.2f", n * f }'
}

# run_wrk LOG URL [wrk args...]: sets RPS MBPS LAT_AVG LAT_P50 LAT_P99 LAT_MAX REQS NON2XX SOCKERR
run_wrk() {
    local logf=$1 url=$2; shift 2
    if [[ $WARMUP != 0 ]]; then
        taskset -c "$WRK_CPU" wrk -t1 -c"$CONNS" -d"$WARMUP" "$@" "$url" >/dev/null 2>&1 || true
        sleep 1
    fi
    taskset -c "$WRK_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$@" "$url" >"$logf" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || die "wrk failed: $(tail -n 5 "$logf")"
    WRK_PID=""
    RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$logf")
    MBPS=$(to_mb "$(awk '/^Transfer\/sec:/ { print $2 }' "$logf")")
    LAT_AVG=$(to_ms "$(awk '$1 == "Latency" && NF >= 5 { print $2; exit }' "$logf")")
    LAT_MAX=$(to_ms "$(awk '$1 == "Latency" && NF >= 5 { print $4; exit }' "$logf")")
    LAT_P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$logf")")
    LAT_P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$logf")")
    REQS=$(awk '/requests in/ { print $1 }' "$logf")
    NON2XX=$(awk -F: '/Non-2xx or 3xx responses/ { gsub(/ /, "", $2); print $2 }' "$logf")
    NON2XX=${NON2XX:-0}
    SOCKERR=$(awk '/Socket errors/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$logf")
    SOCKERR=${SOCKERR:-0}
    [[ -n $RPS ]] || die "could not parse $logf"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "inf" }'; }

rows=() json_cases=()
for mode in keepalive close; do
    hdr=()
    [[ $mode == close ]] && hdr=(-H "Connection: close")
    for f in $FILES; do
        case_name="$mode $f"
        declare -A r=()
        for srv in nginx wirelab; do
            url=$NGINX_URL$f
            [[ $srv == wirelab ]] && url=$WIRELAB_URL$f
            logf="$OUT/http-server-wrk-$srv-$mode-$f.log"
            log "$case_name: $srv ..."
            run_wrk "$logf" "$url" "${hdr[@]}"
            kill -0 "$NGINX_PID" 2>/dev/null || die "nginx died"
            kill -0 "$WIRELAB_PID" 2>/dev/null || die "wirelab died"
            r[$srv]="$RPS $MBPS $LAT_AVG $LAT_P50 $LAT_P99 $LAT_MAX $REQS $NON2XX $SOCKERR"
            log "  $RPS req/s, $MBPS MiB/s, latency avg $LAT_AVG ms p99 $LAT_P99 ms, non-2xx $NON2XX, socket errors $SOCKERR"
            ((NON2XX == 0)) || log "  warning: $NON2XX non-2xx/3xx responses from $srv"
            ((SOCKERR == 0)) || log "  warning: $SOCKERR socket errors against $srv"
        done
        read -r n_rps n_mb n_avg n_p50 n_p99 n_max n_reqs n_bad n_serr <<<"${r[nginx]}"
        read -r w_rps w_mb w_avg w_p50 w_p99 w_max w_reqs w_bad w_serr <<<"${r[wirelab]}"
        rat=$(ratio "$w_rps" "$n_rps")
        verdict=$(awk -v v="$rat" 'BEGIN { print (v >= 1.0) ? "PASS" : "MISS" }')
        rows+=("$(printf '%-20s %11.0f %11.0f %7s %-4s  %8.1f %8.1f  %7.3f %7.3f  %7.3f %7.3f  %5s %5s' \
            "$case_name" "$n_rps" "$w_rps" "$rat" "$verdict" "$n_mb" "$w_mb" \
            "$n_p50" "$w_p50" "$n_p99" "$w_p99" "$((n_bad + n_serr))" "$((w_bad + w_serr))")")
        srv_json() { # srv_json rps mb avg p50 p99 max reqs non2xx sockerr
            printf '{ "req_per_s": %s, "transfer_mib_per_s": %s, "latency_ms": { "avg": %s, "p50": %s, "p99": %s, "max": %s }, "requests": %s, "non_2xx_3xx": %s, "socket_errors": %s }' "$@"
        }
        json_cases+=("$(printf '    { "case": "%s", "mode": "%s", "file": "%s",\n      "nginx": %s,\n      "wirelab": %s,\n      "ratio_wirelab_over_nginx": %s, "target": ">= 1.0", "result": "%s" }' \
            "$case_name" "$mode" "$f" \
            "$(srv_json "$n_rps" "$n_mb" "$n_avg" "$n_p50" "$n_p99" "$n_max" "$n_reqs" "$n_bad" "$n_serr")" \
            "$(srv_json "$w_rps" "$w_mb" "$w_avg" "$w_p50" "$w_p99" "$w_max" "$w_reqs" "$w_bad" "$w_serr")" \
            "$rat" "$verdict")")
        unset r
    done
done

# ---------------------------------------------------------------- report
echo
echo "wrk -t1 -c$CONNS -d$DURATION (warm-up $WARMUP); servers on CPU $SERVER_CPU, wrk on CPU $WRK_CPU"
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///'), 1 worker; wirelab serve http --threads 1"
echo
printf '%-20s %11s %11s %7s %-4s  %8s %8s  %7s %7s  %7s %7s  %5s %5s\n' \
    case "nginx r/s" "wlab r/s" ratio ">=1" "ngx MiB" "wl MiB" "ngx p50" "wl p50" "ngx p99" "wl p99" "ngErr" "wlErr"
printf '%s\n' "$(printf '%.0s-' $(seq 125))"
printf '%s\n' "${rows[@]}"
echo "(latency in ms; MiB = transfer MiB/s; Err = non-2xx/3xx responses + socket errors)"
echo

{
    echo "{"
    echo "  \"wrk\": { \"threads\": 1, \"connections\": $CONNS, \"duration\": \"$DURATION\", \"warmup\": \"$WARMUP\" },"
    echo "  \"cpus\": { \"servers\": $SERVER_CPU, \"wrk\": $WRK_CPU },"
    echo "  \"nginx_url\": \"$NGINX_URL\", \"wirelab_url\": \"$WIRELAB_URL\","
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

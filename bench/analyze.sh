#!/usr/bin/env bash
# bench/analyze.sh: wirelab `analyze` throughput and memory compared with tshark and tcpdump,
# on two capture shapes it makes itself:
#   conn  connection-heavy: at least 1,000,000 packets of small HTTP/1.1 exchanges, a third of
#         the time with "Connection: close" (tens of thousands of connections);
#   bulk  bulk transfer: keep-alive downloads of a 4 MiB file, at least BULK_BYTES of capture.
#
# Usage (as root, because tcpdump captures on lo):
#   bench/analyze.sh                  # make or reuse both captures, build, measure
#   SHAPES=conn bench/analyze.sh      # one shape only
#   FORCE_CAPTURE=1 bench/analyze.sh  # make the captures again even if they exist
#   WIRELAB=/path/to/wirelab bench/analyze.sh   # use this binary (no cargo build)
#
# Environment (all optional):
#   SHAPES="conn bulk"       capture shapes to measure
#   TARGET_PACKETS=1000000   smallest packet count for the conn capture
#   BULK_BYTES=1073741824    smallest size of the bulk capture
#   CAPTURE_BUDGET=100       longest time (s) spent generating load
#   RUNS=3                   timed runs per tool (the table shows the median, and the best)
#   LOAD_DELAY_MS=2          pause between two requests on one wrk connection (0 = flat out;
#                            flat out, tcpdump drops most packets on a 2-core machine)
#   CAPTURE_ONLY=1           stop after making the captures
#   PCAP=bench/out/http-1m.pcap        the conn capture
#   BULK_PCAP=bench/out/http-bulk.pcap the bulk capture
#   MTU=1500                 capture with Ethernet-sized packets instead of loopback's: the
#                            script runs in a private network namespace (unshare --net) whose
#                            loopback has this MTU and one segment per packet (gso_max_segs 1),
#                            as a NIC without offloads shows them to tcpdump. Loopback's own
#                            MTU is 65536, so its data segments reach 64 KB. The captures are
#                            then http-1m-mtuMTU.pcap and http-bulk-mtuMTU.pcap
#
# Steps (for each shape):
#   1. Capture real HTTP/1.1 traffic on loopback: a private nginx (config, pid and logs in
#      bench/out/, 1 worker, 127.0.0.1 on a free high port, static files in bench/out/www/),
#      recorded by `tcpdump -i lo -s 0 -B 65536 port PORT` and driven by wrk, in rounds of
#      keep-alive load plus some "Connection: close" load (many SYN/FIN handshakes), until
#      the capture has at least TARGET_PACKETS packets. The trap on EXIT stops nginx,
#      tcpdump and wrk.
#   2. `cargo build --release --quiet --no-default-features` (`analyze --json` needs no
#      export feature; skipped if WIRELAB is set).
#   3. After one warm-up read of the file (the page cache can't be dropped), time RUNS
#      runs each, with /usr/bin/time -f "%e %M" (peak RSS) plus a nanosecond clock for wall time:
#        wirelab analyze F --json -q > /dev/null          (two threads, the default)
#        wirelab analyze F --json -q -j 1 > /dev/null     (one thread, for the gain)
#        tshark -r F -q -z conv,tcp > /dev/null
#        tcpdump -r F -w /dev/null
#   4. Print a table and these ratios with their targets: conn: tshark/wirelab time >= 15,
#      wirelab/tcpdump time <= 1.5; bulk: wirelab/tcpdump time <= 1.0; both: wirelab/tshark
#      peak memory <= 0.10. The same results go to bench/out/analyze-results-SHAPE.json.
#
# Needs: apt-get install nginx-light wrk tcpdump tshark time (capinfos comes with tshark),
# plus cargo unless WIRELAB is set. The script exits 0 even when a target is missed. It exits
# nonzero only when the benchmark can't run.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
OUT="$BENCH_DIR/out"
CONN_PCAP=${PCAP:-$OUT/http-1m.pcap}
BULK_PCAP=${BULK_PCAP:-$OUT/http-bulk.pcap}
SHAPES=${SHAPES:-conn bulk}
TARGET_PACKETS=${TARGET_PACKETS:-1000000}
BULK_BYTES=${BULK_BYTES:-1073741824}
CAPTURE_BUDGET=${CAPTURE_BUDGET:-100}
RUNS=${RUNS:-3}
SHAPE=conn PCAP=$CONN_PCAP

# MTU: the whole run moves into a private network namespace whose loopback carries packets of
# at most MTU bytes; it disappears with the script, so nothing needs removing.
if [[ -n ${MTU:-} && -z ${WIRELAB_BENCH_NETNS:-} ]]; then
    [[ $MTU =~ ^[0-9]+$ ]] && ((MTU >= 576)) || { printf '[bench] error: MTU=%s: give a number of bytes, at least 576\n' "$MTU" >&2; exit 1; }
    export MTU WIRELAB_BENCH_NETNS=1
    export PCAP=${PCAP:-$OUT/http-1m-mtu$MTU.pcap} BULK_PCAP=${BULK_PCAP:-$OUT/http-bulk-mtu$MTU.pcap}
    exec unshare --net bash -c 'ip link set lo up mtu "$MTU" gso_max_segs 1 gro_max_size "$MTU" && exec bash "$0" "$@"' "${BASH_SOURCE[0]}" "$@"
fi

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- prerequisites
# rustup installs cargo in ~/.cargo/bin, which a fresh shell (or make) may not have on PATH.
if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi
missing=()
for tool in tcpdump tshark capinfos; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[[ -x /usr/bin/time ]] || missing+=("/usr/bin/time (package: time)")
if [[ -z ${WIRELAB:-} ]] && ! command -v cargo >/dev/null 2>&1; then
    missing+=("cargo (or set WIRELAB=/path/to/wirelab)")
fi
if ((${#missing[@]})); then
    die "missing: ${missing[*]}
        install with: apt-get install -y nginx-light wrk tcpdump tshark time"
fi

mkdir -p "$OUT"

# ---------------------------------------------------------------- cleanup
NGINX_PID="" TCPDUMP_PID="" WRK_PID=""
cleanup() {
    local rc=$?
    set +e
    [[ -n $WRK_PID ]] && kill "$WRK_PID" 2>/dev/null
    if [[ -n $NGINX_PID ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -QUIT "$NGINX_PID" 2>/dev/null # graceful stop; master stops the worker
        for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NGINX_PID" 2>/dev/null
    fi
    if [[ -n $TCPDUMP_PID ]] && kill -0 "$TCPDUMP_PID" 2>/dev/null; then
        kill -INT "$TCPDUMP_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$TCPDUMP_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$TCPDUMP_PID" 2>/dev/null
    fi
    wait 2>/dev/null
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Complete packets in a pcap file, which may still be being written (ignores a truncated tail).
count_packets() {
    { tcpdump -n -q -t -r "$1" 2>/dev/null || true; } | wc -l
}

# ---------------------------------------------------------------- 1. capture
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 40000))
        # Connection refused means nobody listens there.
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

make_capture() {
    local tool
    for tool in nginx wrk; do
        command -v "$tool" >/dev/null 2>&1 ||
            die "$tool not found; install with: apt-get install -y nginx-light wrk"
    done
    ((EUID == 0)) || log "warning: not root; tcpdump on lo will probably fail"

    # Static content: a few small files of various sizes.
    local www="$OUT/www"
    rm -rf "$www" "$OUT/nginx-tmp" "$OUT"/wrk-*.log
    mkdir -p "$www" "$OUT/nginx-tmp"
    printf '<!doctype html><title>wirelab bench</title><p>hello</p>\n' >"$www/index.html"
    head -c 512 /dev/zero | tr '\0' 'a' >"$www/small.txt"
    head -c 2048 /dev/urandom | base64 -w 76 >"$www/style.css"            # ~2.7 KB
    head -c 6000 /dev/urandom | base64 -w 0 | sed 's/.*/{"data":"&"}/' >"$www/data.json" # ~8 KB
    head -c 16384 /dev/urandom >"$www/image.bin"                           # 16 KB
    head -c $((4 << 20)) /dev/urandom >"$www/big.bin"                      # 4 MiB (bulk)
    chmod -R a+rX "$www"

    local port
    port=$(free_port) || die "no free port found on 127.0.0.1"

    local conf="$OUT/nginx.conf"
    local user_line=""
    ((EUID == 0)) && user_line="user root root;" # the worker must read bench/out/www
    cat >"$conf" <<EOF
# Written by bench/analyze.sh; private nginx for the benchmark capture.
$user_line
worker_processes 1;
daemon off;
master_process on;
pid $OUT/nginx.pid;
error_log $OUT/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/octet-stream;
    types {
        text/html html;
        text/plain txt;
        text/css css;
        application/json json;
    }
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path $OUT/nginx-tmp/body;
    proxy_temp_path $OUT/nginx-tmp/proxy;
    fastcgi_temp_path $OUT/nginx-tmp/fastcgi;
    uwsgi_temp_path $OUT/nginx-tmp/uwsgi;
    scgi_temp_path $OUT/nginx-tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $www;
        log_not_found off;
    }
}
EOF

    : >"$OUT/nginx-error.log"
    nginx -e "$OUT/nginx-error.log" -p "$OUT" -c "$conf" &
    NGINX_PID=$!
    local ok=0
    for _ in $(seq 50); do
        if curl_ok "$port"; then ok=1; break; fi
        kill -0 "$NGINX_PID" 2>/dev/null || break
        sleep 0.1
    done
    ((ok)) || die "nginx did not start on 127.0.0.1:$port; see $OUT/nginx-error.log:
$(tail -n 5 "$OUT/nginx-error.log")"
    log "nginx (pid $NGINX_PID) serving $www on 127.0.0.1:$port"

    # wrk picks a file per request, weighted towards small ones.
    cat >"$OUT/paths.lua" <<'EOF'
-- Written by bench/analyze.sh: spread the requests over the static files.
local paths = { "/index.html", "/index.html", "/small.txt", "/small.txt", "/style.css",
                "/data.json", "/data.json", "/image.bin", "/index.html", "/missing.html" }
local i = 0
request = function()
    i = i + 1
    return wrk.format("GET", paths[(i % #paths) + 1])
end
-- Pace each connection (LOAD_DELAY_MS, default 2 ms between its requests) so tcpdump,
-- sharing the CPUs with wrk and nginx, keeps up and the capture has no kernel drops.
local pause = tonumber(os.getenv("LOAD_DELAY_MS") or "2")
if pause > 0 then
    delay = function() return pause end
end
EOF

    local tmp="$PCAP.part"
    rm -f "$tmp"
    tcpdump -i lo -w "$tmp" -s 0 -B 65536 -n port "$port" 2>"$OUT/tcpdump.log" &
    TCPDUMP_PID=$!
    ok=0
    for _ in $(seq 100); do
        if grep -q 'listening on' "$OUT/tcpdump.log" 2>/dev/null; then ok=1; break; fi
        kill -0 "$TCPDUMP_PID" 2>/dev/null || break
        sleep 0.05
    done
    ((ok)) || die "tcpdump did not start: $(cat "$OUT/tcpdump.log")"
    log "tcpdump (pid $TCPDUMP_PID) recording to $tmp"

    local url="http://127.0.0.1:$port/" start=$SECONDS round=0 n=0
    while [[ $SHAPE == bulk ]]; do
        round=$((round + 1))
        # Bulk: a few keep-alive connections downloading the big file back to back.
        wrk -t1 -c2 -d2s "${url}big.bin" >"$OUT/wrk-bulk-$round.log" 2>&1 &
        WRK_PID=$!; wait "$WRK_PID" || die "wrk failed: $(tail -n 5 "$OUT/wrk-bulk-$round.log")"
        WRK_PID=""
        n=$(stat -c %s "$tmp")
        log "round $round: $n bytes after $((SECONDS - start)) s"
        ((n >= BULK_BYTES)) && break
        ((SECONDS - start < CAPTURE_BUDGET)) || die "only $n bytes after $CAPTURE_BUDGET s of load"
    done
    while [[ $SHAPE == conn ]]; do
        round=$((round + 1))
        # Keep-alive: long-lived connections, many requests each.
        wrk -t2 -c50 -d2s -s "$OUT/paths.lua" "$url" >"$OUT/wrk-keepalive-$round.log" 2>&1 &
        WRK_PID=$!; wait "$WRK_PID" || die "wrk failed: $(tail -n 5 "$OUT/wrk-keepalive-$round.log")"
        # Connection: close: one request per connection, so SYN/FIN handshakes.
        wrk -t2 -c8 -d1s -H "Connection: close" -s "$OUT/paths.lua" "$url" >"$OUT/wrk-close-$round.log" 2>&1 &
        WRK_PID=$!; wait "$WRK_PID" || die "wrk failed: $(tail -n 5 "$OUT/wrk-close-$round.log")"
        WRK_PID=""
        n=$(count_packets "$tmp")
        log "round $round: ~$n packets after $((SECONDS - start)) s"
        ((n >= TARGET_PACKETS)) && break
        ((SECONDS - start < CAPTURE_BUDGET)) || die "only $n packets after $CAPTURE_BUDGET s of load"
    done

    sleep 0.5 # last FINs
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    TCPDUMP_PID=""
    kill -QUIT "$NGINX_PID"
    wait "$NGINX_PID" || true
    NGINX_PID=""
    log "tcpdump: $(grep -E 'captured|received|dropped' "$OUT/tcpdump.log" | tr '\n' ' ')"
    local dropped
    dropped=$(awk '/dropped by kernel/ { print $1 }' "$OUT/tcpdump.log")
    if ((${dropped:-0} > 0)); then
        log "warning: tcpdump lost $dropped packets (TCP gaps in the capture); try a larger LOAD_DELAY_MS"
    fi
    mv "$tmp" "$PCAP"
}

curl_ok() {
    # A tiny HTTP GET in pure bash, so curl isn't needed.
    local reply
    reply=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" &&
        printf 'GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3 &&
        head -n 1 <&3) 2>/dev/null) || return 1
    [[ $reply == HTTP/1.1\ 200* ]]
}

# ---------------------------------------------------------------- capture of one shape
# ensure_capture: makes or reuses the capture of $SHAPE at $PCAP; sets packets and size_bytes.
ensure_capture() {
packets=0
if [[ -z ${FORCE_CAPTURE:-} && -s $PCAP ]]; then
    packets=$(capinfos -c -M "$PCAP" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}')
    packets=${packets:-0}
fi
enough() { # enough PACKETS: whether the capture of this shape is big enough
    if [[ $SHAPE == bulk ]]; then
        [[ -s $PCAP ]] && (($(stat -c %s "$PCAP") >= BULK_BYTES))
    else
        (($1 >= TARGET_PACKETS))
    fi
}
if enough "$packets"; then
    log "reusing $PCAP ($packets packets)"
else
    log "generating $PCAP ($SHAPE)"
    make_capture
    packets=$(capinfos -c -M "$PCAP" | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}')
    enough "$packets" || die "capture has only $packets packets"
fi
size_bytes=$(stat -c %s "$PCAP")
log "capture ($SHAPE): $PCAP, $packets packets, $size_bytes bytes"
}

# ---------------------------------------------------------------- 3. measure
# measure NAME CMD...: RUNS runs; sets M_WALL (median s), M_BEST (best s), M_MB (median peak MB).
measure() {
    local name=$1; shift
    local tfile="$OUT/time-$name.txt" walls=() mems=() i t0 t1 rc
    cat "$PCAP" >/dev/null # warm-up read
    for ((i = 1; i <= RUNS; i++)); do
        t0=$(date +%s%N)
        rc=0
        /usr/bin/time -f "%e %M" -o "$tfile" "$@" >/dev/null 2>"$OUT/stderr-$name.txt" || rc=$?
        t1=$(date +%s%N)
        # wirelab exits 1 for a damaged capture; note it but still count the run.
        ((rc == 0)) || log "warning: $name exited with status $rc (see $OUT/stderr-$name.txt)"
        walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')")
        mems+=("$(tail -n 1 "$tfile" | awk '{ printf "%.1f", $2 / 1024 }')")
        log "$name run $i: ${walls[-1]} s, ${mems[-1]} MB (time: $(tail -n 1 "$tfile"))"
    done
    M_WALL=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    M_BEST=$(printf '%s\n' "${walls[@]}" | sort -g | head -n 1)
    M_MB=$(printf '%s\n' "${mems[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
}

# report_shape: times the three tools on $PCAP and prints the table and ratios of $SHAPE.
report_shape() {
RESULTS_JSON="$OUT/analyze-results-$SHAPE.json"
measure wirelab "$WIRELAB" analyze "$PCAP" --json -q
wl_wall=$M_WALL wl_best=$M_BEST wl_mb=$M_MB
measure wirelab-j1 "$WIRELAB" analyze "$PCAP" --json -q -j 1
w1_wall=$M_WALL w1_best=$M_BEST w1_mb=$M_MB
measure tshark tshark -r "$PCAP" -q -z conv,tcp
ts_wall=$M_WALL ts_best=$M_BEST ts_mb=$M_MB
measure tcpdump tcpdump -r "$PCAP" -w /dev/null
td_wall=$M_WALL td_best=$M_BEST td_mb=$M_MB

# wirelab's own view of the capture (not timed).
summary_json="$OUT/wirelab-analyze.json"
"$WIRELAB" analyze "$PCAP" --json -q >"$summary_json" || true
json_field() { # json_field KEY-IN-SECTION SECTION, without needing jq
    if command -v jq >/dev/null 2>&1; then
        jq -r ".$2.$1 // \"?\"" "$summary_json"
    else
        awk -v sec="\"$2\":" -v key="\"$1\":" '
            $1 == sec { in_sec = 1; next }
            in_sec && $1 == key { gsub(/,/, "", $2); print $2; exit }
            in_sec && /^  [}\]]/ { in_sec = 0 }' "$summary_json"
    fi
}
wl_packets=$(json_field packets capture)
wl_conns=$(json_field connections tcp)

# ---------------------------------------------------------------- 4. report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "inf" }'; }
verdict() { # verdict VALUE OP TARGET
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
        ok = (op == ">=") ? (v >= t) : (v <= t); print ok ? "PASS" : "MISS" }'
}
r_speed=$(ratio "$ts_wall" "$wl_wall")
r_tcpdump=$(ratio "$wl_wall" "$td_wall")
r_tcpdump1=$(ratio "$w1_wall" "$td_wall")
r_threads=$(ratio "$w1_wall" "$wl_wall")
r_mem=$(ratio "$wl_mb" "$ts_mb")
if [[ $SHAPE == bulk ]]; then t_speed="-" t_tcpdump=1.0; else t_speed=15 t_tcpdump=1.5; fi
v_speed=$( [[ $t_speed == - ]] && echo "-" || verdict "$r_speed" ">=" "$t_speed")
v_tcpdump=$(verdict "$r_tcpdump" "<=" "$t_tcpdump")
v_mem=$(verdict "$r_mem" "<=" 0.10)
size_mb=$(awk -v s="$size_bytes" 'BEGIN { printf "%.1f", s / 1048576 }')

echo
echo "shape: $SHAPE; capture: $PCAP"
echo "  packets: $packets (wirelab: $wl_packets), size: $size_bytes bytes ($size_mb MiB), TCP connections (wirelab): $wl_conns"
echo "  runs per tool: $RUNS (median shown; warm page cache)"
echo
printf '%-10s %12s %12s %12s\n' tool "wall s (med)" "wall s (best)" "peak MB"
printf '%-10s %12s %12s %12s\n' ---------- ------------ ------------ ------------
printf '%-10s %12s %12s %12s\n' wirelab "$wl_wall" "$wl_best" "$wl_mb"
printf '%-10s %12s %12s %12s\n' wirelab-j1 "$w1_wall" "$w1_best" "$w1_mb"
printf '%-10s %12s %12s %12s\n' tshark "$ts_wall" "$ts_best" "$ts_mb"
printf '%-10s %12s %12s %12s\n' tcpdump "$td_wall" "$td_best" "$td_mb"
echo
printf '%-34s %9s   %-10s %s\n' ratio value target result
printf '%-34s %9s   %-10s %s\n' "tshark_time / wirelab_time" "$r_speed" ">= $t_speed" "$v_speed"
printf '%-34s %9s   %-10s %s\n' "wirelab_time / tcpdump_time" "$r_tcpdump" "<= $t_tcpdump" "$v_tcpdump"
printf '%-34s %9s   %-10s %s\n' "wirelab_mem / tshark_mem" "$r_mem" "<= 0.10" "$v_mem"
printf '%-34s %9s   %-10s %s\n' "wirelab -j 1 time / tcpdump_time" "$r_tcpdump1" "(one thread)" "-"
printf '%-34s %9s   %-10s %s\n' "wirelab -j 1 time / wirelab time" "$r_threads" "(2 threads' gain)" "-"
echo

cat >"$RESULTS_JSON" <<EOF
{
  "shape": "$SHAPE",
  "capture": { "file": "$PCAP", "packets": $packets, "bytes": $size_bytes, "tcp_connections": ${wl_conns//\?/null} },
  "runs": $RUNS,
  "tools": {
    "wirelab": { "wall_s_median": $wl_wall, "wall_s_best": $wl_best, "peak_mb": $wl_mb },
    "wirelab_one_thread": { "wall_s_median": $w1_wall, "wall_s_best": $w1_best, "peak_mb": $w1_mb },
    "tshark":  { "wall_s_median": $ts_wall, "wall_s_best": $ts_best, "peak_mb": $ts_mb },
    "tcpdump": { "wall_s_median": $td_wall, "wall_s_best": $td_best, "peak_mb": $td_mb }
  },
  "ratios": {
    "tshark_time_over_wirelab_time": { "value": $r_speed, "target": ">= $t_speed", "result": "$v_speed" },
    "wirelab_time_over_tcpdump_time": { "value": $r_tcpdump, "target": "<= $t_tcpdump", "result": "$v_tcpdump" },
    "wirelab_mem_over_tshark_mem": { "value": $r_mem, "target": "<= 0.10", "result": "$v_mem" }
  }
}
EOF
log "results written to $RESULTS_JSON"
}

for SHAPE in $SHAPES; do
    case $SHAPE in
        conn) PCAP=$CONN_PCAP ;;
        bulk) PCAP=$BULK_PCAP ;;
        *) die "unknown shape $SHAPE (conn or bulk)" ;;
    esac
    ensure_capture
done
[[ -n ${CAPTURE_ONLY:-} ]] && exit 0
# ---------------------------------------------------------------- 2. build
if [[ -n ${WIRELAB:-} ]]; then
    [[ -x $WIRELAB ]] || die "WIRELAB=$WIRELAB is not an executable"
else
    log "cargo build --release --no-default-features"
    (cd "$ROOT" && cargo build --release --quiet --no-default-features)
    WIRELAB="${CARGO_TARGET_DIR:-$ROOT/target}/release/wirelab"
fi
for SHAPE in $SHAPES; do
    case $SHAPE in conn) PCAP=$CONN_PCAP ;; bulk) PCAP=$BULK_PCAP ;; esac
    packets=$(capinfos -c -M "$PCAP" | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}')
    size_bytes=$(stat -c %s "$PCAP")
    report_shape
done

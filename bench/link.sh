#!/usr/bin/env bash
# bench/link.sh: the emulated link's own cost (src/link/), with no delay, rate or loss configured.
#  1. Throughput: iperf3 TCP from the client namespace to the server namespace through
#     `wirelab link` (every packet crosses two TUN devices and the user-space shaper).
#     Target: >= 1 Gbit/s.
#  2. Added latency at RTT 0: a TCP ping-pong (1 byte each way, TCP_NODELAY, python3) across the
#     link, beside the same ping-pong on the loopback of a private namespace; the difference of
#     the medians is what the link adds to one round trip.
#  3. Handshake precision at RTT 50 ms: SYN -> SYN-ACK spacing in a capture on the client's TUN
#     device over 63 handshakes (3 non-persistent page loads): min, median, p90, max, and the
#     share within 1 ms of the RTT (target: all; outliers are late wake-ups on a busy machine).
#  4. (MODEL=1) The page-load table: the four fetch modes at RTT 20, 50 and 100 ms beside the
#     window-aware and textbook models (tests/link.rs, page_loads_match_the_window_aware_model),
#     held to the issue's target of +-5%.
# Needs root, iperf3, python3 and iproute2. Creates only its own namespaces and removes them.
# Usage (root): bench/link.sh   (WIRELAB=path to skip the release build; SECONDS_LOAD=5; PINGS=2000)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/bench/out"; mkdir -p "$OUT"
LOAD=${SECONDS_LOAD:-5}
PINGS=${PINGS:-2000}
if [ -z "${WIRELAB:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet --no-default-features)
  WIRELAB="${CARGO_TARGET_DIR:-$ROOT/target}/release/wirelab"
fi
LO_NS=wl-linkbench-$$
link_pid=""; pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -n "$link_pid" ] && { kill -INT "$link_pid" 2>/dev/null || true; wait "$link_pid" 2>/dev/null || true; }
  ip netns del $LO_NS 2>/dev/null || true
}
trap cleanup EXIT

"$WIRELAB" link > "$OUT/link-up.txt" & link_pid=$!
for _ in $(seq 100); do grep -q '^link up' "$OUT/link-up.txt" 2>/dev/null && break; sleep 0.05; done
SRV=$(awk '/^server:/ {print $3}' "$OUT/link-up.txt"); CLI=$(awk '/^client:/ {print $3}' "$OUT/link-up.txt")
SADDR=$(awk '/^server:/ {print $5}' "$OUT/link-up.txt")
[ -n "$SRV" ] && [ -n "$CLI" ] || { echo "link did not come up:"; cat "$OUT/link-up.txt"; exit 1; }

# 1. Throughput.
ip netns exec "$SRV" iperf3 -s -1 -p 5301 > /dev/null 2>&1 & pids+=($!)
sleep 0.5
ip netns exec "$CLI" iperf3 -c "$SADDR" -p 5301 -t "$LOAD" -J > "$OUT/link-iperf3.json"
gbps=$(python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print('%.2f' % (j['end']['sum_received']['bits_per_second']/1e9))" "$OUT/link-iperf3.json")
retr=$(python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(j['end']['sum_sent'].get('retransmits',0))" "$OUT/link-iperf3.json")

# 2. Added latency: TCP ping-pong across the link, and on a namespace's loopback.
PINGPONG=$(cat <<'EOF'
import socket, sys, time, statistics
role, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if role == "server":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((host, port)); s.listen(1)
    print("ready", flush=True)
    c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while (b := c.recv(1)):
        c.sendall(b)
else:
    for _ in range(100):
        try:
            c = socket.create_connection((host, port)); break
        except OSError:
            time.sleep(0.05)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    for i in range(n):
        t = time.perf_counter_ns(); c.sendall(b"x"); c.recv(1); rtts.append(time.perf_counter_ns() - t)
    rtts = rtts[n // 10:]  # warm-up
    print("%.1f %.1f" % (statistics.median(rtts) / 1e3, sorted(rtts)[int(len(rtts) * 0.99)] / 1e3))
EOF
)
pingpong() { # server-ns client-ns host
  ip netns exec "$1" python3 -c "$PINGPONG" server "$3" 5302 0 > /dev/null & pids+=($!)
  ip netns exec "$2" python3 -c "$PINGPONG" client "$3" 5302 "$PINGS"
}
read -r link_med link_p99 < <(pingpong "$SRV" "$CLI" "$SADDR")
ip netns add $LO_NS; ip -n $LO_NS link set lo up
read -r lo_med lo_p99 < <(pingpong $LO_NS $LO_NS 127.0.0.1)
added=$(python3 -c "print('%.1f' % ($link_med - $lo_med))")

# 3. Handshake precision at RTT 50 ms.
kill -INT "$link_pid"; wait "$link_pid" || true; link_pid=""
"$WIRELAB" link --rtt-ms 50 --capture "$OUT/link-rtt50.pcapng" > "$OUT/link-up.txt" & link_pid=$!
for _ in $(seq 100); do grep -q '^link up' "$OUT/link-up.txt" 2>/dev/null && break; sleep 0.05; done
SRV=$(awk '/^server:/ {print $3}' "$OUT/link-up.txt"); CLI=$(awk '/^client:/ {print $3}' "$OUT/link-up.txt")
ip netns exec "$SRV" "$WIRELAB" serve http --root "$ROOT/www" --bind "$SADDR" --port 8080 > /dev/null 2>&1 & pids+=($!)
sleep 0.5
for _ in 1 2 3; do ip netns exec "$CLI" "$WIRELAB" fetch "http://$SADDR:8080/BaseFile.html" --mode non-persistent > /dev/null; done
kill -INT "$link_pid"; wait "$link_pid" || true; link_pid=""
read -r hs_n hs_min hs_med hs_p90 hs_max hs_within < <(tshark -r "$OUT/link-rtt50.pcapng" -Y 'tcp.flags.syn == 1' -T fields -e tcp.stream -e frame.time_epoch -e tcp.flags.ack 2>/dev/null | python3 -c "
import sys
syn, ack = {}, {}
for l in sys.stdin:
    s, t, a = l.split('\t'); (ack if a.strip() in ('1', 'True') else syn)[s] = float(t)
d = sorted((ack[s] - syn[s]) * 1e3 for s in syn if s in ack)
n = len(d)
print(n, '%.3f %.3f %.3f %.3f' % (d[0], d[n // 2], d[int(n * 0.9)], d[-1]), '%.0f' % (100 * sum(1 for x in d if x - 50 <= 1) / n))
")

printf '%-44s %10s\n' "measure" "value"
printf '%-44s %10s\n' "throughput, no delay (iperf3 TCP, ${LOAD} s)" "$gbps Gbit/s"
printf '%-44s %10s\n' "iperf3 retransmissions" "$retr"
printf '%-44s %10s\n' "TCP ping-pong RTT across the link (median)" "$link_med us"
printf '%-44s %10s\n' "TCP ping-pong RTT on loopback (median)" "$lo_med us"
printf '%-44s %10s\n' "added latency at RTT 0 (median difference)" "$added us"
printf '%-44s %10s\n' "p99 across the link / on loopback" "$link_p99 / $lo_p99 us"
printf '%-44s %10s\n' "SYN->SYN-ACK at RTT 50 ms, $hs_n handshakes" "median $hs_med ms"
printf '%-44s %10s\n' "  min / p90 / max" "$hs_min / $hs_p90 / $hs_max ms"
printf '%-44s %10s\n' "  within 1 ms of the RTT" "$hs_within %"
printf '{"gbit_s":%s,"iperf3_retransmits":%s,"link_rtt_median_us":%s,"loopback_rtt_median_us":%s,"added_latency_us":%s,"handshake_ms":{"n":%s,"min":%s,"median":%s,"p90":%s,"max":%s,"within_1ms_pct":%s}}\n' \
  "$gbps" "$retr" "$link_med" "$lo_med" "$added" "$hs_n" "$hs_min" "$hs_med" "$hs_p90" "$hs_max" "$hs_within" > "$OUT/link.json"
echo "target: >= 1 Gbit/s with no delay; results in bench/out/link.json"

if [ "${MODEL:-0}" = 1 ]; then
  echo; echo "page loads beside the models (best of 3 loads; target: window-aware model within +-5%):"
  (cd "$ROOT" && WIRELAB_MODEL_TOLERANCE_PCT=5 cargo test --release --quiet --no-default-features --test link page_loads -- --nocapture 2>&1 \
    | grep -E '^ +rtt|^ *[0-9]+ms|all within|panicked')
fi

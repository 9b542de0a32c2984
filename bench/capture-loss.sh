#!/usr/bin/env bash
# bench/capture-loss.sh: capture loss under load. wrk drives `wirelab serve http` over loopback
# while `wirelab capture` and tcpdump record the same traffic at the same time; prints the packet
# rate and each capturer's kernel drop count. Target: >= 200,000 packets/s with zero drops.
# Usage (root): bench/capture-loss.sh    (WIRELAB=path to skip the release build; SECONDS_LOAD=5)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/bench/out"; mkdir -p "$OUT"
LOAD=${SECONDS_LOAD:-5}
if [ -z "${WIRELAB:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
  WIRELAB="${CARGO_TARGET_DIR:-$ROOT/target}/release/wirelab"
fi
pids=()
trap 'for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done' EXIT
"$WIRELAB" serve http --root "$ROOT/www" --port 0 --threads 1 --keepalive-max 1000000 --keepalive-timeout 60 > "$OUT/loss-url.txt" 2>/dev/null & pids+=($!)
for _ in $(seq 50); do [ -s "$OUT/loss-url.txt" ] && break; sleep 0.1; done
URL=$(head -1 "$OUT/loss-url.txt"); PORT=${URL##*:}; PORT=${PORT%/}
rm -f "$OUT/loss-wirelab.pcapng" "$OUT/loss-tcpdump.pcap"
"$WIRELAB" capture -i lo -f "tcp port $PORT" -o "$OUT/loss-wirelab.pcapng" --duration $((LOAD + 3)) 2> "$OUT/loss-wirelab.log" & wl=$!
tcpdump -i lo -B 65536 -s 262144 -w "$OUT/loss-tcpdump.pcap" "tcp port $PORT" 2> "$OUT/loss-tcpdump.log" & td=$!; pids+=($td)
sleep 1.5
wrk -t1 -c50 -d${LOAD}s "${URL}f1.txt" > "$OUT/loss-wrk.txt"
sleep 1
kill -INT $td; wait $td 2>/dev/null || true
wait $wl
wl_pkts=$(grep -oE '[0-9,]+ packets \(' "$OUT/loss-wirelab.log" | tr -dc 0-9)
wl_drop=$(grep -oE 'kernel dropped [0-9]+' "$OUT/loss-wirelab.log" | tr -dc 0-9)
td_pkts=$(grep -oE '^[0-9]+ packets captured' "$OUT/loss-tcpdump.log" | tr -dc 0-9)
td_drop=$(grep -oE '^[0-9]+ packets dropped by kernel' "$OUT/loss-tcpdump.log" | tr -dc 0-9)
rps=$(grep Requests/sec "$OUT/loss-wrk.txt" | awk '{print $2}')
pps=$(python3 -c "print(round($wl_pkts / $LOAD))")
printf 'load: wrk %s req/s for %s s; captured packets/s (wirelab count / load seconds): %s (target >= 200000)\n' "$rps" "$LOAD" "$pps"
printf '%-10s %12s %14s\n' capturer packets kernel_drops
printf '%-10s %12s %14s\n' wirelab "$wl_pkts" "$wl_drop" tcpdump "$td_pkts" "$td_drop"
echo "{\"wrk_rps\": $rps, \"seconds\": $LOAD, \"pps\": $pps, \"wirelab\": {\"packets\": $wl_pkts, \"kernel_drops\": $wl_drop}, \"tcpdump\": {\"packets\": $td_pkts, \"kernel_drops\": $td_drop}}" > "$OUT/capture-loss-results.json"

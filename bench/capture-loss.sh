#!/usr/bin/env bash
# bench/capture-loss.sh: capture loss under load, for wirelab's capture and tcpdump.
#  1. HTTP: wrk drives `wirelab serve http` over loopback (about 2 packets per request; CPU-bound
#     near 190k packets/s on 2 cores); each capturer alone, then both at once.
#  2. Packet rate: iperf3 sends 64-byte UDP datagrams as fast as it can (>500k packets/s) on the
#     loopback of a private network namespace (created and removed here); each capturer alone,
#     then both at once.
# Prints packets/s and each capturer's kernel drops. Target: >= 200,000 packets/s, zero drops.
# Needs root, wrk, tcpdump, iperf3 and iproute2.
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
NS=wl-loss-$$
trap 'for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; ip netns del $NS 2>/dev/null || true' EXIT
"$WIRELAB" serve http --root "$ROOT/www" --port 0 --threads 1 --keepalive-max 1000000 --keepalive-timeout 60 > "$OUT/loss-url.txt" 2>/dev/null & pids+=($!)
for _ in $(seq 50); do [ -s "$OUT/loss-url.txt" ] && break; sleep 0.1; done
URL=$(head -1 "$OUT/loss-url.txt"); PORT=${URL##*:}; PORT=${PORT%/}
# One result row from a capturer's log: pass name, capturer, packets/s ("" = packets / LOAD), wrk req/s.
report() {
  local name=$1 who=$2 pps=$3 rps=$4 p d
  if [ "$who" = wirelab ]; then
    p=$(grep -oE '[0-9,]+ packets \(' "$OUT/loss-wirelab.log" | tr -dc 0-9); d=$(grep -oE 'kernel dropped [0-9]+' "$OUT/loss-wirelab.log" | tr -dc 0-9)
  else
    p=$(grep -oE '^[0-9]+ packets captured' "$OUT/loss-tcpdump.log" | tr -dc 0-9); d=$(grep -oE '^[0-9]+ packets dropped by kernel' "$OUT/loss-tcpdump.log" | tr -dc 0-9)
  fi
  [ -n "$pps" ] || pps=$((p / LOAD))
  printf '%-22s %-9s %12s %10s %14s %12s\n' "$name" "$who" "$p" "$pps" "$d" "$rps"
  results+="{\"pass\":\"$name\",\"capturer\":\"$who\",\"packets\":$p,\"pps\":$pps,\"kernel_drops\":$d},"
}

# One pass: the given capturers record while wrk runs; prints a row per capturer.
pass() { # name, then "wirelab" and/or "tcpdump"
  local name=$1; shift
  rm -f "$OUT/loss-wirelab.pcapng" "$OUT/loss-tcpdump.pcap" "$OUT/loss-wirelab.log" "$OUT/loss-tcpdump.log"
  local wl="" td=""
  for c in "$@"; do
    if [ "$c" = wirelab ]; then
      "$WIRELAB" capture -i lo -f "tcp port $PORT" -o "$OUT/loss-wirelab.pcapng" --duration $((LOAD + 3)) 2> "$OUT/loss-wirelab.log" & wl=$!
    else
      tcpdump -i lo -B 65536 -s 262144 -w "$OUT/loss-tcpdump.pcap" "tcp port $PORT" 2> "$OUT/loss-tcpdump.log" & td=$!; pids+=($td)
    fi
  done
  sleep 1.5
  wrk -t1 -c50 -d${LOAD}s "${URL}f1.txt" > "$OUT/loss-wrk.txt"
  sleep 1
  [ -n "$td" ] && { kill -INT $td; wait $td 2>/dev/null || true; }
  [ -n "$wl" ] && wait $wl
  local rps; rps=$(grep Requests/sec "$OUT/loss-wrk.txt" | awk '{print $2}')
  [ -n "$wl" ] && report "$name" wirelab "" "$rps"
  [ -n "$td" ] && report "$name" tcpdump "" "$rps"
  return 0
}

results="["
printf '%-22s %-9s %12s %10s %14s %12s\n' pass capturer packets pps kernel_drops wrk_req_s
pass "http alone" wirelab
pass "http alone" tcpdump
pass "http both at once" wirelab tcpdump

# Packet-rate passes: UDP datagrams in a private namespace (its own lo, nothing else on it).
ip netns add $NS
ip netns exec $NS ip link set lo up
upass() { # name, then capturers
  local name=$1; shift
  local wl="" td=""
  rm -f "$OUT/loss-wirelab.log" "$OUT/loss-tcpdump.log"
  ip netns exec $NS iperf3 -s -p 5299 -1 > /dev/null 2>&1 & local srv=$!
  for c in "$@"; do
    if [ "$c" = wirelab ]; then
      ip netns exec $NS "$WIRELAB" capture -i lo -f "udp port 5299" -o "$OUT/loss-wirelab.pcapng" --duration $((LOAD + 3)) 2> "$OUT/loss-wirelab.log" & wl=$!
    else
      ip netns exec $NS tcpdump -i lo -B 65536 -w "$OUT/loss-tcpdump.pcap" "udp port 5299" 2> "$OUT/loss-tcpdump.log" & td=$!
    fi
  done
  sleep 1.5
  local sent; sent=$(ip netns exec $NS iperf3 -c 127.0.0.1 -p 5299 -u -b 0 -l 64 -t "$LOAD" 2>&1 | grep sender | grep -oE '/[0-9]+ ' | tr -dc 0-9)
  local pps=$((sent / LOAD))
  sleep 1
  [ -n "$td" ] && { ip netns exec $NS kill -INT $td 2>/dev/null || kill -INT $td; wait $td 2>/dev/null || true; }
  [ -n "$wl" ] && wait $wl
  wait $srv 2>/dev/null || true
  [ -n "$wl" ] && report "$name" wirelab "$pps" "-"
  [ -n "$td" ] && report "$name" tcpdump "$pps" "-"
  return 0
}
upass "udp alone" wirelab
upass "udp alone" tcpdump
upass "udp both at once" wirelab tcpdump
echo "${results%,}]" > "$OUT/capture-loss-results.json"
echo "target: >= 200000 packets/s with zero drops; results in $OUT/capture-loss-results.json"

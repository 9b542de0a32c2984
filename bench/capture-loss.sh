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
  if [ -n "$wl" ]; then
    local p d; p=$(grep -oE '[0-9,]+ packets \(' "$OUT/loss-wirelab.log" | tr -dc 0-9); d=$(grep -oE 'kernel dropped [0-9]+' "$OUT/loss-wirelab.log" | tr -dc 0-9)
    printf '%-22s %-9s %12s %10s %14s %12s\n' "$name" wirelab "$p" "$((p / LOAD))" "$d" "$rps"
    results+="{\"pass\":\"$name\",\"capturer\":\"wirelab\",\"packets\":$p,\"pps\":$((p / LOAD)),\"kernel_drops\":$d,\"wrk_rps\":$rps},"
  fi
  if [ -n "$td" ]; then
    local p d; p=$(grep -oE '^[0-9]+ packets captured' "$OUT/loss-tcpdump.log" | tr -dc 0-9); d=$(grep -oE '^[0-9]+ packets dropped by kernel' "$OUT/loss-tcpdump.log" | tr -dc 0-9)
    printf '%-22s %-9s %12s %10s %14s %12s\n' "$name" tcpdump "$p" "$((p / LOAD))" "$d" "$rps"
    results+="{\"pass\":\"$name\",\"capturer\":\"tcpdump\",\"packets\":$p,\"pps\":$((p / LOAD)),\"kernel_drops\":$d,\"wrk_rps\":$rps},"
  fi
}

results="["
printf '%-22s %-9s %12s %10s %14s %12s\n' pass capturer packets pps kernel_drops wrk_req_s
pass alone wirelab
pass alone tcpdump
pass "both at once" wirelab tcpdump
echo "${results%,}]" > "$OUT/capture-loss-results.json"
echo "target: >= 200000 packets/s with zero drops; results in $OUT/capture-loss-results.json"

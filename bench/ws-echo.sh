#!/usr/bin/env bash
# bench/ws-echo.sh: the same client (wirelab ws-echo) against wirelab's WebSocket echo server
# and an independent one (Python's `websockets`), on loopback, both single-threaded and without
# compression. Prints round-trip percentiles and throughput for each, and the ratio.
#
# Usage: bench/ws-echo.sh        (WIRELAB=path/to/wirelab to skip the release build)
# Needs: python3 with `websockets` (make pydeps installs it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/bench/out"; mkdir -p "$OUT"
if [ -z "${WIRELAB:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet)
  WIRELAB="${CARGO_TARGET_DIR:-$ROOT/target}/release/wirelab"
fi
pids=()
trap 'for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done' EXIT

"$WIRELAB" serve ws --port 0 --threads 1 > "$OUT/ws-wirelab.url" 2>/dev/null & pids+=($!)
python3 - > "$OUT/ws-python.url" <<'PY' &
import asyncio, sys, websockets
async def echo(ws):
    async for m in ws:
        await ws.send(m)
async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, compression=None, max_size=None) as s:
        print(f"ws://127.0.0.1:{s.sockets[0].getsockname()[1]}/", flush=True)
        await asyncio.Future()
asyncio.run(main())
PY
pids+=($!)
for f in ws-wirelab.url ws-python.url; do
  for _ in $(seq 50); do [ -s "$OUT/$f" ] && break; sleep 0.1; done
done
W=$(head -1 "$OUT/ws-wirelab.url")echo
P=$(head -1 "$OUT/ws-python.url")echo

printf '%-28s %-10s %10s %10s %10s %12s %10s\n' case server p50_ms p99_ms max_ms msg_per_s MB_per_s
results="["
for c in "64 20000" "4096 5000" "65536 500"; do
  set -- $c
  for srv in wirelab python; do
    url=$W; [ $srv = python ] && url=$P
    j=$("$WIRELAB" ws-echo "$url" -n "$2" -s "$1" --json)
    read -r p50 p99 mx mps mbs < <(python3 -c 'import json,sys; j=json.load(sys.stdin); r=j["rtt"]; print(r["p50_ms"], r["p99_ms"], r["max_ms"], j["messages_per_s"], j["mb_per_s"])' <<< "$j")
    printf '%-28s %-10s %10.3f %10.3f %10.3f %12.0f %10.2f\n' "$2 x $1 B" $srv "$p50" "$p99" "$mx" "$mps" "$mbs"
    results+="{\"size\":$1,\"count\":$2,\"server\":\"$srv\",\"p50_ms\":$p50,\"p99_ms\":$p99,\"msg_per_s\":$mps,\"mb_per_s\":$mbs},"
    eval "mps_$srv=$mps"
  done
  python3 -c "print(f'{\"\":28} wirelab/python throughput ratio: {$mps_wirelab/$mps_python:.2f}')"
done
echo "${results%,}]" > "$OUT/ws-echo-results.json"
echo "results written to $OUT/ws-echo-results.json"

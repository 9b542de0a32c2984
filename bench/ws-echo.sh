#!/usr/bin/env bash
# bench/ws-echo.sh: the same client (`wirelab ws-echo`) against three WebSocket echo servers on
# loopback: wirelab (`serve ws --threads 1`), Node's `ws` package and Python's `websockets`,
# each single-threaded and without compression. One connection and 50 concurrent connections
# (`ws-echo --connections 50`, each connection sending its own messages, one at a time).
# Prints round-trip percentiles and throughput for each, and the ratios wirelab/node and
# wirelab/python (target: wirelab >= node).
#
# Usage: bench/ws-echo.sh        (WIRELAB=path/to/wirelab to skip the release build)
# Environment: SERVER_CPU=0 CLIENT_CPU=1 (taskset), SCALE=1 (multiplies message counts).
# Needs: python3 with `websockets` (make pydeps), node + npm (make benchdeps installs `ws`
# into bench/node/node_modules).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/bench/out"; mkdir -p "$OUT"
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SCALE=${SCALE:-1}
if [ -z "${WIRELAB:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet --no-default-features)
  WIRELAB="${CARGO_TARGET_DIR:-$ROOT/target}/release/wirelab"
fi
[ -d "$ROOT/bench/node/node_modules/ws" ] || (cd "$ROOT/bench/node" && npm install --no-audit --no-fund --silent)
pids=()
trap 'for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done' EXIT

taskset -c "$SERVER_CPU" "$WIRELAB" serve ws --port 0 --threads 1 > "$OUT/ws-wirelab.url" 2>/dev/null & pids+=($!); pid_wirelab=$!
taskset -c "$SERVER_CPU" python3 - > "$OUT/ws-python.url" <<'PY' &
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
pids+=($!); pid_python=$!
(cd "$ROOT/bench/node" && exec taskset -c "$SERVER_CPU" node -e '
const { WebSocketServer } = require("ws");
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, maxPayload: 1 << 30 });
wss.on("listening", () => console.log(`ws://127.0.0.1:${wss.address().port}/`));
wss.on("connection", (ws) => ws.on("message", (m, isBinary) => ws.send(m, { binary: isBinary })));
') > "$OUT/ws-node.url" 2>/dev/null & pids+=($!); pid_node=$!
for f in ws-wirelab.url ws-python.url ws-node.url; do
  for _ in $(seq 100); do [ -s "$OUT/$f" ] && break; sleep 0.1; done
  [ -s "$OUT/$f" ] || { echo "no URL in $OUT/$f" >&2; exit 1; }
done
W=$(head -1 "$OUT/ws-wirelab.url")echo
N=$(head -1 "$OUT/ws-node.url")echo
P=$(head -1 "$OUT/ws-python.url")echo

echo "servers on CPU $SERVER_CPU (each single-threaded), client (wirelab ws-echo, one thread) on CPU $CLIENT_CPU"
echo "srv_us/msg: the server's CPU time (user+system) per echoed message, a measure that other load on the machine disturbs less than msg/s"
printf '%-26s %-8s %9s %9s %9s %11s %9s %11s\n' case server p50_ms p99_ms max_ms msg_per_s MB_per_s srv_us/msg
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)
results="["
# connections size count-per-connection
for c in "1 64 20000" "1 4096 5000" "1 65536 500" "50 64 1000" "50 4096 200"; do
  set -- $c
  n=$(( $3 * SCALE ))
  label="$1 conn x $n x $2 B"
  for srv in wirelab node python; do
    case $srv in wirelab) url=$W ;; node) url=$N ;; python) url=$P ;; esac
    spid=pid_$srv; c0=$(cpu_ticks "${!spid}")
    j=$(taskset -c "$CLIENT_CPU" "$WIRELAB" ws-echo "$url" -n "$n" -s "$2" --connections "$1" --json)
    c1=$(cpu_ticks "${!spid}")
    read -r p50 p99 mx mps mbs msgs < <(python3 -c 'import json,sys; j=json.load(sys.stdin); r=j["rtt"]; print(r["p50_ms"], r["p99_ms"], r["max_ms"], j["messages_per_s"], j["mb_per_s"], j["messages"])' <<< "$j")
    usm=$(awk -v t=$((c1 - c0)) -v h="$TCK" -v m="$msgs" 'BEGIN { printf "%.2f", t / h * 1e6 / m }')
    printf '%-26s %-8s %9.3f %9.3f %9.3f %11.0f %9.2f %11s\n' "$label" $srv "$p50" "$p99" "$mx" "$mps" "$mbs" "$usm"
    results+="{\"connections\":$1,\"size\":$2,\"count\":$n,\"server\":\"$srv\",\"p50_ms\":$p50,\"p99_ms\":$p99,\"max_ms\":$mx,\"msg_per_s\":$mps,\"mb_per_s\":$mbs,\"server_cpu_us_per_msg\":$usm},"
    eval "mps_$srv=$mps; p50_$srv=$p50; usm_$srv=$usm"
  done
  python3 -c "print(f'{\"\":26} throughput wirelab/node {$mps_wirelab/$mps_node:.2f} ({\"PASS\" if $mps_wirelab >= $mps_node else \"MISS\"} >= 1)  wirelab/python {$mps_wirelab/$mps_python:.2f}  ·  p50 node/wirelab {$p50_node/$p50_wirelab:.2f}  ·  CPU per msg node/wirelab {$usm_node/max($usm_wirelab,1e-9):.2f}')"
done
echo "${results%,}]" > "$OUT/ws-echo-results.json"
echo "results written to $OUT/ws-echo-results.json"

#!/usr/bin/env bash
# Runs each cargo-fuzz target for N seconds (default 60) and prints the executions it made.
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
mkdir -p fuzz/corpus/reader
# Seed the reader with real captures.
cp -n ../shared/corpus/pcapplusplus/*.pcap* tests/fixtures/*.pcap* fuzz/corpus/reader/ 2>/dev/null || true
for t in reader reassembler http websocket; do
  echo "==> fuzzing $t for ${secs}s"
  cargo fuzz run "$t" -- -max_total_time="$secs" -max_len=65536 2>&1 | tee "fuzz/$t.log" | grep -E "^#[0-9]+.*(DONE|pulse)|ERROR|panicked" || true
  grep -E "Done [0-9]+ runs" "fuzz/$t.log" || { echo "fuzz target $t failed"; exit 1; }
done

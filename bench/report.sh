#!/usr/bin/env bash
# bench/report.sh: `wirelab report CAPTURE` against `wirelab analyze -q --json CAPTURE` on the
# same capture (issue 9's target: the report within 2x the time of analyze on 1M packets).
#
# Usage:
#   bench/report.sh                       # the conn capture of bench/analyze.sh (made if missing)
#   PCAP=/path/to/capture.pcap bench/report.sh
#   MTU=1500 bench/report.sh              # on a capture of Ethernet-sized packets (made if missing)
#   WIRELAB=/path/to/wirelab bench/report.sh   # use this binary (no cargo build)
#
# Environment (all optional):
#   PCAP=bench/out/http-1m.pcap   the capture; if it does not exist, bench/analyze.sh makes it
#                                 (CAPTURE_ONLY=1 SHAPES=conn; needs root, nginx, wrk, tcpdump)
#   MTU=1500                      the conn capture with packets of at most MTU bytes
#                                 (bench/out/http-1m-mtu1500.pcap; see MTU in bench/analyze.sh)
#   RUNS=5                        timed runs of each command, in turn (A B A B ...)
#   OUT_DIR=bench/out/report      where the report is written
#
# Steps:
#   1. `cargo build --release --quiet` (default features: `report` needs `export`), unless WIRELAB.
#   2. One warm-up run of each (the page cache can't be dropped), then RUNS pairs, each run timed
#      with /usr/bin/time -f "%e %M" (wall seconds, peak RSS) and a nanosecond clock:
#        A: wirelab report F --out OUT_DIR
#        B: wirelab analyze -q --json F
#   3. Prints median and best wall time and median peak memory of each, the median of the
#      pairwise ratios A/B beside the target 2.0, and the time of `openssl dgst -sha256 F` (the
#      SHA-256 alone, at the CPU's full speed) over analyze's: the report hashes every byte
#      beside its pass, so on a capture of big packets that is its floor. Results also go to
#      bench/out/report-results.json.
#
# Needs: /usr/bin/time (package: time), coreutils; cargo unless WIRELAB is set. Exits 0 even
# when the target is missed; nonzero only when the benchmark can't run.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
OUT="$BENCH_DIR/out"
PCAP=${PCAP:-$OUT/http-1m${MTU:+-mtu$MTU}.pcap}
RUNS=${RUNS:-5}
OUT_DIR=${OUT_DIR:-$OUT/report}

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
    PATH="$HOME/.cargo/bin:$PATH"
fi
[[ -x /usr/bin/time ]] || die "missing /usr/bin/time; install with: apt-get install -y time"
mkdir -p "$OUT"

if [[ ! -s $PCAP ]]; then
    log "$PCAP does not exist: making it with bench/analyze.sh"
    PCAP="$PCAP" SHAPES=conn CAPTURE_ONLY=1 "$BENCH_DIR/analyze.sh"
fi
[[ -s $PCAP ]] || die "no capture at $PCAP"

if [[ -n ${WIRELAB:-} ]]; then
    [[ -x $WIRELAB ]] || die "WIRELAB=$WIRELAB is not an executable"
else
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet)
    WIRELAB="${CARGO_TARGET_DIR:-$ROOT/target}/release/wirelab"
fi

# once NAME CMD...: one timed run; sets WALL (s) and MB (peak RSS).
once() {
    local name=$1; shift
    local tfile="$OUT/time-report-$name.txt" t0 t1 rc=0
    t0=$(date +%s%N)
    /usr/bin/time -f "%e %M" -o "$tfile" "$@" >/dev/null 2>"$OUT/stderr-report-$name.txt" || rc=$?
    t1=$(date +%s%N)
    ((rc == 0)) || die "$name exited with status $rc: $(tail -n 3 "$OUT/stderr-report-$name.txt")"
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    MB=$(tail -n 1 "$tfile" | awk '{ printf "%.1f", $2 / 1024 }')
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

report_cmd=("$WIRELAB" report "$PCAP" --out "$OUT_DIR")
analyze_cmd=("$WIRELAB" analyze -q --json "$PCAP")
cat "$PCAP" >/dev/null # warm-up read
once report "${report_cmd[@]}"
once analyze "${analyze_cmd[@]}"
r_walls=() r_mbs=() a_walls=() a_mbs=() ratios=()
for ((i = 1; i <= RUNS; i++)); do
    once report "${report_cmd[@]}"; r_walls+=("$WALL"); r_mbs+=("$MB")
    once analyze "${analyze_cmd[@]}"; a_walls+=("$WALL"); a_mbs+=("$MB")
    ratios+=("$(awk -v a="${r_walls[-1]}" -v b="$WALL" 'BEGIN { printf "%.3f", a / b }')")
    log "pair $i: report ${r_walls[-1]} s, analyze $WALL s, ratio ${ratios[-1]}"
done
r_med=$(printf '%s\n' "${r_walls[@]}" | median) r_best=$(printf '%s\n' "${r_walls[@]}" | sort -g | head -n 1)
a_med=$(printf '%s\n' "${a_walls[@]}" | median) a_best=$(printf '%s\n' "${a_walls[@]}" | sort -g | head -n 1)
r_mb=$(printf '%s\n' "${r_mbs[@]}" | median) a_mb=$(printf '%s\n' "${a_mbs[@]}" | median)
ratio=$(printf '%s\n' "${ratios[@]}" | median)
verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 2.0) ? "PASS" : "MISS" }')
# The SHA-256 of the file alone, as fast as this CPU goes (OpenSSL uses the SHA extensions
# where the CPU has them; coreutils' sha256sum does not): no report that shows the capture's
# SHA-256 can take less than this.
if command -v openssl >/dev/null 2>&1; then hasher=(openssl dgst -sha256); else hasher=(sha256sum); fi
t0=$(date +%s%N); "${hasher[@]}" "$PCAP" >/dev/null; t1=$(date +%s%N)
sha=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
floor=$(awk -v s="$sha" -v a="$a_med" 'BEGIN { printf "%.3f", s / a }')
packets=$(grep -o '<tr><td>Packets</td><td>[^<]*' "$OUT_DIR/report.html" | sed 's/.*<td>//')

echo
echo "capture: $PCAP ($(stat -c %s "$PCAP") bytes, $packets packets); $RUNS pairs, warm page cache"
echo
printf '%-28s %12s %12s %10s\n' command "wall s (med)" "wall s (best)" "peak MB"
printf '%-28s %12s %12s %10s\n' ---------------------------- ------------ ------------ ----------
printf '%-28s %12s %12s %10s\n' "report F --out DIR" "$r_med" "$r_best" "$r_mb"
printf '%-28s %12s %12s %10s\n' "analyze -q --json F" "$a_med" "$a_best" "$a_mb"
printf '%-28s %12s\n' "${hasher[*]} F" "$sha"
echo
printf '%-34s %9s   %-8s %s\n' ratio value target result
printf '%-34s %9s   %-8s %s\n' "report / analyze (median of pairs)" "$ratio" "<= 2.0" "$verdict"
printf '%-34s %9s   %s\n' "SHA-256 alone / analyze (median)" "$floor" "(the floor: the report hashes every byte)"
echo

cat >"$OUT/report-results.json" <<EOF
{
  "capture": { "file": "$PCAP", "bytes": $(stat -c %s "$PCAP") },
  "runs": $RUNS,
  "report": { "wall_s_median": $r_med, "wall_s_best": $r_best, "peak_mb": $r_mb },
  "analyze": { "wall_s_median": $a_med, "wall_s_best": $a_best, "peak_mb": $a_mb },
  "sha256_alone": { "command": "${hasher[*]}", "wall_s": $sha, "over_analyze": $floor },
  "ratio_report_over_analyze": { "value": $ratio, "target": "<= 2.0", "result": "$verdict" }
}
EOF
log "results written to $OUT/report-results.json"

#!/usr/bin/env bash
# Scan throughput and memory: kpsa scan on N generated Deployments (default
# about 50 MB), single-threaded and on all cores, next to saphyr-parser's raw
# event parse of the same file. Wall time is the best of RUNS runs, measured
# around the whole process; peak RSS from /usr/bin/time.
# Usage: bench/scan.sh [N] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-18300}
RUNS=${2:-3}
OUT=bench/out
mkdir -p "$OUT"
cargo build --locked --release --bin kpsa --example gen_deployments --example raw_parse >/dev/null 2>&1
BIN=target/release
"$BIN/examples/gen_deployments" "$N" > "$OUT/deployments.yaml"
BYTES=$(stat -c %s "$OUT/deployments.yaml")
MB=$(python3 -c "print(round($BYTES/1e6, 1))")
echo "input: $N Deployments, $MB MB ($BYTES bytes), $(nproc) cores"

# shellcheck source=bench/lib.sh
. bench/lib.sh

RAW=$(best "$BIN/examples/raw_parse" "$OUT/deployments.yaml")
ONE=$(best "$BIN/kpsa" scan "$OUT/deployments.yaml" --jobs 1 --format json --fail-on never)
ALL=$(best "$BIN/kpsa" scan "$OUT/deployments.yaml" --format json --fail-on never)
RSS_ONE=$(rss "$BIN/kpsa" scan "$OUT/deployments.yaml" --jobs 1 --format json --fail-on never)
RSS_ALL=$(rss "$BIN/kpsa" scan "$OUT/deployments.yaml" --format json --fail-on never)
FINDINGS=$("$BIN/kpsa" scan "$OUT/deployments.yaml" --format json --fail-on never | python3 -c "import json,sys; print(json.load(sys.stdin)['summary']['findings']['total'])")

# Memory must not grow with the number of documents beyond the results:
# clean inputs (no baseline findings) of N/4 and N documents, baseline level.
"$BIN/examples/gen_deployments" $((N / 4)) clean > "$OUT/quarter.yaml"
"$BIN/examples/gen_deployments" "$N" clean > "$OUT/clean.yaml"
RSS_Q=$(rss "$BIN/kpsa" scan "$OUT/quarter.yaml" --jobs 1 --level baseline --format json --fail-on never)
RSS_F=$(rss "$BIN/kpsa" scan "$OUT/clean.yaml" --jobs 1 --level baseline --format json --fail-on never)

python3 - "$MB" "$N" "$RAW" "$ONE" "$ALL" "$RSS_ONE" "$RSS_ALL" "$FINDINGS" "$RSS_Q" "$RSS_F" <<'PY'
import sys
mb, n, raw, one, all_, rss1, rssall, findings, rssq, rssf = sys.argv[1:]
q = int(n) // 4
mb, n = float(mb), int(n)
raw, one, all_ = float(raw), float(one), float(all_)
print(f"| measurement | wall (best) | MB/s | pods/s | peak RSS |")
print(f"| --- | --- | --- | --- | --- |")
print(f"| saphyr-parser raw events, 1 thread | {raw:.2f} s | {mb/raw:.1f} | | |")
print(f"| kpsa scan --jobs 1 | {one:.2f} s | {mb/one:.1f} | {n/one:,.0f} | {int(rss1)/1024:.0f} MiB |")
print(f"| kpsa scan (all cores) | {all_:.2f} s | {mb/all_:.1f} | {n/all_:,.0f} | {int(rssall)/1024:.0f} MiB |")
print(f"single-threaded scan / raw parse speed: {raw/one*100:.0f} %  (goal: >= 70 %)")
print(f"all-cores scan / single-threaded raw parse speed: {raw/all_*100:.0f} %")
print(f"findings: {findings}")
print(f"peak RSS, clean input, --level baseline --jobs 1: {int(rssq)/1024:.0f} MiB for {q} documents, {int(rssf)/1024:.0f} MiB for {n}")
print(f"growth: {(int(rssf) - int(rssq)) * 1024 / (int(n) - q):,.0f} bytes per added document")
PY

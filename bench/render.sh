#!/usr/bin/env bash
# Rendering 50 charts: wall time with --jobs 1 and --jobs 2, and kpsa's own
# CPU time beside the CPU time of the render programs it ran (helm, here
# tools/helm: Helm v4.2.3's SDK from PyPI). The goal: kpsa's own time under
# 10 % of the render programs' time. Each chart is the demo's checkout chart
# (helpers, include, toYaml, default) under another name, with 2 to 4
# workloads. Numbers are the best wall time of RUNS runs; the CPU split is
# from the same run (getrusage of kpsa and of its children, printed by
# `kpsa scan --timings`).
# Usage: bench/render.sh [CHARTS=50] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
CHARTS=${1:-50}
RUNS=${2:-3}
tools/setup-renderers.sh >/dev/null
cargo build --locked --release --bin kpsa >/dev/null 2>&1
KPSA=$PWD/target/release/kpsa
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/repo/charts"
for i in $(seq -w 1 "$CHARTS"); do
  d="$WORK/repo/charts/app-$i"
  cp -r testdata/demo/charts/checkout "$d"
  sed -i "s/^name: checkout/name: app-$i/" "$d/Chart.yaml"
  sed -i "s/checkout\./app-$i./g" "$d/templates/"*.yaml "$d/templates/_helpers.tpl"
  # More workloads in some charts: a worker and a cron job.
  extra=$((10#$i % 3))
  for k in $(seq 1 "$extra"); do
    sed "s/name: {{ include \"app-$i.fullname\" . }}/name: {{ include \"app-$i.fullname\" . }}-w$k/" \
      "$d/templates/deployment.yaml" > "$d/templates/worker-$k.yaml"
  done
done
git -C "$WORK/repo" init -q
export PATH="$PWD/tools:$PATH" KPSA_CACHE_DIR="$WORK/cache"
echo "input: $CHARTS charts, $(find "$WORK/repo/charts" -name '*.yaml' -path '*templates*' | wc -l) templates, $(nproc) cores"
for jobs in 1 2; do
  best=""
  for _ in $(seq "$RUNS"); do
    line=$(cd "$WORK/repo" && "$KPSA" scan --jobs "$jobs" --timings -q --format json --fail-on never 2>&1 >/dev/null | grep 'timings:')
    wall=$(echo "$line" | sed -E 's/.*wall ([0-9.]+) s.*/\1/')
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(not ($wall < $best))"; then best=$wall; bestline=$line; fi
  done
  python3 - "$jobs" "$bestline" <<'PY'
import re, sys
jobs, line = sys.argv[1], sys.argv[2]
wall = float(re.search(r"wall ([0-9.]+) s", line).group(1))
n = int(re.search(r"; (\d+) render", line).group(1))
render_wall = float(re.search(r"([0-9.]+) s of render wall time", line).group(1))
own = float(re.search(r"CPU: kpsa ([0-9.]+) s", line).group(1))
children = float(re.search(r"render programs ([0-9.]+) s", line).group(1))
print(f"--jobs {jobs}: wall {wall:.2f} s for {n} renders; render programs: {render_wall:.2f} s wall (sum), "
      f"{children:.2f} s CPU; kpsa itself: {own:.3f} s CPU = {100*own/children:.1f} % of the render programs' CPU")
PY
done

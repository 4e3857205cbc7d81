#!/usr/bin/env bash
# Monorepo diff: 200 charts, a change that touches one. kpsa must render
# that chart once per side (2 renders, not 400), and the whole `kpsa diff`
# must take less than 1.2 x the time of those two renders + 0.5 s.
# The two renders are also timed on their own (tools/helm template, run
# twice, outside kpsa). Best wall time of RUNS runs.
# Usage: bench/diff.sh [CHARTS=200] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
CHARTS=${1:-200}
RUNS=${2:-3}
tools/setup-renderers.sh >/dev/null
cargo build --locked --release --bin kpsa >/dev/null 2>&1
KPSA=$PWD/target/release/kpsa
HELM=$PWD/tools/helm
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
REPO=$WORK/repo
mkdir -p "$REPO/charts"
for i in $(seq -w 1 "$CHARTS"); do
  d="$REPO/charts/app-$i"
  cp -r testdata/demo/charts/checkout "$d"
  sed -i "s/^name: checkout/name: app-$i/" "$d/Chart.yaml"
  sed -i "s/checkout\./app-$i./g" "$d/templates/"*.yaml "$d/templates/_helpers.tpl"
done
g() { git -C "$REPO" -c user.name=bench -c user.email=bench@kpsa.invalid "$@"; }
g init -q -b main && g add -A && g commit -q -m base
TOUCHED=app-$(printf "%0${#CHARTS}d" $((CHARTS / 2)))
sed -i 's/^securityContext:$/securityContext:\n  privileged: true/' "$REPO/charts/$TOUCHED/values.yaml"
g commit -q -am "touch $TOUCHED"
export PATH="$PWD/tools:$PATH" KPSA_CACHE_DIR="$WORK/cache"
echo "input: $CHARTS charts in one repository, a change to charts/$TOUCHED, $(nproc) cores"

# shellcheck source=bench/lib.sh
. bench/lib.sh
two_renders() { "$HELM" template r "$REPO/charts/$TOUCHED" >/dev/null && "$HELM" template r "$REPO/charts/$TOUCHED" >/dev/null; }
RENDERS=$(best two_renders)
DIFF=$(cd "$REPO" && best "$KPSA" diff HEAD~1..HEAD -q --format json)
OUT=$(cd "$REPO" && "$KPSA" diff HEAD~1..HEAD -q --format json --timings 2>"$WORK/timings" || true)
python3 - "$RENDERS" "$DIFF" "$OUT" "$(cat "$WORK/timings")" <<'PY'
import json, sys
renders, diff = float(sys.argv[1]), float(sys.argv[2])
r = json.loads(sys.argv[3])
t = r["targets"]
print(f"targets rendered: base {t['rendered']['base']}, head {t['rendered']['head']}; "
      f"skipped: base {t['skipped']['base']}, head {t['skipped']['head']}; "
      f"files written from git: base {t['materialized']['base']}, head {t['materialized']['head']}")
print(f"new findings: {r['summary']['new']}")
print(f"the two renders on their own: {renders:.3f} s")
limit = 1.2 * renders + 0.5
print(f"kpsa diff: {diff:.3f} s (limit 1.2 x {renders:.3f} + 0.5 = {limit:.3f} s): "
      f"{'met' if diff < limit else 'NOT met'}")
print(sys.argv[4].strip())
PY

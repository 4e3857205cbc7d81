#!/usr/bin/env bash
# Sharding (issue: big monorepos), release build:
#  1. equality: the 200-chart generator of bench/diff.sh (plus an overlay
#     and plain manifests from the demo): for N in 1 2 3 7, the N shard
#     reports merged give the same JSON, SARIF, Markdown and Code Quality
#     bytes as one unsharded `kpsa scan`, and as one `kpsa diff` of a change
#     that renames, removes and touches charts (exits non-zero on a difference);
#  2. speed: wall time of a full scan of CHARTS charts in one job against
#     the slowest of 4 shards run one after another (the critical path of a
#     4-job matrix);
#  3. merge cost: `kpsa merge` of 4 shard reports holding about 100,000
#     findings (generated Deployments in 4 directories), time and peak RSS.
# Usage: bench/shards.sh [CHARTS=400] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
CHARTS=${1:-400}
RUNS=${2:-3}
tools/setup-renderers.sh >/dev/null
cargo build --locked --release --bin kpsa --example gen_deployments >/dev/null 2>&1
KPSA=$PWD/target/release/kpsa
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=bench/lib.sh
. bench/lib.sh
export PATH="$PWD/tools:$PATH" KPSA_CACHE_DIR="$WORK/cache"
echo "$(nproc) cores"

make_repo() { # DIR CHARTS
  mkdir -p "$1"
  cp -r testdata/demo/. "$1/"
  for i in $(seq -w 1 "$2"); do
    d="$1/charts/app-$i"
    cp -r testdata/demo/charts/checkout "$d"
    sed -i "s/^name: checkout/name: app-$i/" "$d/Chart.yaml"
  done
  git -C "$1" init -q -b main
  git -C "$1" add -A
  git -C "$1" -c user.name=bench -c user.email=bench@kpsa.invalid commit -q -m base
}

# 1. Equality on 200 charts. `equal WHAT KPSA-ARGS...`: the whole run and
# the merge of N shards give the same bytes, for N in 1 2 3 7.
equal() {
  local what=$1; shift
  for f in json sarif markdown codequality; do
    "$KPSA" "$@" -q --format "$f" > "$WORK/whole.$f" || true
  done
  for n in 1 2 3 7; do
    shards=()
    for i in $(seq 1 "$n"); do
      "$KPSA" "$@" -q --shard "$i/$n" --format json --output "$WORK/s$i.json" || true
      shards+=("$WORK/s$i.json")
    done
    for f in json sarif markdown codequality; do
      "$KPSA" merge "${shards[@]}" --format "$f" > "$WORK/merged.$f" || true
      cmp -s "$WORK/whole.$f" "$WORK/merged.$f" || { echo "DIFFERENT: $what, $n shards, $f"; exit 1; }
    done
    echo "equality: $what, $n shard(s): merged JSON, SARIF, Markdown, Code Quality identical to the whole run"
  done
}
make_repo "$WORK/eq" 200
cd "$WORK/eq"
equal "kpsa scan of 200 charts + overlay + manifests" scan
# The same for a diff that renames a chart, removes one and touches one.
git mv charts/app-010 charts/app-010-renamed
git rm -rq charts/app-020
sed -i 's/^securityContext:$/securityContext:\n  privileged: true/' charts/app-030/values.yaml
git -c user.name=bench -c user.email=bench@kpsa.invalid commit -qam change
equal "kpsa diff (a renamed, a removed and a touched chart)" diff HEAD~1..HEAD --include-unchanged
cd - >/dev/null

# 2. One job against the slowest of 4 shards.
make_repo "$WORK/big" "$CHARTS"
cd "$WORK/big"
"$KPSA" scan -q --format json >/dev/null 2>&1 || true # fill the dependency cache
WHOLE=$(best "$KPSA" scan -q --format json)
SLOWEST=0
for i in 1 2 3 4; do
  t=$(best "$KPSA" scan -q --format json --shard "$i/4")
  SLOWEST=$(python3 -c "print(max($SLOWEST, $t))")
done
cd - >/dev/null
echo "speed: $CHARTS charts: one job $WHOLE s; slowest of 4 shards $SLOWEST s (speed-up $(python3 -c "print(round($WHOLE/$SLOWEST, 2))") x)"

# 3. Merging about 100,000 findings.
mkdir -p "$WORK/m"
for d in a b c d; do
  mkdir -p "$WORK/m/$d"
  target/release/examples/gen_deployments 16000 > "$WORK/m/$d/deployments.yaml"
done
cd "$WORK/m"
for i in 1 2 3 4; do
  "$KPSA" scan -q --shard "$i/4" --format json --fail-on never --output "$WORK/m$i.json" a b c d || true
done
FINDINGS=$(python3 -c "import json; print(sum(len(json.load(open('$WORK/m%d.json' % i))['findings']) for i in (1, 2, 3, 4)))")
MERGE=$(best "$KPSA" merge "$WORK"/m1.json "$WORK"/m2.json "$WORK"/m3.json "$WORK"/m4.json --format json)
MERGE_RSS=$(rss "$KPSA" merge "$WORK"/m1.json "$WORK"/m2.json "$WORK"/m3.json "$WORK"/m4.json --format json)
cd - >/dev/null
echo "merge: 4 reports, $FINDINGS findings: $MERGE s, peak RSS $((MERGE_RSS / 1024)) MiB"

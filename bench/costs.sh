#!/usr/bin/env bash
# Costs an attacker controls (issue: trust boundary), each measured around
# the whole kpsa process (release build), best wall time of RUNS runs, peak
# RSS from /usr/bin/time:
#  1. exemption globs: 300 exemptions that match nothing against the
#     findings of N generated Deployments (about 14,000 findings at N=9000);
#  2. a 256 KB git repository whose commit names 10^7 paths (one tree reused
#     at every level): `kpsa diff` must stop at --max-tree-entries;
#  3. a render that never stops printing (`yes`): kpsa must stop it at
#     --max-render-bytes.
# Usage: bench/costs.sh [N=9000] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-9000}
RUNS=${2:-3}
cargo build --locked --release --bin kpsa --example gen_deployments >/dev/null 2>&1
KPSA=$PWD/target/release/kpsa
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=bench/lib.sh
. bench/lib.sh
echo "$(nproc) cores"

# 1. Exemptions.
mkdir -p "$WORK/ex"
target/release/examples/gen_deployments "$N" > "$WORK/ex/deployments.yaml"
{
  echo "version: 1"
  echo "exemptions:"
  for i in $(seq 1 300); do
    echo "  - {name: \"nomatch-$i-*\", container: \"c-$i-*\", check: \"*\", reason: bench}"
  done
} > "$WORK/ex/.kpsa.yaml"
FINDINGS=$(cd "$WORK/ex" && "$KPSA" scan deployments.yaml --format json --fail-on never -q |
  python3 -c "import json,sys; print(json.load(sys.stdin)['summary']['findings']['total'])")
EX=$(cd "$WORK/ex" && best "$KPSA" scan deployments.yaml --format json --fail-on never -q)
rm "$WORK/ex/.kpsa.yaml"
NOEX=$(cd "$WORK/ex" && best "$KPSA" scan deployments.yaml --format json --fail-on never -q)
echo "exemptions: 300 exemptions x $FINDINGS findings: $EX s (without exemptions: $NOEX s)"

# 2. A tree of 10^7 paths.
B=$WORK/bomb
mkdir -p "$B" && cd "$B"
git init -q -b main
echo "a: 1" > x.yaml && git add x.yaml
git -c user.name=b -c user.email=b@kpsa.invalid commit -qm base
blob=$(echo 'kind: x' | git hash-object -w --stdin)
t=$( (for i in 0 1 2 3 4 5 6 7 8 9; do printf "100644 blob %s\tf%s.yaml\n" "$blob" "$i"; done) | git mktree)
for _ in 1 2 3 4 5 6; do
  t=$( (for i in 0 1 2 3 4 5 6 7 8 9; do printf "040000 tree %s\td%s\n" "$t" "$i"; done) | git mktree)
done
C=$(git -c user.name=b -c user.email=b@kpsa.invalid commit-tree "$t" -p HEAD -m bomb)
SIZE=$(du -sk .git | cut -f1)
MSG=$("$KPSA" diff "HEAD..$C" -q 2>&1 || true)
TREE=$(best "$KPSA" diff "HEAD..$C" -q)
TREE_RSS=$(rss "$KPSA" diff "HEAD..$C" -q)
cd - >/dev/null
echo "tree: ${SIZE} KB of git objects naming 10^7 paths: $TREE s, peak RSS $((TREE_RSS / 1024)) MiB; $MSG"

# 3. A render that never ends.
mkdir -p "$WORK/r/charts/web/templates" "$WORK/bin"
printf 'apiVersion: v2\nname: web\nversion: 1.0.0\n' > "$WORK/r/charts/web/Chart.yaml"
printf '#!/bin/sh\nexec yes "a: b"\n' > "$WORK/bin/helm" && chmod +x "$WORK/bin/helm"
cd "$WORK/r"
MSG=$("$KPSA" scan charts/web -q --helm "$WORK/bin/helm" --format json 2>/dev/null |
  python3 -c "import json,sys; print(json.load(sys.stdin)['errors'][0]['message'].splitlines()[-1])" || true)
RENDER=$(best "$KPSA" scan charts/web -q --helm "$WORK/bin/helm")
RENDER_RSS=$(rss "$KPSA" scan charts/web -q --helm "$WORK/bin/helm")
cd - >/dev/null
echo "render: endless output: $RENDER s, peak RSS $((RENDER_RSS / 1024)) MiB; $MSG"

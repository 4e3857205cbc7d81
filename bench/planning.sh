#!/usr/bin/env bash
# Planning at monorepo scale: N charts (each a Chart.yaml, values.yaml and one template), a
# kustomization and a directory of plain manifests; a change to one chart's values. Times
# `kpsa targets` and `kpsa diff HEAD~1..HEAD` (which plans both sides from git objects and
# renders the one touched chart twice) for each N, best wall time of RUNS runs, peak RSS, and
# the growth from the smallest N to the largest (goal: at most 12x for 10x the charts).
# Usage: bench/planning.sh [RUNS=3] [N...=500 5000]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
shift || true
SIZES=("${@:-500 5000}")
read -r -a SIZES <<<"${SIZES[*]}"
tools/setup-renderers.sh >/dev/null
cargo build --locked --release --bin kpsa >/dev/null 2>&1
KPSA=$PWD/target/release/kpsa
if [[ -x .tools/renderers/helm4/helm ]]; then
    export PATH="$PWD/.tools/renderers/helm4:$PATH"
else
    export PATH="$PWD/tools:$PATH"
fi
# shellcheck source=bench/lib.sh
. bench/lib.sh
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "helm: $(helm version --short); $(nproc) cores; best of $RUNS runs"
declare -A T D
for n in "${SIZES[@]}"; do
    repo=$WORK/repo-$n
    mkdir -p "$repo/deploy/base" "$repo/raw"
    for i in $(seq -w 1 "$n"); do
        d=$repo/charts/app-$i
        mkdir -p "$d/templates"
        printf 'apiVersion: v2\nname: app-%s\nversion: 1.0.0\n' "$i" >"$d/Chart.yaml"
        printf 'replicas: 1\n' >"$d/values.yaml"
        printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  containers:\n    - name: c\n      image: x\n' >"$d/templates/pod.yaml"
    done
    printf 'resources: [pod.yaml]\n' >"$repo/deploy/base/kustomization.yaml"
    printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: k\nspec:\n  containers:\n    - name: c\n      image: x\n' >"$repo/deploy/base/pod.yaml"
    cp "$repo/deploy/base/pod.yaml" "$repo/raw/pod.yaml"
    g() { git -C "$repo" -c user.name=bench -c user.email=bench@kpsa.invalid "$@"; }
    g init -q -b main && g add -A && g commit -q -m base
    touched=app-$(printf "%0${#n}d" $((n / 2)))
    sed -i 's/replicas: 1/replicas: 2/' "$repo/charts/$touched/values.yaml"
    g commit -q -am "touch $touched"
    export KPSA_CACHE_DIR=$WORK/cache-$n
    targets=$(cd "$repo" && "$KPSA" targets | tail -n 1 | cut -d' ' -f1)
    T[$n]=$(cd "$repo" && best "$KPSA" targets)
    D[$n]=$(cd "$repo" && best "$KPSA" diff HEAD~1..HEAD -q --format json)
    rt=$(cd "$repo" && rss "$KPSA" targets)
    rd=$(cd "$repo" && rss "$KPSA" diff HEAD~1..HEAD -q --format json)
    printf '%5s charts (%s targets): kpsa targets %.3f s, %s KiB peak; kpsa diff %.3f s, %s KiB peak\n' \
        "$n" "$targets" "${T[$n]}" "$rt" "${D[$n]}" "$rd"
done
first=${SIZES[0]}
last=${SIZES[${#SIZES[@]}-1]}
python3 - "$first" "$last" "${T[$first]}" "${T[$last]}" "${D[$first]}" "${D[$last]}" <<'PY'
import sys
a, b = int(sys.argv[1]), int(sys.argv[2])
t0, t1, d0, d1 = map(float, sys.argv[3:])
print(f"growth for {b // a}x the charts: targets {t1 / t0:.1f}x, diff {d1 / d0:.1f}x (goal: at most 12x)")
PY

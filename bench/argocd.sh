#!/usr/bin/env bash
# What the Argo CD plugin adds to a render: `kpsa argocd generate` against the render program
# alone (`helm template` / `kubectl kustomize` with the same arguments), on metrics-server
# (a real chart, clean: its manifests are handed over), prometheus-blackbox-exporter (refused)
# and the platform fixture's base overlay, in a copy without .git as the repo server makes it.
# Best wall time of RUNS runs and peak RSS; release build.
# Usage: bench/argocd.sh [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
tools/setup-renderers.sh >/dev/null
cargo build --locked --release --bin kpsa >/dev/null 2>&1
KPSA=$PWD/target/release/kpsa
export PATH="$PWD/.tools/renderers/helm4:$PATH"
# shellcheck source=bench/lib.sh
. bench/lib.sh
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/repo/apps" "$WORK/repo/deploy"
cp -r testdata/realworld/charts/kubernetes-sigs/metrics-server "$WORK/repo/apps/ms"
cp -r testdata/realworld/charts/prometheus-community/prometheus-blackbox-exporter "$WORK/repo/apps/bb"
cp -r testdata/platform/deploy/base "$WORK/repo/deploy/base"
export HOME=$WORK ARGOCD_APP_NAME=shop ARGOCD_APP_NAMESPACE=shop KUBE_VERSION=v1.30.2
echo "helm: $(helm version --short); $(nproc) cores; best of $RUNS runs"
row() { # NAME DIR RENDER-COMMAND...
    local name=$1 dir=$2
    shift 2
    local g r gr rr
    g=$(cd "$WORK/repo/$dir" && ARGOCD_APP_SOURCE_PATH=$dir best "$KPSA" argocd generate)
    gr=$(cd "$WORK/repo/$dir" && ARGOCD_APP_SOURCE_PATH=$dir rss "$KPSA" argocd generate)
    r=$(cd "$WORK/repo/$dir" && best "$@")
    rr=$(cd "$WORK/repo/$dir" && rss "$@")
    printf '%-16s kpsa argocd generate %.3f s (%s KiB peak); render alone %.3f s (%s KiB peak); kpsa adds %.3f s\n' \
        "$name" "$g" "$gr" "$r" "$rr" "$(python3 -c "print($g-$r)")"
}
row metrics-server apps/ms helm template --namespace=shop --kube-version=v1.30.2 --include-crds -- shop .
row blackbox apps/bb helm template --namespace=shop --kube-version=v1.30.2 --include-crds -- shop .
row kustomize-base deploy/base kubectl kustomize .

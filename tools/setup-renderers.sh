#!/usr/bin/env bash
# Install the render programs kpsa's tests and demo use, under .tools/ (ignored by git):
#   - Helm: Helm v4.2.3's Go SDK from PyPI (helm-python-sdk==0.2.2) in a virtualenv,
#     driven by tools/helm (a `helm template`-compatible command, tools/helm_shim.py).
#   - Kustomize: `kubectl kustomize` from the machine image (Kustomize v5.5.0) is used;
#     this script checks that it is there.
# kpsa itself only ever runs `helm` / `kustomize` from PATH or --helm / --kustomize.
set -euo pipefail
cd "$(dirname "$0")/.."
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

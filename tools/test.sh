#!/usr/bin/env bash
# The whole test suite, as CI runs it: install the render programs and the CI tools, then run
# `cargo test` once per real Helm (4.1.4, then 3.17.2, each with its kubectl's Kustomize).
# Where the official Linux x86_64 builds cannot run, the suite runs once on the Helm-SDK
# stand-in (tools/helm) instead. Extra arguments go to each `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-renderers.sh
tools/setup-ci-tools.sh
legs=()
for h in helm4 helm3; do
    if [[ -x .tools/renderers/$h/helm ]] && .tools/renderers/$h/helm version --short >/dev/null 2>&1; then
        legs+=(".tools/renderers/$h")
    fi
done
if [[ ${#legs[@]} -eq 0 ]]; then
    echo "== cargo test with the Helm-SDK stand-in (the official Helm builds cannot run here)"
    cargo test --locked "$@"
    exit
fi
for leg in "${legs[@]}"; do
    echo "== cargo test with $("$leg/helm" version --short) and kubectl $("$leg/kubectl" version --client | sed -n 's/Client Version: //p') ($leg)"
    KPSA_TEST_RENDERERS=$leg cargo test --locked "$@"
done

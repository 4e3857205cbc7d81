#!/usr/bin/env bash
# The action's scan step: kpsa diff of the pull request, with no token in its environment,
# writing the JSON and SARIF reports and the step outputs. Its exit code is an output; the
# action's last step fails the job with it.
set -uo pipefail
out="${RUNNER_TEMP:?}/kpsa"
mkdir -p "$out"
range="${INPUT_RANGE:-}"
if [[ -z "$range" ]]; then
    base="${INPUT_BASE:-${PR_BASE_SHA:-}}"
    if [[ -z "$base" || -z "${PR_HEAD_SHA:-}" ]]; then
        echo "::error title=kpsa::no range: set the range input outside pull_request events"
        echo "exit-code=2" >> "$GITHUB_OUTPUT"
        exit 0
    fi
    range="${base}...${PR_HEAD_SHA}"
fi
args=(diff "$range" --format json --output "$out/report.json" --format sarif --output "$out/kpsa.sarif"
      --format text --sarif-category "${INPUT_SARIF_CATEGORY:-kpsa}")
[[ -n "${INPUT_LEVEL:-}" ]] && args+=(--level "$INPUT_LEVEL")
[[ -n "${INPUT_FAIL_ON:-}" ]] && args+=(--fail-on "$INPUT_FAIL_ON")
[[ -n "${INPUT_KUBERNETES_VERSION:-}" ]] && args+=(--kubernetes-version "$INPUT_KUBERNETES_VERSION")
[[ -n "${INPUT_CONFIG:-}" ]] && args+=(--config "$INPUT_CONFIG")
[[ "${INPUT_ALLOW_NEW_SUPPRESSIONS:-false}" == "true" ]] && args+=(--allow-new-suppressions)
[[ -z "${KPSA_HELM:-}" ]] && unset KPSA_HELM
[[ -z "${KPSA_KUSTOMIZE:-}" ]] && unset KPSA_KUSTOMIZE
kpsa "${args[@]}"
code=$?
{
    echo "exit-code=$code"
    if [[ -s "$out/report.json" ]]; then
        echo "report=$out/report.json"
        echo "new-findings=$(jq ".summary.gated // 0" "$out/report.json")"
    fi
    [[ -s "$out/kpsa.sarif" ]] && echo "sarif=$out/kpsa.sarif"
} >> "$GITHUB_OUTPUT"
exit 0

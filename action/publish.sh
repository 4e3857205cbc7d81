#!/usr/bin/env bash
# The action's publish step: the saved report to the pull request (kpsa publish github). Only this
# step has the token. Exit 2 (invalid or stale report) and 3 (GitHub failed) fail the step; the
# gate is the scan's, applied by the action's last step.
set -uo pipefail
if [[ -z "${KPSA_REPORT:-}" ]]; then
    echo "kpsa: no report to publish (the scan failed before writing one)"
    exit 0
fi
kpsa publish github --report "$KPSA_REPORT" --comment "${INPUT_COMMENT:-review}" \
    --max-comments "${INPUT_MAX_COMMENTS:-30}"
code=$?
if [[ $code -ge 2 ]]; then exit "$code"; fi
exit 0

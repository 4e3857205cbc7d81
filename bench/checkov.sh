#!/usr/bin/env bash
# kpsa against checkov 3.3.30 on the same 200 generated Deployments (one multi-document file,
# bench/scan.sh's generator): the whole process of each, median of RUNS runs. checkov is
# installed from PyPI into a bench venv (.tools/bench-venv) on first use.
# Usage: bench/checkov.sh [RUNS=5] [N=200]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
N=${2:-200}
venv=.tools/bench-venv
if ! "$venv/bin/checkov" --version 2>/dev/null | grep -qx 3.3.30; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check checkov==3.3.30
fi
cargo build --locked --release --bin kpsa --example gen_deployments >/dev/null 2>&1
mkdir -p bench/out/checkov
target/release/examples/gen_deployments "$N" > bench/out/checkov/deployments.yaml
median() { # RUNS runs of "$@", median wall seconds
    local times=()
    for _ in $(seq "$RUNS"); do
        local s e
        s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
        times+=("$(python3 -c "print($e-$s)")")
    done
    printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
KPSA=$(median target/release/kpsa scan bench/out/checkov/deployments.yaml --format json --fail-on never)
CHECKOV=$(median "$venv/bin/checkov" -f bench/out/checkov/deployments.yaml --framework kubernetes \
    --quiet --compact --output json --skip-download)
echo "input: $N Deployments ($(stat -c %s bench/out/checkov/deployments.yaml) bytes), $(nproc) cores, median of $RUNS runs"
python3 - "$KPSA" "$CHECKOV" <<'PY'
import sys
k, c = map(float, sys.argv[1:])
print(f"kpsa scan --format json: {k:.3f} s")
print(f"checkov 3.3.30 -f --framework kubernetes -o json: {c:.3f} s")
print(f"kpsa is {c / k:.0f}x faster (goal: >= 300x)")
PY

#!/usr/bin/env bash
# Pin a release in action.yml: its version and the sha256 of each platform's archive, read from
# the release's SHA256SUMS. The release workflow runs this, commits action.yml and tags that commit,
# so an action ref carries the checksums of the binaries it installs.
#   tools/pin-release.sh VERSION SHA256SUMS [ACTION_YML]
set -euo pipefail
version="${1:?version}"
sums="${2:?SHA256SUMS file}"
action="${3:-$(dirname "$0")/../action.yml}"
version="${version#v}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-.+][0-9A-Za-z.]+)?$ ]] || { echo "not a version: $version" >&2; exit 2; }
pin() {
    local key="$1" value="$2"
    grep -q "^        ${key}: " "$action" || { echo "$action has no ${key}" >&2; exit 2; }
    sed -i.bak "s|^        ${key}: .*|        ${key}: \"${value}\"|" "$action" && rm -f "$action.bak"
}
pin KPSA_PINNED_VERSION "$version"
for platform in linux-x86_64 linux-aarch64 macos-x86_64 macos-aarch64; do
    sum="$(awk -v f="kpsa-${version}-${platform}.tar.gz" '$2 == f || $2 == "*"f {print $1}' "$sums")"
    [[ "$sum" =~ ^[0-9a-f]{64}$ ]] || { echo "$sums has no sha256 for kpsa-${version}-${platform}.tar.gz" >&2; exit 2; }
    key="KPSA_SHA256_$(echo "$platform" | tr 'a-z-' 'A-Z_')"
    pin "$key" "$sum"
done
echo "pinned kpsa $version in $action"

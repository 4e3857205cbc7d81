#!/usr/bin/env bash
# Install kpsa for the composite action (action.yml): a given binary, or the release archive for
# the runner's OS and architecture, checked against the sha256 committed in action.yml.
set -euo pipefail
dest="${RUNNER_TEMP:?}/kpsa-bin"
mkdir -p "$dest"

if [[ -n "${INPUT_BINARY:-}" ]]; then
    if [[ ! -x "$INPUT_BINARY" ]]; then
        echo "::error title=kpsa install::binary ${INPUT_BINARY} is not an executable file"
        exit 1
    fi
    install -m 0755 "$INPUT_BINARY" "$dest/kpsa"
else
    case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
        Linux/X64) platform=linux-x86_64 sum="${KPSA_SHA256_LINUX_X86_64:-}" ;;
        Linux/ARM64) platform=linux-aarch64 sum="${KPSA_SHA256_LINUX_AARCH64:-}" ;;
        macOS/X64) platform=macos-x86_64 sum="${KPSA_SHA256_MACOS_X86_64:-}" ;;
        macOS/ARM64) platform=macos-aarch64 sum="${KPSA_SHA256_MACOS_AARCH64:-}" ;;
        Windows/*)
            echo "::error title=kpsa install::kpsa has no Windows build; run this job on ubuntu-latest or macos-latest"
            exit 1 ;;
        *)
            echo "::error title=kpsa install::no kpsa build for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}"
            exit 1 ;;
    esac
    version="${INPUT_VERSION:-${KPSA_PINNED_VERSION:-}}"
    version="${version#v}"
    if [[ -z "${KPSA_PINNED_VERSION:-}" || -z "$sum" ]]; then
        echo "::error title=kpsa install::this action commit pins no release (no checksums in action.yml); use a release tag or commit of the action, or the binary input"
        exit 1
    fi
    if [[ "$version" != "${KPSA_PINNED_VERSION#v}" ]]; then
        echo "::error title=kpsa install::this action release checks kpsa ${KPSA_PINNED_VERSION} only; use the action release of kpsa ${version} instead of the version input"
        exit 1
    fi
    if [[ ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-.+][0-9A-Za-z.]+)?$ ]]; then
        echo "::error title=kpsa install::version ${version} is not a release version"
        exit 1
    fi
    base="${INPUT_URL_BASE:-https://github.com/kpsa-dev/kpsa/releases/download}"
    base="${base%/}"
    proto='=https'
    # Plain http only to this machine (a test server or a local mirror).
    if [[ "$base" =~ ^http://(127\.0\.0\.1|localhost)(:[0-9]+)?/ ]]; then proto='=https,http'; fi
    archive="kpsa-${version}-${platform}.tar.gz"
    tmp="$(mktemp -d)"
    curl --fail --silent --show-error --location --proto "$proto" --proto-redir '=https' \
        --retry 3 --output "$tmp/$archive" "$base/v${version}/$archive"
    if command -v sha256sum >/dev/null; then
        got="$(sha256sum "$tmp/$archive" | cut -d' ' -f1)"
    else
        got="$(shasum -a 256 "$tmp/$archive" | cut -d' ' -f1)"
    fi
    if [[ "$got" != "$sum" ]]; then
        echo "::error title=kpsa install::${archive}: sha256 ${got}, but this action pins ${sum}; refusing to run it"
        exit 1
    fi
    tar -xzf "$tmp/$archive" -C "$tmp"
    install -m 0755 "$tmp/kpsa-${version}-${platform}/kpsa" "$dest/kpsa"
    rm -rf "$tmp"
fi
echo "$dest" >> "$GITHUB_PATH"
"$dest/kpsa" --version

#!/usr/bin/env bash
# install.sh — provide the driftless binaries to a composite action step and
# print bin=<dir> to $GITHUB_OUTPUT. In order:
#   1. $DRIFTLESS_BIN_DIR, if it holds the binaries (a runner image or a
#      GitLab/act job that has them already);
#   2. the tool cache for this version ($RUNNER_TOOL_CACHE/driftless/<ref>);
#   3. the release archive for the action's ref, verified against the
#      release's checksums file (sha256) before anything is unpacked;
#   4. a build from the action's own source, when Go is installed (local
#      checkouts: `uses: ./actions/<step>`, and act runs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
ref=${DRIFTLESS_ACTION_REF:-}
out() { echo "bin=$1" >>"${GITHUB_OUTPUT:-/dev/stdout}"; }

if [ -n "${DRIFTLESS_BIN_DIR:-}" ] && [ -x "$DRIFTLESS_BIN_DIR/validate-config" ]; then
  out "$DRIFTLESS_BIN_DIR"; exit 0
fi
cache="${RUNNER_TOOL_CACHE:-${HOME}/.cache}/driftless/${ref:-source}"
case "$ref" in
  v[0-9]*) if [ -x "$cache/validate-config" ]; then out "$cache"; exit 0; fi ;;
esac
mkdir -p "$cache"
case "$ref" in
  v[0-9]*)
    os=linux; arch=$(uname -m); case "$arch" in x86_64) arch=amd64;; aarch64) arch=arm64;; esac
    base="https://github.com/driftless-dev/driftless/releases/download/$ref"
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    curl -fsSL --retry 3 -o "$tmp/driftless.tar.gz" "$base/driftless_${ref}_${os}_${arch}.tar.gz"
    curl -fsSL --retry 3 -o "$tmp/checksums.txt" "$base/checksums.txt"
    want=$(grep " driftless_${ref}_${os}_${arch}.tar.gz\$" "$tmp/checksums.txt" | cut -d' ' -f1)
    got=$(sha256sum "$tmp/driftless.tar.gz" | cut -d' ' -f1)
    if [ -z "$want" ] || [ "$want" != "$got" ]; then
      echo "::error::driftless $ref: checksum of driftless_${ref}_${os}_${arch}.tar.gz is $got, checksums.txt says ${want:-nothing}" >&2
      exit 1
    fi
    tar -xzf "$tmp/driftless.tar.gz" -C "$cache"
    ;;
  *)
    if ! command -v go >/dev/null || [ ! -f "$root/go.mod" ]; then
      echo "::error::no driftless binaries: set DRIFTLESS_BIN_DIR, use a release tag (uses: driftless-dev/driftless/actions/<step>@vX.Y.Z), or install Go to build from source" >&2
      exit 1
    fi
    (cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$cache/" ./cmd/...)
    ;;
esac
out "$cache"

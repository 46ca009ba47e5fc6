#!/usr/bin/env bash
# render.sh — kustomize-render vs `kustomize build` (what kubectl kustomize
# runs), side by side in one hyperfine run, on the example's two overlays.
# Both render test and prod; kustomize-render also pins the image, adds
# traceability metadata, checks images and writes the files.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq hyperfine >&2; }
scripts/build bin >/dev/null
kustomize=$(scripts/tool kustomize)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
image="127.0.0.1:5000/pssp/api@sha256:$(printf bench | sha256sum | cut -d' ' -f1)"
hyperfine --warmup 3 --runs "${RUNS:-30}" --export-markdown "$out/result.md" \
  -n "kustomize-render (test+prod)" "bin/kustomize-render --image $image --out $out" \
  -n "kustomize build (test+prod)" "$kustomize build kustomize/overlays/test >/dev/null && $kustomize build kustomize/overlays/prod >/dev/null"
cat "$out/result.md"

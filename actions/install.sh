#!/usr/bin/env bash
# install.sh — provide the driftless binaries to a composite action step and
# write bin=<dir> to $GITHUB_OUTPUT. docs/actions.md explains the choices.
#
#   1. $DRIFTLESS_BIN_DIR, when set (a runner image, a GitLab or act job that
#      has the binaries already); it must hold all six.
#   2. The action's ref names a release:
#        v1.2.3, v1.3.0-rc.1  that release;
#        v1, v1.2             the release tagged at the same commit as the
#                             floating tag, so the binaries are the action's own;
#        a commit SHA         the release tagged at that commit.
#      Floating tags and SHAs are resolved with the GitHub API's tag list
#      (GET /repos/{owner}/{repo}/tags, one call per 100 tags); the archive
#      for this OS and CPU is checked against the release's checksums.txt
#      (sha256) before anything is unpacked, then kept in the tool cache, so
#      a second install on the same machine downloads nothing.
#   3. A commit no release is tagged at, a branch, or a local checkout
#      (uses: ./actions/<step>): a build from the action's own source when Go
#      is installed; for a commit it is kept in the tool cache under its SHA.
#
# Environment: DRIFTLESS_ACTION_REF and DRIFTLESS_ACTION_REPOSITORY (the
# generated action.yml passes github.action_ref and github.action_repository;
# the runner's _actions/<owner>/<repo>/<ref> path wins when the action runs
# from there, because those two are the outer action's in a nested composite
# action); DRIFTLESS_INSTALL_TOKEN, sent only to the API ($GITHUB_API_URL) and
# never printed; GITHUB_SERVER_URL and GITHUB_API_URL (GitHub Enterprise sets
# both); DRIFTLESS_RELEASES_URL, a mirror of <server>/<repo>/releases;
# RUNNER_TOOL_CACHE.
#
# Exit codes: 0 installed; 1 a download failed its check (checksum, version);
# 2 could not install (no release for the ref, network, platform).
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true # bash 4.4+: set -e inside $(...) too
{ set +x; } 2>/dev/null # a trace would show the token

steps="validate-config bake-image tag-sync kustomize-render apply-env smoke-test"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

fail() { # fail CODE MESSAGE
  local msg=$2
  if [ "${GITHUB_ACTIONS:-}" = true ]; then
    msg=${msg//'%'/%25}
    echo "::error title=driftless install::$msg" >&2
  else
    echo "driftless install: $msg" >&2
  fi
  exit "$1"
}
log() { echo "driftless install: $*" >&2; }
out() { echo "bin=$1" >>"${GITHUB_OUTPUT:-/dev/stdout}"; }

if [ -n "${DRIFTLESS_BIN_DIR:-}" ]; then
  for s in $steps; do
    [ -x "$DRIFTLESS_BIN_DIR/$s" ] || fail 2 "DRIFTLESS_BIN_DIR=$DRIFTLESS_BIN_DIR has no executable $s; it must hold all of: $steps"
  done
  out "$DRIFTLESS_BIN_DIR"
  exit 0
fi

ref=${DRIFTLESS_ACTION_REF:-}
repo=${DRIFTLESS_ACTION_REPOSITORY:-}
# A remote action is unpacked at <work>/_actions/<owner>/<repo>/<ref>.
case "$root" in
  */_actions/*/*/*)
    rest=${root##*/_actions/}
    IFS=/ read -r p_owner p_name p_ref p_more <<<"$rest"
    if [ -z "${p_more:-}" ] && [ -n "$p_ref" ]; then
      ref=$p_ref
      repo=$p_owner/$p_name
    fi
    ;;
esac
repo=${repo:-driftless-dev/driftless}
server=${GITHUB_SERVER_URL:-https://github.com}
server=${server%/}
api=${GITHUB_API_URL:-https://api.github.com}
api=${api%/}
releases=${DRIFTLESS_RELEASES_URL:-$server/$repo/releases}
releases=${releases%/}
token=${DRIFTLESS_INSTALL_TOKEN:-}

os=$(uname -s)
case "$os" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) os="" ;;
esac
arch=$(uname -m)
case "$arch" in
  x86_64 | amd64) arch=amd64 cachearch=x64 ;;
  aarch64 | arm64) arch=arm64 cachearch=arm64 ;;
  *) arch="" cachearch=$arch ;;
esac
# The tool cache's layout (actions/tool-cache): <tool>/<version>/<arch>.
cacheroot=${RUNNER_TOOL_CACHE:+$RUNNER_TOOL_CACHE/driftless}
cacheroot=${cacheroot:-${XDG_CACHE_HOME:-$HOME/.cache}/driftless/bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

semver='^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$'

# complete DIR: DIR holds every binary.
complete() {
  local s
  for s in $steps; do [ -x "$1/$s" ] || return 1; done
}

# installed VERSION: the cache directory of VERSION (without the v), if
# placed whole.
installed() {
  local dir="$cacheroot/$1/$cachearch"
  [ -f "$dir.complete" ] && complete "$dir" && echo "$dir"
}

# place STAGE VERSION: move a complete STAGE into the cache as VERSION with
# one rename, so no job sees half of it. Another job on the machine may have
# placed it first; then theirs is kept.
place() {
  local dir="$cacheroot/$2/$cachearch"
  mkdir -p "$(dirname "$dir")"
  [ ! -e "$dir" ] || complete "$dir" || rm -rf "$dir" # damaged by hand
  if [ ! -e "$dir" ]; then
    mv "$1" "$dir" 2>/dev/null || true
  fi
  rm -rf "${dir:?}/$(basename "$1")" "$1" # lost the race: mv moved ours inside
  : >"$dir.complete"
  echo "$dir"
}

# get URL FILE [api]: download URL to FILE and print the HTTP status. For
# the API the token goes in a header read from stdin — never in argv, where
# ps and set -x would show it — and redirects are not followed, so it goes
# nowhere else.
get() {
  local args=(-sS --retry 3 --retry-connrefused -o "$2" -w '%{http_code}')
  if [ "${3:-}" = api ]; then
    args+=(-H 'Accept: application/vnd.github+json' -H 'X-GitHub-Api-Version: 2022-11-28')
    if [ -n "$token" ]; then
      printf 'Authorization: Bearer %s\n' "$token" | curl "${args[@]}" -H @- "$1" || true
      return
    fi
  else
    args+=(-L)
  fi
  curl "${args[@]}" "$1" || true
}

# tags: "name sha" for each tag of the repository (GET /repos/{owner}/{repo}/tags,
# 100 a page, at most 10 pages). JSON is read without jq, which self-hosted
# runners may lack: a key and its string value are on one line whether the
# JSON is compact or indented, and a quote inside a string is escaped, so
# "name": "…" and "sha": "…" match only real keys; each tag object has one
# of each, so a key seen twice starts the next tag.
tags() {
  local page=1 code n
  while [ "$page" -le 10 ]; do
    code=$(get "$api/repos/$repo/tags?per_page=100&page=$page" "$tmp/tags.json" api)
    case "$code" in
      200) ;;
      401 | 403 | 429)
        fail 2 "listing the tags of $repo at $api: HTTP $code; the API refused or rate-limited the request (the actions send github.token; unauthenticated requests get 60 an hour): pin an exact release (@vX.Y.Z) to install without the API" ;;
      000) fail 2 "listing the tags of $repo at $api: no answer" ;;
      *) fail 2 "listing the tags of $repo at $api: HTTP $code" ;;
    esac
    { grep -oE '"(name|sha)"[[:space:]]*:[[:space:]]*"[^"]*"' "$tmp/tags.json" || true; } | awk -F'"' '
      function flush() { if (("name" in r) && ("sha" in r)) print r["name"], r["sha"]; delete r }
      ($2 in r) { flush() }
      { r[$2] = $4 }
      END { flush() }'
    # Compact JSON is one line: count the keys, not the lines.
    n=$({ grep -oE '"name"[[:space:]]*:' "$tmp/tags.json" || true; } | wc -l | tr -d ' ')
    [ "$n" -ge 100 ] || return 0
    page=$((page + 1))
  done
}

# newest: the highest semantic version among the tag names on stdin, stable
# releases before pre-releases.
newest() {
  sed 's/^v//' | awk -F'[.-]' '{ printf "%d %d %d %d %s\n", $1, $2, $3, (index($0, "-") ? 0 : 1), $0 }' |
    sort -k1,1n -k2,2n -k3,3n -k4,4n | tail -n 1 | awk '{ print "v" $5 }'
}

# resolve: the release tag (vX.Y.Z) for a floating tag or a commit, or
# nothing when no release is tagged at that commit.
resolve() {
  local sha=$1 prefix=$2
  tags >"$tmp/tags"
  if [ -z "$sha" ]; then
    sha=$(awk -v ref="$ref" '$1 == ref { print $2 }' "$tmp/tags")
    [ -n "$sha" ] || fail 2 "$repo has no tag $ref at $api"
  fi
  awk -v sha="$sha" -v prefix="$prefix" '$2 == sha && index($1, prefix) == 1 { print $1 }' "$tmp/tags" |
    { grep -E "$semver" || true; } | newest
}

# download VERSION: fetch, verify and place the release archive.
download() {
  local tag=$1 asset want got start
  if [ -z "$os" ] || [ -z "$arch" ]; then
    fail 2 "driftless releases are built for Linux and macOS on x86_64 and arm64, not $(uname -s) $(uname -m): set DRIFTLESS_BIN_DIR to a directory holding the binaries"
  fi
  asset="driftless_${tag}_${os}_${arch}.tar.gz"
  start=$(date +%s)
  code=$(get "$releases/download/$tag/checksums.txt" "$tmp/checksums.txt")
  [ "$code" = 200 ] || fail 2 "downloading $releases/download/$tag/checksums.txt: HTTP $code (is $tag a published release of $repo?)"
  code=$(get "$releases/download/$tag/$asset" "$tmp/$asset")
  [ "$code" = 200 ] || fail 2 "downloading $releases/download/$tag/$asset: HTTP $code"
  want=$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1 }' "$tmp/checksums.txt")
  if command -v sha256sum >/dev/null; then
    got=$(sha256sum "$tmp/$asset" | cut -d' ' -f1)
  else
    got=$(shasum -a 256 "$tmp/$asset" | cut -d' ' -f1)
  fi
  if [ -z "$want" ] || [ "$want" != "$got" ]; then
    fail 1 "$asset from $releases/download/$tag has sha256 $got but the release's checksums.txt says ${want:-nothing for it}; nothing was installed"
  fi
  mkdir -p "$cacheroot"
  stage=$(mktemp -d "$cacheroot/.stage.XXXXXX")
  tar -xzf "$tmp/$asset" -C "$stage" || { rm -rf "$stage"; fail 1 "unpacking $asset failed; nothing was installed"; }
  for s in $steps; do
    [ -x "$stage/$s" ] || { rm -rf "$stage"; fail 1 "$asset has no executable $s; nothing was installed"; }
  done
  got=$("$stage/tag-sync" --version 2>&1 || true)
  if [ "$got" != "tag-sync $tag" ]; then
    rm -rf "$stage"
    fail 1 "$asset's tag-sync --version says \"$got\", not \"tag-sync $tag\"; nothing was installed"
  fi
  dir=$(place "$stage" "${tag#v}")
  log "$tag ($os/$arch) downloaded from $releases/download/$tag, sha256 verified, in $(($(date +%s) - start))s; cached in $dir"
  echo "$dir"
}

# build VERSION: build the action's own source into the cache as VERSION;
# a commit's build is stamped with its SHA. "source" (a branch, a local
# checkout) is rebuilt in place every time: what it holds may have changed,
# and Go's build cache makes that quick.
build() {
  if ! command -v go >/dev/null || [ ! -f "$root/go.mod" ]; then
    fail 2 "no driftless release for ${ref:-this local action} and no Go to build it from source: pin a release (uses: $repo/actions/<step>@v1), set DRIFTLESS_BIN_DIR, or install Go (actions/setup-go)"
  fi
  local flags=(-trimpath) dest
  if [ "$1" = source ]; then
    dest="$cacheroot/source/$cachearch"
    mkdir -p "$dest"
  else
    flags+=(-ldflags "-X github.com/driftless-dev/driftless/internal/step.version=$ref")
    mkdir -p "$cacheroot"
    dest=$(mktemp -d "$cacheroot/.stage.XXXXXX")
  fi
  log "building ${ref:-the local checkout} from source with $(go version | cut -d' ' -f3)"
  local pkgs=() s
  for s in $steps; do pkgs+=("./cmd/$s"); done # the steps, not the multi-call driftless of the image
  (cd "$root" && CGO_ENABLED=0 go build "${flags[@]}" -o "$dest/" "${pkgs[@]}") >&2 ||
    fail 2 "building $root from source failed"
  if [ "$1" = source ]; then echo "$dest"; else place "$dest" "$1"; fi
}

# release TAG: the cached or downloaded release.
release() {
  installed "${1#v}" || download "$1"
}

case "$ref" in
  v*)
    if [[ "$ref" =~ $semver ]]; then
      dir=$(release "$ref")
    elif [[ "$ref" =~ ^v(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?$ ]]; then
      tag=$(resolve "" "$ref.")
      [ -n "$tag" ] || fail 2 "no release of $repo is tagged at the commit $ref points to: pin a release (vX.Y.Z)"
      log "$ref is $tag"
      dir=$(release "$tag")
    else
      dir=$(build source)
    fi
    ;;
  *)
    if [[ "$ref" =~ ^[0-9a-f]{40}$ ]]; then
      # What a commit resolved to is kept, so a second install asks nothing.
      map="$cacheroot/commits/$ref"
      if [ -f "$map" ] && dir=$(installed "$(cat "$map")"); then
        :
      else
        tag=$(resolve "$ref" v)
        if [ -n "$tag" ]; then
          log "$ref is $tag"
          dir=$(release "$tag")
          version=${tag#v}
        else
          version=0.0.0-$ref
          dir=$(installed "$version") || dir=$(build "$version")
        fi
        mkdir -p "$(dirname "$map")"
        echo "$version" >"$map"
      fi
    else
      # A branch or a local checkout: what it holds may change, so it is
      # built every time (Go's build cache makes that quick).
      dir=$(build source)
    fi
    ;;
esac
out "$dir"

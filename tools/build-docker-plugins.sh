#!/usr/bin/env bash
# Builds the Docker CLI plugins the engine rig needs -- Docker Compose v2 and buildx -- from the
# Go module proxy into ~/.cache/flowstack/docker-plugins-compose<V>-buildx<V>/ (outside the clone,
# keyed by versions, so a second CI run on the same machine is warm). Prints that directory.
#
# `go install github.com/docker/compose/v2/cmd@v2.40.3` refuses ("The go.mod file for the module
# providing named packages contains one or more exclude directives"), so each module is
# downloaded with `go mod download -json` and built as the main module from a writable copy of
# its module directory: its own go.mod/go.sum (with their exclude/replace directives) decide
# every dependency, exactly as the project's release build does. Nothing is substituted.
set -euo pipefail
COMPOSE_VERSION="${COMPOSE_VERSION:-v2.40.3}"
BUILDX_VERSION="${BUILDX_VERSION:-v0.29.1}"
out="${FLOWSTACK_CACHE:-$HOME/.cache/flowstack}/docker-plugins-compose${COMPOSE_VERSION}-buildx${BUILDX_VERSION}"
[ "${1:-}" = --print ] && { echo "$out"; exit 0; }
if [ -x "$out/docker-compose" ] && [ -x "$out/docker-buildx" ]; then echo "$out"; exit 0; fi
command -v go >/dev/null || { echo "Error: go is not installed; the Docker CLI plugins are built from the Go module proxy" >&2; exit 1; }
mkdir -p "$out.tmp"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# build MODULE VERSION PACKAGE OUTPUT LDFLAGS
build() {
  local mod="$1" ver="$2" pkg="$3" bin="$4" ldflags="$5" dir
  dir="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$mod@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$dir" ] || { echo "Error: go mod download $mod@$ver gave no directory" >&2; exit 1; }
  cp -r "$dir" "$work/$bin-src" && chmod -R u+w "$work/$bin-src"
  echo "building $mod $ver with $(go version | cut -d' ' -f3) (several minutes, once)" >&2
  (cd "$work/$bin-src" && CGO_ENABLED=0 GOFLAGS="-trimpath -mod=mod -buildvcs=false" \
     nice -n 15 go build -ldflags "$ldflags" -o "$out.tmp/$bin" "$pkg")
}
build github.com/docker/compose/v2 "$COMPOSE_VERSION" ./cmd docker-compose \
  "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION"
build github.com/docker/buildx "$BUILDX_VERSION" ./cmd/buildx docker-buildx \
  "-s -w -X github.com/docker/buildx/version.Version=$BUILDX_VERSION -X github.com/docker/buildx/version.Package=github.com/docker/buildx"
"$out.tmp/docker-compose" version >&2
"$out.tmp/docker-buildx" version >&2
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"

#!/usr/bin/env bash
# Builds the real LiveKit server at the version versions.yaml pins, from the Go module proxy,
# into .tools/livekit-server-<version>/server (git-ignored, keyed by version).
#
# `go install pkg@version` is what LiveKit's own release does; it works only for releases whose
# go.mod has no replace directives (v1.13.6 and later replace pion with LiveKit forks that the
# module proxy here refuses: see versions.yaml). Nothing else is ever substituted.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
version="$("$PY" tools/versions.py livekit_server.version)"
out=".tools/livekit-server-$version"
[ -x "$out/server" ] && exit 0
command -v go >/dev/null || { echo "Error: go is not installed; LiveKit $version is built with go install" >&2; exit 1; }
echo "building livekit-server $version with $(go version | cut -d' ' -f3) (a few minutes, once)"
mkdir -p "$out.tmp"
GOBIN="$PWD/$out.tmp" GOFLAGS=-trimpath go install "github.com/livekit/livekit-server/cmd/server@$version"
"$out.tmp/server" --version
rm -rf "$out" && mv "$out.tmp" "$out"

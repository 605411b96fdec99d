#!/usr/bin/env bash
# Builds Caddy with the layer4 app (what the livekit/caddyl4 image carries: xcaddy
# --with github.com/mholt/caddy-l4) at the versions versions.yaml pins, from the Go module
# proxy, into .tools/caddy-l4-<caddy>-<l4>/caddy (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
xv="$("$PY" tools/versions.py caddy_l4.xcaddy)"
cv="$("$PY" tools/versions.py caddy_l4.caddy)"
lv="$("$PY" tools/versions.py caddy_l4.caddy_l4)"
out=".tools/caddy-l4-$cv-$lv"
[ -x "$out/caddy" ] && exit 0
command -v go >/dev/null || { echo "Error: go is not installed; Caddy layer4 is built with xcaddy" >&2; exit 1; }
if [ ! -x ".tools/xcaddy-$xv/xcaddy" ]; then
  GOBIN="$PWD/.tools/xcaddy-$xv" go install "github.com/caddyserver/xcaddy/cmd/xcaddy@$xv"
fi
echo "building caddy $cv with caddy-l4 $lv (a few minutes, once)"
mkdir -p "$out.tmp"
# xcaddy works in a temporary module of its own; the build runs in that one directory.
XCADDY_SKIP_CLEANUP=0 ".tools/xcaddy-$xv/xcaddy" build "$cv" --with "github.com/mholt/caddy-l4@$lv" --output "$out.tmp/caddy"
"$out.tmp/caddy" list-modules | grep -qx layer4 || { echo "Error: the built caddy has no layer4 app" >&2; exit 1; }
rm -rf "$out" && mv "$out.tmp" "$out"

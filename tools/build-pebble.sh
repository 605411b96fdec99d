#!/usr/bin/env bash
# Builds Pebble, Let's Encrypt's ACME test CA, from the Go module proxy into
# ~/.cache/flowstack/pebble-<version>/pebble (outside the clone, keyed by version, so a second
# run is warm). The VM rig (tests/test_vm_boot.py) runs it so Caddy's real ACME flow (HTTP-01)
# gets a certificate for names the rig's DNS points at the VM. Prints the binary's path.
set -euo pipefail
PEBBLE_VERSION="${PEBBLE_VERSION:-v2.7.0}"
out="${FLOWSTACK_CACHE:-$HOME/.cache/flowstack}/pebble-$PEBBLE_VERSION"
if [ -x "$out/pebble" ]; then echo "$out/pebble"; exit 0; fi
command -v go >/dev/null || { echo "Error: go is not installed; Pebble is built with go install" >&2; exit 1; }
echo "building pebble $PEBBLE_VERSION with $(go version | cut -d' ' -f3) (a minute, once)" >&2
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
GOBIN="$out.tmp" GOFLAGS=-trimpath CGO_ENABLED=0 nice -n 15 go install "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION" >&2
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out/pebble"
